//! A merge triggers the work (issue 12, item 2): a signed `push` delivery for the default branch of
//! the fake GitHub (tests/support_github) becomes a write-once pack request naming exactly the ids
//! and URLs the push added; badly signed, stale, foreign and replayed deliveries are refused before
//! any GitHub call or store write; a push that adds nothing writes no request.

mod support_github;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kernel_packer::github::{OctocrabGitHub, RepoId, RetryPolicy, Token};
use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::store::{DirStore, Store};
use kernel_packer::trigger::{self, Incoming, Outcome, PackRequest, Settings};
use kernel_packer_test_support::fixtures::{push_body, repo_lists, unix_now};
use kernel_packer_test_support::harness::object;
use support_github::FakeGitHub;

const SECRET: &[u8] = b"webhook-secret-for-tests";

/// The lists of a repository holding `urls`, with a README (`extra`) outside them.
fn files(urls: &[&str], extra: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = repo_lists(urls);
    files.insert("README.md".to_string(), extra.as_bytes().to_vec());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_push_requests_exactly_the_new_ids_and_bad_deliveries_are_refused() {
    let old = "http://deb.test/pool/main/l/linux/linux-headers-6.1.0-1-amd64_6.1.4-1_amd64.deb";
    let new = "http://deb.test/pool/main/l/linux/linux-headers-6.1.0-2-amd64_6.1.5-1_amd64.deb";
    let gh = FakeGitHub::start("acme", "kernels", &files(&[old], "v1"));
    let before = gh.ref_of("main").unwrap();
    let after = gh.commit_files("main", &files(&[old, new], "v1"), "Merge crawl PR");
    let client = OctocrabGitHub::new(
        Some(&gh.base()),
        &Token::new("ghp_fixturetoken").unwrap(),
        RepoId::parse("acme/kernels").unwrap(),
        RetryPolicy::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().join("bundles")));
    let settings = Settings {
        secret: SECRET.to_vec(),
        repo: "acme/kernels".into(),
        max_age: Duration::from_secs(3600),
        lists_dir: "kernel-package-lists".into(),
        cache: Some(dir.path().join("cache")),
    };
    let body = push_body(&before, &after, unix_now() - 5, "acme/kernels");
    let good_sig = trigger::sign(SECRET, &body);
    let delivery =
        |sig: Option<&str>, id: &str, body: &[u8]| -> (String, Option<String>, Vec<u8>) {
            (id.to_string(), sig.map(str::to_string), body.to_vec())
        };
    let run = |(id, sig, body): (String, Option<String>, Vec<u8>)| {
        let (client, store, settings) = (&client, store.clone(), settings.clone());
        async move {
            let incoming = Incoming {
                event: Some("push"),
                signature: sig.as_deref(),
                delivery: Some(&id),
                body: &body,
            };
            trigger::handle(client, store.as_ref(), &settings, &incoming, unix_now()).await
        }
    };
    let stored = || {
        let mut keys: Vec<String> = walk(&dir.path().join("bundles"));
        keys.sort();
        keys
    };

    // Refused before any GitHub call or store write: bad signature, no signature, tampered body,
    // stale push, another repository.
    let tampered = push_body(&before, &after, unix_now() - 5, "acme/kernels2");
    let stale = push_body(&before, &after, unix_now() - 7200, "acme/kernels");
    let stale_sig = trigger::sign(SECRET, &stale);
    let foreign_sig = trigger::sign(SECRET, &tampered);
    for (case, status) in [
        (delivery(Some("sha256=00"), "d-1", &body), 401),
        (delivery(None, "d-1", &body), 401),
        (
            delivery(Some(&trigger::sign(b"wrong", &body)), "d-1", &body),
            401,
        ),
        (delivery(Some(&good_sig), "d-1", &tampered), 401),
        (delivery(Some(&stale_sig), "d-1", &stale), 409),
        (delivery(Some(&foreign_sig), "d-1", &tampered), 403),
    ] {
        let refusal = run(case).await.unwrap_err().unwrap();
        assert_eq!(refusal.status, status, "{refusal}");
    }
    assert!(gh.calls().is_empty(), "{:?}", gh.calls());
    assert!(stored().is_empty(), "{:?}", stored());

    // The signed merge push: one request with exactly the new id and URL.
    let outcome = run(delivery(Some(&good_sig), "d-1", &body)).await.unwrap();
    let new_id = manifest_id(&[simplify(new)]);
    assert_eq!(
        outcome,
        Outcome::Requested {
            key: format!("requests/{after}.json"),
            ids: 1,
            urls: 1,
            new: true
        }
    );
    let request: PackRequest =
        serde_json::from_slice(&object(store.as_ref(), &trigger::request_key(&after)).await)
            .unwrap();
    assert_eq!(request.ids, std::slice::from_ref(&new_id));
    assert_eq!(request.urls, [new]);
    assert_eq!(request.items.len(), 1);
    assert!(!request.items[0].needs_toolchain);
    let first_calls = gh.calls();
    assert!(
        first_calls.iter().all(|c| c.method == "GET"),
        "{first_calls:?}"
    );
    eprintln!("GitHub calls for one merge push: {}", first_calls.len());
    assert_eq!(
        stored(),
        [
            "deliveries/d-1".to_string(),
            format!("requests/{after}.json")
        ]
    );

    // The same delivery again is refused without reading GitHub or writing anything.
    gh.clear_calls();
    let replay = run(delivery(Some(&good_sig), "d-1", &body))
        .await
        .unwrap_err()
        .unwrap();
    assert_eq!(replay.status, 409);
    assert!(gh.calls().is_empty());
    // A second delivery of the same push (GitHub redelivery) adds nothing new: the request is
    // write-once per commit.
    let again = run(delivery(Some(&good_sig), "d-2", &body)).await.unwrap();
    assert!(
        matches!(again, Outcome::Requested { new: false, .. }),
        "{again:?}"
    );
    assert!(
        gh.calls().is_empty(),
        "commit snapshots come from the cache"
    );

    // A push that changes no list (README only) writes no request.
    let readme = gh.commit_files("main", &files(&[old, new], "v2"), "docs");
    let body = push_body(&after, &readme, unix_now(), "acme/kernels");
    let sig = trigger::sign(SECRET, &body);
    let outcome = run(delivery(Some(&sig), "d-3", &body)).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::NothingNew {
            commit: readme.clone()
        }
    );
    assert!(store
        .get_bytes(&trigger::request_key(&readme))
        .await
        .unwrap()
        .is_none());

    // Pings and other events are answered without work.
    let ping = Incoming {
        event: Some("ping"),
        signature: Some(&trigger::sign(SECRET, b"{}")),
        delivery: Some("d-4"),
        body: b"{}",
    };
    assert_eq!(
        trigger::handle(&client, store.as_ref(), &settings, &ping, unix_now())
            .await
            .unwrap(),
        Outcome::Ping
    );
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}
