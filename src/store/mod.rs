//! Object stores for packages, bundles and index entries: a local directory (the default) or S3.
//!
//! Contract shared by every backend:
//! - keys are relative, `/`-separated, each segment made of `[A-Za-z0-9_.-]` and not `.`/`..`
//!   (simplified package names, `bundle-<name>.tgz`, `index/<id>.json`);
//! - `put_*` is atomic: a reader sees either no object or the whole object, never a part; a failed
//!   put leaves no object behind (and does not replace an existing one with a partial one);
//! - the content's lowercase hex sha256 is computed (or checked when given) and recorded with the object.

mod dir;
mod s3;
mod url;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub use dir::DirStore;
pub use s3::{S3Options, S3Store, DEFAULT_MULTIPART_THRESHOLD, MIN_PART_SIZE};
pub use url::{StoreUrl, DEFAULT_DIR};

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 when the store recorded it (always after a `put_*` by this crate).
    pub sha256: Option<String>,
}

impl ObjectInfo {
    /// An object of `size` bytes whose content has lowercase hex sha256 `sha256`.
    pub fn hashed(key: &str, size: u64, sha256: String) -> ObjectInfo {
        ObjectInfo {
            key: key.to_string(),
            size,
            sha256: Some(sha256),
        }
    }
}

/// What [`Store::create_file`] found at the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// No object had the key; it now holds the file, with the tag recorded.
    New(ObjectInfo),
    /// An object already had the key (or won a concurrent create); nothing was written. Its info
    /// (sha256 always known) and the tag it was created with (`None` for objects not made by
    /// `create_file`).
    Existing {
        info: ObjectInfo,
        tag: Option<String>,
    },
}

/// A flat key → bytes store. See the module docs for the contract.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The store's URL, for messages.
    fn location(&self) -> String;

    /// Uploads the file at `path` as `key`, atomically. `sha256` (lowercase hex), when given, must
    /// match the file's content, else nothing is stored and an error is returned.
    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
    ) -> anyhow::Result<ObjectInfo>;

    /// Creates `key` from the file at `path` only when no object has that key: an atomic
    /// check-and-create, so of concurrent creators exactly one gets [`Created::New`] and the others
    /// [`Created::Existing`] with the winner's info and tag. `tag` (ASCII `[A-Za-z0-9:._-]`, e.g. a
    /// content digest) is stored with the object. Objects made this way are write-once: this crate
    /// never replaces them (bundles; see `ondemand`).
    async fn create_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
        tag: &str,
    ) -> anyhow::Result<Created>;

    /// Stores `bytes` as `key`, atomically.
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<ObjectInfo>;

    /// Downloads `key` into `dest` (written to a temporary name in `dest`'s directory, then renamed).
    /// Errors when the object does not exist.
    async fn get_to_file(&self, key: &str, dest: &Path) -> anyhow::Result<ObjectInfo>;

    /// Reads `key` into memory; `None` when it does not exist.
    async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;

    /// Metadata of `key`; `None` when it does not exist.
    async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>>;

    /// Every object whose key starts with `prefix`, sorted by key (sha256 may be `None`).
    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>>;

    /// The keys of [`Store::list`]`(prefix)`, sorted.
    async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .list(prefix)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// Deletes `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;

    /// Whether `key` exists.
    async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        Ok(self.head(key).await?.is_some())
    }
}

/// Opens the store at `url` (see [`StoreUrl::parse`]); S3 stores use `s3` for connection settings.
pub async fn open(url: &str, s3: &S3Options) -> anyhow::Result<Arc<dyn Store>> {
    open_url(&StoreUrl::parse(url)?, s3).await
}

/// Opens an already parsed store URL.
pub async fn open_url(url: &StoreUrl, s3: &S3Options) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match url {
        StoreUrl::Dir(path) => Arc::new(DirStore::new(path.clone())),
        StoreUrl::S3 { bucket, prefix } => {
            Arc::new(S3Store::connect(bucket.clone(), prefix.clone(), s3).await?)
        }
    })
}

/// Rejects keys that could escape a store or are not portable across backends.
pub fn validate_key(key: &str) -> anyhow::Result<()> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        });
    if ok {
        Ok(())
    } else {
        anyhow::bail!("invalid store key {key:?}: want `/`-separated segments of [A-Za-z0-9_.-] not starting with `.`")
    }
}

/// Rejects tags that are not safe as object metadata values.
pub(crate) fn validate_tag(tag: &str) -> anyhow::Result<()> {
    if !tag.is_empty()
        && tag.len() <= 512
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'))
    {
        Ok(())
    } else {
        anyhow::bail!("invalid object tag {tag:?}: want 1-512 characters of [A-Za-z0-9:._-]")
    }
}

/// Lowercase hex sha256 and size of a file, read asynchronously.
pub async fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| anyhow::anyhow!("open {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Errors unless `actual == expected` (both lowercase hex); the message names `what`.
pub(crate) fn check_sha256(what: &str, expected: Option<&str>, actual: &str) -> anyhow::Result<()> {
    match expected {
        Some(exp) if !exp.eq_ignore_ascii_case(actual) => {
            anyhow::bail!("{what}: sha256 mismatch: expected {exp}, content has {actual}")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        for good in ["a", "bundle-x_1.2.tgz", "index/abc.json", "a/b/c"] {
            validate_key(good).unwrap();
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/../b", ".", "a b", "a:b", "a\\b", ".hidden",
            "a/.tmp",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn sha256_of_file_matches_in_memory_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let (sha, size) = sha256_file(&p).await.unwrap();
        assert_eq!(sha, crate::names::sha256_hex(b"hello"));
        assert_eq!(size, 5);
        assert!(check_sha256("f", Some(&sha), &sha).is_ok());
        assert!(check_sha256("f", Some("00"), &sha)
            .unwrap_err()
            .to_string()
            .contains("mismatch"));
    }
}
