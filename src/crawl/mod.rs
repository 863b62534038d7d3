//! Crawling: discover kernel-header package URLs per source (`sources.yml`) and merge them
//! into the package lists.
//!
//! One module per source kind ([`apt`], [`yum`], [`html`], [`bucket`], [`github`]; `fixed` is a
//! literal list), over a shared [`http::Http`] client. [`run`] is the library entry point used
//! by the CLI and the scheduled crawl function: it crawls the selected sources concurrently,
//! then merges each successful result into its list through a [`ListStore`]. A source that
//! fails in any way (network, checksum, signature, empty or malformed page, timeout) leaves its
//! lists byte-identical and is reported; the others still complete.

pub mod apt;
pub mod arch;
pub mod bucket;
pub mod canary;
pub mod config;
pub mod content;
pub mod credentials;
pub mod github;
pub mod html;
pub mod http;
pub mod registry;
pub mod verify;
pub mod yum;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::lists::{self, ListStore, PackageList};
use config::{Config, Matcher, Repository, Source};
use credentials::Auth;
use http::{Http, HttpStats};
use verify::Keyring;

/// What one repository crawl needs: the client, credentials, trusted keys and selection.
#[derive(Clone, Debug)]
pub struct RepoCtx {
    /// Shared HTTP client.
    pub http: Http,
    /// Credentials of the source.
    pub auth: Auth,
    /// Trusted keys; with `Some`, metadata must be signed by one of them.
    pub keyring: Option<Arc<Keyring>>,
    /// Package selection.
    pub matcher: Option<Arc<Matcher>>,
    /// The source's upstream canary, if it has one.
    pub canary: Option<Arc<config::Canary>>,
    /// Canary metapackages some apt repository of the source publishes (shared by its
    /// repositories; each must be published by at least one).
    pub published: Arc<std::sync::Mutex<BTreeSet<String>>>,
}

impl RepoCtx {
    /// The compiled `newest` canary regex, if the source has one.
    fn newest_canary(&self) -> Result<Option<canary::Newest>> {
        match &self.canary {
            Some(c) => c.newest_regex(),
            None => Ok(None),
        }
    }

    fn matcher(&self) -> Result<&Matcher> {
        self.matcher
            .as_deref()
            .ok_or_else(|| anyhow!("repository needs a `select` (none on it or its source)"))
    }
}

/// Which sources to crawl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every enabled source.
    All,
    /// These sources (by name or list file), enabled or not.
    Sources(Vec<String>),
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The crawl worked and the lists were merged.
    Updated {
        /// URLs added to the list.
        added: Vec<String>,
        /// URLs moved to the uncrawled list.
        moved: Vec<String>,
        /// URLs that stayed.
        unchanged: usize,
        /// Whether the list file was rewritten.
        written: bool,
    },
    /// Nothing was written; the reason is secret-free.
    Failed {
        /// Why.
        reason: String,
    },
}

/// The report of one source.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceReport {
    /// Source name (list file stem).
    pub name: String,
    /// List file.
    pub list: String,
    /// Uncrawled companion file.
    pub uncrawled: String,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Time spent crawling this source.
    pub seconds: f64,
}

/// The report of a crawl run.
#[derive(Debug, Clone, Serialize)]
pub struct CrawlReport {
    /// One entry per selected source, in `sources.yml` order.
    pub sources: Vec<SourceReport>,
    /// HTTP counters of the run.
    pub http: HttpStats,
    /// Wall time of the run.
    pub seconds: f64,
}

impl CrawlReport {
    /// Whether every source succeeded.
    pub fn ok(&self) -> bool {
        self.failed().next().is_none()
    }

    /// The failed sources.
    pub fn failed(&self) -> impl Iterator<Item = &SourceReport> {
        self.sources
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Failed { .. }))
    }

    /// A human summary, one line per list.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for s in &self.sources {
            let line = match &s.outcome {
                Outcome::Updated {
                    added,
                    moved,
                    unchanged,
                    ..
                } => format!(
                    "{}: {} added, {} moved to {}, {} unchanged",
                    s.list,
                    added.len(),
                    moved.len(),
                    s.uncrawled,
                    unchanged
                ),
                Outcome::Failed { reason } => format!("{}: FAILED: {reason}", s.list),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "{} source(s), {} failed; {} requests, {} bytes, {} not modified, {} reused by digest, {:.1} s\n",
            self.sources.len(),
            self.failed().count(),
            self.http.requests,
            self.http.bytes,
            self.http.not_modified,
            self.http.reused,
            self.seconds
        ));
        out
    }
}

fn load_keyring(
    config: &Config,
    name: &str,
    cache: &mut HashMap<String, Arc<Keyring>>,
) -> Result<Arc<Keyring>> {
    if let Some(k) = cache.get(name) {
        return Ok(k.clone());
    }
    if name.contains('/') || name.contains("..") {
        bail!("key file {name:?} must be a plain file name under keys/");
    }
    let dir = config
        .keys_dir
        .as_ref()
        .ok_or_else(|| anyhow!("key {name} named but no keys directory configured"))?;
    let k = Arc::new(Keyring::load(&dir.join(name))?);
    cache.insert(name.to_string(), k.clone());
    Ok(k)
}

async fn crawl_repo(repo: Repository, ctx: RepoCtx) -> Result<Vec<String>> {
    match &repo {
        Repository::Apt(r) => apt::crawl(r, &ctx).await,
        Repository::Yum(r) => yum::crawl(r, &ctx).await,
        Repository::Html(r) => html::crawl(r, &ctx).await,
        Repository::Bucket(r) => bucket::crawl(r, &ctx).await,
        Repository::Github(r) => github::crawl(r, &ctx).await,
        Repository::Fixed(r) => Ok(r.urls.clone()),
        Repository::Registry(r) => registry::crawl(r, &ctx).await,
    }
}

/// Crawls every repository of one source and returns the URLs found, without repeats, in
/// repository order (each repository's URLs sorted).
pub async fn crawl_source(config: &Config, source: &Source, http: &Http) -> Result<Vec<String>> {
    let auth = match &source.credential {
        Some(spec) => credentials::resolve(spec)?,
        None => Auth::None,
    };
    let mut keys = HashMap::new();
    let mut set = JoinSet::new();
    let published = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    for (i, repo) in source.repositories.iter().enumerate() {
        let key = match repo {
            Repository::Apt(r) => r.key.as_ref().or(source.key.as_ref()),
            Repository::Yum(r) => r.key.as_ref().or(source.key.as_ref()),
            _ => None,
        };
        let keyring = key
            .map(|k| load_keyring(config, k, &mut keys))
            .transpose()?;
        let select = match repo {
            Repository::Apt(r) => r.select.as_ref(),
            Repository::Yum(r) => r.select.as_ref(),
            Repository::Html(r) => r.select.as_ref(),
            Repository::Bucket(r) => r.select.as_ref(),
            _ => None,
        }
        .or(source.select.as_ref());
        let matcher = select.map(Matcher::new).transpose()?.map(Arc::new);
        let ctx = RepoCtx {
            http: http.clone(),
            auth: auth.clone(),
            keyring,
            matcher,
            canary: source.canary.clone().map(Arc::new),
            published: published.clone(),
        };
        let repo = repo.clone();
        set.spawn(async move {
            let kind = repo.kind();
            (
                i,
                crawl_repo(repo, ctx)
                    .await
                    .with_context(|| format!("{kind} repository #{}", i + 1)),
            )
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        results.push(joined.map_err(|e| anyhow!("crawl task failed: {e}"))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for (_, r) in results {
        let mut urls = r?;
        urls.sort();
        for u in urls {
            if seen.insert(u.clone()) {
                found.push(u);
            }
        }
    }
    if found.is_empty() {
        bail!("no packages found upstream (empty result)");
    }
    if let Some(canary) = &source.canary {
        let has_apt = source
            .repositories
            .iter()
            .any(|r| matches!(r, Repository::Apt(_)));
        let published = published.lock().expect("canary set poisoned");
        let missing: Vec<String> = canary
            .metapackages
            .iter()
            .filter(|m| has_apt && !published.contains(*m))
            .map(|m| format!("{m} is published in no crawled suite"))
            .collect();
        if !missing.is_empty() {
            bail!("rules are stale: {}", missing.join("; "));
        }
    }
    Ok(found)
}

fn selected<'a>(config: &'a Config, selection: &Selection) -> Result<Vec<&'a Source>> {
    match selection {
        Selection::All => Ok(config.sources.iter().filter(|s| s.enabled).collect()),
        Selection::Sources(names) => {
            let mut out: Vec<&Source> = Vec::new();
            for n in names {
                let s = config
                    .source(n)
                    .ok_or_else(|| anyhow!("unknown source {n:?} (not in sources.yml)"))?;
                if !out.iter().any(|o| o.list == s.list) {
                    out.push(s);
                }
            }
            // Keep sources.yml order.
            out.sort_by_key(|s| config.sources.iter().position(|c| c.list == s.list));
            Ok(out)
        }
    }
}

fn read_list(store: &dyn ListStore, name: &str) -> Result<(Option<String>, PackageList)> {
    let text = store.read(name)?;
    let list = text.as_deref().map(lists::parse).unwrap_or_default();
    Ok((text, list))
}

/// Merges one source's crawl result into its lists. Nothing is written unless the text changes.
fn merge_into_store(store: &dyn ListStore, source: &Source, found: &[String]) -> Result<Outcome> {
    let uncrawled_name = source.uncrawled_list();
    let (list_text, current) = read_list(store, &source.list)?;
    let (uncrawled_text, uncrawled) = read_list(store, &uncrawled_name)?;
    let merged = lists::merge(&current, &uncrawled, found);
    // Uncrawled first: if the second write fails, no URL has left the main list yet.
    if merged.uncrawled.urls != uncrawled.urls {
        let new = merged.uncrawled.render_with(source.order);
        if uncrawled_text.as_deref() != Some(new.as_str()) {
            store.write(&uncrawled_name, &new)?;
        }
    }
    let new = merged.list.render_with(source.order);
    let written = list_text.as_deref() != Some(new.as_str());
    if written {
        store.write(&source.list, &new)?;
    }
    Ok(Outcome::Updated {
        added: merged.added,
        moved: merged.moved,
        unchanged: merged.unchanged,
        written,
    })
}

/// Crawls the selected sources and updates their lists in `store`.
///
/// Contract: returns `Err` only when the selection names an unknown source; every source
/// failure is reported in [`CrawlReport::sources`] and leaves that source's lists untouched.
/// Sources run concurrently (`defaults.source_concurrency`), each bounded by
/// `defaults.source_timeout_secs`; list writes happen afterwards, one source at a time.
pub async fn run(
    config: &Config,
    store: &dyn ListStore,
    selection: &Selection,
    http: &Http,
) -> Result<CrawlReport> {
    let started = Instant::now();
    let before = http.stats();
    let sources = selected(config, selection)?;
    let limit = Arc::new(Semaphore::new(config.defaults.source_concurrency.max(1)));
    let timeout = Duration::from_secs_f64(config.defaults.source_timeout_secs.max(0.001));
    let config_arc = Arc::new(config.clone());
    let mut set = JoinSet::new();
    for (i, source) in sources.iter().enumerate() {
        let source = (*source).clone();
        let http = http.clone();
        let limit = limit.clone();
        let config = config_arc.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore never closed");
            let t = Instant::now();
            tracing::info!("crawling {}", source.name());
            let result =
                match tokio::time::timeout(timeout, crawl_source(&config, &source, &http)).await {
                    Ok(r) => r,
                    Err(_) => Err(anyhow!(
                        "source timed out after {:.1} s",
                        timeout.as_secs_f64()
                    )),
                };
            (i, result, t.elapsed().as_secs_f64())
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        results.push(joined.map_err(|e| anyhow!("crawl task failed: {e}"))?);
    }
    results.sort_by_key(|(i, _, _)| *i);
    let mut reports = Vec::new();
    for (i, result, seconds) in results {
        let source = sources[i];
        let outcome = match result.and_then(|found| merge_into_store(store, source, &found)) {
            Ok(o) => o,
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::warn!("{}: {reason}", source.list);
                Outcome::Failed { reason }
            }
        };
        reports.push(SourceReport {
            name: source.name().to_string(),
            list: source.list.clone(),
            uncrawled: source.uncrawled_list(),
            outcome,
            seconds,
        });
    }
    let after = http.stats();
    Ok(CrawlReport {
        sources: reports,
        http: HttpStats {
            requests: after.requests - before.requests,
            bytes: after.bytes - before.bytes,
            not_modified: after.not_modified - before.not_modified,
            retries: after.retries - before.retries,
            reused: after.reused - before.reused,
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Builds the HTTP client settings from `sources.yml` defaults.
pub fn http_config(config: &Config) -> http::HttpConfig {
    let d = &config.defaults;
    http::HttpConfig {
        request_timeout: Duration::from_secs_f64(d.request_timeout_secs.max(0.001)),
        retries: d.retries,
        backoff: Duration::from_millis(d.backoff_ms),
        per_host_concurrency: d.per_host_concurrency,
        ..http::HttpConfig::default()
    }
}
