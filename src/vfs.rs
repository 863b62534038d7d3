//! An unpacked package set as an in-memory index over append-only content files.
//!
//! Packing never recreates the packages' trees on disk: file contents are appended to one spill file
//! per package ("blob") inside the work dir, and the tree (paths, kinds, modes, link targets, where
//! each file's bytes are) lives in a sorted map. This needs one sequential write per package instead
//! of one file creation per header file, and nothing derived from an archive path ever reaches the
//! file system. Paths are root-relative; the empty path is the root directory.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// How many symlinks one resolution may follow before it is called a loop.
const MAX_LINK_HOPS: usize = 40;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    /// Content is `len` bytes at `offset` of blob `blob`.
    File {
        blob: u32,
        offset: u64,
        len: u64,
        executable: bool,
    },
    /// A relative symlink target.
    Symlink(PathBuf),
}

/// A path's kind and the package (index) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub origin: u16,
}

/// Where a path leads inside the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The root-relative path of the final (non-link) object.
    Inside(PathBuf),
    /// Some component does not exist: a dangling link.
    Dangling,
}

/// The tree: sorted nodes plus the blobs holding file contents.
#[derive(Debug)]
pub struct Tree {
    nodes: BTreeMap<PathBuf, Node>,
    blobs: Vec<File>,
    work_dir: PathBuf,
    scratch: Option<(u32, u64)>,
}

impl Tree {
    /// An empty tree whose new contents (rewritten files) spill into `work_dir`.
    pub fn new(work_dir: &Path) -> Tree {
        Tree {
            nodes: BTreeMap::new(),
            blobs: Vec::new(),
            work_dir: work_dir.to_path_buf(),
            scratch: None,
        }
    }

    /// Adds a content file; returns its blob id.
    pub fn add_blob(&mut self, file: File) -> u32 {
        self.blobs.push(file);
        (self.blobs.len() - 1) as u32
    }

    /// The blob with id `id`.
    pub fn blob(&self, id: u32) -> &File {
        &self.blobs[id as usize]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at `path` (the root is not stored: `None`).
    pub fn get(&self, path: &Path) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Whether `path` is a directory (the root always is).
    pub fn is_dir(&self, path: &Path) -> bool {
        path.as_os_str().is_empty()
            || matches!(
                self.get(path),
                Some(Node {
                    kind: NodeKind::Dir,
                    ..
                })
            )
    }

    /// Inserts a node, creating missing parent directories. Refused: a parent that is not a
    /// directory, and replacing a directory with anything else. A file or link is replaced.
    pub fn insert(&mut self, path: PathBuf, node: Node) -> Result<()> {
        let mut prefix = PathBuf::new();
        let mut components = path.components().peekable();
        while let Some(component) = components.next() {
            if components.peek().is_none() {
                break;
            }
            prefix.push(component);
            match self.nodes.get(&prefix) {
                None => {
                    self.nodes.insert(
                        prefix.clone(),
                        Node {
                            kind: NodeKind::Dir,
                            origin: node.origin,
                        },
                    );
                }
                Some(Node {
                    kind: NodeKind::Dir,
                    ..
                }) => {}
                Some(Node {
                    kind: NodeKind::Symlink(_),
                    ..
                }) => {
                    bail!("path goes through symlink {}", prefix.display())
                }
                Some(Node {
                    kind: NodeKind::File { .. },
                    ..
                }) => {
                    bail!("path goes through file {}", prefix.display())
                }
            }
        }
        match (self.nodes.get(&path).map(|n| &n.kind), &node.kind) {
            (Some(NodeKind::Dir), NodeKind::Dir) => return Ok(()),
            (Some(NodeKind::Dir), _) => bail!("entry would replace directory {}", path.display()),
            (Some(NodeKind::Symlink(_)), NodeKind::Dir) => {
                bail!("directory would replace symlink {}", path.display())
            }
            (Some(NodeKind::File { .. }), NodeKind::Dir) => {
                bail!("directory would replace file {}", path.display())
            }
            _ => {}
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    /// Removes `path` and everything below it.
    pub fn remove(&mut self, path: &Path) {
        let doomed: Vec<PathBuf> = self.subtree(path).map(|(p, _)| p.clone()).collect();
        for p in doomed {
            self.nodes.remove(&p);
        }
    }

    /// `path` itself (unless it is the root) and all its descendants, in sorted order.
    pub fn subtree<'a>(
        &'a self,
        path: &'a Path,
    ) -> impl Iterator<Item = (&'a PathBuf, &'a Node)> + 'a {
        self.nodes
            .range(path.to_path_buf()..)
            .take_while(move |(p, _)| p.starts_with(path))
    }

    /// Direct children of directory `dir`, sorted by name.
    pub fn children<'a>(
        &'a self,
        dir: &'a Path,
    ) -> impl Iterator<Item = (&'a PathBuf, &'a Node)> + 'a {
        let depth = dir.components().count() + 1;
        self.subtree(dir)
            .filter(move |(p, _)| p.components().count() == depth)
    }

    /// Reads a file node's whole content.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>> {
        match self.get(path) {
            Some(Node {
                kind: NodeKind::File {
                    blob, offset, len, ..
                },
                ..
            }) => {
                let mut buf = vec![0u8; *len as usize];
                self.blob(*blob)
                    .read_exact_at(&mut buf, *offset)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(buf)
            }
            _ => bail!("{} is not a file", path.display()),
        }
    }

    /// A reader over a file node's content.
    pub fn open(&self, blob: u32, offset: u64, len: u64) -> BlobReader<'_> {
        BlobReader {
            file: self.blob(blob),
            offset,
            remaining: len,
        }
    }

    /// Stores new content in the tree's scratch blob without naming a path; returns
    /// `(blob, offset, len)` for a view entry or node.
    pub fn spill(&mut self, content: &[u8]) -> Result<(u32, u64, u64)> {
        let (blob, end) = match self.scratch {
            Some(scratch) => scratch,
            None => {
                let file =
                    tempfile::tempfile_in(&self.work_dir).context("cannot create a spill file")?;
                (self.add_blob(file), 0)
            }
        };
        self.blob(blob).write_all_at(content, end)?;
        self.scratch = Some((blob, end + content.len() as u64));
        Ok((blob, end, content.len() as u64))
    }

    /// Writes new content for `path` (replacing a file or link there).
    pub fn write_file(
        &mut self,
        path: PathBuf,
        content: &[u8],
        executable: bool,
        origin: u16,
    ) -> Result<()> {
        let (blob, end, len) = self.spill(content)?;
        self.insert(
            path,
            Node {
                kind: NodeKind::File {
                    blob,
                    offset: end,
                    len,
                    executable,
                },
                origin,
            },
        )
    }

    /// Moves every node of `other` into this tree (blob ids renumbered). A path present in both
    /// that is not a directory in both is a conflict: `conflict(path, first_origin, second_origin)`.
    pub fn merge(
        &mut self,
        other: Tree,
        conflict: impl Fn(&Path, u16, u16) -> anyhow::Error,
    ) -> Result<()> {
        let shift = self.blobs.len() as u32;
        self.blobs.extend(other.blobs);
        for (path, mut node) in other.nodes {
            if let NodeKind::File { blob, .. } = &mut node.kind {
                *blob += shift;
            }
            match self.nodes.get(&path) {
                None => {
                    self.nodes.insert(path, node);
                }
                Some(existing) if existing.kind == NodeKind::Dir && node.kind == NodeKind::Dir => {}
                Some(existing) => return Err(conflict(&path, existing.origin, node.origin)),
            }
        }
        Ok(())
    }

    /// Resolves `rel` physically, following every symlink, never leaving the root.
    /// Errors when a link climbs above the root or loops.
    pub fn resolve(&self, rel: &Path) -> Result<Resolved> {
        let mut pending: VecDeque<OsString> = VecDeque::new();
        for component in rel.components() {
            match component {
                Component::Normal(part) => pending.push_back(part.to_os_string()),
                Component::ParentDir => pending.push_back("..".into()),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => bail!("{} is absolute", rel.display()),
            }
        }
        let mut current = PathBuf::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                if !current.pop() {
                    bail!("{} leads outside the tree", rel.display());
                }
                continue;
            }
            current.push(&part);
            match self.nodes.get(&current).map(|n| &n.kind) {
                None => return Ok(Resolved::Dangling),
                Some(NodeKind::Dir) => {}
                Some(NodeKind::File { .. }) => {
                    if !pending.is_empty() {
                        return Ok(Resolved::Dangling);
                    }
                }
                Some(NodeKind::Symlink(target)) => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        bail!("{} has a symlink loop", rel.display());
                    }
                    current.pop();
                    let mut prefix: Vec<OsString> = Vec::new();
                    for component in target.components() {
                        match component {
                            Component::Normal(p) => prefix.push(p.to_os_string()),
                            Component::ParentDir => prefix.push("..".into()),
                            Component::CurDir => {}
                            Component::RootDir | Component::Prefix(_) => {
                                bail!("{} goes through an absolute symlink", rel.display())
                            }
                        }
                    }
                    for p in prefix.into_iter().rev() {
                        pending.push_front(p);
                    }
                }
            }
        }
        Ok(Resolved::Inside(current))
    }

    /// Reads a file through links; `None` when missing or dangling.
    pub fn read_resolved(&self, rel: &Path) -> Result<Option<Vec<u8>>> {
        match self.resolve(rel)? {
            Resolved::Inside(path)
                if matches!(
                    self.get(&path),
                    Some(Node {
                        kind: NodeKind::File { .. },
                        ..
                    })
                ) =>
            {
                Ok(Some(self.read(&path)?))
            }
            _ => Ok(None),
        }
    }

    /// Real directories (not links) whose path matches `pattern` component by component
    /// (`*` matches any run of characters within a component), sorted.
    pub fn find_dirs(&self, pattern: &str) -> Vec<PathBuf> {
        let mut frontier = vec![PathBuf::new()];
        for component in pattern.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            for dir in &frontier {
                for (path, node) in self.children(dir) {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    if node.kind == NodeKind::Dir && wildcard_match(component, name) {
                        next.push(path.clone());
                    }
                }
            }
            frontier = next;
        }
        frontier
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Reads a byte range of a blob.
pub struct BlobReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(self.remaining as usize);
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "spill file shorter than recorded",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Appends to a blob while an archive is read; `finish` hands the file over for reading.
pub struct BlobWriter {
    writer: io::BufWriter<File>,
    len: u64,
}

impl BlobWriter {
    pub fn new(work_dir: &Path) -> Result<BlobWriter> {
        let file = tempfile::tempfile_in(work_dir)
            .context("cannot create a spill file in the work dir")?;
        Ok(BlobWriter {
            writer: io::BufWriter::with_capacity(1 << 20, file),
            len: 0,
        })
    }

    /// Current end offset.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn finish(self) -> Result<File> {
        self.writer
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot write the spill file")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A symlink to `target` (origin 0).
    pub(crate) fn link(target: &str) -> Node {
        Node {
            kind: NodeKind::Symlink(target.into()),
            origin: 0,
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "linux-headers-*",
            "linux-headers-6.1.0-5-amd64"
        ));
        assert!(wildcard_match("linux-*-obj", "linux-5.14-obj"));
        assert!(!wildcard_match("linux-*-obj", "linux-5.14"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }

    #[test]
    fn resolution_follows_links_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new(dir.path());
        tree.write_file("a/b/f".into(), b"x", false, 0).unwrap();
        tree.insert("l".into(), link("a/b")).unwrap();
        tree.insert("lf".into(), link("l/f")).unwrap();
        tree.insert("d".into(), link("missing")).unwrap();
        tree.insert("dot".into(), link(".")).unwrap();
        tree.insert("esc".into(), link("dot/..")).unwrap();
        tree.insert("loop".into(), link("loop")).unwrap();
        assert_eq!(
            tree.resolve(Path::new("lf")).unwrap(),
            Resolved::Inside("a/b/f".into())
        );
        assert_eq!(tree.resolve(Path::new("d")).unwrap(), Resolved::Dangling);
        assert!(tree.resolve(Path::new("esc")).is_err());
        assert!(tree.resolve(Path::new("loop")).is_err());
        assert_eq!(tree.read_resolved(Path::new("lf")).unwrap().unwrap(), b"x");
    }

    #[test]
    fn insert_refuses_paths_through_links_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new(dir.path());
        tree.insert("up".into(), link("..")).unwrap();
        assert!(tree
            .insert(
                "up/evil".into(),
                Node {
                    kind: NodeKind::Dir,
                    origin: 0
                }
            )
            .is_err());
        tree.write_file("f".into(), b"", false, 0).unwrap();
        assert!(tree.write_file("f/g".into(), b"", false, 0).is_err());
        tree.insert(
            "d/x".into(),
            Node {
                kind: NodeKind::Dir,
                origin: 0,
            },
        )
        .unwrap();
        assert!(tree.write_file("d".into(), b"", false, 0).is_err());
        assert_eq!(tree.children(Path::new("")).count(), 3);
        assert_eq!(tree.find_dirs("d"), vec![PathBuf::from("d")]);
    }
}
