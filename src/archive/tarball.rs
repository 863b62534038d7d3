//! Tar streams (plain or compressed) → [`Entry`] values.

use std::io::{self, Read};

use anyhow::{bail, Context, Result};
use tar::EntryType;

use super::{compression, Entry, EntryKind, EntrySink};

/// Reads a possibly compressed tar stream into `sink`, then reads the decompressor to its end so
/// that trailing corruption (bad CRC, truncation after the last entry) is reported, not ignored.
pub fn read_compressed_tar<R: Read>(reader: R, sink: &mut dyn EntrySink) -> Result<()> {
    let (_, mut decoder) = compression::decompress(reader).context("reading compressed stream")?;
    read_tar(&mut decoder, sink)?;
    io::copy(&mut decoder, &mut io::sink()).context("corrupt or truncated compressed stream")?;
    Ok(())
}

/// Reads an uncompressed tar stream into `sink`. Fails on a truncated entry (short content).
pub fn read_tar(reader: &mut dyn Read, sink: &mut dyn EntrySink) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut saw_entry = false;
    for item in archive.entries().context("reading tar stream")? {
        let mut tar_entry = item.context("corrupt or truncated tar stream")?;
        saw_entry = true;
        let header = tar_entry.header();
        let path = tar_entry.path_bytes().into_owned();
        let mode = header.mode().unwrap_or(0o644);
        let size = tar_entry.size();
        let kind = match header.entry_type() {
            EntryType::Regular | EntryType::Continuous => EntryKind::File,
            EntryType::Directory => EntryKind::Dir,
            EntryType::Symlink => EntryKind::Symlink(link_target(&tar_entry, &path)?),
            EntryType::Link => EntryKind::Hardlink(link_target(&tar_entry, &path)?),
            EntryType::Char => EntryKind::Special("character device"),
            EntryType::Block => EntryKind::Special("block device"),
            EntryType::Fifo => EntryKind::Special("fifo"),
            // Extension headers are consumed by the tar crate; global headers carry no file.
            EntryType::XGlobalHeader | EntryType::XHeader => continue,
            EntryType::GNULongName | EntryType::GNULongLink => continue,
            _ => EntryKind::Special("unknown tar entry type"),
        };
        let entry = Entry {
            path,
            kind,
            mode,
            size,
        };
        let mut counted = CountingReader {
            inner: &mut tar_entry,
            count: 0,
        };
        sink.entry(&entry, &mut counted)
            .with_context(|| format!("entry {}", String::from_utf8_lossy(&entry.path)))?;
        if entry.kind == EntryKind::File {
            // Consume what the sink left, then check the entry was complete.
            io::copy(&mut counted, &mut io::sink())?;
            if counted.count != size {
                bail!(
                    "truncated archive: entry {} has {} of {} bytes",
                    String::from_utf8_lossy(&entry.path),
                    counted.count,
                    size
                );
            }
        }
    }
    if !saw_entry {
        bail!("empty or truncated tar stream (no entries)");
    }
    Ok(())
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>, path: &[u8]) -> Result<Vec<u8>> {
    match entry.link_name_bytes() {
        Some(target) if !target.is_empty() => Ok(target.into_owned()),
        _ => bail!("link {} has no target", String::from_utf8_lossy(path)),
    }
}

/// Counts the bytes read through it.
pub(crate) struct CountingReader<'a> {
    pub(crate) inner: &'a mut dyn Read,
    pub(crate) count: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
