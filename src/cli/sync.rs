//! `kernel-packer sync`: mirror every listed package URL into the package store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::store::{self, S3Options, StoreUrl};
use crate::sync::{read_lists, sync, SyncOptions};

/// Arguments of `kernel-packer sync`.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// Directory of package lists (`*.txt`, optional `*.sums` sidecars).
    #[arg(long, value_name = "DIR", default_value = "kernel-package-lists")]
    pub lists: PathBuf,
    /// Package store: a directory or `s3://bucket/prefix` (default `./.kernel-packer/packages`).
    #[arg(long, value_name = "STORE")]
    pub packages: Option<String>,
    /// Downloads in flight at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Attempts per URL for transient failures.
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Directory for temporary downloads (default: the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// S3-compatible endpoint URL (also `KERNEL_PACKER_S3_ENDPOINT`).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Package store URL from an optional argument (default `./.kernel-packer/packages`).
pub fn packages_store(arg: Option<&str>) -> anyhow::Result<StoreUrl> {
    arg.map(StoreUrl::parse)
        .unwrap_or_else(|| Ok(StoreUrl::default_dir("packages")))
}

/// S3 options from the environment, with an optional endpoint override from the command line.
pub fn s3_options(endpoint: Option<&str>) -> S3Options {
    let mut o = S3Options::from_env();
    if let Some(ep) = endpoint {
        o.endpoint = Some(ep.to_string());
    }
    o
}

/// Runs `kernel-packer sync`. Exit code 0 when every URL is in the store afterwards, 1 otherwise.
pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let items = read_lists(&args.lists)?;
        let s3 = s3_options(args.s3_endpoint.as_deref());
        let store = store::open_url(&packages_store(args.packages.as_deref())?, &s3).await?;
        let opts = SyncOptions {
            jobs: args.jobs,
            attempts: args.attempts,
            timeout: Duration::from_secs(args.timeout.max(1)),
            work_dir: args.work_dir.clone(),
            ..Default::default()
        };
        tracing::info!(urls = items.len(), store = %store.location(), "mirroring");
        let report = sync(&items, store, &opts).await?;
        for (url, err) in report.failures() {
            eprintln!("failed: {url}: {err}");
        }
        if args.json {
            let failed: Vec<_> = report
                .failures()
                .into_iter()
                .map(|(url, error)| serde_json::json!({"url": url, "error": error}))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "listed": report.items.len(),
                    "present": report.present(),
                    "transferred": report.transferred(),
                    "bytes": report.bytes(),
                    "failed": failed,
                })
            );
        } else {
            println!("{}", report.summary());
        }
        Ok(if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
