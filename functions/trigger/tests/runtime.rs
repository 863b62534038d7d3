//! The trigger function binary run as Lambda runs it: a local Lambda Runtime API server feeding
//! Function URL events (GitHub's headers and raw body), the fake GitHub and a real `moto_server`.
//! A forged delivery gets 401, the signed merge push 200 and a request object naming the new id,
//! the replay 409, a ping 200.

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::trigger::{self, PackRequest};
use kernel_packer_test_support::fixtures::{push_body, repo_lists, unix_now};
use kernel_packer_test_support::github::FakeGitHub;
use kernel_packer_test_support::harness::{object, s3_store, LambdaApi, Moto};
use serde_json::{json, Value};

const SECRET: &str = "function-test-secret";

fn url_event(event: &str, delivery: &str, signature: &str, body: &[u8], base64: bool) -> Value {
    let body_field = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    json!({
        "version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "POST"}},
        "headers": {
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": delivery,
            "x-hub-signature-256": signature
        },
        "body": body_field, "isBase64Encoded": base64
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_function_refuses_forgeries_and_replays_and_requests_the_new_id() {
    let old = "http://deb.test/linux-headers-6.1.0-1-amd64_1_amd64.deb";
    let new = "http://deb.test/linux-headers-6.1.0-2-amd64_2_amd64.deb";
    let gh = FakeGitHub::start("acme", "kernels", &repo_lists(&[old]));
    let before = gh.ref_of("main").unwrap();
    let after = gh.commit_files("main", &repo_lists(&[old, new]), "Merge pull request #1");
    let moto = Moto::start();
    let store = s3_store(&moto.endpoint(), "bundles", "b/", None).await;
    let body = push_body(&before, &after, unix_now(), "acme/kernels");
    let good = trigger::sign(SECRET.as_bytes(), &body);
    let forged = trigger::sign(b"guess", &body);
    let events = vec![
        url_event("push", "d-1", &forged, &body, false),
        url_event("push", "d-1", &good, &body, true),
        url_event("push", "d-1", &good, &body, false),
        url_event(
            "ping",
            "d-2",
            &trigger::sign(SECRET.as_bytes(), b"{}"),
            b"{}",
            false,
        ),
    ];
    let api = LambdaApi::start(events);
    let cache = tempfile::tempdir().unwrap();
    let (replies, logs) = api.run(
        Command::new(env!("CARGO_BIN_EXE_kernel-packer-fn-trigger"))
            .envs(moto.env())
            .env("KERNEL_PACKER_BUNDLES", "s3://bundles/b")
            .env("KERNEL_PACKER_REPO", "acme/kernels")
            .env("GITHUB_TOKEN", "ghp_fixturetoken")
            .env("GITHUB_API_URL", gh.base())
            .env("WEBHOOK_SECRET", SECRET)
            .env("TMPDIR", cache.path()),
        4,
        Duration::from_secs(120),
    );
    assert!(!logs.contains(SECRET), "the secret reached the logs");
    let status = |i: usize| replies[i].body["statusCode"].as_u64().unwrap();
    let body_of = |i: usize| -> Value {
        serde_json::from_str(replies[i].body["body"].as_str().unwrap()).unwrap()
    };
    assert_eq!(status(0), 401, "{:?}\n{logs}", replies[0]);
    assert_eq!(status(1), 200, "{:?}\n{logs}", replies[1]);
    assert_eq!(body_of(1)["action"], "requested");
    assert_eq!(status(2), 409, "{:?}", replies[2]);
    assert_eq!(status(3), 200);
    assert_eq!(body_of(3)["action"], "ping");
    let request: PackRequest =
        serde_json::from_slice(&object(&store, &trigger::request_key(&after)).await).unwrap();
    assert_eq!(request.ids, [manifest_id(&[simplify(new)])]);
    assert_eq!(request.urls, [new]);
}
