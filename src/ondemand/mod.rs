//! Pack on demand: a manifest id's packages are fetched from the package store into a private work
//! dir, packed with [`crate::pack::pack_packages`], the bundle uploaded to the bundle store, and the
//! index entry written (bundle first, index last: an index entry always points at a complete
//! bundle). Used alike by `kernel-packer pack --id/--kernel/--missing` and `functions/pack`.
//!
//! The index never lies, and one content is packed once:
//! - A set's content digest ([`index::content_digest`]: packer type + the package sha256s the
//!   package store recorded at sync) decides what is packed. [`pack_many`] groups the ids it is given
//!   by digest and packs each group once; a digest that already has a content record
//!   (`content/<digest>.json`) whose bundle is intact is indexed without packing.
//! - Bundles are write-once ([`Store::create_file`], an atomic create-if-absent tagged
//!   `<digest>:<checksum>`): the first content for a uname takes `bundle-<uname>.tgz`; a different
//!   content for the same uname goes to `bundle-<uname>-<digest[..12]>.tgz`; a create that finds
//!   its own content already stored (a concurrent pack of an id with the same content) adopts that
//!   object. So an index entry's `sha256` is always the stored object's.
//! - BUNDLE_CHECKSUM of a shared bundle is the id whose pack created it: the smallest id of the
//!   group in one [`pack_many`] run, else whichever id of that content was packed first. Each entry
//!   records it as `checksum` (and its own id as `id`); consumers compare BUNDLE_CHECKSUM with the
//!   entry's `checksum`, not with the id they looked up.

pub mod manifest;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};

pub use manifest::{find_by_kernel, Manifest, ManifestSet};

use crate::index::{self, BundleRecord, Features};
use crate::pack::{isolated, PackOptions, PackedBundle, PackerKind};
use crate::store::{Created, Store};

/// Where packs read from and write to.
#[derive(Debug, Clone)]
pub struct PackContext {
    /// Package store (keys: simplified package names).
    pub packages: Arc<dyn Store>,
    /// Bundle store (keys: `bundle-<name>.tgz`, `index/<id>.json`, `content/<digest>.json`).
    pub bundles: Arc<dyn Store>,
    /// Parent of the per-pack work dirs (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Verify each bundle before it is published (`pack --verify`): a failed canary build
    /// publishes nothing; the index entry records the result. `None`: no verification, and the
    /// entry records none.
    pub verify: Option<crate::verify::VerifyOptions>,
}

/// What one pack produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackOutcome {
    /// Manifest id.
    pub id: String,
    /// BUNDLE_UNAME.
    pub kernel: String,
    /// BUNDLE_ARCH (`amd64`, `arm64`).
    pub arch: String,
    /// Bundle store key.
    pub bundle: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the bundle.
    pub sha256: String,
    /// BUNDLE_CHECKSUM of the bundle: `id`, or the id of the same content that created it.
    pub checksum: String,
    /// Content digest of the set.
    pub content: String,
    /// Whether this run created the bundle (false: a stored bundle of the same content was indexed).
    pub packed: bool,
}

/// Packages fetched (or looked up) at once for one pack.
const FETCH_JOBS: usize = 4;

/// Packs manifest id `id` (its set `set`) from the package store into the bundle store, or indexes
/// it to the stored bundle of the same content. Errors name the id and the failing step; on error
/// no index entry is written.
pub async fn pack_id(
    ctx: &PackContext,
    id: &str,
    set: &ManifestSet,
) -> anyhow::Result<PackOutcome> {
    index::validate_id(id)?;
    let members = [(id.to_string(), set.clone())];
    let mut out = async {
        let content = set_content(ctx, set).await?;
        pack_group(ctx, &members, &content).await
    }
    .await
    .with_context(|| format!("pack {id}"))?;
    Ok(out.remove(0))
}

/// Content digest of `set` from the sha256s the package store recorded (a package without one is
/// downloaded and hashed). Errors when a package is not in the package store.
pub async fn set_content(ctx: &PackContext, set: &ManifestSet) -> anyhow::Result<String> {
    let _: PackerKind = set.kind.parse()?;
    if set.packages.is_empty() {
        anyhow::bail!("manifest entry has no packages");
    }
    let hash_dir = ctx.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let lookups = set.packages.iter().cloned().map(|name| {
        let (packages, hash_dir) = (ctx.packages.clone(), hash_dir.clone());
        async move { package_sha256(packages, name, hash_dir).await }
    });
    let shas: Vec<String> = futures_util::stream::iter(lookups)
        .buffer_unordered(FETCH_JOBS)
        .try_collect()
        .await?;
    Ok(index::content_digest(&set.kind, &shas))
}

/// The recorded sha256 of package `name`, or of its downloaded bytes when none was recorded.
async fn package_sha256(
    packages: Arc<dyn Store>,
    name: String,
    hash_dir: PathBuf,
) -> anyhow::Result<String> {
    crate::store::validate_key(&name)?;
    let Some(info) = packages.head(&name).await? else {
        anyhow::bail!(
            "package {name} is not in the package store {} (run `kernel-packer sync`)",
            packages.location()
        );
    };
    if let Some(sha) = info.sha256 {
        return Ok(sha);
    }
    tokio::fs::create_dir_all(&hash_dir).await?;
    let tmp = tempfile::Builder::new()
        .prefix("kernel-packer-hash-")
        .tempfile_in(&hash_dir)?;
    packages.get_to_file(&name, tmp.path()).await?;
    Ok(crate::store::sha256_file(tmp.path()).await?.0)
}

/// Makes sure content `content` has a bundle (packing `members[0]`'s set unless an intact one is
/// recorded), then writes one index entry per member. `members` share the content and are sorted
/// by id; the first is the BUNDLE_CHECKSUM of a bundle this call creates.
async fn pack_group(
    ctx: &PackContext,
    members: &[(String, ManifestSet)],
    content: &str,
) -> anyhow::Result<Vec<PackOutcome>> {
    let (first, set) = members.first().context("empty content group")?;
    // A misconfigured signing key fails the pack before anything is published.
    let signer = crate::sums::Signer::from_env()?;
    let (record, packed) = match recorded_bundle(ctx, content).await? {
        Some(record) => {
            tracing::info!(id = %first, bundle = %record.bundle, "same content already stored");
            (record, false)
        }
        None => {
            let work = WorkDir::new(ctx).await?;
            let bundle = pack_set(ctx, first, set, &work).await?;
            let verification = verify(ctx, first, &bundle, &work).await?;
            let (record, created) =
                publish(ctx.bundles.as_ref(), &bundle, content, verification).await?;
            index::write_content(ctx.bundles.as_ref(), &record).await?;
            (record, created)
        }
    };
    let mut out = Vec::with_capacity(members.len());
    for (id, set) in members {
        let entry = record.entry_for(id, &set.kind, &set.packages);
        index::write_entry(ctx.bundles.as_ref(), &entry).await?;
        out.push(PackOutcome {
            id: id.clone(),
            kernel: record.kernel.clone(),
            arch: record.arch.clone(),
            bundle: record.bundle.clone(),
            size: record.size,
            sha256: record.sha256.clone(),
            checksum: record.checksum.clone(),
            content: content.to_string(),
            packed: packed && id == first,
        });
    }
    // The signed SHA256SUMS follows the index when a signing key is configured. The bundle and its
    // entries are published already: a signing failure is reported, `index --sign` repairs it.
    if let Some(signer) = signer {
        if let Err(e) = crate::sums::publish(ctx.bundles.clone(), &signer).await {
            tracing::error!(id = %first, error = %format!("{e:#}"), "SHA256SUMS not updated");
        }
    }
    Ok(out)
}

/// Why an entry packed without `ctx.verify` is `unverified`.
pub const UNVERIFIED_REASON: &str =
    "no canary build: packed without verification (pack without --verify, or a runtime without a \
     compiler toolchain such as the zip pack function)";

/// The canary build of a freshly packed bundle when `ctx.verify` asks for it; a failed build is an
/// error (nothing is published). Without `ctx.verify` the entry says `unverified` and why.
async fn verify(
    ctx: &PackContext,
    id: &str,
    bundle: &PackedBundle,
    work: &WorkDir,
) -> anyhow::Result<Option<index::Verification>> {
    let Some(opts) = &ctx.verify else {
        return Ok(Some(index::Verification::Unverified {
            reason: UNVERIFIED_REASON.to_string(),
        }));
    };
    let mut opts = opts.clone();
    opts.work_dir
        .get_or_insert_with(|| work.0.path().to_path_buf());
    let path = bundle.path.clone();
    let report = tokio::task::spawn_blocking(move || crate::verify::verify_bundle(&path, &opts))
        .await
        .context("verify task panicked")??;
    tracing::info!(
        id,
        module = ?report.module.status,
        ebpf = ?report.ebpf.status,
        module_s = report.module.seconds,
        ebpf_s = report.ebpf.seconds,
        "verified"
    );
    match report.outcome() {
        crate::verify::Outcome::Failed(error) => {
            anyhow::bail!("verification failed, nothing published: {error}")
        }
        _ => Ok(report.index_record()),
    }
}

/// The content record of `content` when its bundle is still stored with the recorded sha256.
async fn recorded_bundle(ctx: &PackContext, content: &str) -> anyhow::Result<Option<BundleRecord>> {
    let Some(record) = index::read_content(ctx.bundles.as_ref(), content).await? else {
        return Ok(None);
    };
    let head = ctx.bundles.head(&record.bundle).await?;
    if head.and_then(|h| h.sha256).as_deref() == Some(record.sha256.as_str()) {
        Ok(Some(record))
    } else {
        tracing::warn!(bundle = %record.bundle, "content record names a missing or changed bundle; packing again");
        Ok(None)
    }
}

/// A private work dir, removed on drop.
struct WorkDir(tempfile::TempDir);

impl WorkDir {
    async fn new(ctx: &PackContext) -> anyhow::Result<WorkDir> {
        let parent = ctx.work_dir.clone().unwrap_or_else(std::env::temp_dir);
        tokio::fs::create_dir_all(&parent)
            .await
            .with_context(|| format!("create {}", parent.display()))?;
        Ok(WorkDir(
            tempfile::Builder::new()
                .prefix("kernel-packer-pack-")
                .tempdir_in(&parent)
                .with_context(|| format!("create a work dir in {}", parent.display()))?,
        ))
    }
}

/// Fetches `set`'s packages and packs them with BUNDLE_CHECKSUM `checksum`.
async fn pack_set(
    ctx: &PackContext,
    checksum: &str,
    set: &ManifestSet,
    work: &WorkDir,
) -> anyhow::Result<PackedBundle> {
    let kind: PackerKind = set.kind.parse()?;
    let pkg_dir = work.0.path().join("packages");
    let out_dir = work.0.path().join("out");
    tokio::fs::create_dir_all(&pkg_dir).await?;
    let fetches = set.packages.iter().cloned().map(|name| {
        let (packages, dest) = (ctx.packages.clone(), pkg_dir.join(&name));
        async move {
            crate::store::validate_key(&name)?;
            if !packages.exists(&name).await? {
                anyhow::bail!(
                    "package {name} is not in the package store {} (run `kernel-packer sync`)",
                    packages.location()
                );
            }
            packages.get_to_file(&name, &dest).await?;
            Ok(dest)
        }
    });
    let files: Vec<PathBuf> = futures_util::stream::iter(fetches)
        .buffer_unordered(FETCH_JOBS)
        .try_collect()
        .await?;
    tracing::info!(id = checksum, packages = files.len(), "fetched packages");
    let opts = PackOptions {
        work_dir: Some(work.0.path().to_path_buf()),
        checksum: Some(checksum.to_string()),
        ..Default::default()
    };
    // In a child process under OS limits when the binary enabled it (`pack::isolated`).
    let packed = tokio::task::spawn_blocking(move || isolated::pack(kind, &files, &out_dir, &opts))
        .await
        .context("packer task panicked")??;
    check_arch(set, &packed)?;
    tracing::info!(id = checksum, bundle = %packed.file_name, size = packed.size, "packed");
    Ok(packed)
}

/// The manifest set's architecture (`arch:`, absent: amd64) must be the one the packer read
/// from the content (`BUNDLE_ARCH`); a mismatch is an error and the bundle is not published.
fn check_arch(set: &ManifestSet, packed: &PackedBundle) -> anyhow::Result<()> {
    if set.arch() != packed.arch {
        anyhow::bail!(
            "manifest set is for {} but the packed kernel {} is {} (BUNDLE_ARCH); not published",
            set.arch(),
            packed.uname,
            packed.arch
        );
    }
    Ok(())
}

/// Stores `bundle` write-once under its conventional key, or under the digest-suffixed key when a
/// different content holds the conventional one. Returns the record of the object that holds this
/// content (ours, or an identical-content one a concurrent pack stored first) and whether ours was
/// created.
async fn publish(
    bundles: &dyn Store,
    bundle: &PackedBundle,
    content: &str,
    verification: Option<index::Verification>,
) -> anyhow::Result<(BundleRecord, bool)> {
    let tag = format!("{content}:{}", bundle.checksum);
    let stem = bundle
        .file_name
        .strip_suffix(".tgz")
        .unwrap_or(&bundle.file_name);
    let suffixed = format!("{stem}-{}.tgz", &content[..12]);
    for key in [bundle.file_name.as_str(), suffixed.as_str()] {
        let (info, checksum, created) = match bundles
            .create_file(key, &bundle.path, Some(&bundle.sha256), &tag)
            .await?
        {
            Created::New(info) => (info, bundle.checksum.clone(), true),
            Created::Existing {
                info,
                tag: Some(theirs),
            } if theirs.split_once(':').map(|(c, _)| c) == Some(content) => {
                let checksum = theirs.split_once(':').map(|(_, c)| c.to_string());
                (info, checksum.unwrap_or_default(), false)
            }
            Created::Existing { .. } => {
                tracing::info!(key, "another content holds this bundle key");
                continue;
            }
        };
        let record = BundleRecord {
            content: content.to_string(),
            bundle: key.to_string(),
            name: bundle.file_name.clone(),
            sha256: info.sha256.context("store reported no sha256")?,
            size: info.size,
            kernel: bundle.uname.clone(),
            distro: bundle.distro.clone(),
            arch: bundle.arch.clone(),
            checksum,
            features: Features {
                btf: bundle.btf,
                bpf_ringbuf: index::has_bpf_ringbuf(&bundle.uname),
            },
            build: bundle.facts.clone(),
            verification: verification.clone(),
            packed_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
        };
        return Ok((record, created));
    }
    anyhow::bail!(
        "{} and {suffixed} both hold other content in {}",
        bundle.file_name,
        bundles.location()
    )
}

/// Whether sets of packer type `kind` are built from kernel sources and so need the container-image
/// pack function with a compiler toolchain (see `pack/source.rs`).
pub fn needs_toolchain(kind: &str) -> bool {
    matches!(
        kind.parse::<PackerKind>(),
        Ok(PackerKind::Cos
            | PackerKind::Minikube
            | PackerKind::Linuxkit
            | PackerKind::Dockerdesktop)
    )
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

/// Packs every id in `ids` with at most `jobs` packs at once; ids with the same content are packed
/// once (see the module docs); one failure does not stop the rest. Results come back in `ids`
/// order. A progress bar is drawn when `progress` and stderr is a terminal.
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
    // 1. Content digest of every id (cheap: package store heads).
    let digests: Vec<(String, Result<String, String>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let digest = match manifest.entries.get(id) {
                None => Err(format!("{id}: not in the manifest")),
                Some(set) => async {
                    index::validate_id(id)?;
                    set_content(ctx, set).await
                }
                .await
                .map_err(|e| format!("pack {id}: {e:#}")),
            };
            (id.clone(), digest)
        })
        .buffered(jobs.max(1) * FETCH_JOBS)
        .collect()
        .await;
    // 2. Group by content, pack each group once.
    let mut results: BTreeMap<String, Result<PackOutcome, String>> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<(String, ManifestSet)>> = BTreeMap::new();
    for (id, digest) in digests {
        match digest {
            Ok(d) => groups
                .entry(d)
                .or_default()
                .push((id.clone(), manifest.entries[&id].clone())),
            Err(e) => {
                results.insert(id, Err(e));
            }
        }
    }
    for members in groups.values_mut() {
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|a, b| a.0 == b.0);
    }
    let packed: Vec<Vec<(String, Result<PackOutcome, String>)>> =
        futures_util::stream::iter(groups)
            .map(|(content, members)| {
                let bar = bar.clone();
                async move {
                    let first = members[0].0.clone();
                    let out = match pack_group(ctx, &members, &content).await {
                        Ok(outcomes) => outcomes
                            .into_iter()
                            .map(|o| (o.id.clone(), Ok(o)))
                            .collect(),
                        Err(e) => members
                            .iter()
                            .map(|(id, _)| {
                                let shared = if *id == first {
                                    String::new()
                                } else {
                                    format!(" (same content as {first})")
                                };
                                (id.clone(), Err(format!("pack {id}{shared}: {e:#}")))
                            })
                            .collect(),
                    };
                    bar.inc(members.len() as u64);
                    out
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    results.extend(packed.into_iter().flatten());
    bar.finish_and_clear();
    ids.iter()
        .map(|id| {
            let r = results
                .get(id)
                .cloned()
                .unwrap_or_else(|| Err(format!("{id}: not packed")));
            if let Err(e) = &r {
                tracing::warn!(id = %id, error = %e, "pack failed");
            }
            (id.clone(), r)
        })
        .collect()
}
