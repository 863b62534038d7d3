//! One directory of the repository at a commit, read through the Git data API (no clone): the one
//! reader of the lists and the manifest for the crawl, the sync and pack functions and the merge
//! trigger, so every deployed function sees the default branch as merged, with no upload step.
//!
//! [`at_default_head`] costs two calls (default branch, its ref) when the head commit is the one
//! read last time (the snapshot is kept in the cache directory keyed by commit id); a new commit
//! costs the commit, the tree walk and only the blobs whose ids are not cached (blobs are content
//! addressed, so a cached blob is never stale).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::{GitHub, TreeEntry};

/// The files below one directory at one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The commit read.
    pub commit: String,
    /// Blob entries by path relative to the directory.
    pub entries: BTreeMap<String, TreeEntry>,
    /// Their contents.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Snapshot {
    /// Top-level UTF-8 files (list files, manifest, configs) as text, by name.
    pub fn texts(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .filter(|(p, _)| !p.contains('/'))
            .filter_map(|(p, b)| String::from_utf8(b.clone()).ok().map(|t| (p.clone(), t)))
            .collect()
    }

    /// Writes every file below `dest` (created; paths come from Git trees and are checked to stay
    /// inside). Used to hand the lists to readers that take a directory.
    pub fn write_to(&self, dest: &Path) -> Result<()> {
        for (path, bytes) in &self.files {
            if path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == ".." || p.contains('\\'))
            {
                anyhow::bail!("refusing tree path {path:?}");
            }
            let target = dest.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("create {}", parent.display()))?;
            }
            std::fs::write(&target, bytes)
                .with_context(|| format!("write {}", target.display()))?;
        }
        Ok(())
    }
}

async fn dir_tree<G: GitHub>(gh: &G, root_tree: &str, dir: &str) -> Result<Option<String>> {
    let mut tree = root_tree.to_string();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        let entries = gh.get_tree(&tree, false).await?;
        match entries
            .into_iter()
            .find(|e| e.path == part && e.kind == "tree")
        {
            Some(e) => tree = e.sha,
            None => return Ok(None),
        }
    }
    Ok(Some(tree))
}

/// Blob entries below `dir` of the tree `root_tree`; `None` when the directory does not exist.
pub async fn dir_entries<G: GitHub>(
    gh: &G,
    root_tree: &str,
    dir: &str,
) -> Result<Option<BTreeMap<String, TreeEntry>>> {
    let Some(tree) = dir_tree(gh, root_tree, dir).await? else {
        return Ok(None);
    };
    Ok(Some(
        gh.get_tree(&tree, true)
            .await?
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| (e.path.clone(), e))
            .collect(),
    ))
}

/// Reads `dir` of commit `commit` (root tree `root_tree`); blobs come from `cache` when present.
pub async fn load<G: GitHub>(
    gh: &G,
    commit: &str,
    root_tree: &str,
    dir: &str,
    cache: Option<&Path>,
) -> Result<Snapshot> {
    let entries = dir_entries(gh, root_tree, dir)
        .await?
        .ok_or_else(|| anyhow!("the repository has no directory {dir:?}"))?;
    let blob_dir = cache.map(|c| c.join("blobs"));
    let mut files = BTreeMap::new();
    for (path, e) in &entries {
        let cached = blob_dir.as_ref().map(|d| d.join(&e.sha));
        if let Some(bytes) = cached
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .filter(|b| super::git_blob_sha(b) == e.sha)
        {
            files.insert(path.clone(), bytes);
            continue;
        }
        let bytes = gh
            .get_blob(&e.sha)
            .await
            .with_context(|| format!("reading {dir}/{path}"))?;
        if let Some(p) = &cached {
            write_cache(p, &bytes);
        }
        files.insert(path.clone(), bytes);
    }
    Ok(Snapshot {
        commit: commit.to_string(),
        entries,
        files,
    })
}

/// Best effort: a cache that cannot be written only costs reads.
fn write_cache(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let ok = std::fs::create_dir_all(dir).is_ok()
        && tempfile::NamedTempFile::new_in(dir)
            .and_then(|mut t| {
                std::io::Write::write_all(&mut t, bytes)?;
                t.persist(path).map(|_| ()).map_err(|e| e.error)
            })
            .is_ok();
    if !ok {
        tracing::debug!(path = %path.display(), "cache write failed");
    }
}

/// Tree-entry list of `commit`'s `dir`, cached as JSON under `<cache>/commits/`.
fn commit_cache(cache: &Path, commit: &str, dir: &str) -> PathBuf {
    cache
        .join("commits")
        .join(format!("{commit}-{}.json", crate::names::simplify(dir)))
}

/// Reads `dir` at commit `commit` (cached by commit id in `cache`).
pub async fn at_commit<G: GitHub>(
    gh: &G,
    commit: &str,
    dir: &str,
    cache: Option<&Path>,
) -> Result<Snapshot> {
    let dir = dir.trim_matches('/');
    if let Some(c) = cache {
        let listing = commit_cache(c, commit, dir);
        if let Some(entries) = std::fs::read(&listing)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<(String, String, String)>>(&b).ok())
        {
            let mut snap = Snapshot {
                commit: commit.to_string(),
                ..Default::default()
            };
            let mut complete = true;
            for (path, mode, sha) in entries {
                match std::fs::read(c.join("blobs").join(&sha))
                    .ok()
                    .filter(|b| super::git_blob_sha(b) == sha)
                {
                    Some(bytes) => {
                        snap.files.insert(path.clone(), bytes);
                    }
                    None => complete = false,
                }
                let entry = TreeEntry {
                    path: path.clone(),
                    mode,
                    kind: "blob".into(),
                    sha,
                };
                snap.entries.insert(path, entry);
            }
            if complete {
                return Ok(snap);
            }
        }
    }
    let head = gh.get_commit(commit).await?;
    let snap = load(gh, commit, &head.tree, dir, cache).await?;
    if let Some(c) = cache {
        let listing: Vec<(&String, &String, &String)> = snap
            .entries
            .values()
            .map(|e| (&e.path, &e.mode, &e.sha))
            .collect();
        write_cache(
            &commit_cache(c, commit, dir),
            &serde_json::to_vec(&listing).expect("serialises"),
        );
    }
    Ok(snap)
}

/// Reads `dir` at the head of the default branch (see the module docs for the cost).
pub async fn at_default_head<G: GitHub>(
    gh: &G,
    dir: &str,
    cache: Option<&Path>,
) -> Result<Snapshot> {
    let base = gh.default_branch().await?;
    let head = gh
        .get_ref(&base)
        .await?
        .ok_or_else(|| anyhow!("default branch {base:?} has no ref"))?;
    at_commit(gh, &head, dir, cache).await
}
