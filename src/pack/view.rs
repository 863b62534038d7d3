//! The bundle's view of an unpacked tree: which paths the bundle holds, in a deterministic order.
//!
//! Contract: the view is rooted at `bundle_root`. Symlinks are resolved physically inside the tree:
//! a link whose destination is in the bundle stays a (relative) link; a link whose destination lies
//! outside the bundle root is replaced by the destination's content (file, or directory
//! recursively), making the bundle self-contained; dangling links are dropped; links that escape the
//! tree or loop are refused. Paths excluded by the packer spec are left out, and links to them dropped.
//! An outside destination is copied once: the first link (in path order) gets the content, later
//! links to the same destination become links to that copy; the bytes copied are bounded by
//! [`Limits::max_inlined_bytes`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::spec::PackerSpec;
use crate::archive::extract::relative_path;
use crate::limits::{Limits, Resource};
use crate::vfs::{NodeKind, Resolved, Tree};

/// Deepest nesting of inlined directories (guards against link cycles).
const MAX_INLINE_DEPTH: usize = 32;
/// Most entries one bundle may hold.
const MAX_VIEW_ENTRIES: usize = 2_000_000;

/// One path of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewKind {
    Dir,
    /// A regular file: `len` bytes at `offset` of the tree's blob `blob`.
    File {
        blob: u32,
        offset: u64,
        len: u64,
        executable: bool,
    },
    /// A relative symlink.
    Symlink {
        target: PathBuf,
    },
}

/// A bundle path (relative to the bundle root) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    pub path: PathBuf,
    pub kind: ViewKind,
}

/// Counters reported after building a view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewStats {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub inlined_links: u64,
    pub dropped_dangling: u64,
    pub excluded: u64,
    pub bytes: u64,
}

struct Builder<'a> {
    tree: &'a Tree,
    bundle_root: &'a Path,
    spec: &'a PackerSpec,
    entries: Vec<ViewEntry>,
    /// Tree dirs and files inlined from outside the bundle root → their (first) bundle path.
    inlined: BTreeMap<PathBuf, PathBuf>,
    stats: ViewStats,
    limits: &'a Limits,
    inlined_bytes: u64,
}

/// A built view: the bundle's entries, and where tree paths landed in it.
#[derive(Debug)]
pub struct View {
    /// The bundle's paths, in bundle order.
    pub entries: Vec<ViewEntry>,
    pub stats: ViewStats,
    bundle_root: PathBuf,
    /// Tree dirs and files inlined from outside the bundle root → their (first) bundle path.
    inlined: BTreeMap<PathBuf, PathBuf>,
}

impl View {
    /// Where the physical tree path `path` (no links in it, e.g. from [`Tree::resolve`]) appears
    /// in the bundle, if it does (excluded paths included: check the spec).
    pub fn locate(&self, path: &Path) -> Option<PathBuf> {
        locate(&self.bundle_root, &self.inlined, path)
    }
}

fn locate(
    bundle_root: &Path,
    inlined: &BTreeMap<PathBuf, PathBuf>,
    path: &Path,
) -> Option<PathBuf> {
    if let Ok(rest) = path.strip_prefix(bundle_root) {
        return Some(rest.to_path_buf());
    }
    path.ancestors().find_map(|dir| {
        inlined
            .get(dir)
            .map(|at| at.join(path.strip_prefix(dir).expect("an ancestor")))
    })
}

/// Builds the view of `bundle_root` (a directory of `tree`; empty = the whole tree).
pub fn build_view(
    tree: &Tree,
    bundle_root: &Path,
    spec: &PackerSpec,
    limits: &Limits,
) -> Result<View> {
    if !tree.is_dir(bundle_root) {
        bail!("{} is not a directory", bundle_root.display());
    }
    let mut builder = Builder {
        tree,
        bundle_root,
        spec,
        entries: Vec::new(),
        inlined: BTreeMap::new(),
        stats: ViewStats::default(),
        limits,
        inlined_bytes: 0,
    };
    builder.add_dir(bundle_root, Path::new(""), 0)?;
    Ok(View {
        entries: builder.entries,
        stats: builder.stats,
        bundle_root: bundle_root.to_path_buf(),
        inlined: builder.inlined,
    })
}

impl Builder<'_> {
    fn push(&mut self, entry: ViewEntry) -> Result<()> {
        if self.entries.len() >= MAX_VIEW_ENTRIES {
            bail!("bundle would hold more than {MAX_VIEW_ENTRIES} entries");
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds the children of tree dir `from` at bundle dir `at`.
    fn add_dir(&mut self, from: &Path, at: &Path, depth: usize) -> Result<()> {
        let children: Vec<(PathBuf, NodeKind)> = self
            .tree
            .children(from)
            .map(|(p, n)| (p.clone(), n.kind.clone()))
            .collect();
        for (tree_path, kind) in children {
            let name = tree_path.file_name().expect("child has a name");
            let bundle_path = at.join(name);
            if self.spec.excludes(&bundle_path.to_string_lossy()) {
                self.stats.excluded += 1;
                continue;
            }
            match kind {
                NodeKind::Dir => {
                    self.stats.dirs += 1;
                    self.push(ViewEntry {
                        path: bundle_path.clone(),
                        kind: ViewKind::Dir,
                    })?;
                    self.add_dir(&tree_path, &bundle_path, depth)?;
                }
                NodeKind::File {
                    blob,
                    offset,
                    len,
                    executable,
                } => {
                    self.add_file(bundle_path, blob, offset, len, executable, depth > 0)?;
                }
                NodeKind::Symlink(_) => self.add_link(&tree_path, bundle_path, depth)?,
            }
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        path: PathBuf,
        blob: u32,
        offset: u64,
        len: u64,
        executable: bool,
        inlined: bool,
    ) -> Result<()> {
        if inlined {
            self.inlined_bytes += len;
            if let Err(e) = self.limits.check(
                Resource::Inlined,
                self.inlined_bytes,
                &format!("{} (copied from outside the bundle root)", path.display()),
            ) {
                bail!("{e}");
            }
        }
        self.stats.files += 1;
        self.stats.bytes += len;
        self.push(ViewEntry {
            path,
            kind: ViewKind::File {
                blob,
                offset,
                len,
                executable,
            },
        })
    }

    /// Where a tree path appears in the bundle, if it does.
    fn bundle_location(&self, path: &Path) -> Option<PathBuf> {
        locate(self.bundle_root, &self.inlined, path)
    }

    fn add_link(&mut self, link: &Path, bundle: PathBuf, depth: usize) -> Result<()> {
        let destination = match self
            .tree
            .resolve(link)
            .map_err(|e| anyhow::anyhow!("symlink {e}"))?
        {
            Resolved::Dangling => {
                self.stats.dropped_dangling += 1;
                return Ok(());
            }
            Resolved::Inside(destination) => destination,
        };
        if let Some(at) = self.bundle_location(&destination) {
            if self.spec.excludes(&at.to_string_lossy()) {
                self.stats.dropped_dangling += 1;
                return Ok(());
            }
            self.stats.links += 1;
            let target = relative_path(bundle.parent().unwrap_or(Path::new("")), &at);
            return self.push(ViewEntry {
                path: bundle,
                kind: ViewKind::Symlink { target },
            });
        }
        // Outside the bundle: inline the destination's content.
        self.stats.inlined_links += 1;
        match self.tree.get(&destination).map(|n| n.kind.clone()) {
            Some(NodeKind::File {
                blob,
                offset,
                len,
                executable,
            }) => {
                self.inlined.insert(destination, bundle.clone());
                self.add_file(bundle, blob, offset, len, executable, true)
            }
            _ => {
                if depth >= MAX_INLINE_DEPTH {
                    bail!(
                        "symlink {} nests inlined directories too deeply (cycle?)",
                        link.display()
                    );
                }
                self.stats.dirs += 1;
                self.push(ViewEntry {
                    path: bundle.clone(),
                    kind: ViewKind::Dir,
                })?;
                self.inlined.insert(destination.clone(), bundle.clone());
                self.add_dir(&destination, &bundle, depth + 1)
            }
        }
    }
}
