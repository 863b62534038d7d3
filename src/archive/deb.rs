//! Debian packages: an `ar` archive whose `control.tar[.*]` member holds the package's own
//! metadata (`control`) and whose `data.tar[.gz|.xz|.zst|.bz2]` member holds the files.

use std::io::Read;

use anyhow::{bail, Context, Result};

use super::{tarball, Entry, EntryKind, EntrySink};
use crate::limits::Budget;

/// Largest `control` file read (real ones are a few KiB).
const MAX_CONTROL_BYTES: u64 = 1 << 20;

/// What a .deb's `control` file says about the package (the fields packing uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebControl {
    /// `Package`.
    pub package: Option<String>,
    /// `Version`.
    pub version: Option<String>,
    /// `Pre-Depends` then `Depends`, one relation per item as written (`libelf1t64 (>= 0.144)`,
    /// alternatives kept: `a | b`).
    pub depends: Vec<String>,
}

/// Streams the `data.tar*` member of a .deb into `sink` and returns its `control` metadata
/// (default when the package has no control member). The members' compression is sniffed from
/// their content (gzip, xz, zstd, bzip2 or none); other members are skipped. Decompressed bytes
/// are charged to `budget`.
pub fn read_deb<R: Read>(
    reader: R,
    sink: &mut dyn EntrySink,
    budget: &Budget,
) -> Result<DebControl> {
    let mut archive = ar::Archive::new(reader);
    let mut saw_debian_binary = false;
    let mut control = DebControl::default();
    while let Some(member) = archive.next_entry() {
        let mut member = member.context("corrupt or truncated ar archive")?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_string();
        if name == "debian-binary" {
            saw_debian_binary = true;
            continue;
        }
        if name.starts_with("control.tar") {
            let mut found = ControlSink(None);
            tarball::read_compressed_tar(&mut member, &mut found, budget)
                .with_context(|| format!("member {name}"))?;
            if let Some(text) = found.0 {
                control = parse_control(&text);
            }
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
            return Ok(control);
        }
    }
    bail!("not a Debian package: no data.tar member")
}

/// Keeps the text of the control tar's `./control` file.
struct ControlSink(Option<String>);

impl EntrySink for ControlSink {
    fn entry(&mut self, entry: &Entry, content: &mut dyn Read) -> Result<()> {
        let path = entry.path.strip_prefix(b"./").unwrap_or(&entry.path);
        if entry.kind == EntryKind::File && path == b"control" {
            if entry.size > MAX_CONTROL_BYTES {
                bail!("control file of {} bytes is too large", entry.size);
            }
            let mut bytes = Vec::with_capacity(entry.size as usize);
            content.take(MAX_CONTROL_BYTES).read_to_end(&mut bytes)?;
            self.0 = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(())
    }
}

/// Parses a binary package's `control` paragraph (deb822: `Field: value`, continuation lines
/// start with a space or tab). Unknown fields are ignored.
pub fn parse_control(text: &str) -> DebControl {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut depends = Vec::new();
    for name in ["pre-depends", "depends"] {
        if let Some(value) = field(name) {
            depends.extend(
                value
                    .split(',')
                    .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|r| !r.is_empty()),
            );
        }
    }
    DebControl {
        package: field("package"),
        version: field("version"),
        depends,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_fields_and_relations() {
        let text = "Package: linux-kbuild-6.12.57+deb13\nSource: linux\nVersion: 6.12.57-1\n\
                    Pre-Depends: dpkg (>= 1.17)\n\
                    Depends: libc6 (>= 2.38), libelf1t64 (>= 0.144),\n libssl3t64 (>= 3.0.0), a | b\n\
                    Description: Kbuild infrastructure\n more text: with colon\n";
        let control = parse_control(text);
        assert_eq!(
            control.package.as_deref(),
            Some("linux-kbuild-6.12.57+deb13")
        );
        assert_eq!(control.version.as_deref(), Some("6.12.57-1"));
        assert_eq!(
            control.depends,
            [
                "dpkg (>= 1.17)",
                "libc6 (>= 2.38)",
                "libelf1t64 (>= 0.144)",
                "libssl3t64 (>= 3.0.0)",
                "a | b"
            ]
        );
        assert_eq!(parse_control("Package: x\n").depends, Vec::<String>::new());
    }
}
