//! `kernel-packer crawl --open-pr --repo <owner/name>`: the scheduled crawl, locally. Reads
//! the lists and manifest of the repository's default branch through the GitHub API, crawls,
//! regenerates the manifest and opens or updates the bot pull request (see
//! [`crate::crawl_pr`]). The token comes from `GITHUB_TOKEN` (or a secret named by
//! `GITHUB_TOKEN_SECRET`, which needs a secret store: the crawl function has one).
//!
//! stdout: the run report (JSON with `--json`, else one line); stderr: progress. Exit status 0
//! when every source crawled, 1 when some failed (the pull request still lists them).

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::crawl::{parse_override, CrawlArgs, MIRROR_OVERRIDES_ENV};
use crate::crawl::{self, http::Http};
use crate::crawl_pr::{self, Action, CrawlRequest, Settings};
use crate::github::{token, OctocrabGitHub, RepoId, RetryPolicy};

/// The options of the pull-request mode (flattened into `kernel-packer crawl`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OpenPrArgs {
    /// Propose the crawl result as a pull request on `--repo` instead of writing local lists.
    #[arg(long, requires = "repo")]
    pub open_pr: bool,
    /// Target repository, `owner/name`.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Group from `crawl-groups.yml` (or `all`); names the bot branch
    /// `kernel-packer/crawl-<group>`. With `--source`, only names the branch.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// GitHub API base URL.
    #[arg(long, value_name = "URL", default_value = crate::github::client::DEFAULT_API)]
    pub github_api: String,
    /// Directory of the lists in the repository.
    #[arg(long, value_name = "PATH", default_value = "kernel-package-lists")]
    pub repo_lists_dir: String,
    /// Pull request title (`{group}` is replaced).
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "kernel-packer: crawl {group}"
    )]
    pub pr_title: String,
    /// Label added to the pull request; repeatable (default: `kernel-packer`).
    #[arg(long = "pr-label", value_name = "LABEL")]
    pub pr_labels: Vec<String>,
    /// Check the opened or updated pull request: pack every kernel it adds and build the canary
    /// module and eBPF object against it (check run `kernel-packer/pr-check`, body section, and
    /// auto-merge for `auto_merge` groups). Needs the kernels' compilers, clang and llc.
    #[arg(long, requires = "open_pr")]
    pub check: bool,
}

/// `kernel-packer crawl` with both modes: the local crawl's options plus [`OpenPrArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct CrawlCommand {
    /// The local crawl's options (also used by the pull-request mode).
    #[command(flatten)]
    pub crawl: CrawlArgs,
    /// The pull-request mode.
    #[command(flatten)]
    pub pr: OpenPrArgs,
}

/// Dispatches `kernel-packer crawl`: `--open-pr` → [`run_open_pr`], else the local crawl.
pub fn run(cmd: CrawlCommand) -> Result<ExitCode> {
    if cmd.pr.open_pr {
        run_open_pr(&cmd.crawl, &cmd.pr)
    } else {
        crate::cli::crawl::run(cmd.crawl)
    }
}

/// The crawl request the arguments describe.
pub fn request(crawl: &CrawlArgs, pr: &OpenPrArgs) -> CrawlRequest {
    let group = match (&pr.group, crawl.all) {
        (Some(g), _) => Some(g.clone()),
        (None, true) => Some("all".to_string()),
        (None, false) => None,
    };
    CrawlRequest {
        group,
        sources: crawl.sources.clone(),
    }
}

/// Runs the pull-request mode with the crawl options of `crawl` (timeouts, retries, mirror
/// overrides, cache) and the pull-request options of `pr`.
pub fn run_open_pr(crawl_args: &CrawlArgs, pr: &OpenPrArgs) -> Result<ExitCode> {
    let repo = RepoId::parse(pr.repo.as_deref().unwrap_or_default())?;
    let req = request(crawl_args, pr);
    if req.group.is_none() && req.sources.is_empty() {
        anyhow::bail!("say what to crawl: --source <name>..., --group <name> or --all");
    }
    let mut settings = Settings {
        request: req,
        lists_dir: pr.repo_lists_dir.clone(),
        title: pr.pr_title.clone(),
        check: pr
            .check
            .then(crate::crawl_pr::check::CheckSettings::default),
        ..Settings::default()
    };
    if !pr.pr_labels.is_empty() {
        settings.labels = pr.pr_labels.clone();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let token = token::resolve(|k| std::env::var(k).ok(), &token::NoSecrets).await?;
        let gh = OctocrabGitHub::new(Some(&pr.github_api), &token, repo, RetryPolicy::default())?;
        crawl_pr::run(&gh, &settings, |config| http_for(crawl_args, config)).await
    })?;
    if crawl_args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let what = match &report.action {
            Action::NoChange => "no change".to_string(),
            Action::UpToDate { url, .. } => format!("up to date: {url}"),
            Action::Opened { url, .. } => format!("opened {url}"),
            Action::Updated { url, .. } => format!("updated {url}"),
        };
        println!("{}: {what}", report.branch);
        eprint!("{}", report.crawl.summary());
    }
    Ok(if report.crawl.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The crawler's HTTP client for a config read from the repository, with the command's
/// overrides (the same options as the local crawl).
pub fn http_for(args: &CrawlArgs, config: &mut crawl::config::Config) -> Result<Http> {
    if let Some(t) = args.request_timeout {
        config.defaults.request_timeout_secs = t;
    }
    if let Some(t) = args.source_timeout {
        config.defaults.source_timeout_secs = t;
    }
    if let Some(r) = args.retries {
        config.defaults.retries = r;
    }
    if let Some(b) = args.backoff_ms {
        config.defaults.backoff_ms = b;
    }
    let mut c = crawl::http_config(config);
    for o in &args.mirror_overrides {
        c.overrides.push(parse_override(o)?);
    }
    if let Ok(env) = std::env::var(MIRROR_OVERRIDES_ENV) {
        for o in env.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            c.overrides
                .push(parse_override(o).with_context(|| format!("in {MIRROR_OVERRIDES_ENV}"))?);
        }
    }
    c.cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone()
    };
    Http::new(c)
}
