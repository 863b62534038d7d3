//! One URL → a temporary file, with its size and sha256, retrying transient failures.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A completed download (the file is deleted when this is dropped).
#[derive(Debug)]
pub struct Downloaded {
    pub file: tempfile::NamedTempFile,
    pub size: u64,
    pub sha256: String,
}

/// Why an attempt failed, and whether trying again could help.
struct AttemptError {
    transient: bool,
    error: anyhow::Error,
}

/// Downloads `url` into a temporary file in `dir`. Up to `attempts` tries; transient failures
/// (connection, timeout, 5xx, 408, 429, body shorter than Content-Length) are retried after
/// `backoff`, doubled each time; others (4xx, bad URL) fail at once. Errors name the URL.
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    dir: &Path,
    attempts: u32,
    backoff: Duration,
) -> anyhow::Result<Downloaded> {
    let attempts = attempts.max(1);
    let mut delay = backoff;
    let mut n = 1;
    loop {
        match attempt(client, url, dir).await {
            Ok(d) => return Ok(d),
            Err(e) if e.transient && n < attempts => {
                tracing::debug!(url, attempt = n, error = %format!("{:#}", e.error), "retrying");
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
                n += 1;
            }
            Err(e) => {
                return Err(e
                    .error
                    .context(format!("download {url} (attempt {n} of {attempts})")));
            }
        }
    }
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    dir: &Path,
) -> Result<Downloaded, AttemptError> {
    let transient = |error: anyhow::Error| AttemptError {
        transient: true,
        error,
    };
    let fatal = |error: anyhow::Error| AttemptError {
        transient: false,
        error,
    };
    let mut resp = client.get(url).send().await.map_err(|e| {
        let t = !e.is_builder();
        AttemptError {
            transient: t,
            error: anyhow::Error::new(e),
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        let err = anyhow::anyhow!("HTTP status {status}");
        return Err(
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                transient(err)
            } else {
                fatal(err)
            },
        );
    }
    let expected = resp.content_length();
    let tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .with_context(|| format!("create temporary file in {}", dir.display()))
        .map_err(fatal)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(|e| fatal(e.into()))?);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| transient(e.into()))? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| fatal(e.into()))?;
    }
    file.flush().await.map_err(|e| fatal(e.into()))?;
    if let Some(len) = expected {
        if len != size {
            return Err(transient(anyhow::anyhow!(
                "body has {size} bytes, Content-Length said {len}"
            )));
        }
    }
    Ok(Downloaded {
        file: tmp,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}
