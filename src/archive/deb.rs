//! Debian packages: an `ar` archive whose `data.tar[.gz|.xz|.zst|.bz2]` member holds the files.

use std::io::Read;

use anyhow::{bail, Context, Result};

use super::{tarball, EntrySink};
use crate::limits::Budget;

/// Streams the `data.tar*` member of a .deb into `sink`. The member's compression is sniffed from its
/// content (gzip, xz, zstd, bzip2 or none); other members are skipped.
/// Decompressed bytes are charged to `budget`.
pub fn read_deb<R: Read>(reader: R, sink: &mut dyn EntrySink, budget: &Budget) -> Result<()> {
    let mut archive = ar::Archive::new(reader);
    let mut saw_debian_binary = false;
    while let Some(member) = archive.next_entry() {
        let mut member = member.context("corrupt or truncated ar archive")?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_string();
        if name == "debian-binary" {
            saw_debian_binary = true;
            continue;
        }
        if name.starts_with("data.tar") {
            if !saw_debian_binary {
                bail!("not a Debian package: data member before debian-binary");
            }
            let declared = member.header().size();
            let mut counted = tarball::CountingReader {
                inner: &mut member,
                count: 0,
            };
            tarball::read_compressed_tar(&mut counted, sink, budget)
                .with_context(|| format!("member {name}"))?;
            if counted.count != declared {
                bail!(
                    "truncated archive: member {name} has {} of {declared} bytes",
                    counted.count
                );
            }
            return Ok(());
        }
    }
    bail!("not a Debian package: no data.tar member")
}
