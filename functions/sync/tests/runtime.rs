//! The sync function binary run as Lambda runs it: a local Lambda Runtime API server, a local HTTP
//! package mirror and a real `moto_server`.

use std::process::{Command, Stdio};
use std::time::Duration;

use kernel_packer::names::{sha256_hex, simplify};
use kernel_packer::store::Store;
use kernel_packer_test_support::harness::{s3_store, HttpServer, LambdaApi, Moto, Response};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_function_mirrors_lists_and_urls() {
    let moto = Moto::start();
    let store = s3_store(&moto.endpoint(), "packages", "mirror/", None).await;
    let server = HttpServer::start(|req| match req.path.as_str() {
        "/a.deb" => Response::new(200, "package a"),
        "/b.rpm" => Response::new(200, "package b"),
        _ => Response::new(404, "no"),
    });
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(
        lists.path().join("one.txt"),
        format!("{}\n{}\n", server.url("/a.deb"), server.url("/b.rpm")),
    )
    .unwrap();
    // The crawl recorded another checksum for b.rpm: refused.
    std::fs::write(
        lists.path().join("one.sums"),
        format!("{} - {}\n", sha256_hex(b"other"), server.url("/b.rpm")),
    )
    .unwrap();

    let events = vec![
        json!({"list": "one"}),
        json!({"version": "2.0", "rawPath": "/", "requestContext": {},
               "body": json!({"urls": [server.url("/a.deb")]}).to_string()}),
        json!({"list": "../etc"}),
        json!({"bogus": true}),
    ];
    let api = LambdaApi::start(events);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kernel-packer-fn-sync"))
        .envs(api.env())
        .envs(moto.env())
        .env("KERNEL_PACKER_PACKAGES", "s3://packages/mirror")
        .env("KERNEL_PACKER_LISTS", lists.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let replies = api.wait_replies(4, Duration::from_secs(120), &mut child);
    let _ = child.kill();
    let logs = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).to_string();

    assert_eq!(replies[0].kind, "error", "{:?}\n{logs}", replies[0]);
    assert_eq!(replies[0].body["errorType"], "SyncIncomplete");
    let msg = replies[0].body["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("1 transferred") && msg.contains("sha256 mismatch"),
        "{msg}"
    );
    let a = simplify(&server.url("/a.deb"));
    assert_eq!(store.get_bytes(&a).await.unwrap().unwrap(), b"package a");
    assert!(store
        .head(&simplify(&server.url("/b.rpm")))
        .await
        .unwrap()
        .is_none());

    assert_eq!(replies[1].kind, "response");
    assert_eq!(replies[1].body["statusCode"], 200);
    let body: Value = serde_json::from_str(replies[1].body["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["present"], 1);
    assert_eq!(body["transferred"], 0);

    assert_eq!(replies[2].kind, "error");
    assert_eq!(replies[2].body["errorType"], "BadRequest");
    assert!(replies[2].body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("invalid list name"));
    assert_eq!(replies[3].body["errorType"], "BadRequest");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{logs}"
    );
}
