//! The bundle's view of an unpacked tree: which paths the bundle holds, in a deterministic order.
//!
//! Contract: the view is rooted at `bundle_root` (root-relative). Symlinks are resolved physically
//! inside the work root: a link whose destination is in the bundle stays a (relative) link; a link
//! whose destination lies outside the bundle root is replaced by the destination's content
//! (file, or directory recursively), making the bundle self-contained; dangling links are dropped;
//! links that escape the work root are refused. Paths excluded by the packer spec are left out, and
//! links to them dropped.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::spec::PackerSpec;
use super::tree::{resolve_in_root, Resolved};
use crate::archive::extract::relative_path;

/// Deepest nesting of inlined directories (guards against link cycles).
const MAX_INLINE_DEPTH: usize = 32;
/// Most entries one bundle may hold.
const MAX_VIEW_ENTRIES: usize = 2_000_000;

/// One path of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewKind {
    Dir,
    /// A regular file, read from `source` (absolute path in the work dir).
    File {
        source: PathBuf,
        size: u64,
        executable: bool,
    },
    /// A relative symlink.
    Symlink {
        target: PathBuf,
    },
}

/// A bundle path (relative to the bundle root, `/`-separated) and what it is.
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
    root: &'a Path,
    bundle_root: &'a Path,
    spec: &'a PackerSpec,
    entries: Vec<ViewEntry>,
    /// Work dirs inlined outside the bundle root → their bundle path.
    inlined: BTreeMap<PathBuf, PathBuf>,
    stats: ViewStats,
}

/// Builds the view of `bundle_root` inside the unpacked `root`.
pub fn build_view(
    root: &Path,
    bundle_root: &Path,
    spec: &PackerSpec,
) -> Result<(Vec<ViewEntry>, ViewStats)> {
    let mut builder = Builder {
        root,
        bundle_root,
        spec,
        entries: Vec::new(),
        inlined: BTreeMap::new(),
        stats: ViewStats::default(),
    };
    builder.add_dir(bundle_root, Path::new(""), 0)?;
    Ok((builder.entries, builder.stats))
}

impl Builder<'_> {
    fn push(&mut self, entry: ViewEntry) -> Result<()> {
        if self.entries.len() >= MAX_VIEW_ENTRIES {
            bail!("bundle would hold more than {MAX_VIEW_ENTRIES} entries");
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds the children of work dir `work` at bundle dir `bundle`.
    fn add_dir(&mut self, work: &Path, bundle: &Path, depth: usize) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(self.root.join(work))
            .with_context(|| format!("cannot list {}", work.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            let work_path = work.join(&name);
            let bundle_path = bundle.join(&name);
            if self.spec.excludes(&bundle_path.to_string_lossy()) {
                self.stats.excluded += 1;
                continue;
            }
            let meta = fs::symlink_metadata(self.root.join(&work_path))?;
            let file_type = meta.file_type();
            if file_type.is_dir() {
                self.stats.dirs += 1;
                self.push(ViewEntry {
                    path: bundle_path.clone(),
                    kind: ViewKind::Dir,
                })?;
                self.add_dir(&work_path, &bundle_path, depth)?;
            } else if file_type.is_file() {
                self.add_file(&work_path, bundle_path, &meta)?;
            } else if file_type.is_symlink() {
                self.add_link(&work_path, bundle_path, depth)?;
            } else {
                bail!(
                    "{} is not a file, directory or symlink",
                    work_path.display()
                );
            }
        }
        Ok(())
    }

    fn add_file(&mut self, work: &Path, bundle: PathBuf, meta: &fs::Metadata) -> Result<()> {
        self.stats.files += 1;
        self.stats.bytes += meta.len();
        self.push(ViewEntry {
            path: bundle,
            kind: ViewKind::File {
                source: self.root.join(work),
                size: meta.len(),
                executable: meta.permissions().mode() & 0o111 != 0,
            },
        })
    }

    /// Where a root-relative work path appears in the bundle, if it does.
    fn bundle_location(&self, work: &Path) -> Option<PathBuf> {
        if let Ok(rest) = work.strip_prefix(self.bundle_root) {
            return Some(rest.to_path_buf());
        }
        self.inlined
            .range(..=work.to_path_buf())
            .rev()
            .find(|(dir, _)| work.starts_with(dir))
            .map(|(dir, at)| at.join(work.strip_prefix(dir).expect("prefix checked")))
    }

    fn add_link(&mut self, work: &Path, bundle: PathBuf, depth: usize) -> Result<()> {
        let destination = match resolve_in_root(self.root, work)
            .with_context(|| format!("symlink {}", work.display()))?
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
        let meta = fs::metadata(self.root.join(&destination))?;
        if meta.is_dir() {
            if depth >= MAX_INLINE_DEPTH {
                bail!(
                    "symlink {} nests inlined directories too deeply (cycle?)",
                    work.display()
                );
            }
            self.stats.dirs += 1;
            self.push(ViewEntry {
                path: bundle.clone(),
                kind: ViewKind::Dir,
            })?;
            self.inlined.insert(destination.clone(), bundle.clone());
            self.add_dir(&destination, &bundle, depth + 1)
        } else {
            self.add_file(&destination, bundle, &meta)
        }
    }
}
