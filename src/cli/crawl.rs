//! `kernel-packer crawl`: update package lists from the sources in `sources.yml`.
//!
//! stdout: one summary line per list (or a JSON report with `--json`); stderr: progress.
//! Exit status 0 when every selected source succeeded, 1 otherwise (the other sources still
//! complete and their lists are updated).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::crawl::{self, config::Config, http::Http, Selection};
use crate::lists::DirStore;

/// Environment variable with extra mirror overrides, `FROM=TO` pairs separated by commas.
pub const MIRROR_OVERRIDES_ENV: &str = "KERNEL_PACKER_MIRROR_OVERRIDES";

/// Arguments of `kernel-packer crawl`.
#[derive(Debug, Clone, clap::Args)]
pub struct CrawlArgs {
    /// Sources to crawl, by name (`debian`) or list file (`debian.txt`); repeatable.
    #[arg(long = "source", value_name = "NAME", conflicts_with = "all")]
    pub sources: Vec<String>,
    /// Crawl every enabled source.
    #[arg(long)]
    pub all: bool,
    /// Directory of the list files.
    #[arg(long, value_name = "DIR", default_value = "kernel-package-lists")]
    pub lists: PathBuf,
    /// Sources file; default `<lists>/sources.yml`. Keys are read from `keys/` beside it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the conditional-request cache (ETag/Last-Modified); default
    /// `$XDG_CACHE_HOME/kernel-packer/http` or `~/.cache/kernel-packer/http`.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not use the conditional-request cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Fetch URLs starting with FROM from TO instead (e.g. a local mirror); repeatable. Lists
    /// keep the upstream URLs. Also read from `KERNEL_PACKER_MIRROR_OVERRIDES` (comma-separated).
    #[arg(long = "mirror-override", value_name = "FROM=TO")]
    pub mirror_overrides: Vec<String>,
    /// Extra trusted CA certificate (PEM file), e.g. for a private mirror; repeatable.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Override `defaults.request_timeout_secs`.
    #[arg(long, value_name = "SECS")]
    pub request_timeout: Option<f64>,
    /// Override `defaults.source_timeout_secs`.
    #[arg(long, value_name = "SECS")]
    pub source_timeout: Option<f64>,
    /// Override `defaults.retries`.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Override `defaults.backoff_ms`.
    #[arg(long, value_name = "MS")]
    pub backoff_ms: Option<u64>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Parses `FROM=TO`.
pub fn parse_override(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => {
            Ok((from.to_string(), to.to_string()))
        }
        _ => bail!("mirror override {s:?} must be FROM=TO"),
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("kernel-packer").join("http"))
}

/// Runs the crawl.
pub fn run(args: CrawlArgs) -> Result<ExitCode> {
    if !args.all && args.sources.is_empty() {
        bail!("say which sources to crawl: --source <name>... or --all");
    }
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| args.lists.join("sources.yml"));
    let mut config = Config::load(&config_path)?;
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
    let mut http_config = crawl::http_config(&config);
    for o in &args.mirror_overrides {
        http_config.overrides.push(parse_override(o)?);
    }
    if let Ok(env) = std::env::var(MIRROR_OVERRIDES_ENV) {
        for o in env.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            http_config
                .overrides
                .push(parse_override(o).with_context(|| format!("in {MIRROR_OVERRIDES_ENV}"))?);
        }
    }
    for ca in &args.ca_certs {
        http_config.extra_root_certs.push(
            std::fs::read(ca)
                .with_context(|| format!("reading CA certificate {}", ca.display()))?,
        );
    }
    http_config.cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    let http = Http::new(http_config)?;
    let selection = if args.all {
        Selection::All
    } else {
        Selection::Sources(args.sources.clone())
    };
    let store = DirStore::new(&args.lists);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(crawl::run(&config, &store, &selection, &http))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.summary());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
