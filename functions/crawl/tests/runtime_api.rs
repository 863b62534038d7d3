//! The crawl function binary end to end: a minimal Lambda Runtime API on 127.0.0.1 hands it
//! one scheduled event; it reads the repository from the fake GitHub server, crawls (a fixed
//! source: no upstream needed), opens the pull request and posts the run report back. The
//! token never shows in its logs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kernel_packer_test_support::github::FakeGitHub;

fn read_body(reader: &mut BufReader<std::net::TcpStream>) -> (String, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let (mut len, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if h.starts_with("transfer-encoding:") && h.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(len, 0);
        reader.read_exact(&mut body).unwrap();
    }
    (line, body)
}

/// Serves `event` once on `GET …/invocation/next`, sends what the function posts back.
fn runtime_api(event: String) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (line, body) = read_body(&mut reader);
            if line.contains("/invocation/next") {
                if served {
                    // One invocation only: keep the second poll waiting.
                    std::thread::sleep(Duration::from_secs(120));
                    continue;
                }
                served = true;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: 99999999999999\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:crawl\r\nLambda-Runtime-Trace-Id: Root=1-0-0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    event.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(event.as_bytes());
            } else {
                let _ = conn.write_all(
                    b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let _ = tx.send((path, String::from_utf8_lossy(&body).into_owned()));
            }
        }
    });
    (addr, rx)
}

#[test]
fn scheduled_event_opens_a_pull_request() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernel-package-lists");
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        "kernel-package-lists/sources.yml".into(),
        std::fs::read(root.join("sources.yml")).unwrap(),
    );
    files.insert(
        "kernel-package-lists/reformat.yml".into(),
        b"- {name: linuxkit, type: linuxkit, file: linuxkit.txt, reformat: single}\n".to_vec(),
    );
    files.insert(
        "kernel-package-lists/crawl-groups.yml".into(),
        b"groups:\n  tarballs: [linuxkit]\n".to_vec(),
    );
    let gh = FakeGitHub::start("acme", "kernels", &files);
    let event = r#"{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2024-07-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/crawl"],"detail":{"group":"tarballs"}}"#;
    let (api, rx) = runtime_api(event.to_string());
    let logs = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crawl"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "crawl")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KERNEL_PACKER_REPO", "acme/kernels")
        .env("GITHUB_API_URL", gh.base())
        .env("GITHUB_TOKEN", "ghp_functiontoken")
        .env("KERNEL_PACKER_PR_LABELS", "kernel-packer, scheduled")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(logs.reopen().unwrap())
        .spawn()
        .unwrap();
    let got = rx.recv_timeout(Duration::from_secs(120));
    let _ = child.kill();
    let _ = child.wait();
    let (path, body) = got.expect("the function posted a result");
    assert_eq!(
        path, "/2018-06-01/runtime/invocation/req-1/response",
        "{body}"
    );
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["action"], "opened", "{body}");
    assert_eq!(report["number"], 1);
    assert_eq!(report["branch"], "kernel-packer/crawl-tarballs");
    let prs = gh.prs();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0].labels, ["kernel-packer", "scheduled"]);
    let log = std::fs::read_to_string(logs.path()).unwrap();
    assert!(!log.contains("ghp_functiontoken"), "token in logs:\n{log}");
}
