//! RPM packages: header via the `rpm` crate, cpio payload (gzip, xz, zstd or bzip2) streamed.

use std::io::{BufRead, Cursor, Read};

use anyhow::{anyhow, bail, Context, Result};
use rpm::FileType;

use super::{rpm_header, Entry, EntryKind, EntrySink};
use crate::limits::Budget;

/// Name, version, release and arch of an RPM, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmIdentity {
    pub name: String,
    pub version: String,
    pub release: String,
    pub arch: String,
}

/// Streams the payload of an RPM into `sink` and returns the package identity.
/// Paths are installation paths (`/usr/src/...`), reported to the sink relative to `/`.
/// The lead and headers are validated ([`rpm_header`]) before the `rpm` crate sees them.
pub fn read_rpm<R: BufRead + 'static>(
    mut reader: R,
    sink: &mut dyn EntrySink,
    budget: &Budget,
) -> Result<RpmIdentity> {
    let headers = rpm_header::read_validated_headers(&mut reader, budget.limits())?;
    let reader = Cursor::new(headers).chain(reader);
    let mut package = rpm::PackageReader::parse(reader).map_err(|e| anyhow!("corrupt RPM: {e}"))?;
    let meta = &package.metadata;
    let identity = RpmIdentity {
        name: meta.get_name().unwrap_or_default().to_string(),
        version: meta.get_version().unwrap_or_default().to_string(),
        release: meta.get_release().unwrap_or_default().to_string(),
        arch: meta.get_arch().unwrap_or_default().to_string(),
    };
    while let Some(mut file) = package
        .next_file()
        .map_err(|e| anyhow!("corrupt or truncated RPM payload: {e}"))?
    {
        let path = file.metadata.path();
        let display = path.display().to_string();
        let relative = path
            .strip_prefix("/")
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|_| path.clone());
        let mut raw = b"./".to_vec();
        raw.extend_from_slice(relative.as_os_str().as_encoded_bytes());
        let kind = match file.metadata.file_type() {
            FileType::Regular => {
                if !file.has_payload() && file.metadata.size() > 0 {
                    bail!("entry {display}: hard-linked payload entries are not supported");
                }
                EntryKind::File
            }
            FileType::Dir => EntryKind::Dir,
            FileType::SymbolicLink => match file.metadata.linkto() {
                Some(target) if !target.is_empty() => {
                    EntryKind::Symlink(target.as_bytes().to_vec())
                }
                _ => bail!("entry {display}: symlink without target"),
            },
            FileType::CharacterDevice => EntryKind::Special("character device"),
            FileType::BlockDevice => EntryKind::Special("block device"),
            FileType::Fifo => EntryKind::Special("fifo"),
            FileType::Socket => EntryKind::Special("socket"),
            _ => EntryKind::Special("unknown file type"),
        };
        let size = if kind == EntryKind::File {
            file.metadata.size() as u64
        } else {
            0
        };
        let entry = Entry {
            path: raw,
            kind,
            mode: u32::from(file.metadata.permissions()),
            size,
        };
        let mut counted = super::tarball::CountingReader {
            inner: &mut file,
            count: 0,
        };
        sink.entry(&entry, &mut counted)
            .with_context(|| format!("entry {display}"))?;
        if entry.kind == EntryKind::File {
            std::io::copy(&mut counted, &mut std::io::sink())?;
            if counted.count != size {
                bail!(
                    "truncated archive: entry {display} has {} of {size} bytes",
                    counted.count
                );
            }
        }
        file.finish().context("corrupt or truncated RPM payload")?;
    }
    Ok(identity)
}
