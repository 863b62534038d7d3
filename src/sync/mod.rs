//! Package mirror: every listed URL not yet in the package store is downloaded (streamed to a
//! temporary file, bounded concurrency, bounded retries with backoff, per-request timeout), verified
//! against the size and sha256 the crawl recorded (when it did), then uploaded atomically under its
//! simplified name. A URL that fails is reported and the others go on. Running it twice transfers
//! nothing the second time.

mod download;
mod lists;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

pub use download::{download, Downloaded};
pub use lists::{parse_list, parse_sums, read_list, read_lists, SyncItem};

use crate::store::Store;

/// Knobs for one mirror run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Downloads in flight at once.
    pub jobs: usize,
    /// Attempts per URL (at least 1) for transient failures (network, timeout, 5xx, 429, truncation).
    pub attempts: u32,
    /// Delay before the first retry; doubles for each further one.
    pub backoff: Duration,
    /// Whole-request timeout (connect + headers + body) per attempt.
    pub timeout: Duration,
    /// Where to put temporary downloads (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Show a progress bar (drawn only when stderr is a terminal).
    pub progress: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            jobs: 4,
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(600),
            work_dir: None,
            progress: true,
        }
    }
}

/// Outcome of one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Already in the store: nothing transferred.
    Present,
    /// Downloaded and uploaded.
    Transferred { size: u64, sha256: String },
    /// Failed; nothing was stored for it.
    Failed(String),
}

/// Summary of a mirror run.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Outcome per store name, in list order.
    pub items: Vec<(SyncItem, ItemOutcome)>,
}

impl SyncReport {
    /// URLs already present.
    pub fn present(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::Present))
    }
    /// URLs transferred in this run.
    pub fn transferred(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::Transferred { .. }))
    }
    /// Bytes transferred in this run.
    pub fn bytes(&self) -> u64 {
        self.items
            .iter()
            .map(|(_, o)| match o {
                ItemOutcome::Transferred { size, .. } => *size,
                _ => 0,
            })
            .sum()
    }
    /// Failed URLs with their reasons.
    pub fn failures(&self) -> Vec<(&str, &str)> {
        self.items
            .iter()
            .filter_map(|(i, o)| match o {
                ItemOutcome::Failed(e) => Some((i.url.as_str(), e.as_str())),
                _ => None,
            })
            .collect()
    }
    /// Whether every URL is now in the store.
    pub fn ok(&self) -> bool {
        self.failures().is_empty()
    }
    /// One-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} listed, {} already present, {} transferred ({} bytes), {} failed",
            self.items.len(),
            self.present(),
            self.transferred(),
            self.bytes(),
            self.failures().len()
        )
    }
    fn count(&self, f: impl Fn(&ItemOutcome) -> bool) -> usize {
        self.items.iter().filter(|(_, o)| f(o)).count()
    }
}

/// Builds the HTTP client used for downloads (rustls, per-request timeout).
pub fn http_client(opts: &SyncOptions) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(Duration::from_secs(30).min(opts.timeout))
        .user_agent(concat!("kernel-packer/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Mirrors `items` into `store`. Never fails as a whole because of one URL: per-URL failures are
/// in the report; an error is returned only when the store cannot even be listed.
pub async fn sync(
    items: &[SyncItem],
    store: Arc<dyn Store>,
    opts: &SyncOptions,
) -> anyhow::Result<SyncReport> {
    let existing: BTreeMap<String, u64> = store
        .list("")
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    let client = http_client(opts)?;
    let work_dir = opts.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    tokio::fs::create_dir_all(&work_dir).await.ok();

    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; items.len()];
    let mut todo = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match existing.get(&item.name) {
            Some(size) if item.size.is_none_or(|s| s == *size) => {
                outcomes[i] = Some(ItemOutcome::Present)
            }
            _ => todo.push(i),
        }
    }
    let bar = if opts.progress {
        indicatif::ProgressBar::new(todo.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed_precise}]")
            .expect("static template"),
    );
    let results: Vec<(usize, ItemOutcome)> = futures_util::stream::iter(todo)
        .map(|i| {
            let (client, store, work_dir, bar) =
                (client.clone(), store.clone(), work_dir.clone(), bar.clone());
            let item = &items[i];
            async move {
                let outcome = match transfer(&client, item, store.as_ref(), &work_dir, opts).await {
                    Ok((size, sha256)) => {
                        tracing::info!(url = %item.url, size, "mirrored");
                        ItemOutcome::Transferred { size, sha256 }
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        tracing::warn!(url = %item.url, error = %msg, "mirror failed");
                        bar.println(format!("failed: {}: {msg}", item.url));
                        ItemOutcome::Failed(msg)
                    }
                };
                bar.inc(1);
                (i, outcome)
            }
        })
        .buffer_unordered(opts.jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    for (i, o) in results {
        outcomes[i] = Some(o);
    }
    Ok(SyncReport {
        items: items
            .iter()
            .cloned()
            .zip(
                outcomes
                    .into_iter()
                    .map(|o| o.expect("every item has an outcome")),
            )
            .collect(),
    })
}

/// Downloads one item and uploads it; returns (size, sha256).
async fn transfer(
    client: &reqwest::Client,
    item: &SyncItem,
    store: &dyn Store,
    work_dir: &std::path::Path,
    opts: &SyncOptions,
) -> anyhow::Result<(u64, String)> {
    let dl = download(client, &item.url, work_dir, opts.attempts, opts.backoff).await?;
    if let Some(size) = item.size {
        if size != dl.size {
            anyhow::bail!(
                "{}: size mismatch: list says {size}, got {} bytes; not stored",
                item.url,
                dl.size
            );
        }
    }
    if let Some(sha) = &item.sha256 {
        if !sha.eq_ignore_ascii_case(&dl.sha256) {
            anyhow::bail!(
                "{}: sha256 mismatch: list says {sha}, got {}; not stored",
                item.url,
                dl.sha256
            );
        }
    }
    store
        .put_file(&item.name, dl.file.path(), Some(&dl.sha256))
        .await?;
    Ok((dl.size, dl.sha256))
}
