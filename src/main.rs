//! `kernel-packer` CLI: parses arguments and dispatches to `kernel_packer::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kernel_packer::cli;

#[derive(Parser)]
#[command(
    name = "kernel-packer",
    version,
    about = "Kernel header bundles for every distribution kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pack kernel header packages into a bundle.
    Pack(cli::pack::PackArgs),
    /// Group package lists into per-kernel sets (kernel-package-lists/manifest.yml).
    Manifest(cli::manifest::ManifestArgs),
    /// Update package lists from kernel-package-lists/sources.yml.
    Crawl(cli::crawl_pr::CrawlCommand),
    /// Mirror every listed package into the package store.
    Sync(cli::sync::SyncArgs),
    /// Show the bundle index (cache view and features).
    Index(cli::index::IndexArgs),
    /// Show the freshness report (per source: last crawl, newest kernel, kernels waiting).
    Status(cli::status::StatusArgs),
    /// Build the canary module and eBPF object against a bundle.
    Verify(cli::verify::VerifyArgs),
    /// Make a key pair for signing a bundle store's SHA256SUMS.
    Keygen(cli::keygen::KeygenArgs),
    /// Find the manifest id and bundle for a running host.
    Lookup(cli::lookup::LookupArgs),
    /// Download, check (sha256 + signature) and unpack the bundle for a running host.
    Fetch(cli::lookup::FetchArgs),
}

fn main() -> ExitCode {
    kernel_packer::logging::init();
    // Packs run in a child of this executable under OS limits (pack::isolated).
    kernel_packer::pack::isolated::child_main_if_requested();
    kernel_packer::pack::isolated::enable_current_exe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pack(args) => cli::pack::run(args),
        Command::Manifest(args) => cli::manifest::run(args),
        Command::Crawl(cmd) => cli::crawl_pr::run(cmd),
        Command::Sync(args) => cli::sync::run(args),
        Command::Index(args) => cli::index::run(args),
        Command::Status(args) => cli::status::run(args),
        Command::Verify(args) => cli::verify::run(args),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::Lookup(args) => cli::lookup::run_lookup(args),
        Command::Fetch(args) => cli::lookup::run_fetch(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
