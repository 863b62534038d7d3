//! The HTTP client every crawler uses: bounded concurrency per host, bounded retries with
//! exponential backoff on 5xx/429/timeouts/connection errors, a timeout per request, conditional
//! requests backed by an on-disk cache, credentials, mirror overrides and request statistics.
//!
//! Errors name the *logical* URL (the upstream URL from `sources.yml`, before mirror overrides
//! and before a URL-query credential is appended) and never contain a secret.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{
    HeaderMap, AUTHORIZATION, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LINK,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::credentials::Auth;

/// Settings of an [`Http`] client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Timeout of one request, body included.
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay; doubles per retry.
    pub backoff: Duration,
    /// Requests in flight per host.
    pub per_host_concurrency: usize,
    /// Directory for the conditional-request cache (ETag/Last-Modified + body); `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Prefix rewrites `(from, to)` applied to every URL before it is fetched, e.g. to point a
    /// source at a local mirror. The first matching prefix wins.
    pub overrides: Vec<(String, String)>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Extra trusted root certificates (PEM), added to the system's (e.g. a private mirror's CA).
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_millis(500),
            per_host_concurrency: 4,
            cache_dir: None,
            overrides: Vec::new(),
            user_agent: concat!("kernel-packer/", env!("CARGO_PKG_VERSION")).to_string(),
            extra_root_certs: Vec::new(),
        }
    }
}

/// Why a fetch failed. The URL is the logical URL, free of secrets.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// HTTP 404 or 410.
    #[error("{url}: not found (HTTP {status})")]
    NotFound {
        /// Logical URL.
        url: String,
        /// 404 or 410.
        status: u16,
    },
    /// Any other non-success status (after retries, for retryable ones).
    #[error("{url}: HTTP {status} after {attempts} attempt(s)")]
    Status {
        /// Logical URL.
        url: String,
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// Timeout, connection or body error (after retries).
    #[error("{url}: {message} after {attempts} attempt(s)")]
    Transport {
        /// Logical URL.
        url: String,
        /// What went wrong (secret-free).
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The client could not be set up (e.g. a bad client certificate).
    #[error("{url}: {message}")]
    Setup {
        /// Logical URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl FetchError {
    /// Whether this is a 404/410.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound { .. })
    }
}

/// Counters over the life of an [`Http`] client.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
    reused: AtomicU64,
}

/// A snapshot of the request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HttpStats {
    /// Requests sent (every attempt counts).
    pub requests: u64,
    /// Response body bytes received over the wire.
    pub bytes: u64,
    /// Responses that were `304 Not Modified` (served from the cache).
    pub not_modified: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Files whose digest, named by signed metadata, matched a cached copy: no request sent.
    pub reused: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CacheMeta {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The response's `Link` header (registry pagination), answered with the cached body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

struct Inner {
    config: HttpConfig,
    client: reqwest::Client,
    cert_clients: Mutex<HashMap<String, reqwest::Client>>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    counters: Counters,
}

/// A cloneable handle to the shared client.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn builder(config: &HttpConfig) -> anyhow::Result<reqwest::ClientBuilder> {
    let mut roots = Vec::new();
    for pem in &config.extra_root_certs {
        roots.extend(
            reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| anyhow::anyhow!("extra root certificate is not PEM: {e}"))?,
        );
    }
    let mut b = reqwest::Client::builder()
        .user_agent(config.user_agent.clone())
        .connect_timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::limited(10));
    if !roots.is_empty() {
        b = b.tls_certs_merge(roots);
    }
    Ok(b)
}

/// Writes a cache file atomically (temporary file in the same directory, then rename), off
/// the async threads.
async fn cache_write(path: PathBuf, bytes: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        let dir = path.parent().expect("cache paths have a parent");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Removes user info from a URL for display. (Logical URLs never carry a query credential:
/// that is appended only to the URL put on the wire.)
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".to_string(),
    }
}

impl Http {
    /// Builds a client.
    pub fn new(config: HttpConfig) -> anyhow::Result<Http> {
        let client = builder(&config)?.build()?;
        Ok(Http {
            inner: Arc::new(Inner {
                config,
                client,
                cert_clients: Mutex::new(HashMap::new()),
                hosts: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> HttpStats {
        let c = &self.inner.counters;
        HttpStats {
            requests: c.requests.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
        }
    }

    /// The URL actually fetched for a logical URL (mirror overrides applied).
    pub fn effective_url(&self, url: &str) -> String {
        for (from, to) in &self.inner.config.overrides {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        url.to_string()
    }

    fn semaphore(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.inner.hosts.lock().expect("host map poisoned");
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Semaphore::new(
                    self.inner.config.per_host_concurrency.max(1),
                ))
            })
            .clone()
    }

    fn client_for(&self, auth: &Auth, logical: &str) -> Result<reqwest::Client, FetchError> {
        let Auth::ClientCert { origin, pem } = auth else {
            return Ok(self.inner.client.clone());
        };
        let mut clients = self.inner.cert_clients.lock().expect("client map poisoned");
        if let Some(c) = clients.get(origin) {
            return Ok(c.clone());
        }
        let setup = |what: &str| FetchError::Setup {
            url: redact(logical),
            message: format!("client certificate from {origin}: {what}"),
        };
        let identity = reqwest::Identity::from_pem(pem.expose().as_bytes())
            .map_err(|_| setup("not a PEM certificate and key"))?;
        let client = builder(&self.inner.config)
            .map_err(|e| setup(&format!("{e}")))?
            .identity(identity)
            .build()
            .map_err(|_| setup("TLS client setup failed"))?;
        clients.insert(origin.clone(), client.clone());
        Ok(client)
    }

    /// The cache entry of a wire URL: one file, a JSON line of validators, then the body.
    fn cache_path(&self, wire_url: &str) -> Option<PathBuf> {
        let dir = self.inner.config.cache_dir.as_ref()?;
        let key = crate::names::sha256_hex(wire_url.as_bytes());
        Some(dir.join(format!("{key}.entry")))
    }

    /// The validators of a cached entry (reads only its first line).
    async fn cached_meta(&self, wire_url: &str) -> Option<CacheMeta> {
        let path = self.cache_path(wire_url)?;
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            let file = std::fs::File::open(path).ok()?;
            std::io::BufReader::new(file).read_line(&mut line).ok()?;
            serde_json::from_str(&line).ok()
        })
        .await
        .ok()
        .flatten()
    }

    /// The cached body, if the entry still carries the validators `meta` (another request may
    /// have replaced it meanwhile).
    async fn cached_body(&self, wire_url: &str, meta: &CacheMeta) -> Option<Vec<u8>> {
        let path = self.cache_path(wire_url)?;
        let entry = tokio::task::spawn_blocking(move || std::fs::read(path).ok())
            .await
            .ok()
            .flatten()?;
        let nl = entry.iter().position(|b| *b == b'\n')?;
        let stored: CacheMeta = serde_json::from_slice(&entry[..nl]).ok()?;
        (&stored == meta).then(|| entry[nl + 1..].to_vec())
    }

    async fn drop_cache(&self, wire_url: &str) {
        if let Some(path) = self.cache_path(wire_url) {
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        }
    }

    async fn store_cache(&self, wire_url: &str, headers: &HeaderMap, body: &[u8]) {
        let Some(path) = self.cache_path(wire_url) else {
            return;
        };
        let get = |h| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let meta = CacheMeta {
            etag: get(ETAG),
            last_modified: get(LAST_MODIFIED),
            link: get(LINK),
        };
        if meta.etag.is_none() && meta.last_modified.is_none() {
            return;
        }
        let mut entry = serde_json::to_vec(&meta).expect("meta serializes");
        entry.push(b'\n');
        entry.extend_from_slice(body);
        if let Err(e) = cache_write(path, entry).await {
            tracing::warn!("conditional cache write failed: {e}");
        }
    }

    /// GETs a URL and returns its body. 404/410 → [`FetchError::NotFound`]; 5xx, 429, timeouts
    /// and connection errors are retried; a `304` is answered from the cache.
    pub async fn get(&self, url: &str, auth: &Auth) -> Result<Vec<u8>, FetchError> {
        self.get_accept(url, auth, None).await
    }

    /// [`Http::get`] with an `Accept` header (registry manifests are negotiated by it).
    pub async fn get_accept(
        &self,
        url: &str,
        auth: &Auth,
        accept: Option<&str>,
    ) -> Result<Vec<u8>, FetchError> {
        Ok(self.get_with_link(url, auth, accept).await?.0)
    }

    /// [`Http::get_accept`] that also returns the response's `Link` header (registry
    /// pagination, `<...>; rel="next"`); a `304` answers the `Link` stored with the cached body.
    pub async fn get_with_link(
        &self,
        url: &str,
        auth: &Auth,
        accept: Option<&str>,
    ) -> Result<(Vec<u8>, Option<String>), FetchError> {
        let mut wire = self.effective_url(url);
        if let Auth::UrlQuery(q) = auth {
            wire.push(if wire.contains('?') { '&' } else { '?' });
            wire.push_str(q.expose());
        }
        let shown = redact(url);
        let parsed = reqwest::Url::parse(&wire).map_err(|_| FetchError::Setup {
            url: shown.clone(),
            message: "invalid URL".into(),
        })?;
        let client = self.client_for(auth, url)?;
        let semaphore = self.semaphore(&parsed);
        let cfg = &self.inner.config;
        let counters = &self.inner.counters;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 1 {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                let factor = 1u32 << (attempts - 2).min(10);
                tokio::time::sleep(cfg.backoff * factor).await;
            }
            let cached = self.cached_meta(&wire).await;
            let mut req = client.get(parsed.clone()).timeout(cfg.request_timeout);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(meta) = &cached {
                if let Some(e) = &meta.etag {
                    req = req.header(IF_NONE_MATCH, e);
                }
                if let Some(l) = &meta.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, l);
                }
            }
            req = match auth {
                Auth::Bearer(t) => req.header(AUTHORIZATION, format!("Bearer {}", t.expose())),
                Auth::Basic { user, password } => {
                    req.basic_auth(user.expose(), Some(password.expose()))
                }
                _ => req,
            };
            let outcome = {
                let _permit = semaphore.acquire().await.expect("semaphore never closed");
                counters.requests.fetch_add(1, Ordering::Relaxed);
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        match resp.bytes().await {
                            Ok(body) => {
                                counters
                                    .bytes
                                    .fetch_add(body.len() as u64, Ordering::Relaxed);
                                Ok((status, headers, body))
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            };
            let retryable = attempts <= cfg.retries;
            match outcome {
                Ok((status, headers, body)) => {
                    if status == StatusCode::NOT_MODIFIED {
                        if let Some(meta) = &cached {
                            if let Some(b) = self.cached_body(&wire, meta).await {
                                counters.not_modified.fetch_add(1, Ordering::Relaxed);
                                let link = headers
                                    .get(LINK)
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string)
                                    .or_else(|| meta.link.clone());
                                return Ok((b, link));
                            }
                        }
                        // 304 without a usable cache entry: clear it and ask again.
                        self.drop_cache(&wire).await;
                        if retryable {
                            continue;
                        }
                        return Err(FetchError::Status {
                            url: shown,
                            status: 304,
                            attempts,
                        });
                    }
                    if status.is_success() {
                        self.store_cache(&wire, &headers, &body).await;
                        let link = headers
                            .get(LINK)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        return Ok((body.to_vec(), link));
                    }
                    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
                        return Err(FetchError::NotFound {
                            url: shown,
                            status: status.as_u16(),
                        });
                    }
                    let transient =
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                    if transient && retryable {
                        tracing::debug!("{shown}: HTTP {status}, retrying");
                        continue;
                    }
                    return Err(FetchError::Status {
                        url: shown,
                        status: status.as_u16(),
                        attempts,
                    });
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else if e.is_body() || e.is_decode() {
                        "response body interrupted"
                    } else {
                        "request failed"
                    };
                    // The causes, never the error itself: its text names the wire URL, which
                    // may carry a query credential.
                    let mut causes = Vec::new();
                    let mut source = std::error::Error::source(&e);
                    while let Some(c) = source {
                        causes.push(c.to_string());
                        source = c.source();
                    }
                    let message = if causes.is_empty() {
                        what.to_string()
                    } else {
                        format!("{what} ({})", causes.join(": "))
                    };
                    if retryable {
                        tracing::debug!("{shown}: {message}, retrying");
                        continue;
                    }
                    return Err(FetchError::Transport {
                        url: shown,
                        message,
                        attempts,
                    });
                }
            }
        }
    }

    /// A value derived from cached content (e.g. what was selected from an index whose digest
    /// is part of `key`), if the cache holds one. `key` must name everything the value
    /// depends on; it is hashed into the file name.
    pub async fn memo_get(&self, key: &str) -> Option<Vec<u8>> {
        let dir = self.inner.config.cache_dir.as_ref()?;
        let path = dir
            .join("memo")
            .join(crate::names::sha256_hex(key.as_bytes()));
        tokio::task::spawn_blocking(move || std::fs::read(path).ok())
            .await
            .ok()
            .flatten()
    }

    /// Stores a value for [`Http::memo_get`] (best effort: a failed write only costs a
    /// recomputation next time).
    pub async fn memo_put(&self, key: &str, value: Vec<u8>) {
        let Some(dir) = self.inner.config.cache_dir.as_ref() else {
            return;
        };
        let path = dir
            .join("memo")
            .join(crate::names::sha256_hex(key.as_bytes()));
        if let Err(e) = cache_write(path, value).await {
            tracing::debug!("memo write failed: {e}");
        }
    }

    /// The content cache path of a digest (`<cache>/objects/<algorithm>-<hex>`).
    fn object_path(&self, algorithm: &str, digest: &str) -> Option<PathBuf> {
        let dir = self.inner.config.cache_dir.as_ref()?;
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        let (algorithm, digest) = (algorithm.to_ascii_lowercase(), digest.to_ascii_lowercase());
        (ok(&algorithm) && ok(&digest))
            .then(|| dir.join("objects").join(format!("{algorithm}-{digest}")))
    }

    /// GETs a file whose digest (and maybe size) signed metadata names, e.g. an apt
    /// `Packages.xz` listed in a verified InRelease or a yum `primary.xml` named by
    /// `repomd.xml`. A cached copy with that digest is returned without any request, so a
    /// repeat crawl of unchanged metadata transfers only the signed file itself, whatever
    /// validators the server sends. Otherwise the body is fetched from `fetch_url` (e.g. apt's
    /// `by-hash` path; `url` names it in errors), checked and stored in the content cache.
    pub async fn get_checked(
        &self,
        url: &str,
        fetch_url: &str,
        algorithm: &str,
        digest: &str,
        size: Option<u64>,
        auth: &Auth,
    ) -> anyhow::Result<Vec<u8>> {
        let what = redact(url);
        let check = |data: &[u8]| -> anyhow::Result<()> {
            super::content::check_digest(data, algorithm, digest, &what)?;
            if let Some(size) = size {
                if data.len() as u64 != size {
                    anyhow::bail!(
                        "{what}: size mismatch (metadata says {size}, got {})",
                        data.len()
                    );
                }
            }
            Ok(())
        };
        let path = self.object_path(algorithm, digest);
        if let Some(p) = path.clone() {
            let cached = tokio::task::spawn_blocking(move || std::fs::read(p).ok())
                .await
                .ok()
                .flatten();
            if let Some(data) = cached {
                if check(&data).is_ok() {
                    self.inner.counters.reused.fetch_add(1, Ordering::Relaxed);
                    return Ok(data);
                }
            }
        }
        let data = match self.get(fetch_url, auth).await {
            Ok(d) => d,
            Err(e) if fetch_url != url && e.is_not_found() => self.get(url, auth).await?,
            Err(e) => return Err(e.into()),
        };
        check(&data)?;
        if let Some(p) = path {
            if let Err(e) = cache_write(p, data.clone()).await {
                tracing::warn!("{what}: content cache write failed: {e}");
            }
        }
        Ok(data)
    }

    /// Like [`Http::get`] but a 404/410 is `Ok(None)`.
    pub async fn get_optional(
        &self,
        url: &str,
        auth: &Auth,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get(url, auth).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_strips_userinfo_and_query() {
        assert_eq!(
            redact("https://u:p@h.example/a?marker=x"),
            "https://h.example/a?marker=x"
        );
        assert_eq!(redact("http://h.example/a"), "http://h.example/a");
    }

    #[test]
    fn overrides_rewrite_prefixes() {
        let http = Http::new(HttpConfig {
            overrides: vec![("http://a.example/".into(), "http://127.0.0.1:9/a/".into())],
            ..HttpConfig::default()
        })
        .unwrap();
        assert_eq!(
            http.effective_url("http://a.example/x/y"),
            "http://127.0.0.1:9/a/x/y"
        );
        assert_eq!(
            http.effective_url("http://b.example/x"),
            "http://b.example/x"
        );
    }
}
