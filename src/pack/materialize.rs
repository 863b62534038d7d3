//! Moving trees between the in-memory [`Tree`] and a real directory, for the packers that must run
//! `make` on real files (source-based kernels).
//!
//! Contract of [`write_tree`]: everything is created below a fresh destination directory and
//! nowhere else. Only tree paths are written (they were validated when the tree was built: no
//! absolute paths, no `..`, no path through a link or a file); files are created with `O_CREAT|O_EXCL`
//! (which never follows a link); a symlink is only created when it resolves inside the tree (or dangles), so no link
//! written can lead out of the destination.
//!
//! Contract of [`load_dir`]: reads a directory without following symlinks; link targets that are
//! absolute or climb out of the directory are refused; special files are refused; file contents
//! are appended to one spill file in the work dir; total bytes and entries are bounded by
//! [`Limits`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::archive::extract::{lexical_link_destination, Limits};
use crate::vfs::{BlobWriter, Node, NodeKind, Tree};

/// Statistics of one materialisation or load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeIoStats {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
    /// Entries left out by the filter.
    pub skipped: u64,
}

/// Writes the subtree of `tree` below `root` (a directory of the tree; empty = the whole tree)
/// into `dest`, which must not exist yet (its parent must). See the module contract.
pub fn write_tree(tree: &Tree, root: &Path, dest: &Path) -> Result<TreeIoStats> {
    if !tree.is_dir(root) {
        bail!("{} is not a directory of the tree", root.display());
    }
    fs::create_dir(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut stats = TreeIoStats::default();
    let mut buf = vec![0u8; 1 << 16];
    for (path, node) in tree.subtree(root) {
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let out = dest.join(rel);
        match &node.kind {
            NodeKind::Dir => {
                fs::create_dir(&out).with_context(|| format!("cannot create {}", out.display()))?;
                stats.dirs += 1;
            }
            NodeKind::File {
                blob,
                offset,
                len,
                executable,
            } => {
                let mode = if *executable { 0o755 } else { 0o644 };
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let mut reader = tree.open(*blob, *offset, *len);
                copy_with(&mut reader, &mut file, &mut buf)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                stats.files += 1;
                stats.bytes += len;
            }
            NodeKind::Symlink(target) => {
                // Physical resolution inside the tree: refuses links that climb out or loop.
                tree.resolve(path)
                    .with_context(|| format!("symlink {}", path.display()))?;
                if target.is_absolute() {
                    bail!("symlink {} has an absolute target", path.display());
                }
                std::os::unix::fs::symlink(target, &out)
                    .with_context(|| format!("cannot create symlink {}", out.display()))?;
                stats.links += 1;
            }
        }
    }
    Ok(stats)
}

/// Unpacks the archive at `archive` (a bundle `.tgz`, or any package [`read_package`] reads)
/// through the [`SafeExtractor`] into `dest`, which must not exist yet. The spill file lives in a
/// private directory under `work_dir` and is removed on return. Same contract as [`write_tree`]:
/// nothing is written outside `dest`, whatever the archive holds.
///
/// [`read_package`]: crate::archive::read_package
/// [`SafeExtractor`]: crate::archive::extract::SafeExtractor
pub fn unpack_to_dir(archive: &Path, dest: &Path, work_dir: &Path) -> Result<TreeIoStats> {
    let spill = tempfile::Builder::new()
        .prefix("kernel-packer-unpack-")
        .tempdir_in(work_dir)
        .with_context(|| format!("create a work dir in {}", work_dir.display()))?;
    let mut extractor =
        crate::archive::extract::SafeExtractor::new(spill.path(), 0, Limits::default())?;
    crate::archive::read_package(archive, &mut extractor)
        .with_context(|| format!("{}: cannot unpack", archive.display()))?;
    let tree = extractor.finish()?;
    write_tree(&tree, Path::new(""), dest)
        .with_context(|| format!("{}: cannot unpack", archive.display()))
}

fn copy_with(reader: &mut dyn Read, writer: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    use std::io::Write;
    let mut total = 0;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Reads directory `dir` into a new tree (spilling into `work_dir`) under the tree path `prefix`.
/// `keep(rel, is_dir)` decides, per path relative to `dir`, whether it is loaded (a skipped
/// directory is skipped whole). Nodes get origin `origin`. See the module contract.
pub fn load_dir(
    dir: &Path,
    prefix: &Path,
    work_dir: &Path,
    origin: u16,
    limits: Limits,
    keep: &dyn Fn(&Path, bool) -> bool,
) -> Result<(Tree, TreeIoStats)> {
    let mut loader = Loader {
        tree: Tree::new(work_dir),
        blob: BlobWriter::new(work_dir)?,
        origin,
        limits,
        entries: 0,
        stats: TreeIoStats::default(),
        buf: vec![0u8; 1 << 16],
    };
    if !prefix.as_os_str().is_empty() {
        loader.tree.insert(
            prefix.to_path_buf(),
            Node {
                kind: NodeKind::Dir,
                origin,
            },
        )?;
    }
    loader.walk(dir, Path::new(""), prefix, keep)?;
    let Loader {
        mut tree,
        blob,
        stats,
        ..
    } = loader;
    let id = tree.add_blob(blob.finish()?);
    debug_assert_eq!(id, 0);
    Ok((tree, stats))
}

struct Loader {
    tree: Tree,
    blob: BlobWriter,
    origin: u16,
    limits: Limits,
    entries: u64,
    stats: TreeIoStats,
    buf: Vec<u8>,
}

impl Loader {
    fn walk(
        &mut self,
        dir: &Path,
        rel: &Path,
        prefix: &Path,
        keep: &dyn Fn(&Path, bool) -> bool,
    ) -> Result<()> {
        let here = dir.join(rel);
        let mut names: Vec<_> = fs::read_dir(&here)
            .with_context(|| format!("cannot list {}", here.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .with_context(|| format!("cannot list {}", here.display()))?;
        names.sort();
        for name in names {
            let child_rel = rel.join(&name);
            let full = dir.join(&child_rel);
            let meta = fs::symlink_metadata(&full)
                .with_context(|| format!("cannot stat {}", full.display()))?;
            let file_type = meta.file_type();
            if !keep(&child_rel, file_type.is_dir()) {
                self.stats.skipped += 1;
                continue;
            }
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                bail!(
                    "{}: more than {} entries",
                    dir.display(),
                    self.limits.max_entries
                );
            }
            let tree_path = prefix.join(&child_rel);
            let kind = if file_type.is_dir() {
                self.stats.dirs += 1;
                NodeKind::Dir
            } else if file_type.is_symlink() {
                let target = fs::read_link(&full)
                    .with_context(|| format!("cannot read link {}", full.display()))?;
                if target.is_absolute() {
                    bail!(
                        "symlink {} -> {} is absolute",
                        full.display(),
                        target.display()
                    );
                }
                lexical_link_destination(&child_rel, &target).with_context(|| {
                    format!("symlink {} -> {}", full.display(), target.display())
                })?;
                self.stats.links += 1;
                NodeKind::Symlink(target)
            } else if file_type.is_file() {
                let len = meta.len();
                if len > self.limits.max_total_bytes.saturating_sub(self.stats.bytes) {
                    bail!(
                        "{}: more than {} bytes of files",
                        dir.display(),
                        self.limits.max_total_bytes
                    );
                }
                let offset = self.blob.len();
                let mut file =
                    File::open(&full).with_context(|| format!("cannot open {}", full.display()))?;
                let mut copied = 0u64;
                loop {
                    let n = file
                        .read(&mut self.buf)
                        .with_context(|| format!("cannot read {}", full.display()))?;
                    if n == 0 {
                        break;
                    }
                    copied += n as u64;
                    if copied > len {
                        bail!("{} grew while it was read", full.display());
                    }
                    self.blob.write_all(&self.buf[..n])?;
                }
                self.stats.files += 1;
                self.stats.bytes += copied;
                NodeKind::File {
                    blob: 0,
                    offset,
                    len: copied,
                    executable: meta.permissions().mode() & 0o111 != 0,
                }
            } else {
                bail!("{} is a special file", full.display());
            };
            let is_dir = kind == NodeKind::Dir;
            self.tree.insert(
                tree_path.clone(),
                Node {
                    kind,
                    origin: self.origin,
                },
            )?;
            if is_dir {
                self.walk(dir, &child_rel, prefix, keep)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::tests::link;

    #[test]
    fn roundtrip_through_a_directory() {
        let work = tempfile::tempdir().unwrap();
        let mut tree = Tree::new(work.path());
        tree.write_file("src/a/f".into(), b"hello", false, 0)
            .unwrap();
        tree.write_file("src/run".into(), b"#!/bin/sh\n", true, 0)
            .unwrap();
        tree.insert("src/l".into(), link("a/f")).unwrap();
        tree.insert("src/dangling".into(), link("missing")).unwrap();
        let dest = work.path().join("out");
        let stats = write_tree(&tree, Path::new("src"), &dest).unwrap();
        assert_eq!((stats.files, stats.links, stats.dirs), (2, 2, 1));
        assert_eq!(fs::read(dest.join("l")).unwrap(), b"hello");
        assert!(fs::metadata(dest.join("run")).unwrap().permissions().mode() & 0o111 != 0);

        let (loaded, stats) = load_dir(
            &dest,
            Path::new("usr/src/k"),
            work.path(),
            3,
            Limits::default(),
            &|rel, _| rel != Path::new("run"),
        )
        .unwrap();
        assert_eq!(stats.skipped, 1);
        assert_eq!(loaded.read(Path::new("usr/src/k/a/f")).unwrap(), b"hello");
        assert_eq!(
            loaded.read_resolved(Path::new("usr/src/k/l")).unwrap(),
            Some(b"hello".to_vec())
        );
        assert!(loaded.get(Path::new("usr/src/k/run")).is_none());
        assert_eq!(loaded.get(Path::new("usr/src/k/a/f")).unwrap().origin, 3);
    }

    #[test]
    fn links_leading_out_are_refused_both_ways() {
        let work = tempfile::tempdir().unwrap();
        let mut tree = Tree::new(work.path());
        tree.insert("k/x/up".into(), link("..")).unwrap();
        tree.insert("k/esc".into(), link("x/up/../..")).unwrap();
        let err = write_tree(&tree, Path::new(""), &work.path().join("out")).unwrap_err();
        assert!(format!("{err:#}").contains("esc"), "{err:#}");

        let dir = work.path().join("in");
        fs::create_dir_all(dir.join("a")).unwrap();
        std::os::unix::fs::symlink("../../etc", dir.join("a/evil")).unwrap();
        let err = load_dir(
            &dir,
            Path::new(""),
            work.path(),
            0,
            Limits::default(),
            &|_, _| true,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("evil"), "{err:#}");
        fs::remove_file(dir.join("a/evil")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("a/abs")).unwrap();
        assert!(load_dir(
            &dir,
            Path::new(""),
            work.path(),
            0,
            Limits::default(),
            &|_, _| true
        )
        .is_err());
    }

    #[test]
    fn load_is_bounded() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("in");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("big"), vec![1u8; 4096]).unwrap();
        let limits = Limits {
            max_total_bytes: 1000,
            ..Limits::default()
        };
        let err = load_dir(&dir, Path::new(""), work.path(), 0, limits, &|_, _| true).unwrap_err();
        assert!(format!("{err:#}").contains("1000 bytes"), "{err:#}");
    }
}
