//! Where list files live: a plain directory by default; other stores (a GitHub branch, for the
//! scheduled crawl function) implement [`ListStore`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Reads and writes list files by file name (e.g. `debian.txt`).
///
/// Contract: `write` replaces the whole file atomically (readers see the old or the new text,
/// never a mix); `read` of a file that does not exist returns `Ok(None)`.
///
/// [`crate::crawl::run`] calls these from async code, after all crawling is done, one source
/// at a time. They must not block on the caller's runtime: a remote store (e.g. a GitHub
/// branch for the scheduled crawl function) should read from a tree fetched beforehand and
/// stage writes in memory, then commit them after `run` returns.
pub trait ListStore: Send + Sync {
    /// The text of a list file, or `None` when it does not exist.
    fn read(&self, name: &str) -> Result<Option<String>>;
    /// Replaces a list file with `text`.
    fn write(&self, name: &str, text: &str) -> Result<()>;
}

/// A directory of list files; writes go to a temporary file in the same directory, then rename.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// A store over `dir` (created on first write if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStore { dir: dir.into() }
    }

    /// The directory of this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        anyhow::ensure!(
            !name.is_empty()
                && !name.contains('/')
                && !name.contains('\\')
                && name != ".."
                && name != ".",
            "invalid list file name {name:?}"
        );
        Ok(self.dir.join(name))
    }
}

impl ListStore for DirStore {
    fn read(&self, name: &str) -> Result<Option<String>> {
        let path = self.path(name)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading list {}", path.display())),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        let path = self.path(name)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating list directory {}", self.dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .with_context(|| format!("creating temporary file in {}", self.dir.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .with_context(|| format!("writing temporary file for {}", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("replacing list {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_store_round_trip_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("lists"));
        assert_eq!(store.read("a.txt").unwrap(), None);
        store.write("a.txt", "x\n").unwrap();
        store.write("a.txt", "y\n").unwrap();
        assert_eq!(store.read("a.txt").unwrap().as_deref(), Some("y\n"));
        // Only the list file remains: no temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(store.dir()).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(store.write("../evil.txt", "").is_err());
    }
}
