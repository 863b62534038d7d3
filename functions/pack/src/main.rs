//! `functions/pack`: AWS Lambda function that packs one manifest id into the bundle store.
//!
//! Event: `{"id": "<manifest id>"}` or `{"kernel": "<uname>"}`, sent directly, as the body of a
//! Lambda Function URL request, or as a Step Functions map item (a bare id or uname string is
//! accepted too), optionally with `"arch"` (`amd64`/`arm64`: the set must be of it; with
//! `"kernel"` it picks that architecture's set of a uname both have, such as Ubuntu's `-generic`).
//! Packing is architecture-independent (it never runs a bundle's host tools), so this amd64
//! function packs arm64 sets; without a toolchain they are `unverified` like every zip-function
//! pack, and the container-image variant's canary build records an arm64 bundle `unverified` with
//! "needs the arm64 cross toolchain" (no binfmt_misc on Lambda; `verify::target`).
//! Result: `{"id","kernel","arch","bundle","size","sha256",...}`; a Function URL request gets
//! it as an HTTP response (200, or 400/500 with `{"error"}`); other callers get a Lambda error.
//!
//! `{"list_missing": true}` writes the ids without an index entry as a JSON array of
//! `{"id","arch","needs_toolchain"}` to `KERNEL_PACKER_MISSING` (a store URL) and returns
//! `{"bucket","key","count"}` for the state machine's map.
//!
//! Configuration (environment): `KERNEL_PACKER_MANIFEST` (`github`: the manifest of the
//! repository's default branch, read per invocation through the GitHub API and cached by commit,
//! see `functions/shared/repo.rs`; or a path or `s3://bucket/key`, default
//! `kernel-package-lists/manifest.yml`), `KERNEL_PACKER_PACKAGES` and `KERNEL_PACKER_BUNDLES`
//! (store URLs, required), `KERNEL_PACKER_WORK_DIR` (default: the temp dir, `/tmp` on Lambda),
//! `KERNEL_PACKER_S3_ENDPOINT` (S3-compatible endpoint). Logs: JSON lines on stderr.

mod envelope;
mod event;
#[path = "../../shared/repo.rs"]
mod repo;

use kernel_packer::ondemand::{self, PackContext};
use kernel_packer::pack::arch::Arch;
use kernel_packer::store::{self, S3Options};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use envelope::diag;
use event::Request;

struct Config {
    manifest: String,
    s3: S3Options,
    ctx: PackContext,
}

fn env(name: &str) -> Result<String, Diagnostic> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            diag(
                "ConfigError",
                format!("environment variable {name} is not set"),
            )
        })
}

async fn config() -> anyhow::Result<Config> {
    let s3 = S3Options::from_env();
    let get = |n: &str| env(n).map_err(|d| anyhow::anyhow!(d.error_message));
    let ctx = PackContext {
        packages: store::open(&get("KERNEL_PACKER_PACKAGES")?, &s3).await?,
        bundles: store::open(&get("KERNEL_PACKER_BUNDLES")?, &s3).await?,
        work_dir: std::env::var_os("KERNEL_PACKER_WORK_DIR").map(Into::into),
        // KERNEL_PACKER_VERIFY=1 (the container-image function, which has a toolchain): canary
        // build before publishing; without a compiler the entry records `unverified` with the
        // reason. Unset (the zip function): no verification is recorded.
        verify: (std::env::var("KERNEL_PACKER_VERIFY").as_deref() == Ok("1"))
            .then(kernel_packer::verify::VerifyOptions::default),
    };
    let manifest = std::env::var("KERNEL_PACKER_MANIFEST")
        .unwrap_or_else(|_| "kernel-package-lists/manifest.yml".to_string());
    Ok(Config { manifest, s3, ctx })
}

/// Packs what `request` names (of architecture `arch` when given); errors are (kind, message).
async fn handle(
    cfg: &Config,
    request: Request,
    arch: Option<Arch>,
) -> Result<Value, (u16, Diagnostic)> {
    let manifest = if repo::is_repo(&cfg.manifest) {
        repo::manifest_at_head().await
    } else {
        ondemand::manifest::load(&cfg.manifest, &cfg.s3).await
    }
    .map_err(|e| (500, diag("ManifestError", format!("{e:#}"))))?;
    let id = match request {
        Request::ListMissing => {
            return list_missing(cfg, &manifest)
                .await
                .map_err(|e| (500, diag("StoreError", format!("{e:#}"))))
        }
        Request::Id(id) => {
            if !manifest.entries.contains_key(&id) {
                return Err((
                    404,
                    diag("NotFound", format!("id {id} is not in the manifest")),
                ));
            }
            id
        }
        Request::Kernel(k) => match arch {
            // Only that architecture's sets of the uname.
            Some(a) => ondemand::find_by_kernel(&ondemand::manifest::only_arch(&manifest, a), &k)
                .map_err(|e| (404, diag("NotFound", format!("{a}: {e:#}"))))?,
            None => ondemand::find_by_kernel(&manifest, &k)
                .map_err(|e| (404, diag("NotFound", format!("{e:#}"))))?,
        },
    };
    let set = &manifest.entries[&id];
    let set_arch = set.arch();
    if arch.is_some_and(|a| a.as_str() != set_arch) {
        return Err((
            400,
            diag(
                "ArchMismatch",
                format!(
                    "id {id} is an {set_arch} set, the request asks for {}",
                    arch.expect("checked")
                ),
            ),
        ));
    }
    tracing::info!(%id, kind = %set.kind, arch = %set_arch, "packing");
    let outcome = ondemand::pack_id(&cfg.ctx, &id, set)
        .await
        .map_err(|e| (500, diag("PackError", format!("{e:#}"))))?;
    tracing::info!(%id, bundle = %outcome.bundle, size = outcome.size, "packed");
    Ok(serde_json::to_value(outcome).expect("outcome serialises"))
}

/// Writes the missing ids for the state machine (see the module docs).
async fn list_missing(cfg: &Config, manifest: &ondemand::Manifest) -> anyhow::Result<Value> {
    let ids = ondemand::missing_ids(manifest, cfg.ctx.bundles.as_ref()).await?;
    let items: Vec<Value> = ids
        .iter()
        .map(|id| {
            let set = &manifest.entries[id];
            serde_json::json!({
                "id": id,
                "arch": set.arch(),
                "needs_toolchain": ondemand::needs_toolchain(&set.kind),
            })
        })
        .collect();
    let url = std::env::var("KERNEL_PACKER_MISSING")
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("environment variable KERNEL_PACKER_MISSING is not set"))?;
    let parsed = store::StoreUrl::parse(&url)?;
    let store = store::open_url(&parsed, &cfg.s3).await?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let name = format!("missing-{secs}.json");
    store.put_bytes(&name, serde_json::to_vec(&items)?).await?;
    let (bucket, key) = match parsed {
        store::StoreUrl::S3 { bucket, prefix } => (bucket, format!("{prefix}{name}")),
        store::StoreUrl::Dir(dir) => (String::new(), dir.join(&name).display().to_string()),
    };
    tracing::info!(count = items.len(), %key, "listed missing ids");
    Ok(serde_json::json!({"bucket": bucket, "key": key, "count": items.len()}))
}

fn main() -> Result<(), lambda_runtime::Error> {
    kernel_packer::logging::init_json();
    // Each pack runs in a child of this executable under OS limits (`pack::isolated`): an abort
    // in a parser fails that request, not the function instance.
    kernel_packer::pack::isolated::child_main_if_requested();
    kernel_packer::pack::isolated::enable_current_exe();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), lambda_runtime::Error> {
    let cfg = config()
        .await
        .map_err(|e| format!("configuration: {e:#}"))?;
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let parsed = envelope::unwrap(&ev.payload).and_then(|(v, env)| {
            event::request(&v)
                .and_then(|r| event::arch(&v).map(|a| (r, a)))
                .map(|r| (r, env))
                .map_err(|e| (env, e))
        });
        let ((request, arch), envelope) = match parsed {
            Ok(x) => x,
            Err((envelope, msg)) => {
                tracing::warn!(error = %msg, "bad event");
                return envelope.fail(400, diag("BadRequest", msg), None);
            }
        };
        match handle(cfg, request, arch).await {
            Ok(v) => Ok(envelope.ok(v)),
            Err((status, d)) => {
                tracing::error!(error = %d.error_message, "failed");
                envelope.fail(status, d, None)
            }
        }
    }))
    .await
}
