//! Discovery that follows upstream, on the fixture world (the project's real `sources.yml`):
//! - a repeat crawl of an unchanged apt and yum mirror that sends no validators transfers only
//!   the signed pointers (InRelease, repomd.xml, the yum mirror list; plus 404 probes for
//!   companion suites that do not exist), counted at the mirror;
//! - the upstream canary of every source kind (apt metapackage, yum, html, bucket, github):
//!   when upstream points at a kernel the rules miss, the source fails with
//!   `rules are stale: ...` and its lists stay byte-identical.

mod crawl_support;

use std::collections::HashMap;

use crawl_support::fixtures::{self, Deb, Rpm};
use crawl_support::world::{amazon_rpms, corpus, crawl_with, expect_failure, World, AMAZON_ROOT};

fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> Vec<String> {
    let mut out: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k).copied().unwrap_or(0) < **v)
        .map(|(k, _)| k.clone())
        .collect();
    out.sort();
    out
}

#[test]
fn repeat_crawl_without_validators_transfers_only_signed_pointers() {
    let w = World::build();
    w.mirror.without_validators();
    let sources = ["debian", "amazon"];
    let http = w.http();
    let r1 = crawl_with(&w, &http, &sources);
    assert!(r1.ok(), "{}", r1.summary());
    let hits = w.mirror.hit_counts();
    let bytes = w.mirror.bytes.load(std::sync::atomic::Ordering::SeqCst);
    let first = delta(&HashMap::new(), &hits);
    assert!(
        first.iter().any(|t| t.contains("/by-hash/SHA256/")),
        "apt indexes are fetched by hash: {first:?}"
    );

    // A fresh client, the same cache: nothing but the signed pointers travels.
    let r2 = crawl_with(&w, &w.http(), &sources);
    assert!(r2.ok(), "{}", r2.summary());
    let hits2 = w.mirror.hit_counts();
    let second = delta(&hits, &hits2);
    let unexpected: Vec<&String> = second
        .iter()
        .filter(|t| {
            let pointer = t.ends_with("/InRelease")
                || t.ends_with("/repomd.xml")
                || t.ends_with("/mirror.list");
            // Probes for companion suites that do not exist answer 404, no body.
            let absent = w.mirror.body_at(t).is_none();
            !(pointer || absent)
        })
        .collect();
    assert!(unexpected.is_empty(), "repeat crawl fetched {unexpected:?}");
    let count = |t: &String| hits2[t] - hits.get(t).copied().unwrap_or(0);
    let pointer_bytes: u64 = second
        .iter()
        .map(|t| count(t) * w.mirror.body_at(t).map_or(0, |b| b.len() as u64))
        .sum();
    let repeat_bytes = w.mirror.bytes.load(std::sync::atomic::Ordering::SeqCst) - bytes;
    assert_eq!(repeat_bytes, pointer_bytes);
    assert_eq!(r2.http.requests, second.iter().map(count).sum::<u64>());
    assert!(r2.http.reused > 0);
    assert!(
        repeat_bytes < bytes,
        "repeat {repeat_bytes} bytes, first {bytes}"
    );
    eprintln!(
        "first crawl: {} requests, {bytes} bytes; repeat: {} requests ({second:?}), {repeat_bytes} bytes, {} reused",
        r1.http.requests, r2.http.requests, r2.http.reused
    );
}

/// Crawls `source` after `change`, expects the stale-rules failure containing `want`, and
/// the source's lists byte-identical.
fn expect_stale(source: &str, want: &str, change: impl FnOnce(&World)) {
    let w = World::build();
    expect_failure(&w, source, &["rules are stale: ", want], change);
}

#[test]
fn canaries_pass_on_the_fixture_world() {
    let w = World::build();
    let sources = [
        "debian",
        "ubuntu-standard",
        "amazon",
        "centos",
        "fedora-coreos",
        "cos",
        "minikube",
        "gardenlinux",
        "flatcar",
        "kops",
    ];
    let r = crawl_with(&w, &w.http(), &sources);
    assert!(r.ok(), "{}", r.summary());
}

#[test]
fn apt_metapackage_pointing_at_a_missed_kernel_fails_the_source() {
    let csail = "http://debian.csail.mit.edu/debian/";
    expect_stale(
        "debian",
        "linux-headers-amd64 (sid) depends on linux-headers-7.0.1+deb14-amd64, which was not selected",
        |w| {
            // sid gains a kernel whose header no longer depends on a kbuild package (say the
            // packaging changed): the selection misses it, the metapackage points at it.
            let mut debs: Vec<Deb> = corpus("debian.txt")
                .iter()
                .filter(|u| u.starts_with(csail) && u.contains("_6.9"))
                .map(|u| Deb::from_url(csail, u))
                .collect();
            debs.push(Deb {
                package: "linux-headers-7.0.1+deb14-amd64".into(),
                version: "7.0.1-1".into(),
                arch: "amd64".into(),
                filename: "pool/main/l/linux/linux-headers-7.0.1+deb14-amd64_7.0.1-1_amd64.deb"
                    .into(),
                depends: "linux-headers-7.0.1+deb14-common (= 7.0.1-1), linux-build-7.0".into(),
            });
            let signed = "pool/main/l/linux-signed-amd64/";
            debs.push(fixtures::metapackage(
                "linux-headers-amd64",
                "7.0.1-1",
                "linux-headers-7.0.1+deb14-amd64",
                signed,
            ));
            debs.push(fixtures::metapackage(
                "linux-headers-rt-amd64",
                "6.9.7-1",
                "linux-headers-6.9.7-rt-amd64",
                signed,
            ));
            fixtures::apt_suite(&w.mirror, &w.signer, csail, "sid", &[("main", debs)], "amd64");
            fixtures::apt_alias(&w.mirror, csail, "unstable", "sid");
        },
    );
}

#[test]
fn yum_newest_package_not_selected_fails_the_source() {
    expect_stale(
        "amazon",
        "the newest entry kernel4.19-devel (4.19.1-1.amzn2) was not selected",
        |w| {
            let mut rpms = amazon_rpms();
            // A newer 4.x kernel under a name the selection does not take (renamed with its
            // series).
            rpms.push(Rpm::from_file(
                "kernel4.19-devel-4.19.1-1.amzn2.x86_64.rpm",
                "../../../../../blobstore/bb/kernel4.19-devel-4.19.1-1.amzn2.x86_64.rpm",
            ));
            fixtures::yum_repo(&w.mirror, None, AMAZON_ROOT, &rpms, "gz");
        },
    );
}

#[test]
fn html_newest_file_not_selected_fails_the_source() {
    expect_stale(
        "flatcar",
        "9999.0.0/flatcar_developer_container.bin.zst",
        |w| {
            let root = "https://stable.release.flatcar-linux.net/amd64-usr/";
            let mut files = corpus("flatcar.txt");
            // The newest release ships its developer container with another compression.
            files.push(format!(
                "{root}9999.0.0/flatcar_developer_container.bin.zst"
            ));
            fixtures::html_tree(&w.mirror, root, &files);
        },
    );
}

#[test]
fn bucket_newest_entry_not_selected_fails_the_source() {
    expect_stale("cos", "99999.0.0/kernel-src.tar.zst", |w| {
        let bucket = "https://storage.googleapis.com/cos-tools";
        let mut keys: Vec<String> = corpus("cos.txt")
            .iter()
            .map(|u| u.strip_prefix(&format!("{bucket}/")).unwrap().to_string())
            .collect();
        keys.push("99999.0.0/kernel-src.tar.zst".into());
        fixtures::bucket_listing(&w.mirror, bucket, &keys, 500);
    });
}

#[test]
fn github_newest_tag_without_a_kernel_fails_the_source() {
    expect_stale("minikube", "the newest entry v1.99.0", |w| {
        let api = "https://api.github.com/repos/kubernetes/minikube";
        let raw = "https://raw.githubusercontent.com/kubernetes/minikube/";
        let mut tags = vec!["v1.99.0".to_string()];
        let mut old: Vec<String> = corpus("minikube.txt")
            .iter()
            .filter_map(|u| u.strip_prefix(raw))
            .map(|r| r.split('/').next().unwrap().to_string())
            .collect();
        old.reverse();
        tags.extend(old);
        // v1.99.0 moved its kernel config: the probes find nothing.
        fixtures::github_releases(&w.mirror, api, &tags);
    });
}
