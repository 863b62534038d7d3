//! `kernel-packer pack`: local packages → bundle (`--type`), or manifest ids → bundle store.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::pack::{isolated, PackOptions, PackerKind};

/// Arguments of `kernel-packer pack`.
///
/// Two modes:
/// - local: `--type <type> --out <dir> <package>...` packs the given files;
/// - manifest: `(--id <id> | --kernel <uname> | --missing) --packages <store> --bundles <store>`
///   looks the set up in `--manifest` and packs it from the package store into the bundle store.
#[derive(Debug, Clone, clap::Args)]
pub struct PackArgs {
    /// Packer type (debian, garden, ubuntu, redhat, oracle, suse, ...): local mode.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Output directory for the bundle (local mode).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Package files (local mode).
    #[arg(value_name = "PACKAGE")]
    pub packages_files: Vec<PathBuf>,
    /// Override BUNDLE_CHECKSUM.
    #[arg(long)]
    pub checksum: Option<String>,
    /// Manifest id(s) to pack (manifest mode).
    #[arg(long)]
    pub id: Vec<String>,
    /// Kernel uname(s) to pack, looked up in the manifest (manifest mode).
    #[arg(long)]
    pub kernel: Vec<String>,
    /// Pack every manifest id that has no bundle yet (manifest mode).
    #[arg(long)]
    pub missing: bool,
    /// Only sets of this architecture (`amd64`/`x86_64`, `arm64`/`aarch64`; manifest mode):
    /// `--kernel` picks that architecture's set, `--missing` lists only its ids, and an `--id` of
    /// another architecture is an error. Default: every architecture (packing does not depend on
    /// the machine it runs on).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Manifest file (manifest mode).
    #[arg(long, default_value = "kernel-package-lists/manifest.yml")]
    pub manifest: PathBuf,
    /// Package store: a directory or `s3://bucket/prefix` (manifest mode).
    #[arg(long, value_name = "STORE")]
    pub packages: Option<String>,
    /// Bundle store: a directory or `s3://bucket/prefix` (manifest mode).
    #[arg(long, value_name = "STORE")]
    pub bundles: Option<String>,
    /// Parallel packs for `--missing`.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Print results as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Build the canary module and eBPF object against each bundle before publishing it
    /// (see `kernel-packer verify`); a failed build publishes nothing.
    #[arg(long)]
    pub verify: bool,
    /// With --verify: compiler used when the kernel's own is not installed.
    #[arg(long, value_name = "CC", requires = "verify")]
    pub cc: Option<String>,
}

impl PackArgs {
    /// The verification options `--verify`/`--cc` ask for.
    pub fn verify_options(&self) -> Option<crate::verify::VerifyOptions> {
        self.verify.then(|| crate::verify::VerifyOptions {
            cc: self.cc.clone(),
            ..Default::default()
        })
    }
}

/// Runs `kernel-packer pack`: prints the bundle path on stdout (local mode).
pub fn run(args: PackArgs) -> anyhow::Result<ExitCode> {
    if !args.id.is_empty() || !args.kernel.is_empty() || args.missing {
        return crate::cli::pack_manifest::run_from_manifest(&args);
    }
    let kind_name = args.kind.as_deref().ok_or_else(|| {
        anyhow::anyhow!("pack: give --type <type> and package files, or --id/--kernel/--missing")
    })?;
    let kind: PackerKind = kind_name.parse()?;
    if args.arch.is_some() {
        anyhow::bail!(
            "pack: --arch selects manifest sets (--id/--kernel/--missing); a package file's \
             architecture is read from its content"
        );
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    if args.packages_files.is_empty() {
        anyhow::bail!("pack: no package files given");
    }
    let options = PackOptions {
        checksum: args.checksum.clone(),
        ..PackOptions::default()
    };
    let packed = isolated::pack(kind, &args.packages_files, &out, &options)?;
    let verification = match args.verify_options() {
        None => None,
        Some(opts) => {
            let report = crate::verify::verify_bundle(&packed.path, &opts);
            let failed = match &report {
                Err(e) => Some(format!("{e:#}")),
                Ok(r) => match r.outcome() {
                    crate::verify::Outcome::Failed(e) => Some(e),
                    _ => None,
                },
            };
            if let Some(error) = failed {
                // Nothing is published: the bundle goes away.
                let _ = std::fs::remove_file(&packed.path);
                anyhow::bail!(
                    "{}: verification failed, nothing published: {error}",
                    packed.file_name
                );
            }
            report?.index_record()
        }
    };
    if args.json {
        let line = serde_json::json!({
            "bundle": packed.path,
            "uname": packed.uname,
            "arch": packed.arch,
            "size": packed.size,
            "sha256": packed.sha256,
            "checksum": packed.checksum,
            "compiler": packed.facts.compiler,
            "compiler_version": packed.facts.compiler_version,
            "host_requirements": packed.facts.host_requirements,
            "verification": verification,
        });
        println!("{line}");
    } else {
        println!("{}", packed.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
