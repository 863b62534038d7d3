//! Safe extraction of archive entries into an in-memory [`Tree`] (contents spilled to a blob).
//!
//! Contract: no archive path ever reaches the file system; the only file written is the package's
//! spill file in the work dir. Refused, with an error naming the entry: absolute paths and `..`
//! components, entries whose path goes through a symlink or a file, symlinks whose relative target
//! climbs out of the root, hard links to anything but an earlier regular file of the same archive,
//! device nodes/fifos/sockets, and archives that unpack past [`Limits`] (hard links count in full).
//! Absolute symlink targets (`/usr/src/...`, common in packages) are re-rooted: rewritten as a relative
//! link to the same path inside the root. Only the execute bit of file modes is kept.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Result};

use super::{Entry, EntryKind, EntrySink};
use crate::limits::{Budget, Resource};
use crate::vfs::{BlobWriter, Node, NodeKind, Tree};

/// Upper bounds on what a pack may unpack to (decompression bombs, entry floods): the pack budget.
pub use crate::limits::Limits;

/// Builds the [`Tree`] of one package, enforcing the module's safety contract.
pub struct SafeExtractor {
    tree: Tree,
    blob: BlobWriter,
    blob_id: u32,
    origin: u16,
    budget: Budget,
}

impl SafeExtractor {
    /// A new extractor spilling contents into `work_dir`; `origin` tags every node (package index).
    pub fn new(work_dir: &Path, origin: u16, limits: Limits) -> Result<Self> {
        Self::with_budget(work_dir, origin, Budget::new(limits))
    }

    /// A new extractor charging `budget`, shared with the other packages of the same pack.
    pub fn with_budget(work_dir: &Path, origin: u16, budget: Budget) -> Result<Self> {
        let tree = Tree::new(work_dir);
        let blob = BlobWriter::new(work_dir)?;
        // The spill file becomes the fresh tree's first blob when the extraction finishes.
        let blob_id = 0;
        Ok(SafeExtractor {
            tree,
            blob,
            blob_id,
            origin,
            budget,
        })
    }

    /// Ends the extraction and returns the package's tree.
    pub fn finish(self) -> Result<Tree> {
        let mut tree = self.tree;
        let id = tree.add_blob(self.blob.finish()?);
        debug_assert_eq!(id, self.blob_id);
        Ok(tree)
    }

    fn charge(&mut self, size: u64) -> Result<()> {
        self.budget.charge(
            Resource::Unpacked,
            size,
            "content that unpacks past the size limit (decompression bomb?)",
        )?;
        Ok(())
    }

    fn node(&self, kind: NodeKind) -> Node {
        Node {
            kind,
            origin: self.origin,
        }
    }
}

/// Copies `reader` into the blob; fails past `limit` bytes.
fn copy_bounded(reader: &mut dyn Read, blob: &mut BlobWriter, limit: u64) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut copied = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("corrupt or truncated archive")),
        };
        if n == 0 {
            return Ok(copied);
        }
        copied += n as u64;
        if copied > limit {
            bail!("entry is larger than declared or than the size limit (decompression bomb?)");
        }
        blob.write_all(&buf[..n])?;
    }
}

/// Turns a raw archive path into a clean relative path. `Ok(None)` for the archive root (`./`).
pub fn normalize_entry_path(raw: &[u8]) -> Result<Option<PathBuf>> {
    if raw.contains(&0) {
        bail!("path contains a NUL byte");
    }
    let path = Path::new(OsStr::from_bytes(raw));
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::Prefix(_) => bail!("absolute path"),
            Component::ParentDir => bail!("path contains '..'"),
        }
    }
    if clean.as_os_str().is_empty() {
        Ok(None)
    } else {
        Ok(Some(clean))
    }
}

/// Lexically resolves `target` (a symlink's target) against the link at `link_rel`, both inside the
/// root. Absolute targets are taken relative to the root. Returns the target's root-relative path,
/// or an error when it climbs above the root.
pub fn lexical_link_destination(link_rel: &Path, target: &Path) -> Result<PathBuf> {
    let mut stack: Vec<&OsStr> = Vec::new();
    if !target.is_absolute() {
        if let Some(parent) = link_rel.parent() {
            stack.extend(parent.components().map(|c| c.as_os_str()));
        }
    }
    for component in target.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(part) => stack.push(part),
            Component::ParentDir => {
                if stack.pop().is_none() {
                    bail!("points outside the package tree");
                }
            }
        }
    }
    Ok(stack.iter().collect())
}

/// The relative path that leads from directory `from_dir` to `to` (both root-relative).
pub fn relative_path(from_dir: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from_dir.components().collect();
    let dest: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(dest.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &dest[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

impl EntrySink for SafeExtractor {
    fn entry(&mut self, entry: &Entry, content: &mut dyn Read) -> Result<()> {
        self.budget
            .charge(Resource::Entries, 1, "the number of entries (entry flood?)")?;
        self.budget.limits().check(
            Resource::PathBytes,
            entry.path.len() as u64,
            "the entry's path length",
        )?;
        let rel = match normalize_entry_path(&entry.path)? {
            Some(rel) => rel,
            None => return Ok(()),
        };
        let kind = match &entry.kind {
            EntryKind::Dir => NodeKind::Dir,
            EntryKind::File => {
                self.charge(entry.size)?;
                let offset = self.blob.len();
                let copied = copy_bounded(content, &mut self.blob, entry.size)?;
                NodeKind::File {
                    blob: self.blob_id,
                    offset,
                    len: copied,
                    executable: entry.mode & 0o111 != 0,
                }
            }
            EntryKind::Symlink(target) => {
                if target.is_empty() || target.contains(&0) {
                    bail!("symlink with an empty or invalid target");
                }
                let target_path = Path::new(OsStr::from_bytes(target));
                let destination = lexical_link_destination(&rel, target_path).map_err(|e| {
                    anyhow::anyhow!(
                        "symlink {} -> {}: {e}",
                        rel.display(),
                        target_path.display()
                    )
                })?;
                let stored = if target_path.is_absolute() {
                    relative_path(rel.parent().unwrap_or(Path::new("")), &destination)
                } else {
                    target_path.to_path_buf()
                };
                NodeKind::Symlink(stored)
            }
            EntryKind::Hardlink(target) => {
                let target_rel = match normalize_entry_path(target).map_err(|e| {
                    anyhow::anyhow!("hard link target {}: {e}", String::from_utf8_lossy(target))
                })? {
                    Some(t) => t,
                    None => bail!("hard link to the archive root"),
                };
                match self.tree.get(&target_rel).map(|n| n.kind.clone()) {
                    Some(NodeKind::File {
                        blob,
                        offset,
                        len,
                        executable,
                    }) => {
                        self.charge(len)?;
                        NodeKind::File {
                            blob,
                            offset,
                            len,
                            executable,
                        }
                    }
                    Some(_) => bail!(
                        "hard link to {}, which is not a regular file",
                        target_rel.display()
                    ),
                    None => bail!(
                        "hard link to {}, which is not an earlier file of this archive",
                        target_rel.display()
                    ),
                }
            }
            EntryKind::Special(what) => bail!("{what} entries are not allowed"),
        };
        let node = self.node(kind);
        self.tree.insert(rel, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_dot_prefix_and_rejects_escapes() {
        assert_eq!(
            normalize_entry_path(b"./usr/src/x").unwrap(),
            Some(PathBuf::from("usr/src/x"))
        );
        assert_eq!(normalize_entry_path(b"./").unwrap(), None);
        assert!(normalize_entry_path(b"/etc/passwd").is_err());
        assert!(normalize_entry_path(b"usr/../../etc").is_err());
    }

    #[test]
    fn lexical_destination_rerooted_and_bounded() {
        let link = Path::new("lib/modules/6.1/build");
        assert_eq!(
            lexical_link_destination(link, Path::new("/usr/src/linux-headers-6.1")).unwrap(),
            PathBuf::from("usr/src/linux-headers-6.1")
        );
        assert_eq!(
            lexical_link_destination(link, Path::new("../../../usr/src/x")).unwrap(),
            PathBuf::from("usr/src/x")
        );
        assert!(lexical_link_destination(link, Path::new("../../../../etc")).is_err());
    }

    #[test]
    fn relative_path_between_dirs() {
        assert_eq!(
            relative_path(
                Path::new("lib/modules/6.1"),
                Path::new("usr/src/linux-headers-6.1")
            ),
            PathBuf::from("../../../usr/src/linux-headers-6.1")
        );
        assert_eq!(
            relative_path(Path::new("a/b"), Path::new("a/b/c")),
            PathBuf::from("c")
        );
    }
}
