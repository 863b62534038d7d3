//! Reading packages (.deb, .rpm, tarballs) as a stream of entries, and extracting them safely.
//!
//! Every reader turns its format into [`Entry`] values handed to an [`EntrySink`] one at a time, with
//! the entry's content as a reader: nothing holds a whole package or tree in memory. The only sink that
//! touches the file system is [`extract::SafeExtractor`], which enforces the hostile-input rules.

pub mod compression;
pub mod deb;
pub mod extract;
pub mod rpm;
pub mod rpm_header;
pub mod tarball;

use std::fs::File;
use std::io::{BufReader, Read};
use std::panic::AssertUnwindSafe;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::limits::{Budget, Limits};

/// What kind of file system object an archive entry describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file whose content follows.
    File,
    /// A symbolic link with its target, as stored in the archive.
    Symlink(Vec<u8>),
    /// A hard link to an earlier entry of the same archive (its raw path).
    Hardlink(Vec<u8>),
    /// Anything else (device node, fifo, socket, ...): always refused by the extractor.
    Special(&'static str),
}

/// One archive entry. `path` is raw, as stored (may start with `./` or `/`; validated by the sink).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits as stored.
    pub mode: u32,
    /// Declared content size (regular files).
    pub size: u64,
}

/// Receives entries in archive order. `content` yields exactly the entry's data for regular files.
pub trait EntrySink {
    fn entry(&mut self, entry: &Entry, content: &mut dyn Read) -> Result<()>;
}

/// Package container formats recognised by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    Deb,
    Rpm,
    /// A (possibly compressed) tar archive.
    Tarball,
}

/// Sniffs the container format from the first bytes of a file.
pub fn sniff_format(head: &[u8]) -> Option<PackageFormat> {
    if head.starts_with(b"!<arch>\n") {
        Some(PackageFormat::Deb)
    } else if head.starts_with(&[0xed, 0xab, 0xee, 0xdb]) {
        Some(PackageFormat::Rpm)
    } else if compression::Compression::sniff(head) != compression::Compression::None
        || (head.len() >= 262 && &head[257..262] == b"ustar")
    {
        Some(PackageFormat::Tarball)
    } else {
        None
    }
}

/// What a package says about itself in its own metadata, beside its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    pub format: PackageFormat,
    /// The package's own name (deb `Package`, RPM name), when its format has one.
    pub name: Option<String>,
    /// What the package needs installed, as it states it (deb `Pre-Depends` + `Depends`
    /// relations such as `libelf1t64 (>= 0.144)`); empty when the format states nothing.
    pub depends: Vec<String>,
}

/// Reads the package at `path` (format sniffed from content, not the name) into `sink`, under a
/// fresh budget from [`Limits::from_env`]. Errors name the failing entry; the caller adds the
/// package file name.
pub fn read_package(path: &Path, sink: &mut dyn EntrySink) -> Result<PackageInfo> {
    read_package_with(path, sink, &Budget::new(Limits::from_env()))
}

/// [`read_package`] charging `budget` (shared by the packages of one pack).
pub fn read_package_with(
    path: &Path,
    sink: &mut dyn EntrySink,
    budget: &Budget,
) -> Result<PackageInfo> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut head = [0u8; 512];
    let n = read_up_to(&mut file, &mut head)?;
    let format = match sniff_format(&head[..n]) {
        Some(format) => format,
        None => bail!("not a .deb, .rpm or tar archive (unrecognised leading bytes)"),
    };
    drop(file);
    let reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut info = PackageInfo {
        format,
        name: None,
        depends: Vec::new(),
    };
    // A panic in a parser (ours or a dependency's) is an error for this package, not a dead thread.
    let read = std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        match format {
            PackageFormat::Deb => {
                let control = deb::read_deb(reader, sink, budget)?;
                info.name = control.package;
                info.depends = control.depends;
            }
            PackageFormat::Rpm => info.name = Some(rpm::read_rpm(reader, sink, budget)?.name),
            PackageFormat::Tarball => tarball::read_compressed_tar(reader, sink, budget)?,
        }
        Ok(())
    }));
    match read {
        Ok(result) => result?,
        Err(panic) => bail!(
            "malformed package (the parser panicked: {})",
            panic_message(&*panic)
        ),
    }
    Ok(info)
}

/// The message of a caught panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// Fills `buf` as far as the reader allows; returns the number of bytes read.
pub(crate) fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
