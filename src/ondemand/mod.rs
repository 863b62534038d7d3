//! Pack on demand: a manifest id's packages are fetched from the package store into a private work
//! dir, packed with [`crate::pack::pack_packages`], the bundle uploaded to the bundle store, and the
//! index entry written (bundle first, index last: an index entry always points at a complete
//! bundle). Used alike by `kernel-packer pack --id/--kernel/--missing` and `functions/pack`.

pub mod manifest;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};

pub use manifest::{find_by_kernel, Manifest, ManifestSet};

use crate::index::{self, Features, IndexEntry};
use crate::pack::{isolated, PackOptions, PackerKind};
use crate::store::Store;

/// Where packs read from and write to.
#[derive(Debug, Clone)]
pub struct PackContext {
    /// Package store (keys: simplified package names).
    pub packages: Arc<dyn Store>,
    /// Bundle store (keys: `bundle-<name>.tgz`, `index/<id>.json`).
    pub bundles: Arc<dyn Store>,
    /// Parent of the per-pack work dirs (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
}

/// What one pack produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackOutcome {
    /// Manifest id.
    pub id: String,
    /// BUNDLE_UNAME.
    pub kernel: String,
    /// Bundle store key.
    pub bundle: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the bundle.
    pub sha256: String,
}

/// Packages fetched at once for one pack.
const FETCH_JOBS: usize = 4;

/// Packs manifest id `id` (its set `set`) from the package store into the bundle store.
/// Errors name the id and the failing step; on error no index entry is written.
pub async fn pack_id(
    ctx: &PackContext,
    id: &str,
    set: &ManifestSet,
) -> anyhow::Result<PackOutcome> {
    index::validate_id(id)?;
    pack_id_inner(ctx, id, set)
        .await
        .with_context(|| format!("pack {id}"))
}

async fn pack_id_inner(
    ctx: &PackContext,
    id: &str,
    set: &ManifestSet,
) -> anyhow::Result<PackOutcome> {
    let kind: PackerKind = set.kind.parse()?;
    if set.packages.is_empty() {
        anyhow::bail!("manifest entry has no packages");
    }
    let parent = ctx.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    tokio::fs::create_dir_all(&parent)
        .await
        .with_context(|| format!("create {}", parent.display()))?;
    let work = tempfile::Builder::new()
        .prefix("kernel-packer-pack-")
        .tempdir_in(&parent)
        .with_context(|| format!("create a work dir in {}", parent.display()))?;
    let pkg_dir = work.path().join("packages");
    let out_dir = work.path().join("out");
    tokio::fs::create_dir_all(&pkg_dir).await?;

    let files: Vec<PathBuf> = futures_util::stream::iter(set.packages.iter())
        .map(|name| {
            let dest = pkg_dir.join(name);
            async move {
                crate::store::validate_key(name)?;
                if !ctx.packages.exists(name).await? {
                    anyhow::bail!(
                        "package {name} is not in the package store {} (run `kernel-packer sync`)",
                        ctx.packages.location()
                    );
                }
                ctx.packages.get_to_file(name, &dest).await?;
                Ok(dest)
            }
        })
        .buffer_unordered(FETCH_JOBS)
        .try_collect()
        .await?;
    tracing::info!(id, packages = files.len(), "fetched packages");

    let opts = PackOptions {
        work_dir: Some(work.path().to_path_buf()),
        ..Default::default()
    };
    // In a child process under OS limits when the binary enabled it (`pack::isolated`).
    let packed = tokio::task::spawn_blocking(move || isolated::pack(kind, &files, &out_dir, &opts))
        .await
        .context("packer task panicked")??;
    if packed.checksum != id {
        anyhow::bail!(
            "bundle checksum {} differs from the manifest id",
            packed.checksum
        );
    }
    tracing::info!(id, bundle = %packed.file_name, size = packed.size, "packed");

    ctx.bundles
        .put_file(&packed.file_name, &packed.path, Some(&packed.sha256))
        .await?;
    let entry = IndexEntry {
        id: id.to_string(),
        kind: set.kind.clone(),
        packages: set.packages.clone(),
        bundle: packed.file_name.clone(),
        sha256: packed.sha256.clone(),
        size: packed.size,
        kernel: packed.uname.clone(),
        distro: packed.distro.clone(),
        features: Features {
            btf: packed.btf,
            bpf_ringbuf: index::has_bpf_ringbuf(&packed.uname),
        },
    };
    index::write_entry(ctx.bundles.as_ref(), &entry).await?;
    Ok(PackOutcome {
        id: id.to_string(),
        kernel: packed.uname,
        bundle: packed.file_name,
        size: packed.size,
        sha256: packed.sha256,
    })
}

/// Manifest ids without an index entry in the bundle store, sorted.
pub async fn missing_ids(manifest: &Manifest, bundles: &dyn Store) -> anyhow::Result<Vec<String>> {
    let have: std::collections::BTreeSet<String> = index::ids(bundles).await?.into_iter().collect();
    Ok(manifest
        .entries
        .keys()
        .filter(|id| !have.contains(*id))
        .cloned()
        .collect())
}

/// Packs every id in `ids` with at most `jobs` packs at once; one failure does not stop the rest.
/// Results come back in `ids` order. A progress bar is drawn when `progress` and stderr is a terminal.
pub async fn pack_many(
    ctx: &PackContext,
    manifest: &Manifest,
    ids: &[String],
    jobs: usize,
    progress: bool,
) -> Vec<(String, Result<PackOutcome, String>)> {
    let bar = if progress {
        indicatif::ProgressBar::new(ids.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} packed [{elapsed_precise}] {msg}",
        )
        .expect("static template"),
    );
    let mut results: Vec<(usize, String, Result<PackOutcome, String>)> =
        futures_util::stream::iter(ids.iter().enumerate())
            .map(|(i, id)| {
                let bar = bar.clone();
                async move {
                    let result = match manifest.entries.get(id) {
                        None => Err(format!("{id}: not in the manifest")),
                        Some(set) => pack_id(ctx, id, set).await.map_err(|e| format!("{e:#}")),
                    };
                    if let Err(e) = &result {
                        tracing::warn!(id = %id, error = %e, "pack failed");
                        bar.println(format!("failed: {e}"));
                    }
                    bar.inc(1);
                    (i, id.clone(), result)
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    bar.finish_and_clear();
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, id, r)| (id, r)).collect()
}
