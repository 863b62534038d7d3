//! `kernel-packer verify <bundle.tgz|dir>`: builds the canary module and eBPF object against a
//! bundle (see [`crate::verify`]) and reports. Exit 0: verified; 1: a build failed (the first
//! error is printed); 2: unverified (no toolchain here).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::verify::{verify_bundle, Outcome, VerifyOptions};

/// Arguments of `kernel-packer verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Bundle file (`bundle-<name>.tgz`) or unpacked bundle directory.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Compiler used when the kernel's own is not installed.
    #[arg(long, value_name = "CC")]
    pub cc: Option<String>,
    /// clang for the eBPF object.
    #[arg(long, default_value = "clang")]
    pub clang: String,
    /// llc for the eBPF object.
    #[arg(long, default_value = "llc")]
    pub llc: String,
    /// Skip the eBPF object.
    #[arg(long)]
    pub no_ebpf: bool,
    /// Keep the scratch dir (printed in the report).
    #[arg(long)]
    pub keep: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `kernel-packer verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let opts = VerifyOptions {
        cc: args.cc,
        clang: args.clang,
        llc: args.llc,
        ebpf: !args.no_ebpf,
        work_dir: None,
        keep: args.keep,
    };
    let report = verify_bundle(&args.bundle, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("bundle   {} ({})", report.bundle, report.uname);
        println!(
            "compiler {}",
            report.compiler.as_deref().unwrap_or("none installed")
        );
        for (name, check) in [("module", &report.module), ("ebpf", &report.ebpf)] {
            println!(
                "{name:<8} {:?} in {:.2}s: {}",
                check.status, check.seconds, check.detail
            );
        }
    }
    Ok(match report.outcome() {
        Outcome::Verified => ExitCode::SUCCESS,
        Outcome::Failed(error) => {
            eprintln!("error: verification failed: {error}");
            ExitCode::from(1)
        }
        Outcome::Unverified(reason) => {
            eprintln!("unverified: {reason}");
            ExitCode::from(2)
        }
    })
}
