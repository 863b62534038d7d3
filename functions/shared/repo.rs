//! Shared by the functions (included with `#[path]`): the repository reader. The lists and the
//! manifest are read from the default branch of `KERNEL_PACKER_REPO` through the GitHub API
//! (cached by commit in `/tmp`), so a merged pull request is what every function sees next, with no
//! upload and no redeploy.
//!
//! Environment: `KERNEL_PACKER_REPO` (`owner/name`), `GITHUB_TOKEN` or `GITHUB_TOKEN_SECRET`
//! (Secrets Manager id/ARN; plain or JSON `{"token"}`), `GITHUB_API_URL` (default the public API),
//! `KERNEL_PACKER_LISTS_DIR` (default `kernel-package-lists`), `KERNEL_PACKER_GITHUB_CACHE`
//! (default `/tmp/kernel-packer-github`).
#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use kernel_packer::github::snapshot::{self, Snapshot};
use kernel_packer::github::{token, OctocrabGitHub, RepoId, RetryPolicy, SecretSource};

/// Secrets Manager behind the [`SecretSource`] trait.
pub struct SecretsManager(pub aws_sdk_secretsmanager::Client);

impl SecretSource for SecretsManager {
    async fn secret_string(&self, id: &str) -> Result<String> {
        let out = self
            .0
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "Secrets Manager GetSecretValue {id:?}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
        out.secret_string()
            .map(str::to_string)
            .with_context(|| format!("secret {id:?} has no string value"))
    }
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A client for `KERNEL_PACKER_REPO` with the token from the environment or Secrets Manager.
pub async fn github_client() -> Result<OctocrabGitHub> {
    let repo = RepoId::parse(&env("KERNEL_PACKER_REPO").context("KERNEL_PACKER_REPO is not set")?)?;
    let aws = aws_config::load_from_env().await;
    let secrets = SecretsManager(aws_sdk_secretsmanager::Client::new(&aws));
    let token = token::resolve(env, &secrets).await?;
    OctocrabGitHub::new(
        env("GITHUB_API_URL").as_deref(),
        &token,
        repo,
        RetryPolicy::default(),
    )
}

/// The lists directory in the repository.
pub fn lists_dir() -> String {
    env("KERNEL_PACKER_LISTS_DIR").unwrap_or_else(|| "kernel-package-lists".into())
}

fn cache_dir() -> PathBuf {
    env("KERNEL_PACKER_GITHUB_CACHE")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("kernel-packer-github"))
}

/// Whether a location setting (`KERNEL_PACKER_LISTS`, `KERNEL_PACKER_MANIFEST`) names the repository.
pub fn is_repo(location: &str) -> bool {
    location == "github"
}

/// The lists directory at the default branch head.
pub async fn lists_at_head() -> Result<Snapshot> {
    let gh = github_client().await?;
    let snap = snapshot::at_default_head(&gh, &lists_dir(), Some(&cache_dir())).await?;
    tracing::info!(commit = %snap.commit, files = snap.files.len(), "read lists from the default branch");
    Ok(snap)
}

/// The lists directory at the default branch head, written to a local directory (one per commit).
pub async fn lists_dir_at_head() -> Result<PathBuf> {
    let snap = lists_at_head().await?;
    let dest = cache_dir().join("trees").join(&snap.commit);
    if !dest.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&dest);
        snap.write_to(&dest)?;
        std::fs::write(dest.join(".complete"), b"")?;
    }
    Ok(dest)
}

/// The manifest at the default branch head.
pub async fn manifest_at_head() -> Result<kernel_packer::manifest::Manifest> {
    let snap = lists_at_head().await?;
    let name = format!("{}/manifest.yml", lists_dir());
    let bytes = snap
        .files
        .get("manifest.yml")
        .with_context(|| format!("{name} is missing at {}", snap.commit))?;
    kernel_packer::manifest::Manifest::parse(bytes.as_slice(), &format!("{name}@{}", snap.commit))
}
