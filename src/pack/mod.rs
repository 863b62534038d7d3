//! Packing: turns one kernel's packages into `bundle-<name>.tgz`.
//!
//! (Work in progress: the public API below is the contract other stages code against.)

use std::path::{Path, PathBuf};

/// Which packer to use: the `type` of a manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackerKind {
    Debian,
    Garden,
    Ubuntu,
    Redhat,
    Oracle,
    Suse,
}

/// Knobs for one pack run.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Overrides BUNDLE_CHECKSUM (default: manifest id of the packages' simplified file names).
    pub checksum: Option<String>,
    /// Where to unpack (default: a temporary dir inside `out_dir`'s file system).
    pub work_dir: Option<PathBuf>,
}

/// What a successful pack produced.
#[derive(Debug, Clone)]
pub struct PackedBundle {
    /// Final path of the bundle file (`<out_dir>/bundle-<name>.tgz`).
    pub path: PathBuf,
    /// `bundle-<name>.tgz`.
    pub file_name: String,
    /// BUNDLE_UNAME.
    pub uname: String,
    /// BUNDLE_DISTRO.
    pub distro: String,
    /// BUNDLE_CHECKSUM.
    pub checksum: String,
    /// Size of the bundle file in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the bundle file.
    pub sha256: String,
    /// `CONFIG_DEBUG_INFO_BTF=y` in the kernel's `.config`.
    pub btf: bool,
}

/// Packs `packages` (local files) with `kind` into `<out_dir>/bundle-<name>.tgz`, atomically.
pub fn pack_packages(
    _kind: PackerKind,
    _packages: &[PathBuf],
    _out_dir: &Path,
    _opts: &PackOptions,
) -> anyhow::Result<PackedBundle> {
    anyhow::bail!("packing is not implemented yet")
}
