//! `fetch`: the bundle for a host, from a directory, `s3://` or `https://` bundle store, checked
//! before anything is unpacked.
//!
//! Order: read the index (a listing of `index/` for directory and S3 stores, `index.json` over
//! https) → [`crate::lookup::resolve`] → verify `SHA256SUMS` against its minisign signature with
//! the trusted public key → the signed list must name the entry's bundle with the entry's sha256
//! → download into a private temp dir next to the destination, hashing → sha256 must match →
//! unpack through the safe extractor into a temp dir → rename to `<to>/<bundle name>`. Any
//! failure leaves nothing in `to`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::crawl::credentials::Auth;
use crate::crawl::http::{Http, HttpConfig};
use crate::index::IndexEntry;
use crate::lookup::{self, Host, Miss, Resolution};
use crate::manifest::Manifest;
use crate::store::{S3Options, Store};
use crate::sums;

/// Where bundles are fetched from.
pub enum Source {
    /// A directory or S3 store.
    Store(Arc<dyn Store>),
    /// An `https://` (or `http://`) base URL serving the store's objects.
    Http { base: String, http: Http },
}

impl Source {
    /// Opens `url`: `https://...`/`http://...`, `s3://...` or a directory. `ca_pem`: extra trusted
    /// root certificates for https.
    pub async fn open(url: &str, s3: &S3Options, ca_pem: Option<Vec<u8>>) -> Result<Source> {
        if url.starts_with("https://") || url.starts_with("http://") {
            let config = HttpConfig {
                extra_root_certs: ca_pem.into_iter().collect(),
                request_timeout: std::time::Duration::from_secs(300),
                ..HttpConfig::default()
            };
            Ok(Source::Http {
                base: format!("{}/", url.trim_end_matches('/')),
                http: Http::new(config)?,
            })
        } else {
            Ok(Source::Store(crate::store::open(url, s3).await?))
        }
    }

    /// An object's bytes; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        crate::store::validate_key(key)?;
        match self {
            Source::Store(store) => store.get_bytes(key).await,
            Source::Http { base, http } => Ok(http
                .get_optional(&format!("{base}{key}"), &Auth::None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?),
        }
    }

    /// The bundle index, id → entry.
    pub async fn index(&self) -> Result<BTreeMap<String, IndexEntry>> {
        match self {
            Source::Store(store) => crate::index::read_all(store.clone()).await,
            Source::Http { .. } => match self.get(sums::INDEX_JSON_KEY).await? {
                Some(bytes) => serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: not valid JSON", sums::INDEX_JSON_KEY)),
                None => bail!("the store has no {}", sums::INDEX_JSON_KEY),
            },
        }
    }

    /// The verified `SHA256SUMS` (see [`sums::read_verified`]).
    async fn verified_sums(
        &self,
        public_key: &str,
    ) -> Result<BTreeMap<String, std::collections::BTreeSet<String>>> {
        match self {
            Source::Store(store) => sums::read_verified(store.as_ref(), public_key).await,
            Source::Http { .. } => {
                let mut last = None;
                for attempt in 0..2 {
                    if attempt > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    let text = self
                        .get(sums::SUMS_KEY)
                        .await?
                        .with_context(|| format!("no {}", sums::SUMS_KEY))?;
                    let sig = self
                        .get(sums::SIG_KEY)
                        .await?
                        .with_context(|| format!("no {}", sums::SIG_KEY))?;
                    match sums::verify(public_key, &text, &String::from_utf8_lossy(&sig)) {
                        Ok(()) => return sums::parse(&String::from_utf8_lossy(&text)),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("two attempts"))
            }
        }
    }

    async fn download(&self, key: &str, dest: &Path) -> Result<()> {
        match self {
            Source::Store(store) => store.get_to_file(key, dest).await.map(drop),
            Source::Http { .. } => {
                let bytes = self
                    .get(key)
                    .await?
                    .with_context(|| format!("{key}: not in the store"))?;
                tokio::fs::write(dest, bytes)
                    .await
                    .with_context(|| format!("write {}", dest.display()))
            }
        }
    }
}

/// Why a fetch did not unpack anything; each maps to its own exit code.
#[derive(Debug)]
pub enum FetchError {
    /// No bundle for this kernel (yet).
    NoBundle(Miss),
    /// The signature, the signed list or the bundle's sha256 did not check out.
    Verification(String),
    /// Anything else (I/O, network, bad arguments).
    Other(anyhow::Error),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::NoBundle(m) => write!(f, "{m}"),
            FetchError::Verification(e) => write!(f, "verification failed, nothing unpacked: {e}"),
            FetchError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for FetchError {
    fn from(e: anyhow::Error) -> Self {
        FetchError::Other(e)
    }
}

/// What a successful fetch produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Fetched {
    pub resolution: Resolution,
    /// The unpacked bundle root.
    pub bundle_dir: PathBuf,
    /// Its kernel build dir (`bundle_dir/BUNDLE_BUILD_DIR`).
    pub build_dir: PathBuf,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Seconds spent downloading and checking.
    pub download_seconds: f64,
    /// Seconds spent unpacking.
    pub unpack_seconds: f64,
}

/// Resolves `host` and fetches its bundle from `source` into `to` (see the module docs).
pub async fn fetch(
    source: &Source,
    manifest: &Manifest,
    host: &Host,
    public_key: &str,
    to: &Path,
) -> std::result::Result<Fetched, FetchError> {
    let index = source.index().await?;
    let resolution = lookup::resolve(manifest, &index, host).map_err(FetchError::NoBundle)?;
    let (Some(bundle), Some(sha256)) = (resolution.bundle.clone(), resolution.sha256.clone())
    else {
        return Err(FetchError::NoBundle(Miss::NoKernel {
            family: resolution.family.clone(),
            newest: None,
        }));
    };
    let signed = source
        .verified_sums(public_key)
        .await
        .map_err(|e| FetchError::Verification(format!("{e:#}")))?;
    match signed.get(&bundle) {
        Some(shas) if shas.contains(&sha256) => {}
        Some(_) => {
            return Err(FetchError::Verification(format!(
                "{} names {bundle} with another sha256 than the index ({sha256})",
                sums::SUMS_KEY
            )))
        }
        None => {
            return Err(FetchError::Verification(format!(
                "{} does not list {bundle}",
                sums::SUMS_KEY
            )))
        }
    }

    tokio::fs::create_dir_all(to)
        .await
        .with_context(|| format!("create {}", to.display()))?;
    let final_dir = to.join(bundle.trim_end_matches(".tgz"));
    if tokio::fs::symlink_metadata(&final_dir).await.is_ok() {
        return Err(FetchError::Other(anyhow::anyhow!(
            "{} already exists",
            final_dir.display()
        )));
    }
    let work = tempfile::Builder::new()
        .prefix(".kernel-packer-fetch-")
        .tempdir_in(to)
        .with_context(|| format!("create a work dir in {}", to.display()))?;
    let started = Instant::now();
    let file = work.path().join("bundle.tgz");
    source.download(&bundle, &file).await?;
    let (actual, bytes) = crate::store::sha256_file(&file).await?;
    if actual != sha256 {
        return Err(FetchError::Verification(format!(
            "{bundle}: sha256 {actual} differs from the signed {sha256}"
        )));
    }
    let download_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let unpacked = work.path().join("bundle");
    let work_path = work.path().to_path_buf();
    let (file2, unpacked2) = (file.clone(), unpacked.clone());
    tokio::task::spawn_blocking(move || {
        crate::pack::materialize::unpack_to_dir(&file2, &unpacked2, &work_path)
    })
    .await
    .context("unpack task panicked")??;
    let build_rel = std::fs::read_to_string(unpacked.join("BUNDLE_BUILD_DIR"))
        .context("the bundle has no BUNDLE_BUILD_DIR")?;
    std::fs::rename(&unpacked, &final_dir)
        .with_context(|| format!("move the bundle to {}", final_dir.display()))?;
    let unpack_seconds = started.elapsed().as_secs_f64();
    Ok(Fetched {
        resolution,
        build_dir: final_dir.join(build_rel.trim()),
        bundle_dir: final_dir,
        bytes,
        download_seconds,
        unpack_seconds,
    })
}
