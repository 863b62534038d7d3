//! Test harness for the store/sync/pack-on-demand/function tests: a real `moto_server` (S3) on
//! 127.0.0.1, a tiny HTTP/1.1 server (package mirror, Lambda Runtime API), and a TCP proxy that can
//! cut connections mid-request (an S3 server dying mid-upload, as seen by the client).
//! Every wait is bounded.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kernel_packer::store::{S3Options, S3Store, Store};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 60 s");
}

/// The moto venv made by `scripts/setup.d/20-moto.sh` (pinned to a version whose multipart
/// completion answer the AWS SDK accepts).
const PINNED_MOTO: &str = "/opt/kernel-packer-moto/bin/moto_server";

/// A `moto_server` process (S3 API) on 127.0.0.1; killed on drop. Panics (test fails) when
/// `moto_server` is not installed: run `scripts/setup.d/20-moto.sh`.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let program = if std::path::Path::new(PINNED_MOTO).exists() {
            PINNED_MOTO
        } else {
            "moto_server"
        };
        let mut child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is not installed: run scripts/setup.d/20-moto.sh");
        wait_for_port(port, &mut child, "moto_server");
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for child processes (functions, CLI) to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("KERNEL_PACKER_S3_ENDPOINT", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// S3 options for a server at `endpoint` with test credentials.
pub fn s3_options(endpoint: &str) -> S3Options {
    S3Options {
        endpoint: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        ..Default::default()
    }
}

/// A store on `endpoint` (the bucket is created when missing).
pub async fn s3_store(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
    opts: Option<S3Options>,
) -> S3Store {
    let opts = opts.unwrap_or_else(|| s3_options(endpoint));
    let store = S3Store::connect(bucket.into(), prefix.into(), &opts)
        .await
        .unwrap();
    let _ = store.client().create_bucket().bucket(bucket).send().await;
    store
}

/// Stores each of `debs` under the simplified name of `<base_url><file name>` (as a sync of those
/// URLs would); returns the names in the order of `debs`.
pub async fn upload_debs(
    store: &dyn Store,
    debs: &[std::path::PathBuf],
    base_url: &str,
) -> Vec<String> {
    let mut names = Vec::new();
    for deb in debs {
        let url = format!("{base_url}{}", deb.file_name().unwrap().to_str().unwrap());
        let name = kernel_packer::names::simplify(&url);
        store.put_file(&name, deb, None).await.unwrap();
        names.push(name);
    }
    names
}

/// The content of `key`; panics when the object is missing or cannot be read.
pub async fn object(store: &dyn Store, key: &str) -> Vec<u8> {
    store
        .get_bytes(key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{}: no object {key}", store.location()))
}

/// One HTTP request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send only this many body bytes, then close (Content-Length still announces the full size).
    pub truncate_at: Option<usize>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.into(),
            truncate_at: None,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A minimal threaded HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length or chunked bodies).
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, r) = (stop.clone(), requests.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        let (h, r, s) = (handler.clone(), r.clone(), s.clone());
                        thread::spawn(move || serve(conn, h, r, s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpServer {
            port,
            stop,
            requests,
        }
    }

    /// Serves the files under `dir` (GET `/<relative path>`; 404 for anything else).
    pub fn serve_dir(dir: &std::path::Path) -> HttpServer {
        let dir = dir.to_path_buf();
        HttpServer::start(move |req| {
            let rel = req
                .path
                .split('?')
                .next()
                .unwrap_or("")
                .trim_start_matches('/');
            match std::fs::read(dir.join(rel)) {
                Ok(body) if req.method == "GET" && !rel.split('/').any(|c| c == "..") => {
                    Response::new(200, body)
                }
                _ => Response::new(404, "not found"),
            }
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(conn: TcpStream, handler: Arc<Handler>, count: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    conn.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, path) = (method.to_string(), path.to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let n =
                    usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        count.fetch_add(1, Ordering::SeqCst);
        let req = Request {
            method,
            path,
            headers,
            body,
        };
        let resp = handler(&req);
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            resp.status,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let n = resp
            .truncate_at
            .unwrap_or(resp.body.len())
            .min(resp.body.len());
        if writer.write_all(&resp.body[..n]).is_err() || writer.flush().is_err() {
            return;
        }
        if resp.truncate_at.is_some() {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// A TCP proxy to `127.0.0.1:upstream` that cuts every connection after `limit` client→server
/// bytes (`u64::MAX`: never), like a server dying mid-upload.
pub struct Proxy {
    pub port: u16,
    limit: Arc<AtomicU64>,
    pub cuts: Arc<AtomicUsize>,
    /// What each connection sent upstream (first 64 MiB, lossy UTF-8), pushed when it closes.
    pub captured: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let limit = Arc::new(AtomicU64::new(u64::MAX));
        let cuts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let captured: Arc<Mutex<Vec<String>>> = Arc::default();
        let (l, c, s, cap) = (limit.clone(), cuts.clone(), stop.clone(), captured.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let limit = l.load(Ordering::SeqCst);
                let cuts = c.clone();
                let cap = cap.clone();
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pipe(client, server, limit, Some((cuts, cap))));
                thread::spawn(move || pipe(s2, c2, u64::MAX, None));
            }
        });
        Proxy {
            port,
            limit,
            cuts,
            captured,
            stop,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cut new connections after `bytes` upstream bytes; `None` heals the proxy.
    pub fn cut_after(&self, bytes: Option<u64>) {
        self.limit
            .store(bytes.unwrap_or(u64::MAX), Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

type Upstream = (Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>);

fn pipe(mut from: TcpStream, mut to: TcpStream, limit: u64, upstream: Option<Upstream>) {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    let mut head = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let allowed = limit.saturating_sub(total).min(n as u64) as usize;
        if allowed > 0 && to.write_all(&buf[..allowed]).is_err() {
            break;
        }
        total += allowed as u64;
        if head.len() < 64 << 20 {
            head.extend_from_slice(&buf[..allowed]);
        }
        if allowed < n {
            if let Some((c, _)) = &upstream {
                c.fetch_add(1, Ordering::SeqCst);
            }
            break;
        }
    }
    if let Some((_, cap)) = &upstream {
        cap.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&head).into_owned());
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A Lambda Runtime API (`/2018-06-01/runtime/...`) serving queued events and recording replies.
pub struct LambdaApi {
    pub server: HttpServer,
    state: Arc<(Mutex<LambdaState>, Condvar)>,
}

#[derive(Default)]
struct LambdaState {
    queue: VecDeque<(String, serde_json::Value)>,
    replies: Vec<Reply>,
    init_error: Option<String>,
}

/// What the function answered for one invocation.
#[derive(Debug, Clone)]
pub struct Reply {
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    pub body: serde_json::Value,
}

impl LambdaApi {
    pub fn start(events: Vec<serde_json::Value>) -> LambdaApi {
        let state: Arc<(Mutex<LambdaState>, Condvar)> = Arc::default();
        {
            let mut s = state.0.lock().unwrap();
            for (i, ev) in events.into_iter().enumerate() {
                s.queue.push_back((format!("req-{i}"), ev));
            }
        }
        let st = state.clone();
        let server = HttpServer::start(move |req| {
            let (lock, cv) = &*st;
            let p = req.path.as_str();
            if req.method == "GET" && p == "/2018-06-01/runtime/invocation/next" {
                let deadline = Instant::now() + Duration::from_secs(300);
                let mut s = lock.lock().unwrap();
                loop {
                    if let Some((id, ev)) = s.queue.pop_front() {
                        let ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 900_000;
                        return Response::new(200, ev.to_string())
                            .header("Content-Type", "application/json")
                            .header("Lambda-Runtime-Aws-Request-Id", &id)
                            .header("Lambda-Runtime-Deadline-Ms", &ms.to_string())
                            .header(
                                "Lambda-Runtime-Invoked-Function-Arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:test",
                            )
                            .header(
                                "Lambda-Runtime-Trace-Id",
                                "Root=1-00000000-000000000000000000000000",
                            );
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Response::new(500, "no more events");
                    }
                    s = cv.wait_timeout(s, deadline - now).unwrap().0;
                }
            }
            if req.method == "POST" && p == "/2018-06-01/runtime/init/error" {
                lock.lock().unwrap().init_error = Some(String::from_utf8_lossy(&req.body).into());
                cv.notify_all();
                return Response::new(202, "{}");
            }
            if let Some(rest) = p.strip_prefix("/2018-06-01/runtime/invocation/") {
                if let Some((id, kind)) = rest.split_once('/') {
                    if req.method == "POST" && (kind == "response" || kind == "error") {
                        let body = serde_json::from_slice(&req.body).unwrap_or_else(|_| {
                            serde_json::Value::String(String::from_utf8_lossy(&req.body).into())
                        });
                        lock.lock().unwrap().replies.push(Reply {
                            request_id: id.to_string(),
                            kind: kind.to_string(),
                            body,
                        });
                        cv.notify_all();
                        return Response::new(202, "{}");
                    }
                }
            }
            Response::new(404, "not found")
        });
        LambdaApi { server, state }
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }

    /// Environment a function process needs besides its own configuration.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", "test".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "stream".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "group".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Runs the function binary `function` (its own configuration already set on it) against this
    /// API until `n` replies arrived (bounded by `timeout`, see [`LambdaApi::wait_replies`]), then
    /// stops it. Returns the replies and the function's stderr (its logs).
    pub fn run(&self, function: &mut Command, n: usize, timeout: Duration) -> (Vec<Reply>, String) {
        let mut child = function
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {function:?}: {e}"));
        let replies = self.wait_replies(n, timeout, &mut child);
        let _ = child.kill();
        let logs = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).to_string();
        (replies, logs)
    }

    /// Waits (bounded by `timeout`) until `n` replies arrived; panics with the init error if any.
    pub fn wait_replies(&self, n: usize, timeout: Duration, child: &mut Child) -> Vec<Reply> {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut s = lock.lock().unwrap();
        loop {
            if let Some(e) = &s.init_error {
                panic!("function reported an init error: {e}");
            }
            if s.replies.len() >= n {
                let mut r = s.replies.clone();
                r.sort_by(|a, b| a.request_id.cmp(&b.request_id));
                return r;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "function exited ({status}) after {} of {n} replies",
                    s.replies.len()
                );
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "only {} of {n} replies within {timeout:?}",
                s.replies.len()
            );
            s = cv
                .wait_timeout(s, Duration::from_millis(200).min(deadline - now))
                .unwrap()
                .0;
        }
    }
}
