//! The pull-request check: a crawl pull request proves the kernels it adds. Every manifest id the
//! pull request adds is packed from its upstream package URLs (fetched through the crawler's
//! [`Http`], so mirror overrides and source credentials apply) and the project's canary module and
//! eBPF object are built against the bundle ([`crate::verify::verify_bundle`]).
//!
//! Contract of [`prove`]:
//! - A check run [`CheckSettings::name`] is created `in_progress` on the pull request's head
//!   commit, then completed `success` only when every added kernel passed (module **and** eBPF
//!   built). A failed pack or build, a timeout, a verification that could not run here (no
//!   toolchain: "unverified") and a kernel left out by [`CheckSettings::max_kernels`] ("not
//!   checked") all make it `failure`. The summary is a table with one row per kernel.
//! - Kernels are independent: one failing never stops the others (each is bounded by
//!   [`CheckSettings::kernel_timeout`]; at most [`CheckSettings::parallel`] at once). The failing
//!   ones are named; their sets stay in the manifest (the check changes nothing in the branch).
//! - The pull request body gets (or has replaced) a section between [`SECTION_START`] and
//!   [`SECTION_END`] with the same table, before the check run completes.
//! - With `auto_merge`, GitHub's auto-merge is enabled while the check run is still in progress
//!   (GitHub only arms auto-merge on a pull request that waits for a required check; on one whose
//!   checks are all green it answers "clean status"), so the green completion merges the pull
//!   request. A red check disables it again before completing: a red pull request stays open.
//!   The repository's branch protection must require the check run [`CHECK_NAME`].
//! - A run checks the head commit it wrote; a run that finds its pull request up to date checks it
//!   only when that head has no completed check run (a run that failed or stopped half-way; an
//!   in-progress check run never merges).
//! - The check changes nothing else: no store write, nothing published (bundles are published by
//!   the pack functions after the merge).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde::Serialize;

use crate::crawl::credentials::Auth;
use crate::crawl::http::Http;
use crate::github::{AutoMerge, Conclusion, GitHub, MergeMethod, PullRequest};
use crate::manifest::Entry;
use crate::pack::{isolated, PackOptions, PackerKind};
use crate::verify::{CheckStatus, Outcome, VerifyOptions};

/// The check run's name (what branch protection requires).
pub const CHECK_NAME: &str = "kernel-packer/pr-check";
/// First line of the pull request body section the check maintains.
pub const SECTION_START: &str = "<!-- kernel-packer:check -->";
/// Last line of that section.
pub const SECTION_END: &str = "<!-- /kernel-packer:check -->";

/// How the check runs.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// Check run name.
    pub name: String,
    /// Wall-clock bound of one kernel (download, pack, canary builds).
    pub kernel_timeout: Duration,
    /// Kernels checked per run; the rest are reported "not checked" (the check is then red).
    pub max_kernels: usize,
    /// Kernels checked at once.
    pub parallel: usize,
    /// Canary build settings.
    pub verify: VerifyOptions,
    /// Parent of the per-kernel work dirs (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Merge method when auto-merge is enabled.
    pub merge_method: MergeMethod,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            name: CHECK_NAME.into(),
            kernel_timeout: Duration::from_secs(300),
            max_kernels: 8,
            parallel: 2,
            verify: VerifyOptions::default(),
            work_dir: None,
            merge_method: MergeMethod::Squash,
        }
    }
}

/// One kernel the pull request adds.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Manifest id.
    pub id: String,
    /// Its set.
    pub set: Entry,
    /// List file the set's packages come from.
    pub list: String,
    /// `(upstream URL, credentials)` per package, in the set's order.
    pub urls: Vec<(String, Auth)>,
}

/// Result of one kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelStatus {
    /// Packed; module and eBPF object built.
    Passed,
    /// Fetch, pack or a canary build failed, or it timed out.
    Failed,
    /// Packed, but a canary build could not run here (no toolchain): not green.
    Unverified,
    /// Left out by the per-run bound: not green.
    NotChecked,
}

impl KernelStatus {
    fn label(self) -> &'static str {
        match self {
            KernelStatus::Passed => "✅ passed",
            KernelStatus::Failed => "❌ failed",
            KernelStatus::Unverified => "⚠️ unverified",
            KernelStatus::NotChecked => "⏭️ not checked",
        }
    }
}

/// What the check found for one kernel.
#[derive(Debug, Clone, Serialize)]
pub struct KernelResult {
    /// Manifest id.
    pub id: String,
    /// BUNDLE_UNAME when packing got that far, else the first package's name.
    pub kernel: String,
    /// List file.
    pub list: String,
    /// Outcome.
    pub status: KernelStatus,
    /// What was built (passed) or the first error.
    pub detail: String,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// What [`prove`] did.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Check run id.
    pub check_run: u64,
    /// Every kernel passed.
    pub green: bool,
    /// Per kernel, in id order.
    pub kernels: Vec<KernelResult>,
    /// `enabled`, `disabled` (armed, then disarmed by a red check), `refused: <why>`, or `off`.
    pub auto_merge: String,
}

impl CheckReport {
    /// The kernels that are not green.
    pub fn failing(&self) -> impl Iterator<Item = &KernelResult> {
        self.kernels
            .iter()
            .filter(|k| k.status != KernelStatus::Passed)
    }
}

/// Runs the check on pull request `pr` (see the module docs): its `head_sha` is the commit checked,
/// its `title` is kept and its `body` extended when the body is updated.
pub async fn prove<G: GitHub>(
    gh: &G,
    pr: &PullRequest,
    candidates: Vec<Candidate>,
    http: &Http,
    settings: &CheckSettings,
    auto_merge: bool,
) -> Result<CheckReport> {
    let (head, title) = (pr.head_sha.as_str(), pr.title.as_str());
    let n = candidates.len();
    let run = gh
        .create_check_run(
            &settings.name,
            head,
            &format!("Packing and building {n} new kernel(s)"),
        )
        .await?;
    let mut armed = String::from("off");
    if auto_merge {
        armed = match gh
            .enable_auto_merge(&pr.node_id, settings.merge_method)
            .await?
        {
            AutoMerge::Enabled => "enabled".into(),
            AutoMerge::Refused(m) => {
                tracing::warn!(pr = pr.number, "auto-merge refused: {m}");
                format!("refused: {m}")
            }
        };
    }
    let kernels = check_all(candidates, http, settings).await;
    let green = kernels.iter().all(|k| k.status == KernelStatus::Passed);
    if !green && armed == "enabled" {
        gh.disable_auto_merge(&pr.node_id).await?;
        armed = "disabled".into();
    }
    let report = CheckReport {
        check_run: run,
        green,
        kernels,
        auto_merge: armed,
    };
    let table = summary_table(&report);
    let body = with_section(&pr.body, &section(&report, &table));
    if body != pr.body {
        gh.update_pr(pr.number, title, &body).await?;
    }
    let (conclusion, headline) = if green {
        (
            Conclusion::Success,
            format!("{n} new kernel(s) pack and build"),
        )
    } else {
        let bad: Vec<&str> = report.failing().map(|k| k.kernel.as_str()).collect();
        (
            Conclusion::Failure,
            format!(
                "{} of {n} kernel(s) not green: {}",
                bad.len(),
                bad.join(", ")
            ),
        )
    };
    gh.complete_check_run(run, conclusion, &headline, &table)
        .await?;
    tracing::info!(pr = pr.number, green, auto_merge = %report.auto_merge, "{headline}");
    Ok(report)
}

/// Checks every candidate (bounded, see [`CheckSettings`]); results in id order.
pub async fn check_all(
    mut candidates: Vec<Candidate>,
    http: &Http,
    settings: &CheckSettings,
) -> Vec<KernelResult> {
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    let later = candidates.split_off(candidates.len().min(settings.max_kernels));
    let mut out: Vec<KernelResult> = futures_util::stream::iter(candidates)
        .map(|c| async move {
            let started = Instant::now();
            let fallback = c
                .set
                .packages
                .first()
                .cloned()
                .unwrap_or_else(|| c.id.clone());
            let (status, kernel, detail) =
                match tokio::time::timeout(settings.kernel_timeout, check_one(&c, http, settings))
                    .await
                {
                    Ok(Ok((status, kernel, detail))) => (status, kernel, detail),
                    Ok(Err(e)) => (KernelStatus::Failed, fallback, format!("{e:#}")),
                    Err(_) => (
                        KernelStatus::Failed,
                        fallback,
                        format!(
                            "timed out after {} s",
                            settings.kernel_timeout.as_secs_f64()
                        ),
                    ),
                };
            if status != KernelStatus::Passed {
                tracing::warn!(id = %c.id, kernel = %kernel, ?status, "{detail}");
            }
            KernelResult {
                id: c.id,
                kernel,
                list: c.list,
                status,
                detail,
                seconds: started.elapsed().as_secs_f64(),
            }
        })
        .buffer_unordered(settings.parallel.max(1))
        .collect()
        .await;
    out.extend(later.into_iter().map(|c| KernelResult {
        kernel: c.set.packages.first().cloned().unwrap_or_default(),
        id: c.id,
        list: c.list,
        status: KernelStatus::NotChecked,
        detail: format!(
            "more than {} new kernels in one run; checked on a later run",
            settings.max_kernels
        ),
        seconds: 0.0,
    }));
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Fetches, packs and verifies one kernel: `(status, kernel, detail)`; `Err` for fetch and pack
/// failures.
async fn check_one(
    c: &Candidate,
    http: &Http,
    settings: &CheckSettings,
) -> Result<(KernelStatus, String, String)> {
    let kind: PackerKind = c.set.kind.parse()?;
    let parent = settings.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    tokio::fs::create_dir_all(&parent)
        .await
        .with_context(|| format!("create {}", parent.display()))?;
    let work = tempfile::Builder::new()
        .prefix("kernel-packer-check-")
        .tempdir_in(&parent)
        .with_context(|| format!("create a work dir in {}", parent.display()))?;
    let pkg_dir = work.path().join("packages");
    tokio::fs::create_dir_all(&pkg_dir).await?;
    let mut files = Vec::new();
    anyhow::ensure!(
        c.urls.len() == c.set.packages.len(),
        "the lists name {} URL(s) for {} package(s)",
        c.urls.len(),
        c.set.packages.len()
    );
    for (name, (url, auth)) in c.set.packages.iter().zip(&c.urls) {
        crate::store::validate_key(name)?;
        anyhow::ensure!(!url.is_empty(), "package {name}: no URL in the lists");
        let bytes = http.get(url, auth).await?;
        let dest = pkg_dir.join(name);
        tokio::fs::write(&dest, bytes)
            .await
            .with_context(|| format!("write {}", dest.display()))?;
        files.push(dest);
    }
    let out_dir = work.path().join("out");
    let opts = PackOptions {
        work_dir: Some(work.path().to_path_buf()),
        checksum: Some(c.id.clone()),
        ..Default::default()
    };
    let packed = tokio::task::spawn_blocking(move || isolated::pack(kind, &files, &out_dir, &opts))
        .await
        .context("packer task panicked")??;
    let mut vopts = settings.verify.clone();
    vopts.work_dir = Some(work.path().to_path_buf());
    let path = packed.path.clone();
    let report = tokio::task::spawn_blocking(move || crate::verify::verify_bundle(&path, &vopts))
        .await
        .context("verify task panicked")??;
    let kernel = packed.uname.clone();
    Ok(match report.outcome() {
        Outcome::Failed(e) => (KernelStatus::Failed, kernel, e),
        Outcome::Unverified(why) => (KernelStatus::Unverified, kernel, why),
        Outcome::Verified if report.ebpf.status != CheckStatus::Passed => (
            KernelStatus::Unverified,
            kernel,
            format!("ebpf: {}", report.ebpf.detail),
        ),
        Outcome::Verified => (
            KernelStatus::Passed,
            kernel,
            format!(
                "module ({}) and eBPF object built",
                report.compiler.as_deref().unwrap_or("cc")
            ),
        ),
    })
}

fn cell(s: &str) -> String {
    let one: String = s.lines().next().unwrap_or("").chars().take(200).collect();
    one.replace('|', "\\|")
}

/// The markdown table of a report (the check run's summary).
pub fn summary_table(report: &CheckReport) -> String {
    if report.kernels.is_empty() {
        return "No kernel added: nothing to build.\n".into();
    }
    let mut t = String::from(
        "| Kernel | List | Id | Result | Detail | Time |\n|---|---|---|---|---|---|\n",
    );
    for k in &report.kernels {
        t.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {:.0} s |\n",
            cell(&k.kernel),
            cell(&k.list),
            &k.id[..k.id.len().min(12)],
            k.status.label(),
            cell(&k.detail),
            k.seconds
        ));
    }
    t
}

fn section(report: &CheckReport, table: &str) -> String {
    let verdict = if report.green {
        "every new kernel packs and builds the canary module and eBPF object".to_string()
    } else {
        let bad: Vec<String> = report
            .failing()
            .map(|k| format!("`{}`", k.kernel))
            .collect();
        format!(
            "not green: {} (their sets stay in the manifest for the next attempt)",
            bad.join(", ")
        )
    };
    format!(
        "{SECTION_START}\n## Check\n\n**{}**: {verdict}. Auto-merge: {}.\n\n{table}{SECTION_END}",
        if report.green { "Green" } else { "Red" },
        report.auto_merge
    )
}

/// `body` with the check section replaced by `section` (appended when it has none).
pub fn with_section(body: &str, section: &str) -> String {
    if let (Some(a), Some(b)) = (body.find(SECTION_START), body.find(SECTION_END)) {
        if a < b {
            let end = b + SECTION_END.len();
            return format!("{}{section}{}", &body[..a], &body[end..]);
        }
    }
    let sep = if body.is_empty() || body.ends_with("\n\n") {
        ""
    } else if body.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{body}{sep}{section}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: KernelStatus) -> KernelResult {
        KernelResult {
            id: id.repeat(64 / id.len()),
            kernel: format!("6.1.0-{id}-amd64"),
            list: "debian.txt".into(),
            status,
            detail: "a | b\nsecond line".into(),
            seconds: 3.2,
        }
    }

    #[test]
    fn section_is_replaced_not_repeated() {
        let report = CheckReport {
            check_run: 1,
            green: false,
            kernels: vec![
                result("a", KernelStatus::Passed),
                result("b", KernelStatus::Failed),
                result("c", KernelStatus::NotChecked),
            ],
            auto_merge: "disabled".into(),
        };
        let table = summary_table(&report);
        assert!(table.contains("a \\| b"), "{table}");
        assert!(!table.contains("second line"));
        let s = section(&report, &table);
        assert!(
            s.contains("`6.1.0-b-amd64`, `6.1.0-c-amd64`") && !s.contains("`6.1.0-a-amd64`,"),
            "{s}"
        );
        let once = with_section("## Kernels\nadded x\n", &s);
        assert!(once.starts_with("## Kernels\nadded x\n\n<!--"), "{once}");
        let twice = with_section(&once, "NEW");
        assert_eq!(twice, "## Kernels\nadded x\n\nNEW\n");
        assert_eq!(with_section("", "S"), "S\n");
    }

    #[tokio::test]
    async fn bounds_leave_the_rest_not_checked_and_failures_named() {
        let http = Http::new(crate::crawl::http::HttpConfig {
            retries: 0,
            request_timeout: Duration::from_secs(2),
            ..Default::default()
        })
        .unwrap();
        let cand = |id: &str, kind: &str| Candidate {
            id: id.repeat(64),
            set: Entry {
                kind: kind.into(),
                packages: vec![format!("pkg-{id}.deb")],
                arch: None,
            },
            list: "x.txt".into(),
            urls: vec![(format!("http://127.0.0.1:9/pkg-{id}.deb"), Auth::None)],
        };
        let work = tempfile::tempdir().unwrap();
        let settings = CheckSettings {
            max_kernels: 2,
            work_dir: Some(work.path().to_path_buf()),
            ..Default::default()
        };
        let out = check_all(
            vec![cand("c", "debian"), cand("a", "nope"), cand("b", "debian")],
            &http,
            &settings,
        )
        .await;
        let got: Vec<(char, KernelStatus)> = out
            .iter()
            .map(|k| (k.id.chars().next().unwrap(), k.status))
            .collect();
        assert_eq!(
            got,
            [
                ('a', KernelStatus::Failed),
                ('b', KernelStatus::Failed),
                ('c', KernelStatus::NotChecked)
            ]
        );
        assert!(out[0].detail.contains("nope"), "{}", out[0].detail);
        assert!(out[1].detail.contains("pkg-b.deb"), "{}", out[1].detail);
        assert_eq!(out[1].kernel, "pkg-b.deb");
    }

    #[tokio::test]
    async fn a_stalled_kernel_times_out_alone() {
        // A server that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _hold = std::thread::spawn(move || {
            let conns: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(10));
            drop(conns);
        });
        let http = Http::new(crate::crawl::http::HttpConfig {
            retries: 0,
            request_timeout: Duration::from_secs(30),
            ..Default::default()
        })
        .unwrap();
        let work = tempfile::tempdir().unwrap();
        let settings = CheckSettings {
            kernel_timeout: Duration::from_millis(500),
            work_dir: Some(work.path().to_path_buf()),
            ..Default::default()
        };
        let started = Instant::now();
        let out = check_all(
            vec![Candidate {
                id: "d".repeat(64),
                set: Entry {
                    kind: "debian".into(),
                    packages: vec!["stalled.deb".into()],
                    arch: None,
                },
                list: "x.txt".into(),
                urls: vec![(format!("http://{addr}/stalled.deb"), Auth::None)],
            }],
            &http,
            &settings,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out[0].status, KernelStatus::Failed);
        assert_eq!(out[0].detail, "timed out after 0.5 s");
        assert_eq!(out[0].kernel, "stalled.deb");
    }
}
