//! The pack function binary run as Lambda runs it: against a local Lambda Runtime API server,
//! with a real `moto_server` for the stores and the real Debian header packages.

use std::process::{Command, Stdio};
use std::time::Duration;

use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::store::Store;
use kernel_packer_test_support::fixtures::debian_packages;
use kernel_packer_test_support::harness::{s3_store, LambdaApi, Moto};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_function_serves_direct_function_url_and_step_functions_events() {
    let moto = Moto::start();
    let packages = s3_store(&moto.endpoint(), "packages", "", None).await;
    let bundles = s3_store(&moto.endpoint(), "bundles", "", None).await;
    let mut names = Vec::new();
    for deb in debian_packages() {
        let name = simplify(&format!(
            "http://mirror.test/pool/{}",
            deb.file_name().unwrap().to_str().unwrap()
        ));
        packages.put_file(&name, &deb, None).await.unwrap();
        names.push(name);
    }
    let good = manifest_id(&names);
    let broken_pkg = simplify("http://mirror.test/pool/linux-headers-9.9.9-1-amd64_1_amd64.deb");
    let broken = manifest_id(std::slice::from_ref(&broken_pkg));
    let manifest = format!(
        "{good}:\n  type: debian\n  packages:\n{}{broken}:\n  type: debian\n  packages:\n  - {broken_pkg}\n",
        names.iter().map(|n| format!("  - {n}\n")).collect::<String>()
    );
    // The manifest is read from the bundle bucket, as a deployed function would.
    bundles
        .put_bytes("manifest.yml", manifest.into_bytes())
        .await
        .unwrap();

    let events = vec![
        json!({"id": good}),
        json!({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "POST"}},
               "body": "{\"kernel\": \"9.9.9-nope\"}", "isBase64Encoded": false}),
        json!({}),
        json!(broken),
    ];
    let api = LambdaApi::start(events);
    let work = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kernel-packer-fn-pack"))
        .envs(api.env())
        .envs(moto.env())
        .env("KERNEL_PACKER_PACKAGES", "s3://packages")
        .env("KERNEL_PACKER_BUNDLES", "s3://bundles")
        .env("KERNEL_PACKER_MANIFEST", "s3://bundles/manifest.yml")
        .env("KERNEL_PACKER_WORK_DIR", work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let replies = api.wait_replies(4, Duration::from_secs(600), &mut child);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);

    // 0: packed.
    assert_eq!(replies[0].kind, "response", "{:?}\n{logs}", replies[0]);
    let r = &replies[0].body;
    assert_eq!(r["id"], json!(good));
    let bundle = r["bundle"].as_str().unwrap();
    let head = bundles.head(bundle).await.unwrap().unwrap();
    assert_eq!(json!(head.size), r["size"]);
    assert_eq!(json!(head.sha256), r["sha256"]);
    assert!(r["kernel"].as_str().unwrap().starts_with("6.1.0-"));
    assert!(kernel_packer::index::read_entry(&bundles, &good)
        .await
        .unwrap()
        .is_some());
    // 1: Function URL, unknown kernel → HTTP 404 with a reason.
    assert_eq!(replies[1].kind, "response");
    assert_eq!(replies[1].body["statusCode"], 404);
    let body: Value = serde_json::from_str(replies[1].body["body"].as_str().unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("9.9.9-nope"),
        "{body}"
    );
    // 2: bad event → Lambda error.
    assert_eq!(replies[2].kind, "error");
    assert_eq!(replies[2].body["errorType"], "BadRequest");
    // 3: Step Functions item (bare id) whose package is missing → Lambda error naming it.
    assert_eq!(replies[3].kind, "error");
    assert_eq!(replies[3].body["errorType"], "PackError");
    assert!(replies[3].body["errorMessage"]
        .as_str()
        .unwrap()
        .contains(&broken_pkg));
    // Logs are JSON lines.
    let json_lines = logs
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert!(
        json_lines >= 3
            && logs
                .lines()
                .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{logs}"
    );
}
