//! The deployed pipeline's glue, for the loop tests (`tests/merge_loop.rs`, `tests/whole_loop.rs`):
//! a store that counts its writes, the webhook Function URL (an HTTP endpoint in front of
//! [`trigger::handle`], answering as `functions/trigger` does), and the Step Functions executor
//! that cannot run here (a pack request object → sync exactly its URLs → pack exactly its ids).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use kernel_packer::github::{snapshot, GitHub, OctocrabGitHub};
use kernel_packer::index;
use kernel_packer::ondemand::{self, Manifest, PackContext, PackOutcome};
use kernel_packer::store::{Created, ObjectInfo, Store};
use kernel_packer::sync::{sync, SyncItem, SyncOptions};
use kernel_packer::trigger::{self, Incoming, Outcome, PackRequest, Settings};

use crate::harness::{HttpServer, Response};

/// A store that counts its writes (put, create, delete).
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn Store>,
    pub writes: AtomicUsize,
}

impl CountingStore {
    /// Writes so far.
    pub fn count(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Sets the count back to 0.
    pub fn reset(&self) {
        self.writes.store(0, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Store for CountingStore {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn put_file(&self, k: &str, p: &Path, s: Option<&str>) -> anyhow::Result<ObjectInfo> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put_file(k, p, s).await
    }
    async fn create_file(
        &self,
        k: &str,
        p: &Path,
        s: Option<&str>,
        t: &str,
    ) -> anyhow::Result<Created> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create_file(k, p, s, t).await
    }
    async fn put_bytes(&self, k: &str, b: Vec<u8>) -> anyhow::Result<ObjectInfo> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put_bytes(k, b).await
    }
    async fn get_to_file(&self, k: &str, d: &Path) -> anyhow::Result<ObjectInfo> {
        self.inner.get_to_file(k, d).await
    }
    async fn get_bytes(&self, k: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get_bytes(k).await
    }
    async fn head(&self, k: &str) -> anyhow::Result<Option<ObjectInfo>> {
        self.inner.head(k).await
    }
    async fn list(&self, p: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        self.inner.list(p).await
    }
    async fn delete(&self, k: &str) -> anyhow::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(k).await
    }
}

/// `inner`, counting its writes.
pub fn counting(inner: impl Store + 'static) -> Arc<CountingStore> {
    Arc::new(CountingStore {
        inner: Arc::new(inner),
        writes: AtomicUsize::new(0),
    })
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The webhook Function URL: every POST is handed to [`trigger::handle`] (on `rt`) with the
/// request's `X-GitHub-Event`, `X-Hub-Signature-256` and `X-GitHub-Delivery`, and answered as
/// `functions/trigger` answers (200 accepted, 202 ignored, the refusal's status, 500). Accepted
/// outcomes are sent on the returned channel.
pub fn webhook_endpoint(
    rt: tokio::runtime::Handle,
    gh: OctocrabGitHub,
    bundles: Arc<dyn Store>,
    settings: Settings,
) -> (HttpServer, mpsc::Receiver<Outcome>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = HttpServer::start(move |req| {
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let incoming = Incoming {
            event: header("x-github-event"),
            signature: header("x-hub-signature-256"),
            delivery: header("x-github-delivery"),
            body: &req.body,
        };
        let result = rt.block_on(trigger::handle(
            &gh,
            bundles.as_ref(),
            &settings,
            &incoming,
            now(),
        ));
        match result {
            Ok(outcome) => {
                let status = if matches!(outcome, Outcome::Ignored { .. }) {
                    202
                } else {
                    200
                };
                let body = serde_json::to_vec(&outcome).unwrap();
                let _ = tx.lock().unwrap().send(outcome);
                Response::new(status, body)
            }
            Err(Ok(refusal)) => Response::new(refusal.status, refusal.reason),
            Err(Err(e)) => Response::new(500, format!("{e:#}")),
        }
    });
    (server, rx)
}

/// What the state machine did for one pack request.
pub struct PackRound {
    pub request: PackRequest,
    /// Packages transferred by the sync.
    pub transferred: usize,
    pub results: Vec<(String, Result<PackOutcome, String>)>,
    /// The manifest and lists at the request's commit.
    pub manifest: Manifest,
    pub texts: std::collections::BTreeMap<String, String>,
}

/// The pack state machine, driven by the request object `requests/<commit>.json` only: sync its
/// URLs into `packages` (downloaded through the first matching `(upstream prefix, local prefix)`
/// of `overrides`, stored under the upstream URL's name), read the manifest at `commit` (through
/// `gh`), pack its ids into `bundles`.
pub async fn execute_pack_request<G: GitHub>(
    gh: &G,
    packages: Arc<dyn Store>,
    bundles: Arc<dyn Store>,
    commit: &str,
    lists_dir: &str,
    work: &Path,
    overrides: &[(String, String)],
) -> PackRound {
    let request: PackRequest = serde_json::from_slice(
        &bundles
            .get_bytes(&trigger::request_key(commit))
            .await
            .unwrap()
            .expect("the trigger wrote the pack request"),
    )
    .unwrap();
    let items: Vec<SyncItem> = request
        .urls
        .iter()
        .map(|u| {
            let mut item = SyncItem::new(u);
            if let Some((from, to)) = overrides.iter().find(|(f, _)| u.starts_with(f.as_str())) {
                item.url = format!("{to}{}", &u[from.len()..]);
            }
            item
        })
        .collect();
    let opts = SyncOptions {
        work_dir: Some(work.join("sync")),
        ..Default::default()
    };
    let synced = sync(&items, packages.clone(), &opts).await.unwrap();
    assert!(synced.ok(), "{}", synced.summary());
    let cache: PathBuf = work.join("github-cache");
    let snap = snapshot::at_commit(gh, commit, lists_dir, Some(&cache))
        .await
        .unwrap();
    let texts = snap.texts();
    let manifest = Manifest::parse(texts["manifest.yml"].as_bytes(), "manifest.yml").unwrap();
    let ctx = PackContext {
        packages,
        bundles,
        work_dir: Some(work.join("pack")),
        verify: None,
    };
    let results = ondemand::pack_many(&ctx, &manifest, &request.ids, 2, false).await;
    PackRound {
        transferred: synced.transferred(),
        request,
        results,
        manifest,
        texts,
    }
}

/// Asserts that every index entry of `bundles` names an object whose sha256 (downloaded into
/// `work`) is the entry's; returns how many entries there are.
pub async fn assert_index_matches_objects(bundles: Arc<dyn Store>, work: &Path) -> usize {
    let entries = index::read_all(bundles.clone()).await.unwrap();
    for e in entries.values() {
        let local = work.join("index-check.tgz");
        bundles.get_to_file(&e.bundle, &local).await.unwrap();
        let stored = kernel_packer::store::sha256_file(&local).await.unwrap().0;
        assert_eq!(stored, e.sha256, "index entry {} names {}", e.id, e.bundle);
    }
    entries.len()
}
