//! Local directory store: `<root>/<key>`, written to a temporary file in the same directory and
//! renamed into place. The sha256 and size of each object are recorded in `<root>/.meta/<key>.json`
//! (names starting with `.` are never keys, so temporaries and metadata never show up in listings).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::{check_sha256, validate_key, validate_tag, Created, ObjectInfo, Store};

const META_DIR: &str = ".meta";

/// A create-only write found the key taken.
#[derive(Debug)]
struct Taken;

impl std::fmt::Display for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("key already exists")
    }
}

impl std::error::Error for Taken {}

/// A store in a local directory (created on first write).
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    sha256: String,
    size: u64,
    /// Tag of objects made by `create_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
}

impl DirStore {
    /// A store rooted at `root`.
    pub fn new(root: PathBuf) -> Self {
        DirStore { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }

    /// Copies `reader` into a temporary file next to `dest`, hashing it; checks `sha256`; renames.
    fn write_atomic(
        &self,
        key: &str,
        reader: &mut dyn Read,
        sha256: Option<&str>,
        tag: Option<&str>,
    ) -> anyhow::Result<ObjectInfo> {
        let dest = self.path(key)?;
        let dir = dest.parent().expect("key has a parent").to_path_buf();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        // Objects are 0644 (less the umask) like files a user creates, not tempfile's 0600.
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(&dir)
            .with_context(|| format!("create temporary file in {}", dir.display()))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("read data for {key}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .with_context(|| format!("write {}", tmp.path().display()))?;
            size += n as u64;
        }
        let actual = hex::encode(hasher.finalize());
        check_sha256(key, sha256, &actual)?;
        tmp.as_file().sync_all().ok();
        if tag.is_some() {
            // Create-only: never replace an existing object.
            match tmp.persist_noclobber(&dest) {
                Ok(_) => {}
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Taken.into())
                }
                Err(e) => {
                    return Err(e.error).with_context(|| format!("rename into {}", dest.display()))
                }
            }
        } else {
            tmp.persist(&dest)
                .with_context(|| format!("rename into {}", dest.display()))?;
        }
        let meta = serde_json::to_vec(&Meta {
            sha256: actual.clone(),
            size,
            tag: tag.map(str::to_string),
        })?;
        let meta_path = self.meta_path(key);
        let meta_dir = meta_path.parent().expect("meta has a parent");
        std::fs::create_dir_all(meta_dir)
            .with_context(|| format!("create {}", meta_dir.display()))?;
        let mut mtmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(meta_dir)?;
        mtmp.write_all(&meta)?;
        mtmp.persist(&meta_path)
            .with_context(|| format!("rename into {}", meta_path.display()))?;
        Ok(ObjectInfo::hashed(key, size, actual))
    }

    /// `create_file`: the object is moved into place with a no-clobber rename (atomic: of
    /// concurrent creators exactly one succeeds), then its metadata (sha256, tag) is written. A
    /// loser waits briefly for the winner's metadata to read its tag.
    fn create_sync(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
        tag: &str,
    ) -> anyhow::Result<Created> {
        validate_key(key)?;
        validate_tag(tag)?;
        if self.head_sync(key)?.is_none() {
            let mut f =
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
            match self.write_atomic(key, &mut f, sha256, Some(tag)) {
                Ok(info) => return Ok(Created::New(info)),
                Err(e) if e.downcast_ref::<Taken>().is_some() => {}
                Err(e) => return Err(e),
            }
        }
        let mut info = self
            .head_sync(key)?
            .with_context(|| format!("{}: {key} vanished", self.location()))?;
        // The winner writes its metadata right after the rename.
        let mut meta = None;
        for _ in 0..100 {
            meta = self.read_meta(key).filter(|m| m.size == info.size);
            if meta.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        match &meta {
            Some(m) => info.sha256 = Some(m.sha256.clone()),
            None => {
                // Not made by this crate: hash the content.
                let mut f = std::fs::File::open(self.path(key)?)?;
                let mut hasher = Sha256::new();
                std::io::copy(&mut f, &mut hasher)?;
                info.sha256 = Some(hex::encode(hasher.finalize()));
            }
        }
        Ok(Created::Existing {
            info,
            tag: meta.and_then(|m| m.tag),
        })
    }

    fn read_meta(&self, key: &str) -> Option<Meta> {
        std::fs::read(self.meta_path(key))
            .ok()
            .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
    }

    fn head_sync(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        let md = match std::fs::metadata(&path) {
            Ok(md) if md.is_file() => md,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
        };
        let sha256 = self
            .read_meta(key)
            .filter(|m| m.size == md.len())
            .map(|m| m.sha256);
        Ok(Some(ObjectInfo {
            key: key.to_string(),
            size: md.len(),
            sha256,
        }))
    }

    fn list_sync(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("list {}", dir.display())),
            };
            for entry in entries {
                let entry = entry.with_context(|| format!("list {}", dir.display()))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                let ft = entry.file_type()?;
                if ft.is_dir() {
                    // Only descend where keys below could match the prefix.
                    let as_dir = format!("{key}/");
                    if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                        stack.push((entry.path(), key));
                    }
                } else if ft.is_file() && key.starts_with(prefix) {
                    if let Some(info) = self.head_sync(&key)? {
                        out.push(info);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

#[async_trait::async_trait]
impl Store for DirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
    ) -> anyhow::Result<ObjectInfo> {
        let (this, key, path, sha) = (
            self.clone(),
            key.to_string(),
            path.to_path_buf(),
            sha256.map(str::to_string),
        );
        blocking(move || {
            let mut f =
                std::fs::File::open(&path).with_context(|| format!("open {}", path.display()))?;
            this.write_atomic(&key, &mut f, sha.as_deref(), None)
        })
        .await
    }

    async fn create_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
        tag: &str,
    ) -> anyhow::Result<Created> {
        let (this, key, path, sha, tag) = (
            self.clone(),
            key.to_string(),
            path.to_path_buf(),
            sha256.map(str::to_string),
            tag.to_string(),
        );
        blocking(move || this.create_sync(&key, &path, sha.as_deref(), &tag)).await
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<ObjectInfo> {
        let (this, key) = (self.clone(), key.to_string());
        blocking(move || this.write_atomic(&key, &mut bytes.as_slice(), None, None)).await
    }

    async fn get_to_file(&self, key: &str, dest: &Path) -> anyhow::Result<ObjectInfo> {
        let (this, key, dest) = (self.clone(), key.to_string(), dest.to_path_buf());
        blocking(move || {
            let src = this.path(&key)?;
            let info = this
                .head_sync(&key)?
                .ok_or_else(|| anyhow::anyhow!("{}: no object {key}", this.location()))?;
            let dir = dest
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
            std::fs::copy(&src, tmp.path())
                .with_context(|| format!("copy {} to {}", src.display(), tmp.path().display()))?;
            tmp.persist(&dest)
                .with_context(|| format!("rename into {}", dest.display()))?;
            Ok(info)
        })
        .await
    }

    async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        let (this, key) = (self.clone(), key.to_string());
        blocking(move || this.head_sync(&key)).await
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        let (this, prefix) = (self.clone(), prefix.to_string());
        blocking(move || this.list_sync(&prefix)).await
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path(key)?;
        for p in [path, self.meta_path(key)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("delete {}", p.display())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("store"));
        assert!(store.list("").await.unwrap().is_empty());
        let info = store
            .put_bytes("index/a.json", b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(
            info.sha256.as_deref(),
            Some(crate::names::sha256_hex(b"{}").as_str())
        );
        let src = dir.path().join("src");
        std::fs::write(&src, b"package").unwrap();
        store.put_file("pkg.deb", &src, None).await.unwrap();
        // An ordinary file (0644 less the umask), not a temporary file's 0600.
        let umask = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        let mode = std::fs::metadata(dir.path().join("store/pkg.deb"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644 & !umask);
        assert_eq!(store.keys("").await.unwrap(), ["index/a.json", "pkg.deb"]);
        assert_eq!(store.keys("index/").await.unwrap(), ["index/a.json"]);
        let head = store.head("pkg.deb").await.unwrap().unwrap();
        assert_eq!(head.size, 7);
        assert_eq!(
            head.sha256.as_deref(),
            Some(crate::names::sha256_hex(b"package").as_str())
        );
        let out = dir.path().join("out");
        store.get_to_file("pkg.deb", &out).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"package");
        store.delete("pkg.deb").await.unwrap();
        store.delete("pkg.deb").await.unwrap();
        assert!(store.head("pkg.deb").await.unwrap().is_none());
        assert!(store.get_bytes("pkg.deb").await.unwrap().is_none());
        assert!(store
            .get_to_file("pkg.deb", &out)
            .await
            .unwrap_err()
            .to_string()
            .contains("pkg.deb"));
    }

    #[tokio::test]
    async fn checksum_mismatch_stores_nothing_and_keeps_the_old_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().join("store"));
        store.put_bytes("k", b"old".to_vec()).await.unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"new").unwrap();
        let err = store
            .put_file("k", &src, Some(&"0".repeat(64)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("mismatch"), "{err}");
        assert_eq!(store.get_bytes("k").await.unwrap().unwrap(), b"old");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("store"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| n == "k" || n == ".meta"), "{names:?}");
    }

    #[tokio::test]
    async fn rejects_escaping_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path().to_path_buf());
        assert!(store.put_bytes("../x", vec![]).await.is_err());
        assert!(store.head("/etc/passwd").await.is_err());
    }
}
