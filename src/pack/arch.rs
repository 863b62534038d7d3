//! The architecture of a kernel tree (`BUNDLE_ARCH`), derived from content, never from file names.
//!
//! Source of truth: the kernel's `.config` (`CONFIG_X86_64=y` → `amd64`, `CONFIG_ARM64=y` →
//! `arm64`). Cross-check: the ELF machine of a host tool the tree ships (`scripts/basic/fixdep`,
//! built for the machine the kernel runs on); a disagreement is an error naming both. Without a
//! `.config` the host tool decides; a tree with neither cannot be packed.
//!
//! Bundle names: Debian (`6.1.0-57-arm64`) and the RPM family (`....el9.aarch64`) already carry
//! the architecture in the uname; other unames (Ubuntu `-generic`, `-aws`, ...) are the same on
//! both architectures, so a non-amd64 bundle whose uname has no architecture token gets
//! `-<arch>` appended ([`bundle_name_suffix`]). amd64 names are unchanged (the seed's names).

use std::path::Path;

use anyhow::{bail, Result};

use super::layout::{config_value, read_text};
use crate::vfs::Tree;

/// Host tools whose ELF machine cross-checks the `.config`, first found wins.
pub const HOST_TOOLS: [&str; 3] = [
    "scripts/basic/fixdep",
    "scripts/mod/modpost",
    "scripts/kconfig/conf",
];

/// A kernel architecture, by its Debian name. The default is amd64, the seed's architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    #[default]
    Amd64,
    Arm64,
}

impl Arch {
    /// The Debian name, also the value of `BUNDLE_ARCH`: `amd64`, `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Parses any common spelling: `amd64`/`x86_64`/`x86-64`, `arm64`/`aarch64`.
    pub fn parse(name: &str) -> Option<Arch> {
        match name {
            "amd64" | "x86_64" | "x86-64" => Some(Arch::Amd64),
            "arm64" | "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// The architecture of the machine this program runs on (`None` on others).
    pub fn host() -> Option<Arch> {
        Arch::parse(std::env::consts::ARCH)
    }

    fn tokens(self) -> &'static [&'static str] {
        match self {
            Arch::Amd64 => &["amd64", "x86_64"],
            Arch::Arm64 => &["arm64", "aarch64"],
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `"amd64"`: the architecture of records written before architecture existed (all amd64).
pub fn default_name() -> String {
    Arch::Amd64.as_str().to_string()
}

/// The architecture a kernel `.config` is for, if it names one we know.
pub fn from_config(config: &str) -> Option<Arch> {
    if config_value(config, "CONFIG_ARM64") == Some("y") {
        Some(Arch::Arm64)
    } else if config_value(config, "CONFIG_X86_64") == Some("y") {
        Some(Arch::Amd64)
    } else {
        None
    }
}

/// The machine of an ELF file (`e_machine` at offset 18, either byte order), if it is one we know.
pub fn from_elf(bytes: &[u8]) -> Option<Arch> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match bytes[5] {
        1 => u16::from_le_bytes([bytes[18], bytes[19]]),
        2 => u16::from_be_bytes([bytes[18], bytes[19]]),
        _ => return None,
    };
    match machine {
        62 => Some(Arch::Amd64),
        183 => Some(Arch::Arm64),
        _ => None,
    }
}

/// The architecture of the kernel tree at `kernel_dir` (see the module docs). Where the kernel
/// tree is a module directory (`lib/modules/<ver>`, the image packers), its `build` link leads to
/// the `.config` and the host tools, so `kernel_dir/build` is looked at too.
pub fn detect(tree: &Tree, kernel_dir: &Path) -> Result<Arch> {
    let dirs = [kernel_dir.to_path_buf(), kernel_dir.join("build")];
    let mut config_arch = None;
    for dir in &dirs {
        if let Some(config) = read_text(tree, &dir.join(".config"))? {
            config_arch = from_config(&config);
            break;
        }
    }
    let mut tool = None;
    'dirs: for dir in &dirs {
        for rel in HOST_TOOLS {
            let path = dir.join(rel);
            if let Some(bytes) = tree.read_resolved(&path)? {
                if let Some(arch) = from_elf(&bytes) {
                    tool = Some((path, arch));
                    break 'dirs;
                }
            }
        }
    }
    match (config_arch, tool) {
        (Some(c), Some((path, t))) if c != t => bail!(
            "{} is for {c} but host tool {} is a {t} binary",
            kernel_dir.join(".config").display(),
            path.display()
        ),
        (Some(c), _) => Ok(c),
        (None, Some((_, t))) => Ok(t),
        (None, None) => bail!(
            "cannot tell the architecture of {}: its .config sets neither CONFIG_X86_64 nor \
             CONFIG_ARM64 and no host tool ({}) is an ELF binary",
            kernel_dir.display(),
            HOST_TOOLS.join(", ")
        ),
    }
}

/// What to append to a bundle name so names cannot collide across architectures: nothing for
/// amd64 or when the uname already names the architecture as a `-`/`.`/`_`/`+`-separated token,
/// else `-<arch>`.
pub fn bundle_name_suffix(uname: &str, arch: Arch) -> String {
    if arch == Arch::Amd64
        || uname
            .split(['-', '.', '_', '+', '~'])
            .any(|token| arch.tokens().contains(&token))
    {
        String::new()
    } else {
        format!("-{arch}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_architecture() {
        assert_eq!(
            from_config("CONFIG_64BIT=y\nCONFIG_X86_64=y\n"),
            Some(Arch::Amd64)
        );
        assert_eq!(from_config("CONFIG_ARM64=y\n"), Some(Arch::Arm64));
        assert_eq!(from_config("# CONFIG_ARM64 is not set\n"), None);
        assert_eq!(from_config("CONFIG_X86_64_SMP=y\n"), None);
    }

    #[test]
    fn elf_machine() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[5] = 1;
        elf[18] = 183;
        assert_eq!(from_elf(&elf), Some(Arch::Arm64));
        elf[18] = 62;
        assert_eq!(from_elf(&elf), Some(Arch::Amd64));
        elf[18] = 3;
        assert_eq!(from_elf(&elf), None);
        assert_eq!(from_elf(b"#!/bin/sh\n echo hello there"), None);
    }

    #[test]
    fn names_do_not_collide() {
        assert_eq!(bundle_name_suffix("5.15.0-91-generic", Arch::Amd64), "");
        assert_eq!(
            bundle_name_suffix("5.15.0-91-generic", Arch::Arm64),
            "-arm64"
        );
        assert_eq!(bundle_name_suffix("6.1.0-57-arm64", Arch::Arm64), "");
        assert_eq!(
            bundle_name_suffix("5.14.0-427.el9.aarch64", Arch::Arm64),
            ""
        );
        assert_eq!(bundle_name_suffix("6.1.0-57-cloud-arm64", Arch::Arm64), "");
        assert_eq!(bundle_name_suffix("6.1.0-arm64x", Arch::Arm64), "-arm64");
        assert_eq!(Arch::parse("aarch64"), Some(Arch::Arm64));
        assert_eq!(Arch::parse("x86_64"), Some(Arch::Amd64));
    }
}
