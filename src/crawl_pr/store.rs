//! An in-memory [`ListStore`]: the list files of a repository snapshot, with writes staged
//! in memory and committed later as one Git commit.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{ensure, Result};

use crate::lists::ListStore;

/// List files by name (plain file names, no `/`), in memory.
#[derive(Debug, Default)]
pub struct MemStore {
    files: Mutex<BTreeMap<String, String>>,
}

impl MemStore {
    /// A store holding `files` (name → text).
    pub fn new(files: BTreeMap<String, String>) -> MemStore {
        MemStore {
            files: Mutex::new(files),
        }
    }

    /// Every file, after the writes.
    pub fn into_files(self) -> BTreeMap<String, String> {
        self.files.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

fn check(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty() && !name.contains('/') && name != "." && name != "..",
        "invalid list file name {name:?}"
    );
    Ok(())
}

impl ListStore for MemStore {
    fn read(&self, name: &str) -> Result<Option<String>> {
        check(name)?;
        Ok(self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned())
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        check(name)?;
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), text.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_rejects_paths() {
        let s = MemStore::new(BTreeMap::from([("a.txt".to_string(), "x\n".to_string())]));
        assert_eq!(s.read("a.txt").unwrap().as_deref(), Some("x\n"));
        assert_eq!(s.read("b.txt").unwrap(), None);
        s.write("b.txt", "y\n").unwrap();
        assert!(s.write("../c.txt", "").is_err());
        let files = s.into_files();
        assert_eq!(files.len(), 2);
        assert_eq!(files["b.txt"], "y\n");
    }
}
