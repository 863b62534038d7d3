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
    let send_error = |e: reqwest::Error| AttemptError {
        transient: !e.is_builder(),
        error: anyhow::Error::new(e),
    };
    let mut resp = client.get(url).send().await.map_err(send_error)?;
    // A registry blob (Docker Desktop kernels) answers 401 with a bearer challenge: fetch the
    // anonymous token its realm hands out and ask once more (the token is never logged).
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token_url);
        if let Some(token_url) = challenge {
            let token = anonymous_token(client, &token_url)
                .await
                .map_err(|e| transient(e.context(format!("registry token from {token_url}"))))?;
            resp = client
                .get(url)
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(send_error)?;
        }
    }
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

/// The token URL of a registry's `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`
/// challenge (`realm?service=...&scope=...`); `None` for other schemes or a realm that is not
/// an http(s) URL.
pub fn bearer_token_url(challenge: &str) -> Option<String> {
    let params = challenge
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| challenge.trim().strip_prefix("bearer "))?;
    let mut realm = None;
    let mut query = Vec::new();
    // key="value" pairs; values may hold commas (scopes), so split on `",`.
    for part in params.split("\",") {
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match k.trim() {
            "realm" => realm = Some(v.to_string()),
            "service" | "scope" => query.push((k.trim().to_string(), v.to_string())),
            _ => {}
        }
    }
    let mut url = reqwest::Url::parse(&realm?).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    for (k, v) in query {
        url.query_pairs_mut().append_pair(&k, &v);
    }
    Some(url.to_string())
}

/// GETs an anonymous registry token.
async fn anonymous_token(
    client: &reqwest::Client,
    token_url: &str,
) -> anyhow::Result<crate::crawl::credentials::Secret> {
    let resp = client
        .get(token_url)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.without_url()))?;
    let status = resp.status();
    if !status.is_success() {
        anyhow::bail!("HTTP status {status}");
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| anyhow::Error::new(e.without_url()))?;
    crate::crawl::registry::parse_token(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        assert_eq!(
            bearer_token_url(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:docker/for-desktop-kernel:pull""#
            )
            .as_deref(),
            Some("https://auth.example/token?service=registry.example&scope=repository%3Adocker%2Ffor-desktop-kernel%3Apull")
        );
        assert_eq!(bearer_token_url(r#"Basic realm="fixture""#), None);
        assert_eq!(
            bearer_token_url(r#"Bearer realm="file:///etc/passwd""#),
            None
        );
        assert_eq!(bearer_token_url("Bearer"), None);
    }
}
