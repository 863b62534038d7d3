//! The pack function binary run as Lambda runs it: against a local Lambda Runtime API server,
//! with a real `moto_server` for the stores and the real Debian header packages, amd64 and arm64
//! (this amd64 function packs arm64 sets: packing never runs the bundle's host tools).

use std::process::{Command, Stdio};
use std::time::Duration;

use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::store::Store;
use kernel_packer_test_support::fixtures::{debian_arm64_packages, debian_packages};
use kernel_packer_test_support::harness::{s3_store, LambdaApi, Moto};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_function_serves_direct_function_url_and_step_functions_events() {
    let moto = Moto::start();
    let packages = s3_store(&moto.endpoint(), "packages", "", None).await;
    let bundles = s3_store(&moto.endpoint(), "bundles", "", None).await;
    // Each set's packages go to the package store under their simplified URLs.
    let mut names = Vec::new();
    let mut arm_names = Vec::new();
    for (debs, names) in [
        (debian_packages(), &mut names),
        (debian_arm64_packages(), &mut arm_names),
    ] {
        for deb in debs {
            let name = simplify(&format!(
                "http://mirror.test/pool/{}",
                deb.file_name().unwrap().to_str().unwrap()
            ));
            packages.put_file(&name, &deb, None).await.unwrap();
            names.push(name);
        }
    }
    let good = manifest_id(&names);
    let arm = manifest_id(&arm_names);
    let broken_pkg = simplify("http://mirror.test/pool/linux-headers-9.9.9-1-amd64_1_amd64.deb");
    let broken = manifest_id(std::slice::from_ref(&broken_pkg));
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("  - {n}\n"))
            .collect::<String>()
    };
    let manifest = format!(
        "{good}:\n  type: debian\n  packages:\n{}{arm}:\n  type: debian\n  arch: arm64\n  packages:\n{}{broken}:\n  type: debian\n  packages:\n  - {broken_pkg}\n",
        list(&names),
        list(&arm_names),
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
        // The state machine's items: whole list_missing entries, arm64 among them.
        json!({"list_missing": true}),
        json!({"id": arm, "arch": "arm64", "needs_toolchain": false}),
        json!({"id": good, "arch": "arm64"}),
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
        .env("KERNEL_PACKER_MISSING", "s3://bundles/missing/")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let replies = api.wait_replies(7, Duration::from_secs(600), &mut child);
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
    assert_eq!(r["arch"], "amd64");
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
    // 4: the missing list carries each id's arch (the amd64 set is packed already).
    assert_eq!(replies[4].kind, "response", "{:?}\n{logs}", replies[4]);
    let key = replies[4].body["key"].as_str().unwrap();
    let listed: Value =
        serde_json::from_slice(&bundles.get_bytes(key).await.unwrap().unwrap()).unwrap();
    let mut expected = vec![
        json!({"id": arm, "arch": "arm64", "needs_toolchain": false}),
        json!({"id": broken, "arch": "amd64", "needs_toolchain": false}),
    ];
    expected.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    assert_eq!(listed, Value::Array(expected));
    // 5: an arm64 item is packed here (on amd64): an arm64 bundle and index entry.
    assert_eq!(replies[5].kind, "response", "{:?}\n{logs}", replies[5]);
    let r = &replies[5].body;
    assert_eq!(r["arch"], "arm64");
    assert!(r["kernel"].as_str().unwrap().ends_with("-arm64"), "{r}");
    let entry = kernel_packer::index::read_entry(&bundles, &arm)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.arch, "arm64");
    assert_ne!(
        Some(entry.bundle.as_str()),
        replies[0].body["bundle"].as_str()
    );
    // 6: an item whose arch is not its set's is refused, naming both.
    assert_eq!(replies[6].kind, "error");
    assert_eq!(replies[6].body["errorType"], "ArchMismatch");
    let message = replies[6].body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("amd64 set") && message.contains("asks for arm64"),
        "{message}"
    );
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
