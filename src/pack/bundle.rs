//! Writing a bundle: `BUNDLE_*` meta files and a view, as a deterministic gzipped tarball.
//!
//! Contract: same meta + same view → byte-identical output. Entries are `./`-prefixed, in view order
//! (sorted), with uid/gid 0, owner names `root`, a fixed mtime, and normalised modes (dirs 0755,
//! files 0644/0755, links 0777). Compression is parallel gzip (one member, pigz-style blocks).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use gzp::deflate::Gzip;
use gzp::par::compress::{ParCompress, ParCompressBuilder};
use gzp::ZWriter;

use super::facts::BuildFacts;
use super::view::{ViewEntry, ViewKind};
use crate::vfs::Tree;

/// Fixed modification time of every entry (2000-01-01T00:00:00Z): reproducible, and never newer
/// than files a later build creates.
pub const BUNDLE_MTIME: u64 = 946_684_800;

/// The meta files at the root of every bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleMeta {
    /// BUNDLE_ARCH: `amd64`, `arm64` ([`super::arch`]).
    pub arch: String,
    pub build_dir: String,
    pub checksum: String,
    pub distro: String,
    pub uname: String,
    pub version: String,
    pub major: String,
    pub minor: String,
    /// BUNDLE_COMPILER, BUNDLE_COMPILER_VERSION, BUNDLE_HOST_REQUIREMENTS (one per line).
    pub facts: BuildFacts,
}

impl BundleMeta {
    /// The meta files as (name, value) pairs, sorted by name. Values never end with a newline.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BUNDLE_ARCH", self.arch.clone()),
            ("BUNDLE_BUILD_DIR", self.build_dir.clone()),
            ("BUNDLE_CHECKSUM", self.checksum.clone()),
            ("BUNDLE_COMPILER", self.facts.compiler.clone()),
            (
                "BUNDLE_COMPILER_VERSION",
                self.facts.compiler_version.clone(),
            ),
            ("BUNDLE_DISTRO", self.distro.clone()),
            (
                "BUNDLE_HOST_REQUIREMENTS",
                self.facts.host_requirements.join("\n"),
            ),
            ("BUNDLE_MAJOR", self.major.clone()),
            ("BUNDLE_MINOR", self.minor.clone()),
            ("BUNDLE_UNAME", self.uname.clone()),
            ("BUNDLE_VERSION", self.version.clone()),
        ]
    }
}

/// `(version, major, minor)` from a kernel release: `6.1.0-56-amd64` → `("6", "1", "0")`.
pub fn version_triplet(uname: &str) -> Result<(String, String, String)> {
    let numbers: Vec<&str> = uname.split(|c: char| !c.is_ascii_digit()).take(3).collect();
    let starts_with_digit = uname.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !starts_with_digit
        || numbers.len() < 2
        || numbers[1].is_empty()
        || !uname[numbers[0].len()..].starts_with('.')
    {
        bail!("cannot read a kernel version from {uname:?}");
    }
    let minor = numbers
        .get(2)
        .filter(|m| !m.is_empty())
        .copied()
        .unwrap_or("0");
    Ok((
        numbers[0].to_string(),
        numbers[1].to_string(),
        minor.to_string(),
    ))
}

/// Compression settings of the bundle writer.
#[derive(Debug, Clone, Copy)]
pub struct GzipSettings {
    pub level: u32,
    pub threads: usize,
}

impl Default for GzipSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        GzipSettings { level: 6, threads }
    }
}

/// Writes `meta` and `view` as a gzipped tarball into `file` (which is consumed and flushed).
pub fn write_bundle(
    file: File,
    meta: &BundleMeta,
    tree: &Tree,
    view: &[ViewEntry],
    gzip: GzipSettings,
) -> Result<()> {
    let mut compressor: ParCompress<Gzip, File> = ParCompressBuilder::new()
        .num_threads(gzip.threads.max(1))
        .context("gzip threads")?
        .compression_level(gzp::Compression::new(gzip.level))
        .from_writer(file);
    {
        let buffered = BufWriter::with_capacity(1 << 20, &mut compressor);
        let mut tar = tar::Builder::new(buffered);
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        append_dir(&mut tar, Path::new("."))?;
        for (name, value) in meta.files() {
            let mut header = header(tar::EntryType::Regular, 0o644, value.len() as u64);
            tar.append_data(&mut header, Path::new(".").join(name), value.as_bytes())?;
        }
        for entry in view {
            let path = Path::new(".").join(&entry.path);
            match &entry.kind {
                ViewKind::Dir => append_dir(&mut tar, &path)?,
                ViewKind::File {
                    blob,
                    offset,
                    len,
                    executable,
                } => {
                    let mode = if *executable { 0o755 } else { 0o644 };
                    let mut header = header(tar::EntryType::Regular, mode, *len);
                    tar.append_data(&mut header, &path, tree.open(*blob, *offset, *len))?;
                }
                ViewKind::Symlink { target } => {
                    let mut header = header(tar::EntryType::Symlink, 0o777, 0);
                    tar.append_link(&mut header, &path, target)?;
                }
            }
        }
        let buffered = tar.into_inner()?;
        buffered.into_inner().map_err(|e| e.into_error())?.flush()?;
    }
    let mut file = compressor.finish().context("gzip")?;
    file.flush()?;
    file.sync_all()?;
    Ok(())
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(BUNDLE_MTIME);
    let _ = header.set_username("root");
    let _ = header.set_groupname("root");
    header
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &Path) -> Result<()> {
    let mut header = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut header, path, io::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_triplets() {
        assert_eq!(
            version_triplet("6.1.0-56-amd64").unwrap(),
            ("6".into(), "1".into(), "0".into())
        );
        assert_eq!(
            version_triplet("4.18.0-147.el8.x86_64").unwrap(),
            ("4".into(), "18".into(), "0".into())
        );
        assert_eq!(
            version_triplet("5.15.114-gardenlinux-cloud-amd64")
                .unwrap()
                .2,
            "114"
        );
        assert_eq!(
            version_triplet("6.2-rc1").unwrap(),
            ("6".into(), "2".into(), "0".into())
        );
        assert!(version_triplet("linux").is_err());
        assert!(version_triplet("6-x").is_err());
    }
}
