//! Tar streams (plain or compressed) → [`Entry`] values.

use std::cell::Cell;
use std::io::{self, Read};

use anyhow::{bail, Context, Result};
use tar::EntryType;

use super::{compression, Entry, EntryKind, EntrySink};
use crate::limits::{Budget, BudgetReader, Limits, Resource};

/// Reads a possibly compressed tar stream into `sink`, then reads the decompressor to its end so
/// that trailing corruption (bad CRC, truncation after the last entry) is reported, not ignored.
/// Every decompressed byte is charged to `budget` ([`Resource::Decompressed`]); after the tar's
/// end at most [`Resource::Trailing`] bytes are tolerated (padding), so a small stream that
/// decompresses to gigabytes after its last entry costs nothing.
pub fn read_compressed_tar<R: Read>(
    reader: R,
    sink: &mut dyn EntrySink,
    budget: &Budget,
) -> Result<()> {
    let (_, decoder) = compression::decompress(reader).context("reading compressed stream")?;
    let mut decoder = BudgetReader::new(
        decoder,
        budget,
        Resource::Decompressed,
        "the decompressed archive",
    );
    read_tar_bounded(&mut decoder, sink, budget.limits())?;
    let limit = budget.limits().max_trailing_bytes;
    let trailing = io::copy(
        &mut (&mut decoder).take(limit.saturating_add(1)),
        &mut io::sink(),
    )
    .context("corrupt or truncated compressed stream")?;
    if trailing > limit {
        return Err(budget
            .limits()
            .exceeded(Resource::Trailing, "data after the end of the tar archive")
            .into());
    }
    Ok(())
}

/// Reads an uncompressed tar stream into `sink` under the default [`Limits`]. Fails on a
/// truncated entry (short content).
pub fn read_tar(reader: &mut dyn Read, sink: &mut dyn EntrySink) -> Result<()> {
    read_tar_bounded(reader, sink, &Limits::default())
}

/// Reads an uncompressed tar stream into `sink`. Fails on a truncated entry (short content), and
/// when more than [`Resource::TarHeader`] bytes are read between two entries' contents: the tar
/// crate holds GNU long names and pax records in memory, so their size is bounded here.
pub fn read_tar_bounded(
    reader: &mut dyn Read,
    sink: &mut dyn EntrySink,
    limits: &Limits,
) -> Result<()> {
    let gap = HeaderGap {
        in_content: Cell::new(false),
        read: Cell::new(0),
        limits,
    };
    let guarded = GapReader {
        inner: reader,
        gap: &gap,
    };
    let mut archive = tar::Archive::new(guarded);
    let mut saw_entry = false;
    for item in archive.entries().context("reading tar stream")? {
        let mut tar_entry = item.context("corrupt or truncated tar stream")?;
        gap.in_content.set(true);
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
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => {
                io::copy(&mut tar_entry, &mut io::sink())?;
                gap.end_content();
                continue;
            }
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
        gap.end_content();
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

/// Bytes read from the tar stream outside entry contents since the last entry's content.
struct HeaderGap<'l> {
    in_content: Cell<bool>,
    read: Cell<u64>,
    limits: &'l Limits,
}

impl HeaderGap<'_> {
    fn end_content(&self) {
        self.in_content.set(false);
        self.read.set(0);
    }
}

/// Charges reads outside entry contents to a [`HeaderGap`].
struct GapReader<'a, 'g> {
    inner: &'a mut dyn Read,
    gap: &'g HeaderGap<'g>,
}

impl Read for GapReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.gap.in_content.get() {
            let read = self.gap.read.get() + n as u64;
            self.gap.read.set(read);
            self.gap.limits.check(
                Resource::TarHeader,
                read,
                "the tar headers and extension records (long names, pax) of one entry",
            )?;
        }
        Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Names(Vec<String>);

    impl EntrySink for Names {
        fn entry(&mut self, entry: &Entry, _content: &mut dyn Read) -> Result<()> {
            self.0
                .push(String::from_utf8_lossy(&entry.path).into_owned());
            Ok(())
        }
    }

    /// A tar whose one file has a GNU long name of `len` bytes.
    fn long_name_tar(len: usize) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        let name = "d/".to_string() + &"n".repeat(len);
        builder.append_data(&mut header, &name, &b"x"[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn long_names_are_read_within_the_header_budget() {
        let limits = Limits {
            max_tar_header_bytes: 64 << 10,
            ..Limits::default()
        };
        let mut names = Names(Vec::new());
        read_tar_bounded(&mut &long_name_tar(1000)[..], &mut names, &limits).unwrap();
        assert_eq!(names.0[0].len(), 1002);
        let err =
            read_tar_bounded(&mut &long_name_tar(100 << 10)[..], &mut names, &limits).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("KERNEL_PACKER_MAX_TAR_HEADER_BYTES to raise"),
            "{text}"
        );
    }

    #[test]
    fn trailing_data_is_bounded() {
        let mut tar = long_name_tar(10);
        tar.extend(std::iter::repeat_n(0u8, 3 << 20));
        let budget = Budget::new(Limits::default());
        let mut names = Names(Vec::new());
        let err = read_compressed_tar(&tar[..], &mut names, &budget).unwrap_err();
        assert!(
            format!("{err:#}").contains("data after the end of the tar archive exceeds"),
            "{err:#}"
        );
    }
}
