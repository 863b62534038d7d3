//! Package mirror against a local HTTP server (package files) and a real `moto_server` (S3):
//! transfer, idempotent rerun, checksum refusal, retries, failures that do not stop the others,
//! and an S3 server dying mid-upload.

use crate::harness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{s3_store, HttpServer, Moto, Proxy, Response};
use kernel_packer::store::{DirStore, Store};
use kernel_packer::sync::{sync, ItemOutcome, SyncItem, SyncOptions};

fn opts() -> SyncOptions {
    SyncOptions {
        jobs: 3,
        attempts: 3,
        backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        progress: false,
        ..Default::default()
    }
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Serves `files` (path → bytes); `/flaky/*` fails with 503 the first two times; counts GETs.
fn mirror(files: BTreeMap<String, Vec<u8>>) -> (HttpServer, Arc<Mutex<BTreeMap<String, usize>>>) {
    let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let h = hits.clone();
    let server = HttpServer::start(move |req| {
        let n = {
            let mut h = h.lock().unwrap();
            let e = h.entry(req.path.clone()).or_default();
            *e += 1;
            *e
        };
        if req.path.starts_with("/flaky/") && n <= 2 {
            return Response::new(503, "busy");
        }
        if req.path.starts_with("/truncated/") && n <= 1 {
            let mut r = Response::new(200, files.get(&req.path).cloned().unwrap_or_default());
            r.truncate_at = Some(10);
            return r;
        }
        match files.get(&req.path) {
            Some(b) => Response::new(200, b.clone()),
            None => Response::new(404, "no"),
        }
    });
    (server, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_into_s3_idempotently_and_refuses_bad_checksums() {
    let moto = Moto::start();
    let store: Arc<dyn Store> = Arc::new(s3_store(&moto.endpoint(), "packages", "", None).await);
    let files: BTreeMap<String, Vec<u8>> = [
        ("/pool/linux-headers-1_amd64.deb", payload(300_000)),
        ("/pool/linux-kbuild-1_amd64.deb", payload(1_000)),
        ("/flaky/kernel-devel-1.rpm", payload(5_000)),
        ("/truncated/kernel-core-1.rpm", payload(4_000)),
        ("/pool/tampered.deb", payload(2_000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (server, hits) = mirror(files.clone());
    let mut items: Vec<SyncItem> = files
        .keys()
        .map(|p| SyncItem::new(&server.url(p)))
        .collect();
    items.push(SyncItem::new(&server.url("/pool/gone.deb")));
    // The crawl recorded size and sha256 for two of them; the tampered one's record is different.
    let good = &files["/pool/linux-kbuild-1_amd64.deb"];
    let kbuild = items
        .iter_mut()
        .find(|i| i.url.ends_with("linux-kbuild-1_amd64.deb"))
        .unwrap();
    kbuild.size = Some(good.len() as u64);
    kbuild.sha256 = Some(kernel_packer::names::sha256_hex(good));
    let tampered = items
        .iter_mut()
        .find(|i| i.url.ends_with("tampered.deb"))
        .unwrap();
    tampered.sha256 = Some(kernel_packer::names::sha256_hex(b"the real package"));

    let report = sync(&items, store.clone(), &opts()).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.transferred(), 4, "{report:?}");
    let failures = report.failures();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures
        .iter()
        .any(|(u, e)| u.ends_with("tampered.deb") && e.contains("sha256 mismatch")));
    assert!(failures
        .iter()
        .any(|(u, e)| u.ends_with("gone.deb") && e.contains("404")));
    // 404 is not retried; 503 was retried twice; truncation was retried once.
    let h = hits.lock().unwrap().clone();
    assert_eq!(h["/pool/gone.deb"], 1);
    assert_eq!(h["/flaky/kernel-devel-1.rpm"], 3);
    assert_eq!(h["/truncated/kernel-core-1.rpm"], 2);

    // Stored under simplified names with their sha256; the refused package is absent.
    for (path, bytes) in &files {
        let name = kernel_packer::names::simplify(&server.url(path));
        let head = store.head(&name).await.unwrap();
        if path.ends_with("tampered.deb") {
            assert!(head.is_none(), "tampered package was stored");
        } else {
            let head = head.unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                head.sha256.unwrap(),
                kernel_packer::names::sha256_hex(bytes)
            );
            assert_eq!(store.get_bytes(&name).await.unwrap().unwrap(), *bytes);
        }
    }

    // Rerun: only the two failures are tried again; nothing else is downloaded.
    let before = server.requests.load(Ordering::SeqCst);
    let report = sync(&items, store.clone(), &opts()).await.unwrap();
    assert_eq!(report.present(), 4);
    assert_eq!(report.transferred(), 0);
    assert_eq!(server.requests.load(Ordering::SeqCst) - before, 2);

    // Without the failing ones, the rerun is a no-op and succeeds.
    let ok_items: Vec<SyncItem> = items
        .iter()
        .filter(|i| !i.url.ends_with("tampered.deb") && !i.url.ends_with("gone.deb"))
        .cloned()
        .collect();
    let before = server.requests.load(Ordering::SeqCst);
    let report = sync(&ok_items, store.clone(), &opts()).await.unwrap();
    assert!(report.ok());
    assert_eq!(report.transferred(), 0);
    assert_eq!(server.requests.load(Ordering::SeqCst), before);
    assert!(report.items.iter().all(|(_, o)| *o == ItemOutcome::Present));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_dying_mid_upload_stores_nothing_and_rerun_completes() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port);
    let direct = s3_store(&moto.endpoint(), "mirror", "", None).await;
    let via_proxy: Arc<dyn Store> = Arc::new(s3_store(&proxy.endpoint(), "mirror", "", None).await);
    let files: BTreeMap<String, Vec<u8>> = [("/p/big.deb".to_string(), payload(2 << 20))].into();
    let (server, _) = mirror(files.clone());
    let items = vec![SyncItem::new(&server.url("/p/big.deb"))];

    proxy.cut_after(Some(512 << 10));
    let report = sync(&items, via_proxy.clone(), &opts()).await.unwrap();
    assert_eq!(report.failures().len(), 1, "{report:?}");
    assert!(proxy.cuts.load(Ordering::SeqCst) >= 1);
    assert!(
        direct.list("").await.unwrap().is_empty(),
        "partial object visible"
    );

    proxy.cut_after(None);
    let report = sync(&items, via_proxy, &opts()).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.transferred(), 1);
    let name = kernel_packer::names::simplify(&items[0].url);
    assert_eq!(
        direct.get_bytes(&name).await.unwrap().unwrap(),
        files["/p/big.deb"]
    );
}

#[test]
fn cli_mirrors_lists_into_a_directory_store() {
    let files: BTreeMap<String, Vec<u8>> = [
        ("/a.deb".to_string(), payload(10)),
        ("/b.deb".to_string(), payload(20)),
    ]
    .into();
    let (server, _) = mirror(files.clone());
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    std::fs::write(
        lists.join("x.txt"),
        format!(
            "# list\n{}\n{}\n",
            server.url("/a.deb"),
            server.url("/b.deb")
        ),
    )
    .unwrap();
    // The crawl recorded a wrong size for b.deb: refused.
    std::fs::write(
        lists.join("x.sums"),
        format!("- 21 {}\n", server.url("/b.deb")),
    )
    .unwrap();
    let store_dir = dir.path().join("store");
    let args = |lists: &std::path::Path| kernel_packer::cli::sync::SyncArgs {
        lists: lists.to_path_buf(),
        packages: Some(store_dir.display().to_string()),
        jobs: 2,
        attempts: 1,
        timeout: 10,
        work_dir: Some(dir.path().join("work")),
        s3_endpoint: None,
        json: true,
    };
    let code = kernel_packer::cli::sync::run(args(&lists)).unwrap();
    assert_eq!(code, std::process::ExitCode::FAILURE);
    let a = store_dir.join(kernel_packer::names::simplify(&server.url("/a.deb")));
    assert_eq!(std::fs::read(a).unwrap(), files["/a.deb"]);
    assert!(!store_dir
        .join(kernel_packer::names::simplify(&server.url("/b.deb")))
        .exists());
    std::fs::write(
        lists.join("x.sums"),
        format!("- 20 {}\n", server.url("/b.deb")),
    )
    .unwrap();
    assert_eq!(
        kernel_packer::cli::sync::run(args(&lists)).unwrap(),
        std::process::ExitCode::SUCCESS
    );
    // No temporary files left in the work dir.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("work"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let store = DirStore::new(store_dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(store.list("")).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_concurrency() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    let server = HttpServer::start(move |_| {
        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        f.fetch_sub(1, Ordering::SeqCst);
        Response::new(200, "x")
    });
    let items: Vec<SyncItem> = (0..9)
        .map(|i| SyncItem::new(&server.url(&format!("/{i}.deb"))))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().to_path_buf()));
    let report = sync(&items, store, &SyncOptions { jobs: 3, ..opts() })
        .await
        .unwrap();
    assert!(report.ok());
    assert_eq!(report.transferred(), 9);
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert!(peak.load(Ordering::SeqCst) >= 2, "no parallelism at all");
}
