//! Bundle index: one object per packed manifest id (`index/<id>.json` in the bundle store), combined
//! on read into a `cache.yml`-like view (id → type, packages, bundle, sha256) and a features view
//! (bundle → btf, bpf_ringbuf).
//!
//! Writers only ever create or replace their own id's object, so concurrent packs of different ids
//! cannot lose each other's entries, and two packs of the same id write equivalent entries.
//!
//! Several ids can name one bundle: ids whose sets have the same package content (same packer type,
//! same package sha256s, e.g. one RPM under two mirror paths) share the bundle packed once, and each
//! entry's `checksum` is that bundle's BUNDLE_CHECKSUM (the id that created it; see `ondemand`).
//! Content records (`content/<digest>.json`) map a content digest to its bundle so a later id with
//! the same content is indexed without packing. Bundle keys are write-once, so an entry's `sha256`
//! is always the stored object's; the conventional name `bundle-<uname>.tgz` ([`IndexEntry::name`])
//! resolves through the index ([`resolve`]) even when a second content for the same uname was
//! stored under `bundle-<uname>-<digest>.tgz`.

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

/// Key prefix of content records in the bundle store.
pub const CONTENT_PREFIX: &str = "content/";

/// One packed manifest id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// BUNDLE_CHECKSUM inside the bundle: this id, or the id of the same content that created the
    /// shared bundle (empty in entries written before content sharing: then it is `id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    /// Content digest of the set ([`content_digest`]); empty in older entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// Conventional bundle name `bundle-<name>.tgz` (equal to `bundle` unless a different content
    /// of the same uname held that key first); empty in older entries (then it is `bundle`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
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

impl IndexEntry {
    /// The conventional bundle name (`name`, or `bundle` for older entries).
    pub fn conventional_name(&self) -> &str {
        if self.name.is_empty() {
            &self.bundle
        } else {
            &self.name
        }
    }

    /// BUNDLE_CHECKSUM of the bundle (`checksum`, or `id` for older entries).
    pub fn bundle_checksum(&self) -> &str {
        if self.checksum.is_empty() {
            &self.id
        } else {
            &self.checksum
        }
    }
}

/// What is known about one stored bundle, independent of the ids that name it: the content record
/// at `content/<content>.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// Content digest ([`content_digest`]).
    pub content: String,
    /// Bundle object key.
    pub bundle: String,
    /// Conventional name `bundle-<name>.tgz`.
    pub name: String,
    /// Lowercase hex sha256 of the stored bundle.
    pub sha256: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// BUNDLE_UNAME.
    pub kernel: String,
    /// BUNDLE_DISTRO.
    pub distro: String,
    /// BUNDLE_ARCH (`amd64` for records written before architectures existed).
    #[serde(default = "crate::pack::arch::default_name")]
    pub arch: String,
    /// BUNDLE_CHECKSUM.
    pub checksum: String,
    /// Derived kernel features.
    pub features: Features,
    /// What a module build needs (BUNDLE_COMPILER, ...).
    #[serde(default)]
    pub build: crate::pack::facts::BuildFacts,
    /// Canary build result of the bundle (`pack --verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// When the bundle was packed (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packed_at: Option<u64>,
}

impl BundleRecord {
    /// The index entry of manifest id `id` (packer type `kind`, packages `packages`) for this bundle.
    pub fn entry_for(&self, id: &str, kind: &str, packages: &[String]) -> IndexEntry {
        IndexEntry {
            id: id.to_string(),
            kind: kind.to_string(),
            packages: packages.to_vec(),
            bundle: self.bundle.clone(),
            sha256: self.sha256.clone(),
            size: self.size,
            kernel: self.kernel.clone(),
            distro: self.distro.clone(),
            arch: self.arch.clone(),
            features: self.features,
            checksum: self.checksum.clone(),
            content: self.content.clone(),
            name: self.name.clone(),
            build: self.build.clone(),
            verification: self.verification.clone(),
            packed_at: self.packed_at,
        }
    }
}

/// Content digest of a set: lowercase hex sha256 of `<kind>\n` followed by the sorted, distinct
/// lowercase hex sha256s of its packages, each followed by `\n`. Equal digests ⇒ equal bundles up to
/// BUNDLE_CHECKSUM, whatever URLs the packages were listed under.
pub fn content_digest(kind: &str, package_sha256s: &[String]) -> String {
    let mut shas: Vec<String> = package_sha256s
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    shas.sort();
    shas.dedup();
    let mut text = format!("{kind}\n");
    for sha in shas {
        text.push_str(&sha);
        text.push('\n');
    }
    crate::names::sha256_hex(text.as_bytes())
}

/// Key of the content record of `digest`.
pub fn content_key(digest: &str) -> String {
    format!("{CONTENT_PREFIX}{digest}.json")
}

/// Reads the content record of `digest`; `None` when there is none.
pub async fn read_content(store: &dyn Store, digest: &str) -> anyhow::Result<Option<BundleRecord>> {
    validate_id(digest)?;
    let key = content_key(digest);
    match store.get_bytes(&key).await? {
        None => Ok(None),
        Some(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("content record {key}: not valid JSON")
            })?))
        }
    }
}

/// Writes (creates or replaces) the content record of `record.content`. Every writer of one digest
/// writes the record of the one write-once bundle holding it, so replacing is harmless.
pub async fn write_content(store: &dyn Store, record: &BundleRecord) -> anyhow::Result<()> {
    validate_id(&record.content)?;
    let bytes = serde_json::to_vec_pretty(record)?;
    store
        .put_bytes(&content_key(&record.content), bytes)
        .await
        .with_context(|| format!("write content record {}", record.content))?;
    Ok(())
}

/// Entries whose conventional name or bundle key is `name` (`bundle-<uname>.tgz`), sorted by id:
/// how a consumer finds the bundle(s) of a uname. Several distinct `bundle` keys mean several
/// contents were listed for one uname.
pub fn resolve<'a>(entries: &'a BTreeMap<String, IndexEntry>, name: &str) -> Vec<&'a IndexEntry> {
    entries
        .values()
        .filter(|e| e.conventional_name() == name || e.bundle == name)
        .collect()
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
    let keys = store.keys(PREFIX).await?;
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
            ..Default::default()
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
    fn content_digest_ignores_order_case_and_repeats_but_not_kind() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let d = content_digest("redhat", &[a.clone(), b.clone()]);
        assert_eq!(
            d,
            content_digest("redhat", &[b.to_uppercase(), a.clone(), a.clone()])
        );
        assert_ne!(d, content_digest("oracle", &[a.clone(), b.clone()]));
        assert_ne!(d, content_digest("redhat", std::slice::from_ref(&a)));
        validate_id(&d).unwrap();
    }

    #[test]
    fn conventional_names_resolve_to_every_content() {
        let mut first = entry(1);
        first.name = "bundle-k.tgz".into();
        first.bundle = "bundle-k.tgz".into();
        let mut second = entry(2);
        second.name = "bundle-k.tgz".into();
        second.bundle = "bundle-k-0123456789ab.tgz".into();
        let old = entry(3); // no name: its bundle key is its name
        let all: BTreeMap<String, IndexEntry> = [first, second, old]
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let hits: Vec<&str> = resolve(&all, "bundle-k.tgz")
            .iter()
            .map(|e| e.bundle.as_str())
            .collect();
        assert_eq!(hits, ["bundle-k.tgz", "bundle-k-0123456789ab.tgz"]);
        assert_eq!(resolve(&all, "bundle-3.tgz").len(), 1);
        assert_eq!(all[&entry(3).id].bundle_checksum(), entry(3).id);
    }

    #[test]
    fn ids_are_validated() {
        validate_id(&"a".repeat(64)).unwrap();
        assert!(validate_id("../x").is_err());
        assert!(validate_id(&"A".repeat(64)).is_err());
    }
}
