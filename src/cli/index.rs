//! `kernel-packer index`: prints the bundle index combined from its per-id entries, as the
//! `cache.yml` view (id → type, packages, bundle, sha256) or the features view (bundle → btf,
//! bpf_ringbuf), optionally also writing both files to a directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::pack_manifest::bundles_store;
use crate::cli::sync::s3_options;
use crate::index;
use crate::store;

/// Arguments of `kernel-packer index`.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexArgs {
    /// Bundle store: a directory or `s3://bucket/prefix` (default `./.kernel-packer/bundles`).
    #[arg(long, value_name = "STORE")]
    pub bundles: Option<String>,
    /// Print the features view instead of the cache view.
    #[arg(long)]
    pub features: bool,
    /// Also write `cache.yml` and `features.yml` into this directory (atomically).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Regenerate and sign the store's SHA256SUMS (key: the file named by
    /// KERNEL_PACKER_SIGNING_KEY_FILE).
    #[arg(long)]
    pub sign: bool,
    /// Write the browsable page (`index.html`) and the JSON it lists (`index.json`) into DIR
    /// (for a directory store, the store itself).
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
}

/// Runs `kernel-packer index`.
pub fn run(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let store =
            store::open_url(&bundles_store(args.bundles.as_deref())?, &s3_options(None)).await?;
        if args.sign {
            let signer = crate::sums::Signer::from_env()?.ok_or_else(|| {
                anyhow::anyhow!(
                    "--sign: set {} to the secret key file",
                    crate::sums::KEY_FILE_ENV
                )
            })?;
            let lines = crate::sums::publish(store.clone(), &signer).await?;
            eprintln!("signed {} ({lines} bundles)", crate::sums::SUMS_KEY);
        }
        let entries = index::read_all(store).await?;
        let cache = index::to_yaml(&index::cache_view(&entries))?;
        let features = index::to_yaml(&index::features_view(&entries))?;
        if let Some(dir) = &args.out {
            write_atomic(&dir.join("cache.yml"), &cache)?;
            write_atomic(&dir.join("features.yml"), &features)?;
        }
        if let Some(dir) = &args.html {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let page = index::html::render(&entries, now);
            write_atomic(&dir.join("index.json"), &serde_json::to_string(&entries)?)?;
            write_atomic(&dir.join("index.html"), &page)?;
            for name in ["index.json", "index.html"] {
                use std::os::unix::fs::PermissionsExt;
                let path = dir.join(name);
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                    .with_context(|| format!("chmod {}", path.display()))?;
            }
            eprintln!(
                "wrote {} ({} bytes)",
                dir.join("index.html").display(),
                page.len()
            );
        }
        print!("{}", if args.features { features } else { cache });
        eprintln!("{} index entries", entries.len());
        Ok(ExitCode::SUCCESS)
    })
}

fn write_atomic(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("joined path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}
