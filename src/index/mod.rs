//! Bundle index: one object per packed manifest id (`index/<id>.json` in the bundle store), combined
//! on read into a `cache.yml`-like view (id → type, packages, bundle, sha256) and a features view
//! (bundle → btf, bpf_ringbuf).
//!
//! Writers only ever create or replace their own id's object, so concurrent packs of different ids
//! cannot lose each other's entries, and two packs of the same id write equivalent entries.

mod features;
pub mod html;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use features::{has_bpf_ringbuf, parse_version, Features};

use crate::store::Store;

/// Key prefix of index entries in the bundle store.
pub const PREFIX: &str = "index/";

/// One packed manifest id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Manifest id.
    pub id: String,
    /// Packer type (`debian`, `redhat`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Simplified package names of the set.
    pub packages: Vec<String>,
    /// Bundle object key, `bundle-<name>.tgz`.
    pub bundle: String,
    /// Lowercase hex sha256 of the bundle.
    pub sha256: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// BUNDLE_UNAME.
    pub kernel: String,
    /// BUNDLE_DISTRO.
    #[serde(default)]
    pub distro: String,
    /// BUNDLE_ARCH (`amd64`, `arm64`); `amd64` for entries written before architectures existed.
    #[serde(default = "crate::pack::arch::default_name")]
    pub arch: String,
    /// Derived kernel features.
    pub features: Features,
    /// What a module build needs (the bundle's BUNDLE_COMPILER, BUNDLE_COMPILER_VERSION and
    /// BUNDLE_HOST_REQUIREMENTS); empty in entries written before they existed.
    #[serde(default)]
    pub build: crate::pack::facts::BuildFacts,
    /// Canary build result (`pack --verify`); absent for entries written before verification
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// When the bundle was packed (Unix seconds); absent for older entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packed_at: Option<u64>,
}

/// What the canary build proved about a bundle, as recorded in its index entry:
/// `{"verified": {"module": true, "ebpf": true, "compiler": "gcc-12"}}` or
/// `{"unverified": {"reason": "..."}}`. A bundle whose verification failed is never published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    Verified {
        module: bool,
        ebpf: bool,
        compiler: String,
    },
    Unverified {
        reason: String,
    },
}

/// The `cache.yml` view of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub packages: Vec<String>,
    pub bundle: String,
    pub sha256: String,
}

/// Key of `id`'s entry.
pub fn entry_key(id: &str) -> String {
    format!("{PREFIX}{id}.json")
}

/// Checks an id is a manifest id (64 lowercase hex chars), so it is a safe key segment.
pub fn validate_id(id: &str) -> anyhow::Result<()> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        anyhow::bail!("invalid manifest id {id:?}: want 64 lowercase hex characters")
    }
}

/// Writes (creates or replaces) `entry`'s object.
pub async fn write_entry(store: &dyn Store, entry: &IndexEntry) -> anyhow::Result<()> {
    validate_id(&entry.id)?;
    let bytes = serde_json::to_vec_pretty(entry)?;
    store
        .put_bytes(&entry_key(&entry.id), bytes)
        .await
        .with_context(|| format!("write index entry {}", entry.id))?;
    Ok(())
}

/// Reads one entry; `None` when the id has none.
pub async fn read_entry(store: &dyn Store, id: &str) -> anyhow::Result<Option<IndexEntry>> {
    validate_id(id)?;
    let key = entry_key(id);
    match store.get_bytes(&key).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(parse_entry(&key, &bytes)?)),
    }
}

fn parse_entry(key: &str, bytes: &[u8]) -> anyhow::Result<IndexEntry> {
    serde_json::from_slice(bytes).with_context(|| format!("index entry {key}: not valid JSON"))
}

/// Ids that have an index entry (one listing, no reads).
pub async fn ids(store: &dyn Store) -> anyhow::Result<Vec<String>> {
    Ok(store
        .list(PREFIX)
        .await?
        .into_iter()
        .filter_map(|o| {
            o.key
                .strip_prefix(PREFIX)
                .and_then(|k| k.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect())
}

/// Reads every entry (up to 16 reads in flight). A malformed entry is an error naming its key.
pub async fn read_all(store: Arc<dyn Store>) -> anyhow::Result<BTreeMap<String, IndexEntry>> {
    let keys: Vec<String> = store
        .list(PREFIX)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    let entries: Vec<Option<IndexEntry>> = futures_util::stream::iter(keys)
        .map(|key| {
            let store = store.clone();
            async move {
                match store.get_bytes(&key).await? {
                    Some(bytes) => parse_entry(&key, &bytes).map(Some),
                    None => Ok(None), // deleted between list and get
                }
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok(entries
        .into_iter()
        .flatten()
        .map(|e| (e.id.clone(), e))
        .collect())
}

/// The `cache.yml` view: id → type, packages, bundle, sha256.
pub fn cache_view(entries: &BTreeMap<String, IndexEntry>) -> BTreeMap<String, CacheEntry> {
    entries
        .iter()
        .map(|(id, e)| {
            (
                id.clone(),
                CacheEntry {
                    kind: e.kind.clone(),
                    packages: e.packages.clone(),
                    bundle: e.bundle.clone(),
                    sha256: e.sha256.clone(),
                },
            )
        })
        .collect()
}

/// The features view: bundle name → features.
pub fn features_view(entries: &BTreeMap<String, IndexEntry>) -> BTreeMap<String, Features> {
    entries
        .values()
        .map(|e| (e.bundle.clone(), e.features))
        .collect()
}

/// Renders a view as YAML.
pub fn to_yaml<T: Serialize>(view: &T) -> anyhow::Result<String> {
    Ok(serde_norway::to_string(view)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DirStore;

    fn entry(n: u8) -> IndexEntry {
        IndexEntry {
            id: format!("{n:02x}").repeat(32),
            kind: "debian".into(),
            packages: vec![format!("p{n}.deb")],
            bundle: format!("bundle-{n}.tgz"),
            sha256: "ab".repeat(32),
            size: 10,
            kernel: format!("6.{n}.0-1-amd64"),
            distro: "debian".into(),
            arch: "amd64".into(),
            features: Features {
                btf: n % 2 == 0,
                bpf_ringbuf: true,
            },
            build: Default::default(),
            verification: None,
            packed_at: None,
        }
    }

    #[tokio::test]
    async fn concurrent_writers_lose_nothing_and_views_combine() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().to_path_buf()));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..40u8 {
            let store = store.clone();
            tasks.spawn(async move { write_entry(store.as_ref(), &entry(n)).await });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        let all = read_all(store.clone()).await.unwrap();
        assert_eq!(all.len(), 40);
        assert_eq!(ids(store.as_ref()).await.unwrap().len(), 40);
        let cache = cache_view(&all);
        let e3 = entry(3);
        assert_eq!(cache[&e3.id].bundle, "bundle-3.tgz");
        let yaml = to_yaml(&cache).unwrap();
        assert!(
            yaml.contains(&format!("{}:\n  type: debian\n", entry(10).id)),
            "{yaml}"
        );
        let feats = features_view(&all);
        assert_eq!(
            feats["bundle-4.tgz"],
            Features {
                btf: true,
                bpf_ringbuf: true
            }
        );
        assert_eq!(
            read_entry(store.as_ref(), &e3.id).await.unwrap().unwrap(),
            e3
        );
        assert!(read_entry(store.as_ref(), &"e".repeat(64))
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn malformed_entry_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().to_path_buf()));
        store
            .put_bytes(&entry_key(&"1".repeat(64)), b"{".to_vec())
            .await
            .unwrap();
        let err = format!("{:#}", read_all(store).await.unwrap_err());
        assert!(err.contains(&"1".repeat(64)), "{err}");
    }

    #[test]
    fn ids_are_validated() {
        validate_id(&"a".repeat(64)).unwrap();
        assert!(validate_id("../x").is_err());
        assert!(validate_id(&"A".repeat(64)).is_err());
    }
}
