//! Crawls the fixture mirror (every source kind, the project's real `sources.yml`, package URLs
//! from the seed corpus) and checks the list files after each scenario: a full crawl, a
//! conditional repeat, vanishing and returning URLs, and faults (500s, slow responses,
//! truncated gzip, checksum mismatch, bad signature, empty and malformed pages).

mod crawl_support;

use std::collections::BTreeSet;
use std::time::Duration;

use crawl_support::fixtures::{self, Signer};
use crawl_support::mirror::Fault;
use crawl_support::world::{crawl_with, World, SOURCES};
use kernel_packer::crawl::http::Http;
use kernel_packer::crawl::{self, CrawlReport, Outcome, Selection};
use kernel_packer::lists::DirStore;

fn outcome<'a>(r: &'a CrawlReport, source: &str) -> &'a Outcome {
    &r.sources
        .iter()
        .find(|s| s.name == source)
        .unwrap_or_else(|| panic!("{source} not in report"))
        .outcome
}

fn snapshot(w: &World) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(w.lists.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn assert_expected(w: &World) {
    for (list, want) in &w.expected {
        let got = w.list(list);
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{list}: missing {missing:?}, unexpected {extra:?}"
        );
        let text = w.list_text(list).unwrap();
        let order = w.config.source(list).unwrap().order;
        assert_eq!(
            text,
            kernel_packer::lists::parse(&text).render_with(order),
            "{list} is not in canonical form"
        );
    }
    for (list, want) in &w.expected_uncrawled {
        let got = w.list(list);
        assert_eq!(&got, want, "{list}");
    }
}

#[test]
fn full_crawl_then_conditional_repeat() {
    let w = World::build();
    let http = w.http();
    let r1 = crawl_with(&w, &http, SOURCES);
    eprintln!("{}", r1.summary());
    assert!(r1.ok(), "first crawl failed:\n{}", r1.summary());
    assert_expected(&w);
    // Every upstream host maps to the one mirror: the per-host bound applies to it as a whole.
    let max = w
        .mirror
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    let bound = w.config.defaults.per_host_concurrency as u64;
    assert!(
        max > 1 && max <= bound,
        "{max} requests in flight, bound {bound}"
    );

    // Debian: one new upstream package added, buster's packages moved to the uncrawled list.
    match outcome(&r1, "debian") {
        Outcome::Updated { added, moved, .. } => {
            assert_eq!(added, &vec![w.added["debian"].clone()]);
            assert!(
                !moved.is_empty() && moved.iter().all(|u| u.contains("4.19")),
                "{moved:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // kops keeps its order (one-to-each: the shared kbuild first); the new kernel is appended.
    let kops = w.list_text("kops.txt").unwrap();
    let corpus_kops =
        std::fs::read_to_string(crawl_support::world::corpus_dir().join("kops.txt")).unwrap();
    assert_eq!(kops, format!("{corpus_kops}{}\n", w.added["kops"]));
    // CentOS: ELRepo kernels came back from centos-uncrawled.txt.
    let centos_unc = w.list("centos-uncrawled.txt");
    assert!(!centos_unc
        .iter()
        .any(|u| u.contains("linux-mirrors.fnal.gov")));
    assert!(w
        .list("centos.txt")
        .iter()
        .any(|u| u.contains("linux-mirrors.fnal.gov")));
    let after_first = snapshot(&w);

    // Repeat with a fresh client but the same on-disk cache: everything answers 304.
    let http2 = w.http();
    let r2 = crawl_with(&w, &http2, SOURCES);
    assert!(r2.ok(), "repeat crawl failed:\n{}", r2.summary());
    for s in &r2.sources {
        match &s.outcome {
            Outcome::Updated {
                added,
                moved,
                written,
                ..
            } => {
                assert!(
                    added.is_empty() && moved.is_empty() && !written,
                    "{}: {:?}",
                    s.name,
                    s.outcome
                )
            }
            other => panic!("{}: {other:?}", s.name),
        }
    }
    assert_eq!(
        snapshot(&w),
        after_first,
        "a repeat crawl changed list files"
    );
    assert!(r2.http.not_modified > 0);
    assert!(
        r2.http.bytes * 20 < r1.http.bytes,
        "repeat fetched {} bytes vs {}",
        r2.http.bytes,
        r1.http.bytes
    );
    eprintln!("first: {:?}\nrepeat: {:?}", r1.http, r2.http);
}

#[test]
fn vanished_urls_move_to_uncrawled_and_come_back() {
    let w = World::build();
    let http = w.http();
    assert!(crawl_with(&w, &http, &["flatcar"]).ok());
    let dir = "https://stable.release.flatcar-linux.net/amd64-usr/";
    let index = w.mirror.get(dir).unwrap();
    let html = String::from_utf8(index.clone()).unwrap();
    let victim = w.expected["flatcar.txt"].iter().next().unwrap().clone();
    let version = victim.strip_prefix(dir).unwrap().split('/').next().unwrap();
    let pruned: String = html
        .lines()
        .filter(|l| !l.contains(&format!("\"{version}/\"")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(pruned.len(), html.len());
    w.mirror.put(dir, pruned.into_bytes());

    let r = crawl_with(&w, &http, &["flatcar"]);
    assert_eq!(
        outcome(&r, "flatcar"),
        &Outcome::Updated {
            added: vec![],
            moved: vec![victim.clone()],
            unchanged: w.expected["flatcar.txt"].len() - 1,
            written: true
        }
    );
    assert!(!w.list("flatcar.txt").contains(&victim));
    assert_eq!(
        w.list("flatcar-uncrawled.txt"),
        BTreeSet::from([victim.clone()])
    );

    w.mirror.put(dir, index);
    let r = crawl_with(&w, &http, &["flatcar"]);
    assert!(r.ok());
    assert!(w.list("flatcar.txt").contains(&victim));
    assert!(w.list("flatcar-uncrawled.txt").is_empty());
}

/// One fault: how to break the mirror, which source must fail, and what the reason says.
struct Scenario {
    name: &'static str,
    source: &'static str,
    reason: &'static str,
    apply: Box<dyn Fn(&World)>,
}

fn flip_byte(b: &mut [u8], at: usize) {
    b[at] ^= 0x01;
}

fn scenarios() -> Vec<Scenario> {
    let inrelease = "http://security.debian.org/dists/bookworm-security/InRelease";
    let bookworm_xz =
        "http://debian.csail.mit.edu/debian/dists/bookworm/main/binary-amd64/Packages.xz";
    let centos_root = "http://vault.centos.org/7.9.2009/updates/x86_64/";
    let amazon_root = "http://amazonlinux.us-west-2.amazonaws.com/2/core/2.0/x86_64/6b0225ccc542f3834c95733dcf321ab9f1e77e6ca6817469771a8af7c49efe6c/";
    vec![
        Scenario {
            name: "HTTP 500 on InRelease, retried then failed",
            source: "debian",
            reason: "HTTP 500 after 3 attempt(s)",
            apply: Box::new(move |w| w.mirror.fault(inrelease, Fault::Status(500))),
        },
        Scenario {
            name: "slow repomd.xml past the request timeout",
            source: "centos",
            reason: "timed out",
            apply: Box::new(move |w| {
                w.mirror.fault(
                    &format!("{centos_root}repodata/repomd.xml"),
                    Fault::Delay(Duration::from_secs(6)),
                )
            }),
        },
        Scenario {
            name: "truncated primary.xml.gz (repomd unchanged)",
            source: "amazon",
            reason: "checksum mismatch",
            apply: Box::new(move |w| {
                let repomd = String::from_utf8(
                    w.mirror
                        .get(&format!("{amazon_root}repodata/repomd.xml"))
                        .unwrap(),
                )
                .unwrap();
                let href = repomd
                    .split("<location href=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let url = format!("{amazon_root}{href}");
                let data = w.mirror.get(&url).unwrap();
                w.mirror.put(&url, data[..data.len() / 2].to_vec());
            }),
        },
        Scenario {
            name: "truncated primary.xml.gz (repomd matches the truncated file)",
            source: "amazon",
            reason: "truncated",
            apply: Box::new(move |w| {
                let repomd_url = format!("{amazon_root}repodata/repomd.xml");
                let repomd = String::from_utf8(w.mirror.get(&repomd_url).unwrap()).unwrap();
                let href = repomd
                    .split("<location href=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let data = w.mirror.get(&format!("{amazon_root}{href}")).unwrap();
                let cut = data[..data.len() / 2].to_vec();
                let old_sum = kernel_packer::names::sha256_hex(&data);
                let new_sum = kernel_packer::names::sha256_hex(&cut);
                let new = repomd.replace(&old_sum, &new_sum).replace(
                    &format!("<size>{}</size>", data.len()),
                    &format!("<size>{}</size>", cut.len()),
                );
                w.mirror.put(
                    &format!("{amazon_root}{}", href.replace(&old_sum, &new_sum)),
                    cut,
                );
                w.mirror.put(&repomd_url, new.into_bytes());
            }),
        },
        Scenario {
            name: "Packages.xz does not match the signed Release",
            source: "debian",
            reason: "checksum mismatch",
            apply: Box::new(move |w| {
                let other = fixtures::xz(
                    b"Package: evil\nVersion: 1\nArchitecture: amd64\nFilename: pool/evil.deb\n",
                );
                // Also at the by-hash path the signed Release names.
                let release = String::from_utf8(
                    w.mirror
                        .get("http://debian.csail.mit.edu/debian/dists/bookworm/Release")
                        .unwrap(),
                )
                .unwrap();
                let sha = release
                    .lines()
                    .rfind(|l| l.ends_with(" main/binary-amd64/Packages.xz"))
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string();
                w.mirror.put(
                    &format!("http://debian.csail.mit.edu/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/{sha}"),
                    other.clone(),
                );
                w.mirror.put(bookworm_xz, other);
            }),
        },
        Scenario {
            name: "InRelease with one byte changed",
            source: "debian",
            reason: "bad signature",
            apply: Box::new(move |w| {
                let mut b = w.mirror.get(inrelease).unwrap();
                let at = String::from_utf8_lossy(&b).find("Suite: ").unwrap() + 8;
                flip_byte(&mut b, at);
                w.mirror.put(inrelease, b);
            }),
        },
        Scenario {
            name: "InRelease signed by an unknown key",
            source: "debian",
            reason: "bad signature",
            apply: Box::new(move |w| {
                let release = w
                    .mirror
                    .get("http://security.debian.org/dists/bookworm-security/Release")
                    .unwrap();
                let stranger = Signer::new("Someone Else <x@invalid>");
                w.mirror.put(
                    inrelease,
                    stranger
                        .clearsign(&String::from_utf8(release).unwrap())
                        .into_bytes(),
                );
            }),
        },
        Scenario {
            name: "empty Koji index page",
            source: "fedora-coreos",
            reason: "empty or unparseable directory index",
            apply: Box::new(|w| {
                w.mirror.put(
                    "https://kojipkgs.fedoraproject.org/packages/kernel/",
                    Vec::new(),
                )
            }),
        },
        Scenario {
            name: "empty bucket listing",
            source: "cos",
            reason: "empty bucket listing",
            apply: Box::new(|w| {
                w.mirror.put(
                    "https://storage.googleapis.com/cos-tools",
                    b"<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>cos-tools</Name><IsTruncated>false</IsTruncated></ListBucketResult>".to_vec(),
                )
            }),
        },
        Scenario {
            name: "bucket page 3 answers 503",
            source: "cos",
            reason: "HTTP 503",
            apply: Box::new(|w| {
                // Find the third page's URL through the chain of markers.
                let mut url = "https://storage.googleapis.com/cos-tools".to_string();
                for _ in 0..2 {
                    let xml = String::from_utf8(w.mirror.get(&url).unwrap()).unwrap();
                    let marker = xml
                        .split("<NextMarker>")
                        .nth(1)
                        .unwrap()
                        .split('<')
                        .next()
                        .unwrap()
                        .to_string();
                    let mut u =
                        reqwest::Url::parse("https://storage.googleapis.com/cos-tools").unwrap();
                    u.query_pairs_mut().append_pair("marker", &marker);
                    url = u.to_string();
                }
                w.mirror.fault(&url, Fault::Status(503));
            }),
        },
        Scenario {
            name: "GitHub API answers HTML",
            source: "minikube",
            reason: "not JSON",
            apply: Box::new(|w| {
                w.mirror.put(
                    "https://api.github.com/repos/kubernetes/minikube/releases?per_page=100&page=1",
                    b"<html><body>Rate limited</body></html>".to_vec(),
                )
            }),
        },
        Scenario {
            name: "malformed primary.xml",
            source: "centos",
            reason: "malformed primary.xml",
            apply: Box::new(move |w| {
                let signer: Option<&Signer> = None;
                fixtures::yum_repo(&w.mirror, signer, centos_root, &[], "gz");
                let repomd = String::from_utf8(
                    w.mirror
                        .get(&format!("{centos_root}repodata/repomd.xml"))
                        .unwrap(),
                )
                .unwrap();
                let href = repomd
                    .split("<location href=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let bad =
                    fixtures::gz(b"<metadata><package><name>kernel-devel</name><oops></metadata>");
                let sum = kernel_packer::names::sha256_hex(&bad);
                let old = href
                    .split('/')
                    .nth(1)
                    .unwrap()
                    .split('-')
                    .next()
                    .unwrap()
                    .to_string();
                let newhref = href.replace(&old, &sum);
                let re = regex::Regex::new(r"<size>\d+</size>").unwrap();
                let repomd = re
                    .replace(
                        &repomd.replacen(&old, &sum, 2),
                        format!("<size>{}</size>", bad.len()).as_str(),
                    )
                    .into_owned();
                w.mirror.put(&format!("{centos_root}{newhref}"), bad);
                w.mirror.put(
                    &format!("{centos_root}repodata/repomd.xml"),
                    repomd.into_bytes(),
                );
            }),
        },
    ]
}

#[test]
fn failures_leave_lists_byte_identical() {
    for sc in scenarios() {
        // A fresh world per scenario: faults never leak into the next one.
        let w = World::build();
        let mut http_config = kernel_packer::crawl::http_config(&w.config);
        http_config.overrides = w.mirror.overrides(&w.hosts);
        let http = Http::new(http_config).unwrap();
        let src = w.config.source(sc.source).unwrap();
        let before = (w.list_text(&src.list), w.list_text(&src.uncrawled_list()));
        (sc.apply)(&w);
        let r = crawl_with(&w, &http, &[sc.source, "linuxkit"]);
        match outcome(&r, sc.source) {
            Outcome::Failed { reason } => assert!(
                reason.contains(sc.reason),
                "{}: reason {reason:?} lacks {:?}",
                sc.name,
                sc.reason
            ),
            other => panic!("{}: expected failure, got {other:?}", sc.name),
        }
        assert!(!r.ok(), "{}", sc.name);
        let after = (w.list_text(&src.list), w.list_text(&src.uncrawled_list()));
        assert_eq!(before, after, "{}: lists changed", sc.name);
        // The healthy source still completed.
        assert!(
            matches!(outcome(&r, "linuxkit"), Outcome::Updated { .. }),
            "{}",
            sc.name
        );
        assert_eq!(
            w.list("linuxkit.txt"),
            w.expected["linuxkit.txt"],
            "{}",
            sc.name
        );
        eprintln!("ok: {} -> {}", sc.name, r.summary().lines().next().unwrap());
    }
}

#[test]
fn retries_are_bounded() {
    let w = World::build();
    let mut c = kernel_packer::crawl::http_config(&w.config);
    c.overrides = w.mirror.overrides(&w.hosts);
    let http = Http::new(c).unwrap();
    let url = "http://security.debian.org/dists/bookworm-security/InRelease";
    w.mirror.fault(url, Fault::Status(500));
    let r = crawl_with(&w, &http, &["debian"]);
    assert!(!r.ok());
    assert_eq!(w.mirror.hits(url), 3, "1 attempt + 2 retries");
}

#[test]
fn credentials_never_leak_into_errors_or_lists() {
    let w = World::build();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cr3t-T0KEN\n").unwrap();
    let root = "https://updates.suse.com/SUSE/Updates/SLE-Module-Basesystem/15-SP5/x86_64/update/";
    let yaml = format!(
        "defaults: {{retries: 1, backoff_ms: 1, request_timeout_secs: 5}}\nsources:\n  - list: suse.txt\n    credential: {{kind: url_query, file: {}}}\n    select: {{names: ['^kernel-default-devel$']}}\n    repositories:\n      - kind: yum\n        urls: [{root}]\n",
        token_file.display()
    );
    let config = kernel_packer::crawl::config::Config::parse(&yaml, "test").unwrap();
    let mut c = kernel_packer::crawl::http_config(&config);
    c.overrides = w
        .mirror
        .overrides(&["https://updates.suse.com/".to_string()]);
    let http = Http::new(c).unwrap();
    // Served only with the token: the request must carry it.
    let rpm = fixtures::Rpm::from_file(
        "kernel-default-devel-5.14.21-150500.55.65.1.x86_64.rpm",
        "x86_64/kernel-default-devel-5.14.21-150500.55.65.1.x86_64.rpm",
    );
    fixtures::yum_repo(&w.mirror, None, root, &[rpm], "xz");
    let repomd = w.mirror.get(&format!("{root}repodata/repomd.xml")).unwrap();
    w.mirror.remove(&format!("{root}repodata/repomd.xml"));
    w.mirror
        .put(&format!("{root}repodata/repomd.xml?s3cr3t-T0KEN"), repomd);
    let primary_href = {
        let t = String::from_utf8(
            w.mirror
                .get(&format!("{root}repodata/repomd.xml?s3cr3t-T0KEN"))
                .unwrap(),
        )
        .unwrap();
        t.split("<location href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let primary = w.mirror.get(&format!("{root}{primary_href}")).unwrap();
    w.mirror
        .put(&format!("{root}{primary_href}?s3cr3t-T0KEN"), primary);

    let store = DirStore::new(w.lists.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    assert!(r.ok(), "{}", r.summary());
    let list = w.list_text("suse.txt").unwrap();
    assert_eq!(
        list,
        format!("{root}x86_64/kernel-default-devel-5.14.21-150500.55.65.1.x86_64.rpm\n")
    );

    // Now the server fails: the error names the URL but not the token.
    w.mirror.fault(
        &format!("{root}repodata/repomd.xml?s3cr3t-T0KEN"),
        Fault::Status(500),
    );
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    let text = format!("{}{}", r.summary(), serde_json::to_string(&r).unwrap());
    assert!(!r.ok());
    assert!(text.contains("updates.suse.com"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert_eq!(w.list_text("suse.txt").unwrap(), list);
}

#[test]
fn basic_and_bearer_credentials_are_sent_and_never_shown() {
    let w = World::build();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("esm"), "bearer:esm-S3CRET\n").unwrap();
    std::fs::write(dir.path().join("gh"), "ghp_S3CRET\n").unwrap();
    let root = "https://esm.ubuntu.com/infra/ubuntu/";
    let api = "https://api.github.com/repos/kubernetes/minikube";
    let yaml = format!(
        "defaults: {{retries: 0, request_timeout_secs: 5}}\nsources:\n  - list: ubuntu-esm.txt\n    credential: {{kind: basic, file: {esm}}}\n    select: {{names: ['^linux-headers-']}}\n    repositories:\n      - {{kind: apt, url: {root}, suites: [xenial-infra-security]}}\n  - list: minikube.txt\n    credential: {{kind: bearer, file: {gh}}}\n    repositories:\n      - {{kind: github, api: '{api}', tags: ['^v1'], emit: ['x/{{tag}}']}}\n",
        esm = dir.path().join("esm").display(),
        gh = dir.path().join("gh").display(),
    );
    let config = kernel_packer::crawl::config::Config::parse(&yaml, "test").unwrap();
    let debs = vec![fixtures::Deb::from_url(
        root,
        &format!("{root}pool/main/l/linux-hwe/linux-headers-4.15.0-189-generic_4.15.0-189.200~16.04.1_amd64.deb"),
    )];
    fixtures::apt_suite(
        &w.mirror,
        &w.signer,
        root,
        "xenial-infra-security",
        &[("main", debs)],
        "amd64",
    );
    let basic = "Basic YmVhcmVyOmVzbS1TM0NSRVQ="; // base64("bearer:esm-S3CRET")
    for f in ["InRelease", "main/binary-amd64/Packages.xz"] {
        w.mirror
            .require_auth(&format!("{root}dists/xenial-infra-security/{f}"), basic);
    }
    w.mirror.require_auth(
        &format!("{api}/releases?per_page=100&page=1"),
        "Bearer ghp_S3CRET",
    );
    let mut c = kernel_packer::crawl::http_config(&config);
    c.overrides = w.mirror.overrides(&w.hosts);
    let http = Http::new(c).unwrap();
    let store = DirStore::new(w.lists.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    assert!(r.ok(), "{}", r.summary());
    assert_eq!(w.list("ubuntu-esm.txt").len(), 1);
    assert_eq!(
        w.list("minikube.txt").len(),
        w.expected["minikube.txt"].len() - 3 + 1,
        "v1 tags, one URL each"
    );

    // Wrong secret → 401 → failure whose text shows neither secret.
    std::fs::write(dir.path().join("esm"), "bearer:wrong-S3CRET\n").unwrap();
    std::fs::write(dir.path().join("gh"), "wrong_S3CRET\n").unwrap();
    let before = snapshot(&w);
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    assert_eq!(r.failed().count(), 2, "{}", r.summary());
    let text = format!("{}{}", r.summary(), serde_json::to_string(&r).unwrap());
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(
        !text.contains("S3CRET") && !text.contains("YmVhcmVy"),
        "{text}"
    );
    assert_eq!(snapshot(&w), before);
}

#[test]
fn source_timeout_fails_only_that_source() {
    let mut w = World::build();
    w.config.defaults.source_timeout_secs = 0.5;
    // Each request stays under the request timeout (2 s), the source as a whole does not.
    w.mirror.fault(
        "https://stable.release.flatcar-linux.net/amd64-usr/",
        Fault::Delay(Duration::from_millis(1200)),
    );
    let before = w.list_text("flatcar.txt");
    let r = crawl_with(&w, &w.http(), &["flatcar", "linuxkit"]);
    match outcome(&r, "flatcar") {
        Outcome::Failed { reason } => assert!(reason.contains("source timed out"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.list_text("flatcar.txt"), before);
    assert!(matches!(outcome(&r, "linuxkit"), Outcome::Updated { .. }));
}

#[test]
fn detached_signatures_release_gpg_and_repomd_asc() {
    let w = World::build();
    let keys = tempfile::tempdir().unwrap();
    std::fs::write(keys.path().join("fixture.asc"), &w.signer.public).unwrap();
    let apt_root = "http://dist.kope.io/apt/";
    let yum_root = "http://yum.oracle.com/repo/OracleLinux/OL7/UEKR6/x86_64/";
    let yaml = format!(
        "defaults: {{retries: 0, request_timeout_secs: 5}}\nsources:\n  - list: kops.txt\n    key: fixture.asc\n    select: {{names: ['^linux-headers-']}}\n    repositories:\n      - {{kind: apt, url: '{apt_root}', suites: [stretch]}}\n  - list: oracle-uek.txt\n    key: fixture.asc\n    select: {{names: ['^kernel-uek-devel$']}}\n    repositories:\n      - {{kind: yum, urls: ['{yum_root}']}}\n"
    );
    let mut config = kernel_packer::crawl::config::Config::parse(&yaml, "test").unwrap();
    config.keys_dir = Some(keys.path().to_path_buf());
    let deb = fixtures::Deb::from_url(apt_root, &format!("{apt_root}pool/main/l/linux-4.4.115-k8s/linux-headers-4.4.115-k8s_4.4.115-20180205_amd64.deb"));
    fixtures::apt_suite(
        &w.mirror,
        &w.signer,
        apt_root,
        "stretch",
        &[("main", vec![deb])],
        "amd64",
    );
    // Only Release + Release.gpg, as older archives publish.
    w.mirror
        .remove(&format!("{apt_root}dists/stretch/InRelease"));
    let rpm = fixtures::Rpm::from_file(
        "kernel-uek-devel-5.4.17-2136.330.7.1.el7uek.x86_64.rpm",
        "getPackage/kernel-uek-devel-5.4.17-2136.330.7.1.el7uek.x86_64.rpm",
    );
    fixtures::yum_repo(&w.mirror, Some(&w.signer), yum_root, &[rpm], "xz");
    let mut c = kernel_packer::crawl::http_config(&config);
    c.overrides = w.mirror.overrides(&w.hosts);
    let http = Http::new(c).unwrap();
    let store = DirStore::new(w.lists.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    assert!(r.ok(), "{}", r.summary());
    assert!(w.list("kops.txt").contains(&format!("{apt_root}pool/main/l/linux-4.4.115-k8s/linux-headers-4.4.115-k8s_4.4.115-20180205_amd64.deb")));
    assert_eq!(
        w.list("oracle-uek.txt"),
        BTreeSet::from([format!(
            "{yum_root}getPackage/kernel-uek-devel-5.4.17-2136.330.7.1.el7uek.x86_64.rpm"
        )])
    );

    // Tamper with both signed files (one byte each): both sources fail, lists unchanged.
    for url in [
        format!("{apt_root}dists/stretch/Release"),
        format!("{yum_root}repodata/repomd.xml"),
    ] {
        let mut b = w.mirror.get(&url).unwrap();
        let at = b.len() / 2;
        flip_byte(&mut b, at);
        w.mirror.put(&url, b);
    }
    let before = snapshot(&w);
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    for s in &r.sources {
        match &s.outcome {
            Outcome::Failed { reason } => {
                assert!(reason.contains("bad signature"), "{}: {reason}", s.name)
            }
            other => panic!("{}: {other:?}", s.name),
        }
    }
    assert_eq!(snapshot(&w), before);
    // A missing signature file fails too (the source names a key).
    w.mirror
        .remove(&format!("{yum_root}repodata/repomd.xml.asc"));
    let r = rt
        .block_on(crawl::run(
            &config,
            &store,
            &Selection::Sources(vec!["oracle-uek".into()]),
            &http,
        ))
        .unwrap();
    assert!(
        r.summary().contains("signature required"),
        "{}",
        r.summary()
    );
}

#[test]
fn empty_directories_and_empty_indexes() {
    let w = World::build();
    let http = w.http();
    // An empty release directory (a valid Apache index with only the parent link) is fine...
    let root = "https://stable.release.flatcar-linux.net/amd64-usr/";
    let index = String::from_utf8(w.mirror.get(root).unwrap()).unwrap();
    let extra = index.replace(
        "</table>",
        "<tr><td><a href=\"9999.0.0/\">9999.0.0/</a></td></tr></table>",
    );
    w.mirror.put(root, extra.into_bytes());
    w.mirror.put(
        &format!("{root}9999.0.0/"),
        fixtures::apache_index(&format!("{root}9999.0.0/"), &[]),
    );
    let r = crawl_with(&w, &http, &["flatcar"]);
    assert!(r.ok(), "{}", r.summary());
    assert_eq!(w.list("flatcar.txt"), w.expected["flatcar.txt"]);
    // ...an empty response body in its place is not.
    w.mirror.put(&format!("{root}9999.0.0/"), Vec::new());
    let before = w.list_text("flatcar.txt");
    let r = crawl_with(&w, &http, &["flatcar"]);
    assert!(
        r.summary()
            .contains("9999.0.0/: empty or unparseable directory index"),
        "{}",
        r.summary()
    );
    assert_eq!(w.list_text("flatcar.txt"), before);
    // An empty but correctly signed apt index is fine too (fresh -updates suites are empty).
    let csail = "http://debian.csail.mit.edu/debian/";
    fixtures::apt_suite(
        &w.mirror,
        &w.signer,
        csail,
        "bookworm-updates",
        &[("main", vec![])],
        "amd64",
    );
    let r = crawl_with(&w, &http, &["debian"]);
    assert!(r.ok(), "{}", r.summary());
}
