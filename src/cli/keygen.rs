//! `kernel-packer keygen --out DIR`: a new minisign key pair for signing a bundle store's
//! `SHA256SUMS`: `DIR/bundles.pub` (commit it as `keys/bundles.pub`) and `DIR/bundles.key`
//! (mode 0600; store it in Secrets Manager or a file named by `KERNEL_PACKER_SIGNING_KEY_FILE`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `kernel-packer keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Directory for `bundles.pub` and `bundles.key` (neither may exist yet).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `kernel-packer keygen`; prints the public key file's path.
pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (public, secret) = crate::sums::generate_keypair()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    for (name, text, mode) in [
        ("bundles.key", &secret, 0o600),
        ("bundles.pub", &public, 0o644),
    ] {
        let path = args.out.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .with_context(|| format!("create {}", path.display()))?;
        file.write_all(text.as_bytes())?;
    }
    println!("{}", args.out.join("bundles.pub").display());
    Ok(ExitCode::SUCCESS)
}
