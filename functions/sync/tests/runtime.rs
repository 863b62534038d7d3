//! The sync function binary run as Lambda runs it: a local Lambda Runtime API server, a local HTTP
//! package mirror and a real `moto_server`.

use std::process::Command;
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
    let (replies, logs) = api.run(
        Command::new(env!("CARGO_BIN_EXE_kernel-packer-fn-sync"))
            .envs(moto.env())
            .env("KERNEL_PACKER_PACKAGES", "s3://packages/mirror")
            .env("KERNEL_PACKER_LISTS", lists.path()),
        4,
        Duration::from_secs(120),
    );

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

/// `KERNEL_PACKER_LISTS=github`: the lists come from the default branch of the repository (the
/// fake GitHub), so a merged list is mirrored by the next run with no upload or redeploy; the
/// second run reads the cached commit (two GitHub calls) and transfers nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_function_reads_the_lists_of_the_default_branch() {
    use kernel_packer_test_support::github::FakeGitHub;
    let moto = Moto::start();
    let store = s3_store(&moto.endpoint(), "packages", "p/", None).await;
    let server = HttpServer::start(|req| match req.path.as_str() {
        "/merged.deb" => Response::new(200, "merged package"),
        _ => Response::new(404, "no"),
    });
    let files = std::collections::BTreeMap::from([(
        "kernel-package-lists/debian.txt".to_string(),
        format!("{}\n", server.url("/merged.deb")).into_bytes(),
    )]);
    let gh = FakeGitHub::start("acme", "kernels", &files);
    let api = LambdaApi::start(vec![json!({}), json!({})]);
    let tmp = tempfile::tempdir().unwrap();
    let (replies, logs) = api.run(
        Command::new(env!("CARGO_BIN_EXE_kernel-packer-fn-sync"))
            .envs(moto.env())
            .env("KERNEL_PACKER_PACKAGES", "s3://packages/p")
            .env("KERNEL_PACKER_LISTS", "github")
            .env("KERNEL_PACKER_REPO", "acme/kernels")
            .env("GITHUB_TOKEN", "ghp_fixturetoken")
            .env("GITHUB_API_URL", gh.base())
            .env("TMPDIR", tmp.path()),
        2,
        Duration::from_secs(120),
    );
    assert_eq!(replies[0].kind, "response", "{:?}\n{logs}", replies[0]);
    assert_eq!(replies[0].body["transferred"], 1);
    assert_eq!(replies[1].body["transferred"], 0);
    assert_eq!(replies[1].body["present"], 1);
    let key = simplify(&server.url("/merged.deb"));
    assert_eq!(
        store.get_bytes(&key).await.unwrap().unwrap(),
        b"merged package"
    );
    let calls: Vec<String> = gh.calls().iter().map(|c| c.line()).collect();
    assert!(calls.iter().all(|c| c.starts_with("GET ")), "{calls:?}");
    // Second run: default branch + its ref only; the commit's files come from the cache.
    let second: Vec<&String> = calls.iter().rev().take(2).collect();
    assert!(
        second.iter().any(|c| c.contains("/git/ref/heads/main")),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| c.contains("/git/blobs/")).count(),
        1,
        "{calls:?}"
    );
}
