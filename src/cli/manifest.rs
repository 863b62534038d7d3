//! `kernel-packer manifest`: package lists → `manifest.yml`.
//!
//! Output goes to stdout, or atomically to `--out`. A summary goes to stderr: one line per
//! source (sets, URLs, dropped by the inventory, skipped, carried over, error), then totals.
//! Exit status: 0 when every source was grouped; 3 ("partial") when every source was grouped
//! but some kernels were rejected (each reported with list, URL and reason; their sets
//! carried over from `--previous`); 2 when some source failed as a whole (the manifest is
//! still written, with that source's sets carried over from `--previous`); 1 (via `main`)
//! when the config, inventory or previous manifest cannot be read or the output cannot be
//! written.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::manifest::{self, Generated};

/// Arguments of `kernel-packer manifest`.
#[derive(Debug, Clone, clap::Args)]
pub struct ManifestArgs {
    /// Grouping config (the seed's `reformat.yml` format); list files are resolved
    /// relative to it.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "kernel-package-lists/reformat.yml"
    )]
    pub config: PathBuf,
    /// Inventory: one simplified package name per line; sets with a package missing from it
    /// are left out.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Previous manifest: the sets of a source that fails are carried over from it.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Write the manifest here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What [`execute`] did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The generation result (manifest and per-source reports).
    pub generated: Generated,
    /// The rendered YAML that was written.
    pub yaml: String,
    /// The stderr summary.
    pub summary: String,
}

/// Generates and writes the manifest; the summary is returned, not printed.
pub fn execute(args: &ManifestArgs) -> anyhow::Result<Outcome> {
    let generated = manifest::generate_from_files(
        &args.config,
        args.inventory.as_deref(),
        args.previous.as_deref(),
    )?;
    let yaml = generated.manifest.to_yaml();
    match &args.out {
        Some(path) => manifest::write_atomic(path, yaml.as_bytes())?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(yaml.as_bytes())
                .and_then(|_| stdout.flush())
                .context("cannot write the manifest to stdout")?;
        }
    }
    let summary = summary(&generated);
    Ok(Outcome {
        generated,
        yaml,
        summary,
    })
}

/// Exit status of a partial generation: some kernels rejected, every source grouped.
pub const EXIT_PARTIAL: u8 = 3;
/// Exit status when some source failed as a whole.
pub const EXIT_SOURCE_FAILED: u8 = 2;

/// Runs `kernel-packer manifest`: prints the summary on stderr; exit 2 if a source failed,
/// 3 if only some kernels were rejected.
pub fn run(args: ManifestArgs) -> anyhow::Result<ExitCode> {
    let outcome = execute(&args)?;
    eprint!("{}", outcome.summary);
    Ok(if outcome.generated.failed() {
        ExitCode::from(EXIT_SOURCE_FAILED)
    } else if outcome.generated.partial() {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// The human-readable summary of a generation (stderr).
pub fn summary(g: &Generated) -> String {
    let mut out = String::new();
    let (mut sets, mut dropped, mut carried, mut failed, mut rejected) = (0, 0, 0, 0, 0);
    for s in &g.sources {
        sets += s.sets;
        dropped += s.dropped;
        carried += s.carried;
        let _ = write!(
            out,
            "manifest: {}: {} sets from {} URLs",
            s.name, s.sets, s.urls
        );
        if s.dropped > 0 {
            let _ = write!(out, ", {} dropped (not in inventory)", s.dropped);
        }
        if s.duplicates > 0 {
            let _ = write!(
                out,
                ", {} duplicate sets (same id already listed)",
                s.duplicates
            );
        }
        if !s.skipped.is_empty() {
            let _ = write!(out, ", {} URLs skipped", s.skipped.len());
        }
        if !s.rejected.is_empty() {
            let _ = write!(out, ", {} URLs REJECTED", s.rejected.len());
        }
        rejected += s.rejected.len();
        out.push('\n');
        for r in &s.rejected {
            let _ = writeln!(
                out,
                "manifest: {}:   REJECTED {}: {}: {}",
                s.name, s.file, r.url, r.reason
            );
        }
        for k in &s.skipped {
            let _ = writeln!(
                out,
                "manifest: {}:   skipped {}: {}",
                s.name, k.url, k.reason
            );
        }
        for c in &s.conflicts {
            let _ = writeln!(
                out,
                "manifest: {}:   warning: conflicting type for {c}",
                s.name
            );
        }
        if let Some(e) = &s.error {
            failed += 1;
            let _ = writeln!(out, "manifest: {}: ERROR: {e}", s.name);
            let _ = writeln!(
                out,
                "manifest: {}:   {} sets carried over from the previous manifest",
                s.name, s.carried
            );
        }
    }
    let _ = writeln!(
        out,
        "manifest: {} ids; {sets} sets grouped, {dropped} dropped, {carried} carried over, {rejected} URLs rejected; {failed} of {} sources failed",
        g.manifest.entries.len(),
        g.sources.len()
    );
    out
}
