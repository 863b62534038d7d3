//! The scheduled crawl function (AWS Lambda, EventBridge schedule): one group of sources per
//! event, proposed as a pull request on the target repository. Thin: it parses the event and
//! the environment and calls [`kernel_packer::crawl_pr::run`].
//!
//! Event: `{"group": "ubuntu"}` or `{"sources": ["debian", ...], "group"?: "..."}`, either as
//! the whole event (a schedule target's constant input) or in an EventBridge event's `detail`.
//!
//! Environment:
//! - `KERNEL_PACKER_REPO` (required): `owner/name` of the repository holding the lists.
//! - `GITHUB_TOKEN`, or `GITHUB_TOKEN_SECRET`: id/ARN of a Secrets Manager secret holding the
//!   token (plain, or JSON with a `token` key). The token is never logged.
//! - `GITHUB_API_URL` (default the public API), `KERNEL_PACKER_LISTS_DIR`
//!   (`kernel-package-lists`), `KERNEL_PACKER_PR_TITLE`, `KERNEL_PACKER_PR_LABELS`
//!   (comma-separated), `KERNEL_PACKER_MIRROR_OVERRIDES` (`FROM=TO,...`, as the CLI).
//!
//! - `KERNEL_PACKER_BUNDLES` (optional): the bundle store; after each run the freshness report
//!   (`status/freshness.json`) is refreshed from the default branch's lists and the index, and
//!   the longest wait is printed as a CloudWatch embedded metric (`KernelPacker/OldestWaitSeconds`).
//!
//! - `KERNEL_PACKER_PR_CHECK=1`: an opened or updated pull request proves itself
//!   ([`kernel_packer::crawl_pr::check`]): every kernel it adds is packed from upstream and the
//!   canary module + eBPF object are built against it (needs the toolchain of the container-image
//!   variant), reported as the check run `kernel-packer/pr-check` and in the body; groups with
//!   `auto_merge: true` get GitHub's auto-merge. Bounds: `KERNEL_PACKER_CHECK_MAX_KERNELS` (8),
//!   `KERNEL_PACKER_CHECK_TIMEOUT_SECS` (per kernel, 300), `KERNEL_PACKER_CHECK_PARALLEL` (2),
//!   `KERNEL_PACKER_CHECK_MERGE_METHOD` (`SQUASH` or `MERGE`, default `SQUASH`).
//!
//! Response: the run report as JSON (action, pull request, changed files, crawl report).

use anyhow::{Context, Result};
use kernel_packer::cli::crawl::{parse_override, MIRROR_OVERRIDES_ENV};
use kernel_packer::crawl::{self, http::Http};
use kernel_packer::crawl_pr::{self, CrawlRequest, Settings};

#[path = "../../shared/repo.rs"]
mod repo;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use repo::env;
use serde_json::Value;

/// The crawl request of an event: its `detail` when it has one with `group`/`sources`, else
/// the event itself.
fn request(event: &Value) -> Result<CrawlRequest> {
    let body = match event.get("detail") {
        Some(d) if d.get("group").is_some() || d.get("sources").is_some() => d.clone(),
        _ => {
            let mut e = event.clone();
            if let Some(o) = e.as_object_mut() {
                // EventBridge envelope fields, if the whole event was passed.
                for k in [
                    "version",
                    "id",
                    "detail-type",
                    "source",
                    "account",
                    "time",
                    "region",
                    "resources",
                    "detail",
                ] {
                    o.remove(k);
                }
            }
            e
        }
    };
    serde_json::from_value(body).context("event: expected {\"group\": ...} or {\"sources\": [...]}")
}

fn http_for(config: &mut crawl::config::Config) -> Result<Http> {
    let mut c = crawl::http_config(config);
    if let Some(v) = env(MIRROR_OVERRIDES_ENV) {
        for o in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            c.overrides.push(parse_override(o)?);
        }
    }
    c.cache_dir = None;
    Http::new(c)
}

/// The pull-request check settings from the environment (`None` unless `KERNEL_PACKER_PR_CHECK=1`).
fn check_settings() -> Result<Option<crawl_pr::check::CheckSettings>> {
    if env("KERNEL_PACKER_PR_CHECK").as_deref() != Some("1") {
        return Ok(None);
    }
    let number = |name: &str, default: u64| -> Result<u64> {
        match env(name) {
            Some(v) => v
                .trim()
                .parse()
                .with_context(|| format!("{name}={v:?} is not a number")),
            None => Ok(default),
        }
    };
    let defaults = crawl_pr::check::CheckSettings::default();
    let merge_method =
        match env("KERNEL_PACKER_CHECK_MERGE_METHOD").as_deref() {
            None => defaults.merge_method,
            Some(m) => serde_json::from_value(Value::String(m.to_ascii_uppercase())).with_context(
                || format!("KERNEL_PACKER_CHECK_MERGE_METHOD={m:?}: expected SQUASH or MERGE"),
            )?,
        };
    Ok(Some(crawl_pr::check::CheckSettings {
        max_kernels: number(
            "KERNEL_PACKER_CHECK_MAX_KERNELS",
            defaults.max_kernels as u64,
        )? as usize,
        kernel_timeout: std::time::Duration::from_secs(number(
            "KERNEL_PACKER_CHECK_TIMEOUT_SECS",
            defaults.kernel_timeout.as_secs(),
        )?),
        parallel: number("KERNEL_PACKER_CHECK_PARALLEL", defaults.parallel as u64)? as usize,
        merge_method,
        ..defaults
    }))
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let req = request(&event.payload)?;
    let gh = repo::github_client().await?;
    let mut settings = Settings {
        request: req,
        check: check_settings()?,
        ..Settings::default()
    };
    if let Some(d) = env("KERNEL_PACKER_LISTS_DIR") {
        settings.lists_dir = d;
    }
    if let Some(t) = env("KERNEL_PACKER_PR_TITLE") {
        settings.title = t;
    }
    if let Some(l) = env("KERNEL_PACKER_PR_LABELS") {
        settings.labels = l
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let report = crawl_pr::run(&gh, &settings, http_for).await?;
    if let Some(bundles) = env("KERNEL_PACKER_BUNDLES") {
        refresh_freshness(&gh, &bundles, &report.crawl).await?;
    }
    tracing::info!(
        "{}: {:?}; {} failed source(s)",
        report.branch,
        report.action,
        report.crawl.failed().count()
    );
    Ok(serde_json::to_value(&report)?)
}

/// Refreshes the freshness report after a run (see the module docs).
async fn refresh_freshness(
    gh: &kernel_packer::github::OctocrabGitHub,
    bundles: &str,
    crawl: &crawl::CrawlReport,
) -> Result<()> {
    let store =
        kernel_packer::store::open(bundles, &kernel_packer::store::S3Options::from_env()).await?;
    let cache = std::env::temp_dir().join("kernel-packer-github");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (report, written) = kernel_packer::freshness::refresh_after_crawl(
        gh,
        store.as_ref(),
        &repo::lists_dir(),
        Some(&cache),
        crawl,
        now,
    )
    .await?;
    tracing::info!(
        written,
        oldest_wait = kernel_packer::freshness::oldest_wait(&report, now),
        "freshness"
    );
    println!("{}", kernel_packer::freshness::emf_line(&report, now));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The check's packs run in a child of this executable under OS limits (`pack::isolated`).
    kernel_packer::pack::isolated::child_main_if_requested();
    kernel_packer::pack::isolated::enable_current_exe();
    kernel_packer::logging::init();
    lambda_runtime::run(service_fn(handle)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_constant_input_and_eventbridge_detail() {
        let r = request(&serde_json::json!({"group": "ubuntu"})).unwrap();
        assert_eq!(r.group.as_deref(), Some("ubuntu"));
        let r = request(&serde_json::json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"sources": ["debian"]}
        }))
        .unwrap();
        assert_eq!(r.sources, vec!["debian"]);
        assert!(request(&serde_json::json!({"grup": "x"})).is_err());
    }

    #[test]
    fn check_settings_from_the_environment() {
        // One test touches these variables (tests of this binary run in threads).
        assert!(check_settings().unwrap().is_none());
        std::env::set_var("KERNEL_PACKER_PR_CHECK", "1");
        std::env::set_var("KERNEL_PACKER_CHECK_MAX_KERNELS", "3");
        std::env::set_var("KERNEL_PACKER_CHECK_MERGE_METHOD", "merge");
        let s = check_settings().unwrap().unwrap();
        assert_eq!(s.max_kernels, 3);
        assert_eq!(s.merge_method, kernel_packer::github::MergeMethod::Merge);
        std::env::set_var("KERNEL_PACKER_CHECK_PARALLEL", "two");
        let e = check_settings().unwrap_err();
        assert!(
            format!("{e:#}").contains("KERNEL_PACKER_CHECK_PARALLEL"),
            "{e:#}"
        );
        for v in [
            "KERNEL_PACKER_PR_CHECK",
            "KERNEL_PACKER_CHECK_MAX_KERNELS",
            "KERNEL_PACKER_CHECK_MERGE_METHOD",
            "KERNEL_PACKER_CHECK_PARALLEL",
        ] {
            std::env::remove_var(v);
        }
    }
}
