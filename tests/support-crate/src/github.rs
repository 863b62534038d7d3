//! A fake GitHub REST server on 127.0.0.1 for the crawl-PR tests: one repository with real Git
//! object ids (blobs, trees, commits), refs and pull requests, answering the Git data, pulls,
//! labels and check-runs endpoints with GitHub's documented response shapes, and the GraphQL
//! auto-merge mutations (`POST /graphql`). Every request is logged (method, path with query, JSON
//! body, status) so tests can assert exact call sequences; faults (status + headers, N times) and a
//! two-request gate can be injected. HTTP/1.1, one request per connection (`Connection: close`), a
//! thread per connection.
//!
//! GitHub's own behaviour, as far as the whole-loop test needs it:
//! - Branch protection: [`FakeGitHub::require_checks`] names the required check runs. Auto-merge
//!   can be enabled only on an open pull request that still waits for one of them (else GitHub's
//!   "clean status" error); it merges the pull request as soon as every required check run on its
//!   head commit completed with `success` (a merge commit on the base branch; SQUASH: one parent).
//! - Webhooks: [`FakeGitHub::webhook`] sets a URL and secret; every push a merge makes to the
//!   base branch is delivered from a thread as a `push` event signed with HMAC-SHA256
//!   (`X-Hub-Signature-256`), optionally preceded by a copy signed with a wrong secret; the
//!   answers are recorded ([`FakeGitHub::deliveries`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

/// One logged request and the status it got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
    pub at: Instant,
}

impl Call {
    /// `"METHOD /path?query"`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An injected answer for requests matching `method` and a path containing `path`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// How many requests get it (then the fault is spent); `usize::MAX` = always.
    pub times: usize,
}

#[derive(Debug, Clone)]
pub struct Pr {
    pub number: u64,
    pub state: String,
    pub merged: bool,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// Auto-merge method while armed (`MERGE`, `SQUASH`).
    pub auto_merge: Option<String>,
}

/// A check run.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub title: String,
    pub summary: String,
}

/// One webhook delivery and the receiver's answer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    /// Signed with the configured secret (false: the deliberately forged copy).
    pub signed: bool,
    /// HTTP status the receiver answered (0: no answer).
    pub status: u16,
    pub after: String,
}

#[derive(Debug, Clone)]
struct Webhook {
    url: String,
    secret: Vec<u8>,
    forged_copy: bool,
}

#[derive(Debug, Clone)]
struct CommitObj {
    tree: String,
    parents: Vec<String>,
    message: String,
    time: u64,
}

/// (name, mode, type, sha)
type TreeObj = Vec<(String, String, String, String)>;

#[derive(Default)]
struct Repo {
    blobs: HashMap<String, Vec<u8>>,
    trees: HashMap<String, TreeObj>,
    commits: HashMap<String, CommitObj>,
    refs: BTreeMap<String, String>,
    prs: Vec<Pr>,
    calls: Vec<Call>,
    faults: Vec<Fault>,
    clock: u64,
    /// Requests matching (method, path part) wait until this many arrived (or 10 s passed).
    gate: Option<(String, String, usize)>,
    gate_arrived: usize,
    check_runs: Vec<CheckRun>,
    required_checks: Vec<String>,
    webhook: Option<Webhook>,
    /// Pushes (branch, before, after) waiting to be delivered once the lock is released.
    pending_pushes: Vec<(String, String, String)>,
    deliveries: Vec<Delivery>,
}

pub struct FakeGitHub {
    addr: String,
    pub owner: String,
    pub name: String,
    state: Arc<(Mutex<Repo>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

pub fn blob_sha(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

fn tree_sha(entries: &TreeObj) -> String {
    let mut body = Vec::new();
    for (name, mode, _, sha) in entries {
        let mode = mode.trim_start_matches('0');
        body.extend_from_slice(format!("{mode} {name}\0").as_bytes());
        body.extend_from_slice(&hex::decode(sha).unwrap());
    }
    let mut h = Sha1::new();
    h.update(format!("tree {}\0", body.len()).as_bytes());
    h.update(&body);
    hex::encode(h.finalize())
}

fn git_order(entries: &mut TreeObj) {
    entries.sort_by_key(|(name, _, kind, _)| {
        if kind == "tree" {
            format!("{name}/")
        } else {
            name.clone()
        }
    });
}

impl Repo {
    fn put_tree(&mut self, mut entries: TreeObj) -> String {
        git_order(&mut entries);
        let sha = tree_sha(&entries);
        self.trees.insert(sha.clone(), entries);
        sha
    }

    /// path → (mode, blob sha), recursively.
    fn flatten(&self, tree: &str, prefix: &str, out: &mut BTreeMap<String, (String, String)>) {
        for (name, mode, kind, sha) in &self.trees[tree] {
            let path = format!("{prefix}{name}");
            if kind == "tree" {
                self.flatten(sha, &format!("{path}/"), out);
            } else {
                out.insert(path, (mode.clone(), sha.clone()));
            }
        }
    }

    fn build(&mut self, flat: &BTreeMap<String, (String, String)>) -> String {
        let mut here: TreeObj = Vec::new();
        let mut subdirs: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
        for (path, (mode, sha)) in flat {
            match path.split_once('/') {
                Some((dir, rest)) => {
                    subdirs
                        .entry(dir.to_string())
                        .or_default()
                        .insert(rest.to_string(), (mode.clone(), sha.clone()));
                }
                None => here.push((path.clone(), mode.clone(), "blob".into(), sha.clone())),
            }
        }
        for (dir, sub) in subdirs {
            let sha = self.build(&sub);
            here.push((dir, "040000".into(), "tree".into(), sha));
        }
        self.put_tree(here)
    }

    fn commit(&mut self, tree: &str, parents: Vec<String>, message: &str) -> String {
        self.clock += 1;
        let time = 1_700_000_000 + self.clock;
        let mut text = format!("tree {tree}\n");
        for p in &parents {
            text.push_str(&format!("parent {p}\n"));
        }
        text.push_str(&format!(
            "author Bot <bot@fixture.invalid> {time} +0000\ncommitter Bot <bot@fixture.invalid> {time} +0000\n\n{message}"
        ));
        let mut h = Sha1::new();
        h.update(format!("commit {}\0", text.len()).as_bytes());
        h.update(text.as_bytes());
        let sha = hex::encode(h.finalize());
        self.commits.insert(
            sha.clone(),
            CommitObj {
                tree: tree.to_string(),
                parents,
                message: message.to_string(),
                time,
            },
        );
        sha
    }

    fn files_at(&self, commit: &str) -> BTreeMap<String, Vec<u8>> {
        let mut flat = BTreeMap::new();
        self.flatten(&self.commits[commit].tree, "", &mut flat);
        flat.into_iter()
            .map(|(p, (_, sha))| (p, self.blobs[&sha].clone()))
            .collect()
    }

    /// Every required check run on `sha` completed green (at least one is required).
    fn checks_green(&self, sha: &str) -> bool {
        !self.required_checks.is_empty()
            && self.required_checks.iter().all(|name| {
                self.check_runs
                    .iter()
                    .rev()
                    .find(|c| &c.name == name && c.head_sha == sha)
                    .is_some_and(|c| {
                        c.status == "completed" && c.conclusion.as_deref() == Some("success")
                    })
            })
    }

    /// Merges `number` into its base: a merge commit (two parents) or, for SQUASH, one commit
    /// with the head's tree on top of the base. Records the push for delivery.
    fn merge(&mut self, number: u64, method: &str, delete_branch: bool) {
        let pr = self
            .prs
            .iter()
            .find(|p| p.number == number)
            .unwrap()
            .clone();
        let head = self.refs[&pr.head].clone();
        let base = self.refs[&pr.base].clone();
        let tree = self.commits[&head].tree.clone();
        let parents = if method == "SQUASH" {
            vec![base.clone()]
        } else {
            vec![base.clone(), head]
        };
        let c = self.commit(&tree, parents, &format!("{} (#{number})", pr.title));
        self.refs.insert(pr.base.clone(), c.clone());
        self.pending_pushes.push((pr.base.clone(), base, c));
        if delete_branch {
            self.refs.remove(&pr.head);
        }
        let p = self.prs.iter_mut().find(|p| p.number == number).unwrap();
        p.state = "closed".into();
        p.merged = true;
        p.auto_merge = None;
    }

    /// GitHub's auto-merge: merges every open pull request that is armed and green.
    fn auto_merge(&mut self) {
        let ready: Vec<(u64, String)> = self
            .prs
            .iter()
            .filter(|p| p.state == "open")
            .filter_map(|p| Some((p.number, p.auto_merge.clone()?, p.head.clone())))
            .filter(|(_, _, head)| {
                self.refs
                    .get(head)
                    .is_some_and(|sha| self.checks_green(sha))
            })
            .map(|(n, m, _)| (n, m))
            .collect();
        for (n, method) in ready {
            self.merge(n, &method, false);
        }
    }

    fn is_ancestor(&self, old: &str, new: &str) -> bool {
        let mut stack = vec![new.to_string()];
        while let Some(c) = stack.pop() {
            if c == old {
                return true;
            }
            if let Some(obj) = self.commits.get(&c) {
                stack.extend(obj.parents.iter().cloned());
            }
        }
        false
    }
}

impl FakeGitHub {
    /// Starts a server for `owner/name` with default branch `main` holding `files`.
    pub fn start(owner: &str, name: &str, files: &BTreeMap<String, Vec<u8>>) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new((Mutex::new(Repo::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let gh = FakeGitHub {
            addr: addr.clone(),
            owner: owner.into(),
            name: name.into(),
            state: state.clone(),
            stop: stop.clone(),
        };
        gh.commit_files("main", files, "initial");
        let base = format!("http://{addr}");
        let (o, n) = (owner.to_string(), name.to_string());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, base, o, n) = (state.clone(), base.clone(), o.clone(), n.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &s, &base, &o, &n);
                });
            }
        });
        gh
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Repo> {
        self.state.0.lock().unwrap()
    }

    /// Commits `files` (the whole tree) on top of `branch` (created if missing).
    pub fn commit_files(
        &self,
        branch: &str,
        files: &BTreeMap<String, Vec<u8>>,
        msg: &str,
    ) -> String {
        let mut r = self.lock();
        let mut flat = BTreeMap::new();
        for (p, c) in files {
            let sha = blob_sha(c);
            r.blobs.insert(sha.clone(), c.clone());
            flat.insert(p.clone(), ("100644".to_string(), sha));
        }
        let tree = r.build(&flat);
        let parents = r.refs.get(branch).cloned().into_iter().collect();
        let c = r.commit(&tree, parents, msg);
        r.refs.insert(branch.to_string(), c.clone());
        c
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    pub fn ref_of(&self, branch: &str) -> Option<String> {
        self.lock().refs.get(branch).cloned()
    }

    /// The tree id of directory `dir` (`""` = root) at `commit`.
    pub fn tree_of(&self, commit: &str, dir: &str) -> String {
        let r = self.lock();
        let mut tree = r.commits[commit].tree.clone();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            tree = r.trees[&tree]
                .iter()
                .find(|(n, _, k, _)| n == part && k == "tree")
                .unwrap()
                .3
                .clone();
        }
        tree
    }

    pub fn parents(&self, commit: &str) -> Vec<String> {
        self.lock().commits[commit].parents.clone()
    }

    pub fn message(&self, commit: &str) -> String {
        self.lock().commits[commit].message.clone()
    }

    pub fn files_at(&self, commit: &str) -> BTreeMap<String, Vec<u8>> {
        self.lock().files_at(commit)
    }

    pub fn prs(&self) -> Vec<Pr> {
        self.lock().prs.clone()
    }

    pub fn fault(&self, f: Fault) {
        self.lock().faults.push(f);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Requests `method` on a path containing `path` wait until `count` of them arrived.
    pub fn gate(&self, method: &str, path: &str, count: usize) {
        let mut r = self.lock();
        r.gate = Some((method.into(), path.into(), count));
        r.gate_arrived = 0;
    }

    /// Merges PR `number` the way the web UI does: a merge commit on the base branch with the
    /// head's tree, the PR closed and marked merged; the head branch is deleted if asked.
    pub fn merge_pr(&self, number: u64, delete_branch: bool) {
        let mut r = self.lock();
        r.merge(number, "MERGE", delete_branch);
        let pushes = std::mem::take(&mut r.pending_pushes);
        let hook = r.webhook.clone();
        drop(r);
        deliver(&self.state, hook, pushes, &self.owner, &self.name);
    }

    /// Branch protection: these check runs must be green before a pull request merges.
    pub fn require_checks(&self, names: &[&str]) {
        self.lock().required_checks = names.iter().map(|n| n.to_string()).collect();
    }

    /// Push webhooks go to `url`, signed with `secret`; with `forged_copy`, each delivery is
    /// preceded by one signed with a wrong secret.
    pub fn webhook(&self, url: &str, secret: &[u8], forged_copy: bool) {
        self.lock().webhook = Some(Webhook {
            url: url.into(),
            secret: secret.to_vec(),
            forged_copy,
        });
    }

    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.lock().check_runs.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// Waits (at most `timeout`) until `n` deliveries were answered.
    pub fn wait_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let d = self.deliveries();
            if d.len() >= n || Instant::now() >= deadline {
                return d;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, computed here independently of the project's code.
pub fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to `url` (`http://host:port/path`) with `headers`; returns the status (0: none).
fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let rest = url.strip_prefix("http://").expect("webhook URL is http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut conn) = TcpStream::connect(host) else {
        return 0;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(300)));
    let mut head = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: GitHub-Hookshot/fixture\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if conn.write_all(head.as_bytes()).is_err() || conn.write_all(body).is_err() {
        return 0;
    }
    let mut line = String::new();
    let _ = BufReader::new(conn).read_line(&mut line);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Delivers `pushes` to the webhook (if any) from a thread, as GitHub does after answering.
fn deliver(
    state: &Arc<(Mutex<Repo>, Condvar)>,
    hook: Option<Webhook>,
    pushes: Vec<(String, String, String)>,
    owner: &str,
    name: &str,
) {
    let Some(hook) = hook else { return };
    if pushes.is_empty() {
        return;
    }
    let (state, full) = (state.clone(), format!("{owner}/{name}"));
    std::thread::spawn(move || {
        for (branch, before, after) in pushes {
            let pushed_at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let body = serde_json::to_vec(&json!({
                "ref": format!("refs/heads/{branch}"), "before": before, "after": after,
                "created": false, "deleted": false, "forced": false,
                "repository": {"full_name": full, "default_branch": "main", "pushed_at": pushed_at},
                "pusher": {"name": "web-flow"},
            }))
            .unwrap();
            let copies: &[bool] = if hook.forged_copy {
                &[false, true]
            } else {
                &[true]
            };
            for &signed in copies {
                let id = format!(
                    "{}-{}",
                    &after[..12],
                    if signed { "delivery" } else { "forged" }
                );
                let secret: &[u8] = if signed {
                    &hook.secret
                } else {
                    b"not-the-secret"
                };
                let status = post(
                    &hook.url,
                    &[
                        ("X-GitHub-Event", "push".into()),
                        ("X-GitHub-Delivery", id.clone()),
                        ("X-Hub-Signature-256", hub_signature(secret, &body)),
                    ],
                    &body,
                );
                state.0.lock().unwrap().deliveries.push(Delivery {
                    id,
                    signed,
                    status,
                    after: after.clone(),
                });
            }
        }
    });
}

fn read_request(conn: &mut TcpStream) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok((method, path, body))
}

fn respond(conn: &mut TcpStream, status: u16, headers: &[(String, String)], body: &Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nX-GitHub-Media-Type: github.v3; format=json\r\n",
        text.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(text.as_bytes());
    let _ = conn.flush();
}

fn handle(
    mut conn: TcpStream,
    state: &Arc<(Mutex<Repo>, Condvar)>,
    base: &str,
    owner: &str,
    name: &str,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (method, path, body) = read_request(&mut conn)?;
    let json_body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()))
    };
    let (lock, cvar) = &**state;
    let mut r = lock.lock().unwrap();
    // The gate: hold matching requests until enough arrived.
    if let Some((m, p, count)) = r.gate.clone() {
        if m == method && path.contains(&p) {
            r.gate_arrived += 1;
            cvar.notify_all();
            let deadline = Instant::now() + Duration::from_secs(10);
            while r.gate_arrived < count && Instant::now() < deadline {
                r = cvar.wait_timeout(r, Duration::from_millis(50)).unwrap().0;
            }
        }
    }
    let fault = r
        .faults
        .iter_mut()
        .find(|f| f.method == method && path.contains(&f.path) && f.times > 0)
        .map(|f| {
            if f.times != usize::MAX {
                f.times -= 1;
            }
            f.clone()
        });
    let (status, headers, out) = match fault {
        Some(f) => (f.status, f.headers, f.body),
        None if method == "POST" && path == "/graphql" => {
            (200, Vec::new(), graphql(&mut r, &json_body))
        }
        None => {
            let (s, v) = route(&mut r, &method, &path, &json_body, base, owner, name);
            (s, Vec::new(), v)
        }
    };
    r.auto_merge();
    r.calls.push(Call {
        method: method.clone(),
        path: path.clone(),
        body: json_body,
        status,
        at: Instant::now(),
    });
    let pushes = std::mem::take(&mut r.pending_pushes);
    let hook = r.webhook.clone();
    drop(r);
    respond(&mut conn, status, &headers, &out);
    deliver(state, hook, pushes, owner, name);
    Ok(())
}

fn graphql_error(kind: &str, message: &str) -> Value {
    json!({"data": null, "errors": [{"type": kind, "path": ["mutation"], "locations": [{"line": 1, "column": 1}], "message": message}]})
}

/// The GraphQL auto-merge mutations (`enablePullRequestAutoMerge`, `disablePullRequestAutoMerge`)
/// with GitHub's answers; anything else is an error response.
fn graphql(r: &mut Repo, body: &Value) -> Value {
    let query = body["query"].as_str().unwrap_or("");
    let vars = &body["variables"];
    let node = vars["pr"].as_str().unwrap_or("");
    let enable = query.contains("enablePullRequestAutoMerge");
    if !enable && !query.contains("disablePullRequestAutoMerge") {
        return graphql_error(
            "UNSUPPORTED",
            "the fake GitHub serves only the auto-merge mutations",
        );
    }
    let Some(i) = r.prs.iter().position(|p| pr_node_id(p.number) == node) else {
        return graphql_error(
            "NOT_FOUND",
            &format!("Could not resolve to a node with the global id of '{node}'."),
        );
    };
    let number = r.prs[i].number;
    if r.prs[i].state != "open" {
        return graphql_error("UNPROCESSABLE", "Pull request is closed");
    }
    let field = if enable {
        let method = vars["method"].as_str().unwrap_or("MERGE").to_string();
        if !["MERGE", "SQUASH", "REBASE"].contains(&method.as_str()) {
            return graphql_error("INVALID", &format!("invalid merge method {method}"));
        }
        let head = r.refs.get(&r.prs[i].head).cloned().unwrap_or_default();
        if r.required_checks.is_empty() || r.checks_green(&head) {
            return graphql_error(
                "UNPROCESSABLE",
                "Pull request Pull request is in clean status",
            );
        }
        r.prs[i].auto_merge = Some(method.clone());
        json!({"enablePullRequestAutoMerge": {"pullRequest": {"number": number,
            "autoMergeRequest": {"enabledAt": "2023-11-14T22:13:20Z", "mergeMethod": method}}}})
    } else {
        r.prs[i].auto_merge = None;
        json!({"disablePullRequestAutoMerge": {"pullRequest": {"number": number}}})
    };
    json!({ "data": field })
}

fn pr_node_id(number: u64) -> String {
    format!("PR_kwDOfixture{number}")
}

fn check_run_json(base: &str, repo: &str, c: &CheckRun) -> Value {
    json!({
        "id": c.id, "node_id": format!("CR_kwDOfixture{}", c.id), "head_sha": c.head_sha,
        "external_id": "", "url": format!("{base}{repo}/check-runs/{}", c.id),
        "html_url": format!("https://github.invalid{}/runs/{}", repo.replace("/repos", ""), c.id),
        "details_url": null, "status": c.status, "conclusion": c.conclusion,
        "started_at": "2023-11-14T22:13:20Z",
        "completed_at": if c.status == "completed" { json!("2023-11-14T22:13:21Z") } else { Value::Null },
        "output": {"title": c.title, "summary": c.summary, "text": null, "annotations_count": 0},
        "name": c.name, "app": {"id": 1, "slug": "kernel-packer"}, "pull_requests": []
    })
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

fn unprocessable(msg: &str) -> (u16, Value) {
    (
        422,
        json!({"message": msg, "documentation_url": "https://docs.github.com/rest/git/refs", "status": "422"}),
    )
}

fn ref_json(base: &str, repo: &str, branch: &str, sha: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"),
        "node_id": "REF_kwDOfixture",
        "url": format!("{base}{repo}/git/refs/heads/{branch}"),
        "object": {"sha": sha, "type": "commit", "url": format!("{base}{repo}/git/commits/{sha}")}
    })
}

fn commit_json(base: &str, repo: &str, sha: &str, c: &CommitObj) -> Value {
    let who = json!({"name": "Bot", "email": "bot@fixture.invalid", "date": format!("2023-11-14T22:{:02}:{:02}Z", (c.time / 60) % 60, c.time % 60)});
    json!({
        "sha": sha,
        "node_id": "C_kwDOfixture",
        "url": format!("{base}{repo}/git/commits/{sha}"),
        "html_url": format!("https://github.invalid{repo}/commit/{sha}"),
        "author": who,
        "committer": who,
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{base}{repo}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{base}{repo}/git/commits/{p}"), "html_url": format!("https://github.invalid{repo}/commit/{p}")})).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
    })
}

fn tree_json(r: &Repo, base: &str, repo: &str, sha: &str, recursive: bool) -> Value {
    let mut entries = Vec::new();
    fn walk(
        r: &Repo,
        base: &str,
        repo: &str,
        sha: &str,
        prefix: &str,
        recursive: bool,
        out: &mut Vec<Value>,
    ) {
        for (name, mode, kind, esha) in &r.trees[sha] {
            let path = format!("{prefix}{name}");
            let mut e = json!({"path": path, "mode": mode, "type": kind, "sha": esha,
                "url": format!("{base}{repo}/git/{}s/{esha}", kind)});
            if kind == "blob" {
                e["size"] = json!(r.blobs[esha].len());
            }
            out.push(e);
            if recursive && kind == "tree" {
                walk(r, base, repo, esha, &format!("{path}/"), recursive, out);
            }
        }
    }
    walk(r, base, repo, sha, "", recursive, &mut entries);
    json!({"sha": sha, "url": format!("{base}{repo}/git/trees/{sha}"), "tree": entries, "truncated": false})
}

fn pr_json(base: &str, repo: &str, owner: &str, r: &Repo, p: &Pr) -> Value {
    let head_sha = r.refs.get(&p.head).cloned().unwrap_or_default();
    let base_sha = r.refs.get(&p.base).cloned().unwrap_or_default();
    json!({
        "url": format!("{base}{repo}/pulls/{}", p.number),
        "id": 1000 + p.number,
        "node_id": pr_node_id(p.number),
        "html_url": format!("https://github.invalid{repo}/pull/{}", p.number).replace("/repos", ""),
        "number": p.number,
        "state": p.state,
        "locked": false,
        "title": p.title,
        "user": {"login": "kernel-packer-bot", "id": 7, "type": "Bot"},
        "body": p.body,
        "labels": p.labels.iter().map(|l| json!({"id": 1, "name": l, "color": "ededed", "default": false})).collect::<Vec<_>>(),
        "created_at": "2023-11-14T22:13:20Z",
        "updated_at": "2023-11-14T22:13:20Z",
        "closed_at": if p.state == "closed" { json!("2023-11-14T22:13:20Z") } else { Value::Null },
        "merged_at": if p.merged { json!("2023-11-14T22:13:20Z") } else { Value::Null },
        "draft": false,
        "auto_merge": p.auto_merge.as_ref().map(|m| json!({"enabled_by": {"login": "kernel-packer-bot"}, "merge_method": m.to_lowercase(), "commit_title": null, "commit_message": null})),
        "head": {"label": format!("{owner}:{}", p.head), "ref": p.head, "sha": head_sha},
        "base": {"label": format!("{owner}:{}", p.base), "ref": p.base, "sha": base_sha}
    })
}

fn query(path: &str) -> (String, HashMap<String, String>) {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut m = HashMap::new();
    for pair in q.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(k.to_string(), decode(v));
    }
    (p.to_string(), m)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn route(
    r: &mut Repo,
    method: &str,
    full: &str,
    body: &Value,
    base: &str,
    owner: &str,
    name: &str,
) -> (u16, Value) {
    let repo = format!("/repos/{owner}/{name}");
    let (path, q) = query(full);
    let Some(rest) = path.strip_prefix(&repo) else {
        return not_found();
    };
    let rest = decode(rest);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match (method, rest.as_str()) {
        ("GET", "") => (
            200,
            json!({"id": 1, "node_id": "R_kgDOfixture", "name": name, "full_name": format!("{owner}/{name}"),
                   "private": false, "owner": {"login": owner, "id": 1, "type": "Organization"},
                   "html_url": format!("https://github.invalid/{owner}/{name}"), "default_branch": "main",
                   "url": format!("{base}{repo}")}),
        ),
        ("GET", p) if p.starts_with("/git/ref/heads/") => {
            let b = &p["/git/ref/heads/".len()..];
            match r.refs.get(b) {
                Some(sha) => (200, ref_json(base, &repo, b, sha)),
                None => not_found(),
            }
        }
        ("GET", p) if p.starts_with("/git/commits/") => {
            match r.commits.get(&p["/git/commits/".len()..]) {
                Some(c) => (
                    200,
                    commit_json(base, &repo, &p["/git/commits/".len()..], c),
                ),
                None => not_found(),
            }
        }
        ("GET", p) if p.starts_with("/git/trees/") => {
            let sha = &p["/git/trees/".len()..];
            if !r.trees.contains_key(sha) {
                return not_found();
            }
            (
                200,
                tree_json(r, base, &repo, sha, q.contains_key("recursive")),
            )
        }
        ("GET", p) if p.starts_with("/git/blobs/") => {
            let sha = &p["/git/blobs/".len()..];
            match r.blobs.get(sha) {
                Some(b) => {
                    let enc = base64::engine::general_purpose::STANDARD.encode(b);
                    let wrapped: Vec<String> = enc
                        .as_bytes()
                        .chunks(60)
                        .map(|c| String::from_utf8(c.to_vec()).unwrap())
                        .collect();
                    (
                        200,
                        json!({"sha": sha, "node_id": "B_kwDOfixture", "size": b.len(),
                        "url": format!("{base}{repo}/git/blobs/{sha}"),
                        "content": wrapped.join("\n") + "\n", "encoding": "base64"}),
                    )
                }
                None => not_found(),
            }
        }
        ("POST", "/git/blobs") => {
            let content = s(body, "content");
            let bytes = if s(body, "encoding") == "base64" {
                base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .unwrap()
            } else {
                content.into_bytes()
            };
            let sha = blob_sha(&bytes);
            r.blobs.insert(sha.clone(), bytes);
            (
                201,
                json!({"url": format!("{base}{repo}/git/blobs/{sha}"), "sha": sha}),
            )
        }
        ("POST", "/git/trees") => {
            let mut flat = BTreeMap::new();
            let bt = s(body, "base_tree");
            if !bt.is_empty() {
                if !r.trees.contains_key(&bt) {
                    return unprocessable("base_tree is not a valid tree oid");
                }
                r.flatten(&bt, "", &mut flat);
            }
            for e in body["tree"].as_array().cloned().unwrap_or_default() {
                let p = s(&e, "path");
                match e.get("sha") {
                    Some(Value::Null) => {
                        flat.remove(&p);
                    }
                    _ => {
                        let sha = s(&e, "sha");
                        if !r.blobs.contains_key(&sha) {
                            return unprocessable("tree.sha is not a valid blob");
                        }
                        flat.insert(p, (s(&e, "mode"), sha));
                    }
                }
            }
            let sha = r.build(&flat);
            (201, tree_json(r, base, &repo, &sha, false))
        }
        ("POST", "/git/commits") => {
            let tree = s(body, "tree");
            if !r.trees.contains_key(&tree) {
                return unprocessable("Tree SHA does not exist");
            }
            let parents: Vec<String> = body["parents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            if parents.iter().any(|p| !r.commits.contains_key(p)) {
                return unprocessable("Parent SHA does not exist or is not a commit object");
            }
            let sha = r.commit(&tree, parents, &s(body, "message"));
            let c = r.commits[&sha].clone();
            (201, commit_json(base, &repo, &sha, &c))
        }
        ("POST", "/git/refs") => {
            let full_ref = s(body, "ref");
            let Some(b) = full_ref.strip_prefix("refs/heads/") else {
                return unprocessable("Reference name must start with refs/");
            };
            let sha = s(body, "sha");
            if r.refs.contains_key(b) {
                return unprocessable("Reference already exists");
            }
            if !r.commits.contains_key(&sha) {
                return unprocessable("Object does not exist");
            }
            r.refs.insert(b.to_string(), sha.clone());
            (201, ref_json(base, &repo, b, &sha))
        }
        ("PATCH", p) if p.starts_with("/git/refs/heads/") => {
            let b = p["/git/refs/heads/".len()..].to_string();
            let sha = s(body, "sha");
            let force = body["force"].as_bool().unwrap_or(false);
            let Some(cur) = r.refs.get(&b).cloned() else {
                return unprocessable("Reference does not exist");
            };
            if !r.commits.contains_key(&sha) {
                return unprocessable("Object does not exist");
            }
            if !force && !r.is_ancestor(&cur, &sha) {
                return unprocessable("Update is not a fast forward");
            }
            r.refs.insert(b.clone(), sha.clone());
            (200, ref_json(base, &repo, &b, &sha))
        }
        ("GET", "/pulls") => {
            let state = q.get("state").cloned().unwrap_or_else(|| "open".into());
            let head = q.get("head").cloned();
            let basef = q.get("base").cloned();
            let list: Vec<Value> = r
                .prs
                .iter()
                .filter(|p| state == "all" || p.state == state)
                .filter(|p| {
                    head.as_ref()
                        .is_none_or(|h| *h == format!("{owner}:{}", p.head))
                })
                .filter(|p| basef.as_ref().is_none_or(|b| *b == p.base))
                .map(|p| pr_json(base, &repo, owner, r, p))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", "/pulls") => {
            let head = s(body, "head");
            let basebr = s(body, "base");
            if !r.refs.contains_key(&head) {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
                );
            }
            if r.prs
                .iter()
                .any(|p| p.state == "open" && p.head == head && p.base == basebr)
            {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
                );
            }
            let number = r.prs.len() as u64 + 1;
            let pr = Pr {
                number,
                state: "open".into(),
                merged: false,
                head,
                base: basebr,
                title: s(body, "title"),
                body: s(body, "body"),
                labels: Vec::new(),
                auto_merge: None,
            };
            r.prs.push(pr.clone());
            (201, pr_json(base, &repo, owner, r, &pr))
        }
        ("PATCH", p) if p.starts_with("/pulls/") => {
            let n: u64 = p["/pulls/".len()..].parse().unwrap_or(0);
            let Some(i) = r.prs.iter().position(|p| p.number == n) else {
                return not_found();
            };
            if let Some(t) = body.get("title").and_then(Value::as_str) {
                r.prs[i].title = t.into();
            }
            if let Some(t) = body.get("body").and_then(Value::as_str) {
                r.prs[i].body = t.into();
            }
            let pr = r.prs[i].clone();
            (200, pr_json(base, &repo, owner, r, &pr))
        }
        ("POST", p) if p.starts_with("/issues/") && p.ends_with("/labels") => {
            let n: u64 = p["/issues/".len()..p.len() - "/labels".len()]
                .parse()
                .unwrap_or(0);
            let Some(i) = r.prs.iter().position(|p| p.number == n) else {
                return not_found();
            };
            for l in body["labels"].as_array().cloned().unwrap_or_default() {
                let l = l.as_str().unwrap().to_string();
                if !r.prs[i].labels.contains(&l) {
                    r.prs[i].labels.push(l);
                }
            }
            let labels: Vec<Value> = r.prs[i]
                .labels
                .iter()
                .map(|l| json!({"id": 1, "node_id": "LA_kwDOfixture", "url": format!("{base}{repo}/labels/{l}"), "name": l, "color": "ededed", "default": false, "description": null}))
                .collect();
            (200, Value::Array(labels))
        }
        ("GET", p) if p.starts_with("/commits/") && p.ends_with("/check-runs") => {
            let sha = &p["/commits/".len()..p.len() - "/check-runs".len()];
            let name = q.get("check_name");
            let runs: Vec<Value> = r
                .check_runs
                .iter()
                .rev()
                .filter(|c| c.head_sha == sha && name.is_none_or(|n| *n == c.name))
                .map(|c| check_run_json(base, &repo, c))
                .collect();
            (200, json!({"total_count": runs.len(), "check_runs": runs}))
        }
        ("POST", "/check-runs") => {
            let head = s(body, "head_sha");
            if !r.commits.contains_key(&head) {
                return unprocessable("No commit found for SHA");
            }
            let c = CheckRun {
                id: 5000 + r.check_runs.len() as u64 + 1,
                name: s(body, "name"),
                head_sha: head,
                status: body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("queued")
                    .into(),
                conclusion: body
                    .get("conclusion")
                    .and_then(Value::as_str)
                    .map(Into::into),
                title: s(&body["output"], "title"),
                summary: s(&body["output"], "summary"),
            };
            r.check_runs.push(c.clone());
            (201, check_run_json(base, &repo, &c))
        }
        ("PATCH", p) if p.starts_with("/check-runs/") => {
            let id: u64 = p["/check-runs/".len()..].parse().unwrap_or(0);
            let Some(c) = r.check_runs.iter_mut().find(|c| c.id == id) else {
                return not_found();
            };
            if let Some(v) = body.get("status").and_then(Value::as_str) {
                c.status = v.into();
            }
            if let Some(v) = body.get("conclusion").and_then(Value::as_str) {
                c.conclusion = Some(v.into());
                c.status = "completed".into();
            }
            if let Some(o) = body.get("output") {
                c.title = s(o, "title");
                c.summary = s(o, "summary");
            }
            let c = c.clone();
            (200, check_run_json(base, &repo, &c))
        }
        _ => not_found(),
    }
}
