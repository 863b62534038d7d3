//! Freshness as a number: a report in the bundle store (`status/freshness.json`), refreshed after
//! every crawl run and shown by `kernel-packer status`. Per source (list file stem): last successful
//! crawl, newest kernel listed, and the kernels listed without a bundle with the time they were
//! first seen waiting. [`oldest_wait`] is what the CloudWatch alarm watches.
//!
//! [`update`] is pure; [`refresh`] does the I/O and writes only when the report changed (other than
//! its clocks) or the stored one is older than [`REWRITE_AFTER`], so a run with no upstream change
//! normally writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::crawl_pr::summary::release_of;
use crate::manifest::Manifest;
use crate::names::simplify;
use crate::store::Store;

/// Key of the report in the bundle store.
pub const KEY: &str = "status/freshness.json";

/// A stored report is rewritten at least this often (seconds) even when only its clocks changed.
pub const REWRITE_AFTER: i64 = 6 * 3600;

/// The report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// When it was computed (Unix seconds).
    pub updated: i64,
    /// Per source (list file stem).
    pub sources: BTreeMap<String, SourceStatus>,
}

/// One source's freshness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Last crawl that succeeded (Unix seconds).
    pub last_success: Option<i64>,
    /// Reason of the last failed crawl, when it failed after the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Newest kernel release listed (by version order).
    pub newest_kernel: Option<String>,
    /// Manifest ids listed by this source.
    pub listed: usize,
    /// Listed ids without a bundle: id → kernel and since when (Unix seconds).
    pub waiting: BTreeMap<String, Waiting>,
}

/// A listed kernel without a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// Kernel release (or a package name when none can be read from the names).
    pub kernel: String,
    /// First seen waiting (Unix seconds).
    pub since: i64,
}

/// What one run observed.
#[derive(Debug)]
pub struct Observation<'a> {
    /// Now (Unix seconds).
    pub now: i64,
    /// The manifest of the default branch.
    pub manifest: &'a Manifest,
    /// Its list files: name (`debian.txt`) → text.
    pub lists: &'a BTreeMap<String, String>,
    /// Ids with an index entry.
    pub indexed: &'a BTreeSet<String>,
    /// Sources crawled in this run: name → `Ok` or the failure reason.
    pub crawled: &'a BTreeMap<String, Result<(), String>>,
}

/// Simplified package name → source (list file stem), over the main lists.
fn owners(lists: &BTreeMap<String, String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (name, text) in lists {
        let Some(stem) = name.strip_suffix(".txt") else {
            continue;
        };
        if stem.ends_with("-uncrawled") || name.contains('/') {
            continue;
        }
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                out.entry(simplify(line))
                    .or_insert_with(|| stem.to_string());
            }
        }
    }
    out
}

/// The next report from the previous one and this run's observation.
pub fn update(prev: Option<&Report>, obs: &Observation<'_>) -> Report {
    let owner = owners(obs.lists);
    let mut sources: BTreeMap<String, SourceStatus> = BTreeMap::new();
    for (id, entry) in &obs.manifest.entries {
        let Some(source) = entry.packages.iter().find_map(|p| owner.get(p)) else {
            continue;
        };
        let status = sources.entry(source.clone()).or_default();
        status.listed += 1;
        let kernel = release_of(entry);
        if let Some(k) = &kernel {
            let newer = status.newest_kernel.as_ref().is_none_or(|n| {
                crate::manifest::version::compare(k, n) == std::cmp::Ordering::Greater
            });
            if newer {
                status.newest_kernel = Some(k.clone());
            }
        }
        if !obs.indexed.contains(id) {
            let since = prev
                .and_then(|p| p.sources.get(source))
                .and_then(|s| s.waiting.get(id))
                .map(|w| w.since)
                .unwrap_or(obs.now);
            let kernel =
                kernel.unwrap_or_else(|| entry.packages.first().cloned().unwrap_or_default());
            status.waiting.insert(id.clone(), Waiting { kernel, since });
        }
    }
    // Crawl outcomes: carried over, then this run's.
    let names: BTreeSet<String> = sources
        .keys()
        .cloned()
        .chain(obs.crawled.keys().cloned())
        .chain(prev.into_iter().flat_map(|p| p.sources.keys().cloned()))
        .collect();
    for name in names {
        let before = prev.and_then(|p| p.sources.get(&name));
        let status = sources.entry(name.clone()).or_default();
        status.last_success = before.and_then(|b| b.last_success);
        status.last_error = before.and_then(|b| b.last_error.clone());
        match obs.crawled.get(&name) {
            Some(Ok(())) => {
                status.last_success = Some(obs.now);
                status.last_error = None;
            }
            Some(Err(reason)) => status.last_error = Some(reason.clone()),
            None => {}
        }
    }
    Report {
        updated: obs.now,
        sources,
    }
}

/// Seconds the longest-waiting listed kernel has waited at `now` (0 when none waits).
pub fn oldest_wait(report: &Report, now: i64) -> i64 {
    report
        .sources
        .values()
        .flat_map(|s| s.waiting.values())
        .map(|w| now - w.since)
        .max()
        .unwrap_or(0)
        .max(0)
}

/// The report without its clocks (for "did anything change").
fn without_clocks(r: &Report) -> Report {
    let mut r = r.clone();
    r.updated = 0;
    for s in r.sources.values_mut() {
        s.last_success = s.last_success.map(|_| 0);
    }
    r
}

/// Reads the stored report (`None` when there is none).
pub async fn read(store: &dyn Store) -> anyhow::Result<Option<Report>> {
    match store.get_bytes(KEY).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("{KEY}: not valid JSON"))?,
        )),
    }
}

/// Reads the previous report and the index, computes the next report, and stores it when it
/// changed (see the module docs). Returns the report and whether it was written.
pub async fn refresh(
    store: &dyn Store,
    manifest: &Manifest,
    lists: &BTreeMap<String, String>,
    crawled: &BTreeMap<String, Result<(), String>>,
    now: i64,
) -> anyhow::Result<(Report, bool)> {
    let prev = read(store).await?;
    let indexed: BTreeSet<String> = crate::index::ids(store).await?.into_iter().collect();
    let next = update(
        prev.as_ref(),
        &Observation {
            now,
            manifest,
            lists,
            indexed: &indexed,
            crawled,
        },
    );
    let write = match &prev {
        None => true,
        Some(p) => without_clocks(p) != without_clocks(&next) || now - p.updated >= REWRITE_AFTER,
    };
    if write {
        store
            .put_bytes(KEY, serde_json::to_vec_pretty(&next)?)
            .await
            .with_context(|| format!("write {KEY}"))?;
    }
    Ok((next, write))
}

/// What the crawl function does after each run: refreshes the report from the lists and manifest
/// of the repository's default branch (read through `gh`, cached in `cache`) and the crawl's
/// per-source outcome. Returns the report and whether it was written.
pub async fn refresh_after_crawl<G: crate::github::GitHub>(
    gh: &G,
    store: &dyn Store,
    lists_dir: &str,
    cache: Option<&std::path::Path>,
    crawl: &crate::crawl::CrawlReport,
    now: i64,
) -> anyhow::Result<(Report, bool)> {
    let snap = crate::github::snapshot::at_default_head(gh, lists_dir, cache).await?;
    let texts = snap.texts();
    let manifest_text = texts
        .get("manifest.yml")
        .with_context(|| format!("{lists_dir}/manifest.yml missing on the default branch"))?;
    let manifest = Manifest::parse(manifest_text.as_bytes(), "manifest.yml")?;
    let crawled = crawl
        .sources
        .iter()
        .map(|s| {
            let outcome = match &s.outcome {
                crate::crawl::Outcome::Failed { reason } => Err(reason.clone()),
                _ => Ok(()),
            };
            (s.name.clone(), outcome)
        })
        .collect();
    refresh(store, &manifest, &texts, &crawled, now).await
}

/// A CloudWatch embedded-metric-format line carrying [`oldest_wait`] (printed to stdout by the
/// crawl function; the freshness alarm watches `KernelPacker/OldestWaitSeconds`).
pub fn emf_line(report: &Report, now: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": now * 1000,
            "CloudWatchMetrics": [{
                "Namespace": "KernelPacker",
                "Dimensions": [[]],
                "Metrics": [{"Name": "OldestWaitSeconds", "Unit": "Seconds"}]
            }]
        },
        "OldestWaitSeconds": oldest_wait(report, now)
    })
    .to_string()
}

/// Human rendering for `kernel-packer status`: one block per source. Ids indexed since the report
/// was written (`indexed`) no longer count as waiting.
pub fn render(report: &Report, indexed: &BTreeSet<String>, now: i64) -> String {
    let ago = |t: i64| {
        let s = (now - t).max(0);
        if s < 3600 {
            format!("{}m ago", s / 60)
        } else if s < 48 * 3600 {
            format!("{}h{:02}m ago", s / 3600, (s % 3600) / 60)
        } else {
            format!("{}d ago", s / 86400)
        }
    };
    let mut out = String::new();
    let mut oldest = 0;
    for (name, s) in &report.sources {
        let waiting: Vec<&Waiting> = s
            .waiting
            .iter()
            .filter(|(id, _)| !indexed.contains(*id))
            .map(|(_, w)| w)
            .collect();
        out.push_str(&format!(
            "{name}: last successful crawl {}; newest kernel {}; {} listed, {} without a bundle\n",
            s.last_success.map(ago).unwrap_or_else(|| "never".into()),
            s.newest_kernel.as_deref().unwrap_or("-"),
            s.listed,
            waiting.len()
        ));
        if let Some(e) = &s.last_error {
            out.push_str(&format!("  last crawl failed: {e}\n"));
        }
        let mut waiting = waiting;
        waiting.sort_by_key(|w| (w.since, w.kernel.clone()));
        for w in &waiting {
            oldest = oldest.max(now - w.since);
            out.push_str(&format!("  waiting since {}: {}\n", ago(w.since), w.kernel));
        }
    }
    out.push_str(&format!(
        "report updated {}; longest wait {}s\n",
        ago(report.updated),
        oldest
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(entries: &[(&str, &str)]) -> Manifest {
        let mut text = String::new();
        for (id, pkg) in entries {
            text.push_str(&format!("{id}:\n  type: debian\n  packages:\n  - {pkg}\n"));
        }
        Manifest::parse(text.as_bytes(), "m.yml").unwrap()
    }

    #[test]
    fn waiting_kernels_keep_their_first_seen_time_and_leave_when_indexed() {
        let u1 = "http://d/linux-headers-6.1.0-1-amd64_6.1.1-1_amd64.deb";
        let u2 = "http://d/linux-headers-6.1.0-10-amd64_6.1.9-1_amd64.deb";
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let lists = BTreeMap::from([("debian.txt".to_string(), format!("{u1}\n{u2}\n"))]);
        let m1 = manifest(&[(&a, &simplify(u1))]);
        let m2 = manifest(&[(&a, &simplify(u1)), (&b, &simplify(u2))]);
        let ok = BTreeMap::from([("debian".to_string(), Ok(()))]);
        let none = BTreeSet::new();
        let r1 = update(
            None,
            &Observation {
                now: 100,
                manifest: &m1,
                lists: &lists,
                indexed: &none,
                crawled: &ok,
            },
        );
        let d = &r1.sources["debian"];
        assert_eq!((d.last_success, d.listed), (Some(100), 1));
        assert_eq!(d.waiting[&a].since, 100);
        assert_eq!(d.waiting[&a].kernel, "6.1.0-1-amd64");
        let failed = BTreeMap::from([("debian".to_string(), Err("timeout".to_string()))]);
        let r2 = update(
            Some(&r1),
            &Observation {
                now: 4000,
                manifest: &m2,
                lists: &lists,
                indexed: &none,
                crawled: &failed,
            },
        );
        let d = &r2.sources["debian"];
        assert_eq!(
            d.last_success,
            Some(100),
            "a failure keeps the last success"
        );
        assert_eq!(d.last_error.as_deref(), Some("timeout"));
        assert_eq!(d.newest_kernel.as_deref(), Some("6.1.0-10-amd64"));
        assert_eq!((d.waiting[&a].since, d.waiting[&b].since), (100, 4000));
        assert_eq!(oldest_wait(&r2, 4000), 3900);
        let indexed = BTreeSet::from([a.clone()]);
        let r3 = update(
            Some(&r2),
            &Observation {
                now: 5000,
                manifest: &m2,
                lists: &lists,
                indexed: &indexed,
                crawled: &ok,
            },
        );
        assert!(!r3.sources["debian"].waiting.contains_key(&a));
        assert_eq!(oldest_wait(&r3, 5000), 1000);
        let text = render(&r3, &BTreeSet::from([b.clone()]), 5000);
        assert!(text.contains("debian: last successful crawl 0m ago; newest kernel 6.1.0-10-amd64; 2 listed, 0 without a bundle"), "{text}");
        assert!(emf_line(&r3, 5000).contains("\"OldestWaitSeconds\":1000"));
    }

    #[tokio::test]
    async fn refresh_writes_only_on_change_or_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::DirStore::new(dir.path().to_path_buf());
        let u1 = "http://d/linux-headers-6.1.0-1-amd64_6.1.1-1_amd64.deb";
        let lists = BTreeMap::from([("debian.txt".to_string(), format!("{u1}\n"))]);
        let m = manifest(&[(&"a".repeat(64), &simplify(u1))]);
        let ok = BTreeMap::from([("debian".to_string(), Ok(()))]);
        assert!(refresh(&store, &m, &lists, &ok, 100).await.unwrap().1);
        assert!(
            !refresh(&store, &m, &lists, &ok, 200).await.unwrap().1,
            "only clocks changed"
        );
        assert!(
            refresh(&store, &m, &lists, &ok, 100 + REWRITE_AFTER)
                .await
                .unwrap()
                .1
        );
        let stored = read(&store).await.unwrap().unwrap();
        assert_eq!(stored.updated, 100 + REWRITE_AFTER);
        assert_eq!(
            stored.sources["debian"]
                .waiting
                .values()
                .next()
                .unwrap()
                .since,
            100
        );
    }
}
