//! Crawl benchmark: the whole fixture mirror (every source kind, 1,800 files from the seed
//! corpus) with latency injected per request (`BENCH_LATENCY_MS`, default 50), then a repeat
//! crawl with the conditional-request cache. Prints requests, body bytes, 304s and wall time
//! of both. Run: `cargo bench --bench crawl` (the numbers are latency-bound; `--profile dev`
//! gives the same picture without a release build).

#[path = "../tests/crawl_support/mod.rs"]
mod crawl_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crawl_support::world::{World, SOURCES};
use kernel_packer::crawl::{self, Selection};
use kernel_packer::lists::DirStore;

fn main() {
    let latency: u64 = std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let w = World::build();
    w.mirror.set_latency(Duration::from_millis(latency));
    eprintln!(
        "latency per request: {latency} ms, per-host concurrency: {}",
        w.config.defaults.per_host_concurrency
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let selection = Selection::Sources(SOURCES.iter().map(|s| s.to_string()).collect());
    let store = DirStore::new(w.lists.path());
    let mut rows = Vec::new();
    for pass in ["first", "repeat"] {
        let http = w.http();
        let (req0, bytes0) = (
            w.mirror.requests.load(Ordering::SeqCst),
            w.mirror.bytes.load(Ordering::SeqCst),
        );
        let t = Instant::now();
        let report = rt
            .block_on(crawl::run(&w.config, &store, &selection, &http))
            .unwrap();
        let wall = t.elapsed();
        assert!(report.ok(), "{pass}: {}", report.summary());
        let requests = w.mirror.requests.load(Ordering::SeqCst) - req0;
        let bytes = w.mirror.bytes.load(Ordering::SeqCst) - bytes0;
        assert_eq!(
            requests, report.http.requests,
            "client and server agree on requests"
        );
        rows.push((pass, requests, bytes, report.http.not_modified, wall));
    }
    eprintln!(
        "files served by the fixture mirror: {}",
        w.mirror.file_count()
    );
    let max = w.mirror.max_in_flight.load(Ordering::SeqCst);
    eprintln!("most requests in flight at the mirror (one host for every source): {max}");
    assert!(max <= w.config.defaults.per_host_concurrency as u64 + 1);
    eprintln!(
        "{:<8} {:>9} {:>12} {:>13} {:>9}",
        "pass", "requests", "body bytes", "not modified", "wall s"
    );
    for (pass, req, bytes, nm, wall) in &rows {
        eprintln!(
            "{pass:<8} {req:>9} {bytes:>12} {nm:>13} {:>9.2}",
            wall.as_secs_f64()
        );
    }
    let (first, repeat) = (&rows[0], &rows[1]);
    assert!(
        repeat.2 * 20 < first.2,
        "the repeat crawl must fetch little"
    );
    assert!(
        repeat.3 * 2 > repeat.1,
        "most repeat requests are answered 304 (the rest are 404s)"
    );
}
