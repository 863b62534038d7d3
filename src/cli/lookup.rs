//! `kernel-packer lookup` and `kernel-packer fetch`: the bundle for a running host.
//!
//! Exit codes a script can branch on: 0 found (fetch: found, verified and unpacked; the build dir
//! is printed); 3 no bundle for this kernel yet (the newest one for the distribution is named on
//! stderr); 4 verification failed, nothing unpacked; 1 any other error.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::sync::s3_options;
use crate::fetch::{self, FetchError, Source};
use crate::lookup::{self, Host};
use crate::manifest::Manifest;

/// Exit code: no bundle for this kernel (yet).
pub const EXIT_NO_BUNDLE: u8 = 3;
/// Exit code: verification failed, nothing unpacked.
pub const EXIT_VERIFICATION: u8 = 4;

/// How the host is described (defaults: this machine's).
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// os-release file (default /etc/os-release).
    #[arg(long, value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Kernel release (`uname -r`; default this kernel's).
    #[arg(long, value_name = "R")]
    pub uname_r: Option<String>,
    /// Kernel version string (`uname -v`; default this kernel's).
    #[arg(long, value_name = "V")]
    pub uname_v: Option<String>,
    /// Architecture whose bundle is wanted (`amd64`/`x86_64`, `arm64`/`aarch64`; default this
    /// machine's, `uname -m`).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Manifest (an absent file means: resolve from the store's index only).
    #[arg(long, default_value = "kernel-package-lists/manifest.yml")]
    pub manifest: PathBuf,
}

impl HostArgs {
    fn host(&self) -> anyhow::Result<Host> {
        lookup::this_host(
            self.os_release.as_deref(),
            self.uname_r.clone(),
            self.uname_v.clone(),
            self.arch.as_deref(),
        )
    }

    fn manifest(&self) -> anyhow::Result<Manifest> {
        if self.manifest.exists() {
            Manifest::load(&self.manifest)
        } else {
            Ok(Manifest::default())
        }
    }
}

/// Arguments of `kernel-packer lookup`.
#[derive(Debug, Clone, clap::Args)]
pub struct LookupArgs {
    #[command(flatten)]
    pub host: HostArgs,
    /// Bundle store whose index is consulted (directory, s3:// or https://).
    #[arg(long, value_name = "STORE")]
    pub from: Option<String>,
    /// Extra trusted CA certificate (PEM) for an https:// store.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// Arguments of `kernel-packer fetch`.
#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub host: HostArgs,
    /// Bundle store: a directory, s3://bucket/prefix or https://host/prefix.
    #[arg(long, value_name = "STORE")]
    pub from: String,
    /// Directory to unpack into (the bundle lands in `<DIR>/bundle-<name>/`).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Trusted minisign public key file (default: the project's, keys/bundles.pub).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Extra trusted CA certificate (PEM) for an https:// store.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

async fn source(from: &str, ca: Option<&PathBuf>) -> anyhow::Result<Source> {
    let pem = match ca {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| anyhow::anyhow!("read CA certificate {}: {e}", p.display()))?,
        ),
        None => None,
    };
    Source::open(from, &s3_options(None), pem).await
}

/// Runs `kernel-packer lookup`: prints `id`, `kind`, and `bundle` (when the store has it).
pub fn run_lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let host = args.host.host()?;
    let manifest = args.host.manifest()?;
    let rt = tokio::runtime::Runtime::new()?;
    let index = match &args.from {
        Some(from) => {
            rt.block_on(async { source(from, args.ca_cert.as_ref()).await?.index().await })?
        }
        None => Default::default(),
    };
    match lookup::resolve(&manifest, &index, &host) {
        Ok(r) => {
            println!("{}", serde_json::to_string(&r)?);
            if args.from.is_some() && r.bundle.is_none() {
                eprintln!("manifest id {} has no bundle in the store yet", r.id);
                return Ok(ExitCode::from(EXIT_NO_BUNDLE));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(miss) => {
            eprintln!("{miss}");
            Ok(ExitCode::from(EXIT_NO_BUNDLE))
        }
    }
}

/// Runs `kernel-packer fetch`: prints the build dir (or JSON with `--json`).
pub fn run_fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let host = args.host.host()?;
    let manifest = args.host.manifest()?;
    let public_key = match &args.public_key {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| anyhow::anyhow!("read public key {}: {e}", p.display()))?,
        None => crate::sums::PUBLIC_KEY.to_string(),
    };
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        let source = source(&args.from, args.ca_cert.as_ref()).await?;
        Ok::<_, anyhow::Error>(fetch::fetch(&source, &manifest, &host, &public_key, &args.to).await)
    })?;
    match result {
        Ok(f) => {
            if args.json {
                println!("{}", serde_json::to_string(&f)?);
            } else {
                println!("{}", f.build_dir.display());
            }
            eprintln!(
                "fetched {} ({} bytes, {:.2}s download, {:.2}s unpack)",
                f.bundle_dir.display(),
                f.bytes,
                f.download_seconds,
                f.unpack_seconds
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(match e {
                FetchError::NoBundle(_) => ExitCode::from(EXIT_NO_BUNDLE),
                FetchError::Verification(_) => ExitCode::from(EXIT_VERIFICATION),
                FetchError::Other(_) => ExitCode::FAILURE,
            })
        }
    }
}
