//! A small HTTP/1.1 server on 127.0.0.1 serving fixture files, with conditional requests
//! (ETag / If-None-Match), per-path faults and injected latency. Each connection is handled
//! on its own thread and closed after one response.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault injected on one path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Always answer with this status.
    Status(u16),
    /// Sleep this long before answering.
    Delay(Duration),
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, Fault>,
    auth: HashMap<String, String>,
    /// Extra response header lines per path (e.g. a registry's `Link`).
    headers: HashMap<String, String>,
    /// The `WWW-Authenticate` value of 401 answers (default: a Basic challenge).
    challenge: Option<String>,
    hits: HashMap<String, u64>,
    latency: Duration,
    /// Send no ETag and ignore If-None-Match (like the Debian mirror these machines use).
    no_validators: bool,
}

/// The running server; stopped on drop.
pub struct Mirror {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    /// Requests answered.
    pub requests: Arc<AtomicU64>,
    /// Body bytes sent.
    pub bytes: Arc<AtomicU64>,
    /// Most requests ever handled at the same time.
    pub max_in_flight: Arc<AtomicU64>,
}

impl Mirror {
    /// Starts a server on a free port.
    pub fn start() -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let max_in_flight = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicU64::new(0));
        let (s, st, rq, by) = (state.clone(), stop.clone(), requests.clone(), bytes.clone());
        let (mx, inf) = (max_in_flight.clone(), in_flight.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, rq, by, mx, inf) =
                    (s.clone(), rq.clone(), by.clone(), mx.clone(), inf.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &s, &rq, &by, (&inf, &mx));
                });
            }
        });
        Mirror {
            addr,
            state,
            stop,
            requests,
            bytes,
            max_in_flight,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The local URL prefix that stands for an upstream `scheme://host/`.
    pub fn prefix_for(&self, upstream: &str) -> String {
        let u = reqwest::Url::parse(upstream).unwrap();
        format!("{}/{}/", self.base(), u.host_str().unwrap())
    }

    /// Mirror overrides for every upstream host given (`scheme://host/` → local prefix).
    pub fn overrides(&self, upstream_hosts: &[String]) -> Vec<(String, String)> {
        upstream_hosts
            .iter()
            .map(|h| (h.clone(), self.prefix_for(h)))
            .collect()
    }

    /// Serves `body` at the upstream URL `url` (path + query as the client sends it).
    pub fn put(&self, url: &str, body: Vec<u8>) {
        let key = local_key(url);
        self.state.lock().unwrap().files.insert(key, body);
    }

    /// Stops serving `url` (404).
    pub fn remove(&self, url: &str) {
        self.state.lock().unwrap().files.remove(&local_key(url));
    }

    /// The body served at `url`.
    pub fn get(&self, url: &str) -> Option<Vec<u8>> {
        self.state
            .lock()
            .unwrap()
            .files
            .get(&local_key(url))
            .cloned()
    }

    /// Injects a fault at `url`.
    pub fn fault(&self, url: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(local_key(url), fault);
    }

    /// Answers 401 at `url` unless the request's `Authorization` header equals `value`.
    pub fn require_auth(&self, url: &str, value: &str) {
        self.state
            .lock()
            .unwrap()
            .auth
            .insert(local_key(url), value.to_string());
    }

    /// Sends the header line `line` (`Name: value`) with every answer at `url`; an empty
    /// line sends none.
    pub fn header(&self, url: &str, line: &str) {
        let mut s = self.state.lock().unwrap();
        if line.is_empty() {
            s.headers.remove(&local_key(url));
        } else {
            s.headers.insert(local_key(url), format!("{line}\r\n"));
        }
    }

    /// Answers 401s with `WWW-Authenticate: <challenge>` (e.g. a registry's bearer challenge).
    pub fn set_challenge(&self, challenge: &str) {
        self.state.lock().unwrap().challenge = Some(challenge.to_string());
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Requests seen for `url`.
    pub fn hits(&self, url: &str) -> u64 {
        *self
            .state
            .lock()
            .unwrap()
            .hits
            .get(&local_key(url))
            .unwrap_or(&0)
    }

    /// Stops sending validators (ETag) and answering conditional requests.
    pub fn without_validators(&self) {
        self.state.lock().unwrap().no_validators = true;
    }

    /// Requests seen per request target (`/host/path?query`), so far.
    pub fn hit_counts(&self) -> HashMap<String, u64> {
        self.state.lock().unwrap().hits.clone()
    }

    /// The body served at a request target (`/host/path?query`).
    pub fn body_at(&self, target: &str) -> Option<Vec<u8>> {
        self.state.lock().unwrap().files.get(target).cloned()
    }

    /// Adds latency to every response.
    pub fn set_latency(&self, d: Duration) {
        self.state.lock().unwrap().latency = d;
    }

    /// Number of files served.
    pub fn file_count(&self) -> usize {
        self.state.lock().unwrap().files.len()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// `scheme://host/path?query` → `/host/path?query` (the local request target).
pub fn local_key(url: &str) -> String {
    let u = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("bad fixture URL {url}: {e}"));
    let mut key = format!("/{}{}", u.host_str().unwrap(), u.path());
    if let Some(q) = u.query() {
        key.push('?');
        key.push_str(q);
    }
    key
}

/// Counts requests in flight from the end of the request head to the end of the response.
struct InFlight<'a>(&'a AtomicU64);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(
    conn: TcpStream,
    state: &Mutex<State>,
    requests: &AtomicU64,
    bytes: &AtomicU64,
    (in_flight, max_in_flight): (&AtomicU64, &AtomicU64),
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut if_none_match = None;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    let (body, fault, latency, needed_auth, no_validators, extra, challenge) = {
        let mut s = state.lock().unwrap();
        *s.hits.entry(target.clone()).or_default() += 1;
        (
            s.files.get(&target).cloned(),
            s.faults.get(&target).cloned(),
            s.latency,
            s.auth.get(&target).cloned(),
            s.no_validators,
            s.headers.get(&target).cloned().unwrap_or_default(),
            s.challenge
                .clone()
                .unwrap_or_else(|| "Basic realm=\"fixture\"".to_string()),
        )
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(in_flight);
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
    let mut conn = conn;
    let respond =
        |conn: &mut TcpStream, status: &str, headers: &str, body: &[u8]| -> std::io::Result<()> {
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes())?;
            if method != "HEAD" {
                conn.write_all(body)?;
            }
            conn.flush()
        };
    match fault {
        Some(Fault::Status(code)) => {
            return respond(
                &mut conn,
                &format!("{code} Injected"),
                "",
                b"injected failure",
            );
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    if needed_auth.is_some() && needed_auth != authorization {
        return respond(
            &mut conn,
            "401 Unauthorized",
            &format!("WWW-Authenticate: {challenge}\r\n"),
            b"unauthorized",
        );
    }
    let Some(body) = body else {
        return respond(
            &mut conn,
            "404 Not Found",
            "Content-Type: text/plain\r\n",
            b"not found",
        );
    };
    if no_validators {
        bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
        return respond(&mut conn, "200 OK", &extra, &body);
    }
    let etag = format!("\"{}\"", &hex::encode(sha2_digest(&body))[..16]);
    if if_none_match.as_deref() == Some(etag.as_str()) {
        return respond(
            &mut conn,
            "304 Not Modified",
            &format!("ETag: {etag}\r\n{extra}"),
            b"",
        );
    }
    bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
    respond(
        &mut conn,
        "200 OK",
        &format!("ETag: {etag}\r\n{extra}"),
        &body,
    )
}

fn sha2_digest(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}
