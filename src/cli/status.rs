//! `kernel-packer status`: the freshness report of a bundle store (per source: last successful
//! crawl, newest kernel listed, kernels listed without a bundle and since when). `--lists DIR`
//! first refreshes the report from a local lists directory (its `manifest.yml` and list files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::pack_manifest::bundles_store;
use crate::cli::sync::s3_options;
use crate::{freshness, index, store};

/// Arguments of `kernel-packer status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Bundle store: a directory or `s3://bucket/prefix` (default `./.kernel-packer/bundles`).
    #[arg(long, value_name = "STORE")]
    pub bundles: Option<String>,
    /// Refresh the report from this lists directory first (no crawl outcome is recorded).
    #[arg(long, value_name = "DIR")]
    pub lists: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Runs `kernel-packer status`. Exit code 1 when the store has no report.
pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let store =
            store::open_url(&bundles_store(args.bundles.as_deref())?, &s3_options(None)).await?;
        if let Some(dir) = &args.lists {
            let manifest = crate::manifest::Manifest::load(dir.join("manifest.yml"))?;
            let mut lists = BTreeMap::new();
            for entry in
                std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?
            {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "txt") {
                    let name = path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("read {}", path.display()))?;
                    lists.insert(name, text);
                }
            }
            freshness::refresh(store.as_ref(), &manifest, &lists, &BTreeMap::new(), now()).await?;
        }
        let Some(report) = freshness::read(store.as_ref()).await? else {
            eprintln!(
                "no freshness report in {} (written after each crawl run)",
                store.location()
            );
            return Ok(ExitCode::FAILURE);
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            let indexed: BTreeSet<String> = index::ids(store.as_ref()).await?.into_iter().collect();
            print!("{}", freshness::render(&report, &indexed, now()));
        }
        Ok(ExitCode::SUCCESS)
    })
}
