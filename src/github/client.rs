//! [`GitHub`] over `octocrab`'s raw request methods, with a bounded retry policy.
//!
//! octocrab is built without its retry layer so that every attempt is visible and bounded
//! here: transport errors, 5xx, 429 and 403 rate-limit answers (`retry-after`,
//! `x-ratelimit-remaining: 0`, or a message mentioning a rate limit) are retried after
//! `retry-after` seconds (or until `x-ratelimit-reset`), else after an exponential backoff,
//! at most [`RetryPolicy::attempts`] times and never waiting longer than
//! [`RetryPolicy::max_wait`] at once. Other answers are returned to the method, which maps
//! them (404 → `None`, 422/409 → a conflict, anything else → an error naming the call).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    AutoMerge, Commit, Conclusion, GitHub, MergeMethod, NewTreeEntry, PrCreate, PullRequest,
    RefWrite, RepoId, Token, TreeEntry,
};

/// How failed calls are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (at least 1).
    pub attempts: u32,
    /// First backoff when the server gives no `retry-after`; doubles per retry.
    pub base_backoff: Duration,
    /// Cap of one backoff.
    pub max_backoff: Duration,
    /// Longest single wait honoured from `retry-after` / `x-ratelimit-reset`; a longer one
    /// fails the call at once (clear error instead of a stalled function).
    pub max_wait: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// The REST client of one repository.
#[derive(Clone)]
pub struct OctocrabGitHub {
    crab: Octocrab,
    repo: RepoId,
    policy: RetryPolicy,
}

impl std::fmt::Debug for OctocrabGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OctocrabGitHub")
            .field("repo", &self.repo)
            .field("token", &"***")
            .finish()
    }
}

/// The default API base.
pub const DEFAULT_API: &str = "https://api.github.com";

struct Resp {
    status: StatusCode,
    body: Vec<u8>,
}

impl Resp {
    fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("{what}: unexpected response shape (status {})", self.status))
    }

    fn message(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let mut msg = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(errors) = v.get("errors").and_then(Value::as_array) {
            for e in errors {
                if let Some(m) = e.get("message").and_then(Value::as_str) {
                    msg.push_str(": ");
                    msg.push_str(m);
                }
            }
        }
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned();
        }
        msg
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Whether a response is worth retrying, and after how long the server asked to wait.
fn retry_hint(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Option<Duration>> {
    let after = header_u64(headers, "retry-after").map(Duration::from_secs);
    let reset = || {
        let reset = header_u64(headers, "x-ratelimit-reset")?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(Duration::from_secs(reset.saturating_sub(now) + 1))
    };
    if status.is_server_error() {
        return Some(after);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(after.or_else(reset));
    }
    if status == StatusCode::FORBIDDEN {
        let exhausted = header_u64(headers, "x-ratelimit-remaining") == Some(0);
        let text = String::from_utf8_lossy(body).to_ascii_lowercase();
        if after.is_some() || exhausted || text.contains("rate limit") {
            return Some(after.or_else(|| if exhausted { reset() } else { None }));
        }
    }
    None
}

#[derive(Deserialize)]
struct RepoJson {
    default_branch: String,
}
#[derive(Deserialize)]
struct ShaJson {
    sha: String,
}
#[derive(Deserialize)]
struct RefJson {
    object: ShaJson,
}
#[derive(Deserialize)]
struct CommitJson {
    sha: String,
    tree: ShaJson,
    parents: Vec<ShaJson>,
}
#[derive(Deserialize)]
struct TreeEntryJson {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}
#[derive(Deserialize)]
struct TreeJson {
    tree: Vec<TreeEntryJson>,
    #[serde(default)]
    truncated: bool,
}
#[derive(Deserialize)]
struct BlobJson {
    content: String,
    encoding: String,
}
#[derive(Deserialize)]
struct PrHeadJson {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    sha: String,
}
#[derive(Deserialize)]
struct PrJson {
    number: u64,
    state: String,
    html_url: String,
    head: PrHeadJson,
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    node_id: String,
}

#[derive(Deserialize)]
struct IdJson {
    id: u64,
}

#[derive(Deserialize)]
struct CheckRunJson {
    status: String,
}

#[derive(Deserialize)]
struct CheckRunsJson {
    check_runs: Vec<CheckRunJson>,
}

impl From<PrJson> for PullRequest {
    fn from(p: PrJson) -> Self {
        PullRequest {
            number: p.number,
            state: p.state,
            html_url: p.html_url,
            head_ref: p.head.name,
            title: p.title,
            body: p.body.unwrap_or_default(),
            node_id: p.node_id,
            head_sha: p.head.sha,
        }
    }
}

/// Percent-encodes a value for a query string or path segment (keeps `/` when `path`).
fn encode(s: &str, path: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (path && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OctocrabGitHub {
    /// A client for `repo` at `base_url` (default [`DEFAULT_API`]).
    pub fn new(
        base_url: Option<&str>,
        token: &Token,
        repo: RepoId,
        policy: RetryPolicy,
    ) -> Result<OctocrabGitHub> {
        let base = base_url.unwrap_or(DEFAULT_API);
        let crab = Octocrab::builder()
            .base_uri(base)
            .map_err(|e| anyhow!("GitHub API base {base:?} is not a URL: {e}"))?
            .personal_token(token.expose().to_string())
            .set_connect_timeout(Some(policy.request_timeout))
            .set_read_timeout(Some(policy.request_timeout))
            .set_write_timeout(Some(policy.request_timeout))
            .build()
            .map_err(|e| anyhow!("building the GitHub client: {e}"))?;
        Ok(OctocrabGitHub { crab, repo, policy })
    }

    /// The repository this client works on.
    pub fn repo(&self) -> &RepoId {
        &self.repo
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.repo.owner, self.repo.name)
    }

    async fn once(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<Resp> {
        let fut = async {
            let resp = if method == Method::GET {
                self.crab._get(path).await
            } else if method == Method::POST {
                self.crab._post(path, body).await
            } else if method == Method::PATCH {
                self.crab._patch(path, body).await
            } else {
                self.crab._put(path, body).await
            }
            .map_err(|e| anyhow!("{e}"))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            use http_body_util::BodyExt;
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| anyhow!("reading the body: {e}"))?
                .to_bytes()
                .to_vec();
            Ok::<_, anyhow::Error>((status, headers, body))
        };
        let (status, headers, body) = tokio::time::timeout(self.policy.request_timeout, fut)
            .await
            .map_err(|_| anyhow!("timed out after {:?}", self.policy.request_timeout))??;
        if let Some(wait) = retry_hint(status, &headers, &body) {
            return Err(Retryable {
                status: Some(status),
                wait,
                message: Resp { status, body }.message(),
            }
            .into());
        }
        Ok(Resp { status, body })
    }

    /// One call with retries; returns the first non-retryable response.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Resp> {
        let attempts = self.policy.attempts.max(1);
        let mut backoff = self.policy.base_backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.once(&method, path, body.as_ref()).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let (wait, what) = match e.downcast_ref::<Retryable>() {
                        Some(r) => (
                            r.wait,
                            match r.status {
                                Some(s) => format!("{s}: {}", r.message),
                                None => r.message.clone(),
                            },
                        ),
                        None => (None, format!("{e:#}")),
                    };
                    last = what;
                    if attempt == attempts {
                        break;
                    }
                    let wait = match wait {
                        Some(w) if w > self.policy.max_wait => bail!(
                            "GitHub {method} {path}: {last}; asked to wait {} s, more than the allowed {} s",
                            w.as_secs(),
                            self.policy.max_wait.as_secs()
                        ),
                        Some(w) => w,
                        None => backoff,
                    };
                    tracing::warn!(
                        "GitHub {method} {path}: {last}; retry {attempt}/{} in {:?}",
                        attempts - 1,
                        wait
                    );
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                }
            }
        }
        bail!("GitHub {method} {path}: {last} (gave up after {attempts} attempts)")
    }

    fn fail<T>(method: &str, path: &str, r: &Resp) -> Result<T> {
        bail!("GitHub {method} {path}: {}: {}", r.status, r.message())
    }
}

#[derive(Debug)]
struct Retryable {
    status: Option<StatusCode>,
    wait: Option<Duration>,
    message: String,
}

impl std::fmt::Display for Retryable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

impl std::error::Error for Retryable {}

impl GitHub for OctocrabGitHub {
    async fn default_branch(&self) -> Result<String> {
        let p = self.path("");
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        Ok(r.json::<RepoJson>(&p)?.default_branch)
    }

    async fn get_ref(&self, branch: &str) -> Result<Option<String>> {
        let p = self.path(&format!("/git/ref/heads/{}", encode(branch, true)));
        let r = self.call(Method::GET, &p, None).await?;
        match r.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(r.json::<RefJson>(&p)?.object.sha)),
            _ => Self::fail("GET", &p, &r),
        }
    }

    async fn get_commit(&self, sha: &str) -> Result<Commit> {
        let p = self.path(&format!("/git/commits/{}", encode(sha, false)));
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        let c: CommitJson = r.json(&p)?;
        Ok(Commit {
            sha: c.sha,
            tree: c.tree.sha,
            parents: c.parents.into_iter().map(|p| p.sha).collect(),
        })
    }

    async fn get_tree(&self, sha: &str, recursive: bool) -> Result<Vec<TreeEntry>> {
        let mut p = self.path(&format!("/git/trees/{}", encode(sha, false)));
        if recursive {
            p.push_str("?recursive=1");
        }
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        let t: TreeJson = r.json(&p)?;
        if t.truncated {
            bail!("GitHub GET {p}: the tree listing is truncated (too many entries)");
        }
        Ok(t.tree
            .into_iter()
            .map(|e| TreeEntry {
                path: e.path,
                mode: e.mode,
                kind: e.kind,
                sha: e.sha,
            })
            .collect())
    }

    async fn get_blob(&self, sha: &str) -> Result<Vec<u8>> {
        let p = self.path(&format!("/git/blobs/{}", encode(sha, false)));
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        let b: BlobJson = r.json(&p)?;
        match b.encoding.as_str() {
            "base64" => {
                let clean: String = b.content.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .with_context(|| format!("GitHub GET {p}: blob is not valid base64"))
            }
            "utf-8" | "utf8" => Ok(b.content.into_bytes()),
            other => bail!("GitHub GET {p}: unknown blob encoding {other:?}"),
        }
    }

    async fn create_blob(&self, content: &[u8]) -> Result<String> {
        let p = self.path("/git/blobs");
        let body = json!({
            "content": base64::engine::general_purpose::STANDARD.encode(content),
            "encoding": "base64",
        });
        let r = self.call(Method::POST, &p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("POST", &p, &r);
        }
        Ok(r.json::<ShaJson>(&p)?.sha)
    }

    async fn create_tree(&self, base_tree: &str, entries: &[NewTreeEntry]) -> Result<String> {
        let p = self.path("/git/trees");
        let tree: Vec<Value> = entries
            .iter()
            .map(|e| json!({"path": e.path, "mode": e.mode, "type": "blob", "sha": e.sha}))
            .collect();
        let body = json!({"base_tree": base_tree, "tree": tree});
        let r = self.call(Method::POST, &p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("POST", &p, &r);
        }
        Ok(r.json::<ShaJson>(&p)?.sha)
    }

    async fn create_commit(&self, message: &str, tree: &str, parents: &[String]) -> Result<String> {
        let p = self.path("/git/commits");
        let body = json!({"message": message, "tree": tree, "parents": parents});
        let r = self.call(Method::POST, &p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("POST", &p, &r);
        }
        Ok(r.json::<ShaJson>(&p)?.sha)
    }

    async fn create_ref(&self, branch: &str, sha: &str) -> Result<RefWrite> {
        let p = self.path("/git/refs");
        let body = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
        let r = self.call(Method::POST, &p, Some(body)).await?;
        match r.status {
            s if s.is_success() => Ok(RefWrite::Done),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => {
                Ok(RefWrite::Conflict(r.message()))
            }
            _ => Self::fail("POST", &p, &r),
        }
    }

    async fn update_ref(&self, branch: &str, sha: &str, force: bool) -> Result<RefWrite> {
        let p = self.path(&format!("/git/refs/heads/{}", encode(branch, true)));
        let body = json!({"sha": sha, "force": force});
        let r = self.call(Method::PATCH, &p, Some(body)).await?;
        match r.status {
            s if s.is_success() => Ok(RefWrite::Done),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => {
                Ok(RefWrite::Conflict(r.message()))
            }
            _ => Self::fail("PATCH", &p, &r),
        }
    }

    async fn find_open_pr(&self, branch: &str, base: &str) -> Result<Option<PullRequest>> {
        let p = self.path(&format!(
            "/pulls?state=open&head={}&base={}",
            encode(&format!("{}:{branch}", self.repo.owner), false),
            encode(base, false)
        ));
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        let prs: Vec<PrJson> = r.json(&p)?;
        Ok(prs
            .into_iter()
            .filter(|pr| pr.state == "open" && pr.head.name == branch)
            .min_by_key(|pr| pr.number)
            .map(PullRequest::from))
    }

    async fn create_pr(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PrCreate> {
        let p = self.path("/pulls");
        let req = json!({"title": title, "head": branch, "base": base, "body": body});
        let r = self.call(Method::POST, &p, Some(req)).await?;
        match r.status {
            s if s.is_success() => Ok(PrCreate::Created(r.json::<PrJson>(&p)?.into())),
            StatusCode::UNPROCESSABLE_ENTITY if r.message().contains("already exists") => {
                Ok(PrCreate::AlreadyExists(r.message()))
            }
            _ => Self::fail("POST", &p, &r),
        }
    }

    async fn update_pr(&self, number: u64, title: &str, body: &str) -> Result<PullRequest> {
        let p = self.path(&format!("/pulls/{number}"));
        let req = json!({"title": title, "body": body});
        let r = self.call(Method::PATCH, &p, Some(req)).await?;
        if !r.status.is_success() {
            return Self::fail("PATCH", &p, &r);
        }
        Ok(r.json::<PrJson>(&p)?.into())
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<()> {
        let p = self.path(&format!("/issues/{number}/labels"));
        let r = self
            .call(Method::POST, &p, Some(json!({ "labels": labels })))
            .await?;
        if !r.status.is_success() {
            return Self::fail("POST", &p, &r);
        }
        Ok(())
    }

    async fn create_check_run(&self, name: &str, head_sha: &str, title: &str) -> Result<u64> {
        let p = self.path("/check-runs");
        let body = json!({
            "name": name, "head_sha": head_sha, "status": "in_progress",
            "output": {"title": title, "summary": title},
        });
        let r = self.call(Method::POST, &p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("POST", &p, &r);
        }
        Ok(r.json::<IdJson>(&p)?.id)
    }

    async fn complete_check_run(
        &self,
        id: u64,
        conclusion: Conclusion,
        title: &str,
        summary: &str,
    ) -> Result<()> {
        let p = self.path(&format!("/check-runs/{id}"));
        // GitHub caps an output summary at 65,535 characters.
        let summary: String = summary.chars().take(65_000).collect();
        let body = json!({
            "status": "completed", "conclusion": conclusion.as_str(),
            "output": {"title": title, "summary": summary},
        });
        let r = self.call(Method::PATCH, &p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("PATCH", &p, &r);
        }
        Ok(())
    }

    async fn has_completed_check_run(&self, sha: &str, name: &str) -> Result<bool> {
        let p = self.path(&format!(
            "/commits/{}/check-runs?check_name={}&filter=latest",
            encode(sha, false),
            encode(name, false)
        ));
        let r = self.call(Method::GET, &p, None).await?;
        if !r.status.is_success() {
            return Self::fail("GET", &p, &r);
        }
        Ok(r.json::<CheckRunsJson>(&p)?
            .check_runs
            .iter()
            .any(|c| c.status == "completed"))
    }

    async fn enable_auto_merge(&self, pr_node_id: &str, method: MergeMethod) -> Result<AutoMerge> {
        let v = self
            .graphql(
                ENABLE_AUTO_MERGE,
                json!({"pr": pr_node_id, "method": method.as_graphql()}),
            )
            .await?;
        Ok(match graphql_error(&v) {
            Some(m) => AutoMerge::Refused(m),
            None => AutoMerge::Enabled,
        })
    }

    async fn disable_auto_merge(&self, pr_node_id: &str) -> Result<()> {
        let v = self
            .graphql(DISABLE_AUTO_MERGE, json!({ "pr": pr_node_id }))
            .await?;
        match graphql_error(&v) {
            Some(m) => bail!("GitHub POST /graphql disablePullRequestAutoMerge: {m}"),
            None => Ok(()),
        }
    }
}

/// The first GraphQL error message of a response body, if it has `errors`.
fn graphql_error(body: &Value) -> Option<String> {
    let errors = body.get("errors")?.as_array()?;
    let first = errors.first()?;
    Some(
        first
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("GraphQL error")
            .to_string(),
    )
}

impl OctocrabGitHub {
    /// One GraphQL request (octocrab's POST to `/graphql`, as `Octocrab::graphql` sends it, under
    /// this client's retry policy). Returns the response body; HTTP errors are errors.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value> {
        let p = "/graphql";
        let body = json!({"query": query, "variables": variables});
        let r = self.call(Method::POST, p, Some(body)).await?;
        if !r.status.is_success() {
            return Self::fail("POST", p, &r);
        }
        r.json(p)
    }
}

const ENABLE_AUTO_MERGE: &str = "mutation($pr: ID!, $method: PullRequestMergeMethod!) { \
enablePullRequestAutoMerge(input: {pullRequestId: $pr, mergeMethod: $method}) { \
pullRequest { number autoMergeRequest { enabledAt mergeMethod } } } }";
const DISABLE_AUTO_MERGE: &str = "mutation($pr: ID!) { \
disablePullRequestAutoMerge(input: {pullRequestId: $pr}) { pullRequest { number } } }";

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_hints() {
        let none = HeaderMap::new();
        assert_eq!(retry_hint(StatusCode::BAD_GATEWAY, &none, b""), Some(None));
        assert_eq!(
            retry_hint(
                StatusCode::FORBIDDEN,
                &headers(&[("retry-after", "3")]),
                b"{}"
            ),
            Some(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            retry_hint(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"You have exceeded a secondary rate limit."}"#
            ),
            Some(None)
        );
        assert_eq!(
            retry_hint(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"Resource not accessible by integration"}"#
            ),
            None
        );
        assert_eq!(retry_hint(StatusCode::NOT_FOUND, &none, b""), None);
        assert_eq!(
            retry_hint(StatusCode::UNPROCESSABLE_ENTITY, &none, b""),
            None
        );
        assert!(retry_hint(StatusCode::TOO_MANY_REQUESTS, &none, b"").is_some());
    }

    #[test]
    fn encodes_query_and_path() {
        assert_eq!(
            encode("o:kernel-packer/crawl-x", false),
            "o%3Akernel-packer%2Fcrawl-x"
        );
        assert_eq!(
            encode("kernel-packer/crawl-x", true),
            "kernel-packer/crawl-x"
        );
    }

    #[tokio::test]
    async fn debug_hides_token() {
        let t = Token::new("ghp_secretvalue").unwrap();
        let c = OctocrabGitHub::new(
            Some("http://127.0.0.1:9"),
            &t,
            RepoId::parse("o/r").unwrap(),
            RetryPolicy::default(),
        );
        let c = c.unwrap();
        assert!(!format!("{c:?}").contains("secretvalue"));
    }
}
