//! Manifest mode of `kernel-packer pack`: `--id`, `--kernel` or `--missing`, from the package store
//! into the bundle store, with the index updated.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::pack::PackArgs;
use crate::cli::sync::{packages_store, s3_options};
use crate::ondemand::{self, find_by_kernel, PackContext};
use crate::store::{self, StoreUrl};

/// Bundle store URL from an optional argument (default `./.kernel-packer/bundles`).
pub fn bundles_store(arg: Option<&str>) -> anyhow::Result<StoreUrl> {
    arg.map(StoreUrl::parse)
        .unwrap_or_else(|| Ok(StoreUrl::default_dir("bundles")))
}

/// Runs manifest mode. Prints one line per packed id on stdout (`--json`: `{"id","kernel","bundle",
/// "size","sha256"}`, or `{"id","error"}` for a failure); exit code 0 only when every pack succeeded.
pub fn run_from_manifest(args: &PackArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let s3 = s3_options(None);
        let manifest_path = args.manifest.display().to_string();
        let full = ondemand::manifest::load(&manifest_path, &s3).await?;
        let arch = args
            .arch
            .as_deref()
            .map(crate::lookup::parse_arch)
            .transpose()?;
        let manifest = match arch {
            Some(a) => ondemand::manifest::only_arch(&full, a),
            None => full.clone(),
        };
        let mut ids: Vec<String> = Vec::new();
        for id in &args.id {
            match (full.entries.get(id), arch) {
                (None, _) => anyhow::bail!("id {id} is not in the manifest {manifest_path}"),
                (Some(set), Some(a)) if set.arch() != a.as_str() => {
                    anyhow::bail!("id {id} is an {} set, not {a} (--arch)", set.arch())
                }
                _ => ids.push(id.clone()),
            }
        }
        for kernel in &args.kernel {
            ids.push(find_by_kernel(&manifest, kernel).map_err(|e| match arch {
                Some(a) => anyhow::anyhow!("{e} ({manifest_path}, {a} sets)"),
                None => anyhow::anyhow!("{e} ({manifest_path})"),
            })?);
        }
        let ctx = PackContext {
            packages: store::open_url(&packages_store(args.packages.as_deref())?, &s3).await?,
            bundles: store::open_url(&bundles_store(args.bundles.as_deref())?, &s3).await?,
            work_dir: None,
            verify: args.verify_options(),
        };
        if args.missing {
            ids.extend(ondemand::missing_ids(&manifest, ctx.bundles.as_ref()).await?);
        }
        let mut seen = std::collections::BTreeSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        if ids.is_empty() {
            eprintln!("nothing to pack");
            return Ok(ExitCode::SUCCESS);
        }
        let ctx = Arc::new(ctx);
        let results = ondemand::pack_many(&ctx, &manifest, &ids, args.jobs, true).await;
        let mut failed = 0;
        for (id, result) in &results {
            match result {
                Ok(o) if args.json => println!("{}", serde_json::to_string(o)?),
                Ok(o) => println!("{} {} {} {} {}", o.id, o.kernel, o.bundle, o.size, o.sha256),
                Err(e) => {
                    failed += 1;
                    if args.json {
                        println!("{}", serde_json::json!({"id": id, "error": e}));
                    } else {
                        eprintln!("failed: {e}");
                    }
                }
            }
        }
        eprintln!("{} packed, {failed} failed", results.len() - failed);
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
