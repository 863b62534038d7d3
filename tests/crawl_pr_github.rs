//! The scheduled crawl as a pull request (`crawl_pr::run`) against a fake GitHub REST server
//! on 127.0.0.1 (tests/support_github) and the crawl fixture mirror (tests/crawl_support):
//! exact call sequences and payloads for no change, first PR, update of an open PR, a PR
//! merged meanwhile, two concurrent runs, 5xx and rate-limit answers; the check-run and
//! auto-merge calls under branch protection.

mod crawl_support;
mod support_github;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crawl_support::fixtures;
use crawl_support::world::World;
use kernel_packer::crawl::{self, config::Config, http::Http};
use kernel_packer::crawl_pr::{self, Action, CrawlRequest, RunReport, Settings};
use kernel_packer::github::{OctocrabGitHub, RepoId, RetryPolicy, Token};
use serde_json::json;
use support_github::{blob_sha, FakeGitHub, Fault};

const DIR: &str = "kernel-package-lists";
const BRANCH: &str = "kernel-packer/crawl-fixture";
const FLATCAR_ROOT: &str = "https://stable.release.flatcar-linux.net/amd64-usr/";
const STALE_FLATCAR: &str =
    "https://stable.release.flatcar-linux.net/amd64-usr/1.0.0/flatcar_developer_container.bin.bz2";

fn render(urls: &BTreeSet<String>) -> String {
    urls.iter().map(|u| format!("{u}\n")).collect()
}

struct Case {
    w: World,
    gh: FakeGitHub,
    /// The debian URL left out of the seeded list (the crawl adds it back).
    missing_debian: String,
}

/// The repository: the real sources.yml, a reformat.yml for the two fixture sources, a
/// groups file, the fixture key, debian.txt without one URL, flatcar.txt with a stale URL,
/// a manifest consistent with those lists, and a file outside the lists directory.
fn setup() -> Case {
    let w = World::build();
    let debian = w.expected["debian.txt"].clone();
    let missing_debian = debian
        .iter()
        .find(|u| u.contains("cloud-amd64"))
        .unwrap()
        .clone();
    let mut seeded_debian = debian.clone();
    seeded_debian.remove(&missing_debian);
    let mut flatcar = w.expected["flatcar.txt"].clone();
    flatcar.insert(STALE_FLATCAR.to_string());

    let sources = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(DIR)
            .join("sources.yml"),
    )
    .unwrap();
    let mut lists: BTreeMap<String, String> = BTreeMap::from([
        (
            "reformat.yml".to_string(),
            "- {name: debian, type: debian, file: debian.txt, reformat: debian}\n- {name: flatcar, type: coreos, file: flatcar.txt, reformat: single}\n".to_string(),
        ),
        ("crawl-groups.yml".to_string(), "groups:\n  fixture: [debian, flatcar]\n".to_string()),
        ("debian.txt".to_string(), render(&seeded_debian)),
        ("flatcar.txt".to_string(), render(&flatcar)),
    ]);
    let manifest = crawl_pr::manifest_from_files(&lists, DIR).unwrap();
    assert!(!manifest.failed(), "{:?}", manifest.sources);
    lists.insert("manifest.yml".into(), manifest.manifest.to_yaml());
    let mut files: BTreeMap<String, Vec<u8>> = lists
        .into_iter()
        .map(|(k, v)| (format!("{DIR}/{k}"), v.into_bytes()))
        .collect();
    files.insert(format!("{DIR}/sources.yml"), sources);
    files.insert(
        format!("{DIR}/keys/debian-archive-keyring.gpg"),
        w.signer.public.clone(),
    );
    files.insert("README.md".into(), b"# fixture repository\n".to_vec());
    let gh = FakeGitHub::start("acme", "kernels", &files);
    Case {
        w,
        gh,
        missing_debian,
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_wait: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
    }
}

fn settings() -> Settings {
    Settings {
        request: CrawlRequest {
            group: Some("fixture".into()),
            sources: Vec::new(),
        },
        labels: vec!["kernel-packer".into(), "automated".into()],
        ..Settings::default()
    }
}

fn client(c: &Case) -> OctocrabGitHub {
    OctocrabGitHub::new(
        Some(&c.gh.base()),
        &Token::new("ghp_fixturetoken").unwrap(),
        RepoId::parse("acme/kernels").unwrap(),
        policy(),
    )
    .unwrap()
}

async fn run(c: &Case) -> anyhow::Result<RunReport> {
    let overrides = c.w.mirror.overrides(&c.w.hosts);
    crawl_pr::run(&client(c), &settings(), move |cfg: &mut Config| {
        cfg.defaults.request_timeout_secs = 5.0;
        cfg.defaults.source_timeout_secs = 60.0;
        cfg.defaults.retries = 1;
        cfg.defaults.backoff_ms = 10;
        let mut h = crawl::http_config(cfg);
        h.overrides = overrides;
        h.cache_dir = None;
        Http::new(h)
    })
    .await
}

fn lines(gh: &FakeGitHub) -> Vec<String> {
    gh.calls().iter().map(|c| c.line()).collect()
}

const REPO: &str = "/repos/acme/kernels";

/// The reads every run starts with, at `main`'s current head.
fn reads(gh: &FakeGitHub) -> Vec<String> {
    let head = gh.ref_of("main").unwrap();
    let files = gh.files_at(&head);
    let mut v = vec![
        format!("GET {REPO}"),
        format!("GET {REPO}/git/ref/heads/main"),
        format!("GET {REPO}/git/commits/{head}"),
        format!("GET {REPO}/git/trees/{}", gh.tree_of(&head, "")),
        format!(
            "GET {REPO}/git/trees/{}?recursive=1",
            gh.tree_of(&head, DIR)
        ),
    ];
    for (p, content) in &files {
        if p.starts_with(&format!("{DIR}/")) {
            v.push(format!("GET {REPO}/git/blobs/{}", blob_sha(content)));
        }
    }
    v
}

fn pr_lookup() -> Vec<String> {
    vec![
        format!("GET {REPO}/pulls?state=open&head=acme%3Akernel-packer%2Fcrawl-fixture&base=main"),
        format!("GET {REPO}/git/ref/heads/{BRANCH}"),
    ]
}

fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(files[&format!("{DIR}/{name}")].clone()).unwrap()
}

/// The changed files a fresh crawl of the fixture produces, in path order.
const CHANGED: [&str; 4] = [
    "debian.txt",
    "flatcar-uncrawled.txt",
    "flatcar.txt",
    "manifest.yml",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_pr_then_no_change_then_merged_and_fresh_branch() {
    let c = setup();
    let main0 = c.gh.ref_of("main").unwrap();
    let expected_reads = reads(&c.gh);

    // 1. First run: one commit on a new branch, one PR.
    let r = run(&c).await.unwrap();
    assert!(r.crawl.ok(), "{}", r.crawl.summary());
    assert_eq!(r.changed, CHANGED);
    let commit = c.gh.ref_of(BRANCH).expect("bot branch created");
    assert_eq!(r.commit.as_deref(), Some(commit.as_str()));
    assert_eq!(
        r.action,
        Action::Opened {
            number: 1,
            url: "https://github.invalid/acme/kernels/pull/1".into()
        }
    );
    let files = c.gh.files_at(&commit);
    let mut want = expected_reads.clone();
    want.extend(pr_lookup());
    want.extend(CHANGED.iter().map(|_| format!("POST {REPO}/git/blobs")));
    want.extend([
        format!("POST {REPO}/git/trees"),
        format!("POST {REPO}/git/commits"),
        format!("POST {REPO}/git/refs"),
        format!("POST {REPO}/pulls"),
        format!("POST {REPO}/issues/1/labels"),
    ]);
    assert_eq!(lines(&c.gh), want);

    // Payloads.
    let calls = c.gh.calls();
    let tree_call = calls
        .iter()
        .find(|x| x.line() == format!("POST {REPO}/git/trees"))
        .unwrap();
    assert_eq!(tree_call.body["base_tree"], json!(c.gh.tree_of(&main0, "")));
    let entries: Vec<(String, String, String)> = tree_call.body["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["mode"].as_str().unwrap().to_string(),
                e["sha"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want_entries: Vec<(String, String, String)> = CHANGED
        .iter()
        .map(|n| {
            let p = format!("{DIR}/{n}");
            (p.clone(), "100644".to_string(), blob_sha(&files[&p]))
        })
        .collect();
    assert_eq!(entries, want_entries);
    let commit_call = calls
        .iter()
        .find(|x| x.line() == format!("POST {REPO}/git/commits"))
        .unwrap();
    assert_eq!(commit_call.body["parents"], json!([main0]));
    assert!(commit_call.body["message"]
        .as_str()
        .unwrap()
        .starts_with("kernel-packer: crawl fixture\n\n"));
    let ref_call = calls
        .iter()
        .find(|x| x.line() == format!("POST {REPO}/git/refs"))
        .unwrap();
    assert_eq!(
        ref_call.body,
        json!({"ref": format!("refs/heads/{BRANCH}"), "sha": commit})
    );
    let pr_call = calls
        .iter()
        .find(|x| x.line() == format!("POST {REPO}/pulls"))
        .unwrap();
    assert_eq!(pr_call.body["head"], json!(BRANCH));
    assert_eq!(pr_call.body["base"], json!("main"));
    assert_eq!(pr_call.body["title"], json!("kernel-packer: crawl fixture"));
    let labels_call = calls.last().unwrap();
    assert_eq!(
        labels_call.body,
        json!({"labels": ["kernel-packer", "automated"]})
    );

    // The branch: main's files with the crawled lists and regenerated manifest.
    assert_eq!(
        text(&files, "debian.txt"),
        render(&c.w.expected["debian.txt"])
    );
    assert_eq!(
        text(&files, "flatcar.txt"),
        render(&c.w.expected["flatcar.txt"])
    );
    assert!(text(&files, "flatcar-uncrawled.txt").contains(STALE_FLATCAR));
    assert_eq!(files["README.md"], b"# fixture repository\n");
    let manifest = text(&files, "manifest.yml");
    let mut after: BTreeMap<String, String> = BTreeMap::new();
    for (p, b) in &files {
        if let Some(n) = p.strip_prefix(&format!("{DIR}/")) {
            after.insert(
                n.to_string(),
                String::from_utf8(b.clone()).unwrap_or_default(),
            );
        }
    }
    assert_eq!(
        manifest,
        crawl_pr::manifest_from_files(&after, DIR)
            .unwrap()
            .manifest
            .to_yaml()
    );

    // The PR body: kernels added/removed per list with uname and type.
    let pr = &c.gh.prs()[0];
    assert_eq!(pr.labels, ["kernel-packer", "automated"]);
    let uname = c.missing_debian.rsplit('/').next().unwrap();
    let uname = uname
        .strip_prefix("linux-headers-")
        .unwrap()
        .split('_')
        .next()
        .unwrap();
    for want in [
        "Automated crawl of group `fixture`".to_string(),
        "`debian.txt`: 1 URL(s) added".to_string(),
        "`flatcar.txt`: 0 URL(s) added, 1 moved to `flatcar-uncrawled.txt`".to_string(),
        "### Kernels added".to_string(),
        "**debian.txt**".to_string(),
        format!("| `{uname}` | debian |"),
        "### Kernels removed".to_string(),
        "**flatcar.txt** (1)".to_string(),
        "| `1.0.0/flatcar_developer_container.bin.bz2` | coreos |".to_string(),
    ] {
        assert!(
            pr.body.contains(&want),
            "{want:?} not in body:\n{}",
            pr.body
        );
    }
    assert!(!pr.body.contains("Failed sources"), "{}", pr.body);

    // 2. Same upstream, PR open: nothing to write, only reads.
    c.gh.clear_calls();
    let r = run(&c).await.unwrap();
    assert!(
        matches!(r.action, Action::UpToDate { number: 1, .. }),
        "{:?}",
        r.action
    );
    let mut want = reads(&c.gh);
    want.extend(pr_lookup());
    let bot = c.gh.ref_of(BRANCH).unwrap();
    want.extend([
        format!("GET {REPO}/git/commits/{bot}"),
        format!("GET {REPO}/git/trees/{}", c.gh.tree_of(&bot, "")),
        format!(
            "GET {REPO}/git/trees/{}?recursive=1",
            c.gh.tree_of(&bot, DIR)
        ),
    ]);
    assert_eq!(lines(&c.gh), want);

    // 3. The PR is merged (branch deleted): the next run finds nothing to change, only reads.
    c.gh.merge_pr(1, true);
    c.gh.clear_calls();
    let r = run(&c).await.unwrap();
    assert_eq!(r.action, Action::NoChange);
    assert!(r.changed.is_empty());
    assert_eq!(lines(&c.gh), reads(&c.gh));
    assert!(c.gh.calls().iter().all(|x| x.method == "GET"));

    // 4. Upstream drops a flatcar release: a fresh branch from the new main head, a new PR.
    let mut fl: Vec<String> = c.w.expected["flatcar.txt"].iter().cloned().collect();
    let dropped = fl.remove(0);
    fixtures::html_tree(&c.w.mirror, FLATCAR_ROOT, &fl);
    c.gh.clear_calls();
    let main1 = c.gh.ref_of("main").unwrap();
    let r = run(&c).await.unwrap();
    assert_eq!(
        r.changed,
        ["flatcar-uncrawled.txt", "flatcar.txt", "manifest.yml"]
    );
    assert!(
        matches!(r.action, Action::Opened { number: 2, .. }),
        "{:?}",
        r.action
    );
    let bot = c.gh.ref_of(BRANCH).unwrap();
    assert_eq!(c.gh.parents(&bot), [main1]);
    let mut want = reads(&c.gh);
    want.extend(pr_lookup());
    want.extend([
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/trees"),
        format!("POST {REPO}/git/commits"),
        format!("POST {REPO}/git/refs"),
        format!("POST {REPO}/pulls"),
        format!("POST {REPO}/issues/2/labels"),
    ]);
    assert_eq!(lines(&c.gh), want);
    let prs = c.gh.prs();
    assert_eq!(prs.len(), 2);
    assert!(prs[0].merged && prs[0].state == "closed");
    assert_eq!(prs[1].state, "open");
    let files = c.gh.files_at(&bot);
    assert!(!text(&files, "flatcar.txt").contains(&dropped));
    assert!(text(&files, "flatcar-uncrawled.txt").contains(&dropped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_pr_is_updated_after_a_merge_elsewhere_and_a_lost_ref_race() {
    let c = setup();
    let r = run(&c).await.unwrap();
    assert!(matches!(r.action, Action::Opened { number: 1, .. }));
    let first = c.gh.ref_of(BRANCH).unwrap();

    // Meanwhile main moves on (an unrelated commit) and upstream drops a flatcar release.
    let mut main_files = c.gh.files_at(&c.gh.ref_of("main").unwrap());
    main_files.insert(
        "README.md".into(),
        b"# fixture repository, edited\n".to_vec(),
    );
    let main1 = c.gh.commit_files("main", &main_files, "edit readme");
    let mut fl: Vec<String> = c.w.expected["flatcar.txt"].iter().cloned().collect();
    let dropped = fl.remove(0);
    fixtures::html_tree(&c.w.mirror, FLATCAR_ROOT, &fl);
    // The first ref update loses a race (GitHub answers 422); the run re-reads and retries.
    c.gh.fault(Fault {
        method: "PATCH".into(),
        path: "/git/refs/heads/".into(),
        status: 422,
        headers: Vec::new(),
        body: json!({"message": "Reference cannot be updated", "documentation_url": "https://docs.github.com/rest/git/refs#update-a-reference"}),
        times: 1,
    });
    c.gh.clear_calls();
    let r = run(&c).await.unwrap();
    assert!(
        matches!(r.action, Action::Updated { number: 1, .. }),
        "{:?}",
        r.action
    );
    let bot = c.gh.ref_of(BRANCH).unwrap();
    assert_ne!(bot, first);
    assert_eq!(c.gh.parents(&bot), [main1], "rebuilt on the new main head");
    let mut want = reads(&c.gh);
    want.extend(pr_lookup());
    want.extend([
        format!("GET {REPO}/git/commits/{first}"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/blobs"),
        format!("POST {REPO}/git/trees"),
        format!("POST {REPO}/git/commits"),
        format!("PATCH {REPO}/git/refs/heads/{BRANCH}"),
        format!("GET {REPO}/git/ref/heads/{BRANCH}"),
        format!("PATCH {REPO}/git/refs/heads/{BRANCH}"),
        format!("PATCH {REPO}/pulls/1"),
        format!("POST {REPO}/issues/1/labels"),
    ]);
    assert_eq!(lines(&c.gh), want);
    let calls = c.gh.calls();
    let patches: Vec<_> = calls
        .iter()
        .filter(|x| x.method == "PATCH" && x.path.contains("/git/refs/"))
        .collect();
    assert_eq!(patches[0].status, 422);
    assert_eq!(patches[1].status, 200);
    assert_eq!(patches[1].body, json!({"sha": bot, "force": true}));
    let prs = c.gh.prs();
    assert_eq!(prs.len(), 1, "updated, not duplicated");
    assert!(
        prs[0]
            .body
            .contains("`flatcar.txt`: 0 URL(s) added, 2 moved"),
        "{}",
        prs[0].body
    );
    let files = c.gh.files_at(&bot);
    assert_eq!(files["README.md"], b"# fixture repository, edited\n");
    assert!(text(&files, "flatcar-uncrawled.txt").contains(&dropped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runs_end_with_one_pr() {
    let c = setup();
    // Both runs look for an open PR at the same moment, so both go on to write.
    c.gh.gate("GET", "/pulls?", 2);
    let (a, b) = tokio::join!(run(&c), run(&c));
    let (a, b) = (a.unwrap(), b.unwrap());
    let prs = c.gh.prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert_eq!(prs[0].state, "open");
    let opened = [&a, &b]
        .iter()
        .filter(|r| matches!(r.action, Action::Opened { .. }))
        .count();
    let updated = [&a, &b]
        .iter()
        .filter(|r| matches!(r.action, Action::Updated { number: 1, .. }))
        .count();
    assert_eq!((opened, updated), (1, 1), "{:?} {:?}", a.action, b.action);
    let calls = c.gh.calls();
    let creates: Vec<u16> = calls
        .iter()
        .filter(|x| x.line() == format!("POST {REPO}/git/refs"))
        .map(|x| x.status)
        .collect();
    assert_eq!(
        creates.iter().filter(|s| **s == 201).count(),
        1,
        "{creates:?}"
    );
    let pulls: Vec<u16> = calls
        .iter()
        .filter(|x| x.line() == format!("POST {REPO}/pulls"))
        .map(|x| x.status)
        .collect();
    assert!(
        pulls.iter().filter(|s| **s == 201).count() == 1,
        "{pulls:?}"
    );
    // The branch holds one run's commit: the crawled lists on top of main.
    let bot = c.gh.ref_of(BRANCH).unwrap();
    assert!([a.commit.clone(), b.commit.clone()].contains(&Some(bot.clone())));
    assert_eq!(c.gh.parents(&bot), [c.gh.ref_of("main").unwrap()]);
    let files = c.gh.files_at(&bot);
    assert_eq!(
        text(&files, "debian.txt"),
        render(&c.w.expected["debian.txt"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limits_are_retried_with_backoff() {
    let c = setup();
    c.gh.fault(Fault {
        method: "POST".into(),
        path: "/git/blobs".into(),
        status: 502,
        headers: Vec::new(),
        body: json!({"message": "Server Error"}),
        times: 2,
    });
    c.gh.fault(Fault {
        method: "GET".into(),
        path: "/git/commits/".into(),
        status: 403,
        headers: vec![("retry-after".into(), "1".into())],
        body: json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
        times: 1,
    });
    c.gh.fault(Fault {
        method: "POST".into(),
        path: "/pulls".into(),
        status: 429,
        headers: vec![("retry-after".into(), "0".into())],
        body: json!({"message": "API rate limit exceeded"}),
        times: 1,
    });
    let r = run(&c).await.unwrap();
    assert!(
        matches!(r.action, Action::Opened { number: 1, .. }),
        "{:?}",
        r.action
    );
    let calls = c.gh.calls();
    let commits: Vec<_> = calls
        .iter()
        .filter(|x| x.path.contains("/git/commits/"))
        .collect();
    assert_eq!(commits.len(), 2);
    assert_eq!((commits[0].status, commits[1].status), (403, 200));
    let gap = commits[1].at - commits[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retry-after honoured: {gap:?}"
    );
    let blobs: Vec<_> = calls
        .iter()
        .filter(|x| x.line() == format!("POST {REPO}/git/blobs"))
        .collect();
    assert_eq!(blobs.len(), CHANGED.len() + 2);
    assert_eq!(
        (blobs[0].status, blobs[1].status, blobs[2].status),
        (502, 502, 201)
    );
    // Exponential backoff: 20 ms, then 40 ms.
    assert!(blobs[1].at - blobs[0].at >= Duration::from_millis(20));
    assert!(blobs[2].at - blobs[1].at >= Duration::from_millis(40));
    let pulls: Vec<u16> = calls
        .iter()
        .filter(|x| x.line() == format!("POST {REPO}/pulls"))
        .map(|x| x.status)
        .collect();
    assert_eq!(pulls, [429, 201]);
    assert_eq!(c.gh.prs().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failures_fail_clearly_and_leave_no_half_updated_branch() {
    let c = setup();
    // Trees keep failing: three attempts, then a clear error; no ref or PR was touched.
    c.gh.fault(Fault {
        method: "POST".into(),
        path: "/git/trees".into(),
        status: 503,
        headers: Vec::new(),
        body: json!({"message": "Service Unavailable"}),
        times: usize::MAX,
    });
    let e = format!("{:#}", run(&c).await.unwrap_err());
    assert!(
        e.contains("POST /repos/acme/kernels/git/trees")
            && e.contains("503")
            && e.contains("gave up after 3 attempts"),
        "{e}"
    );
    assert!(!e.contains("ghp_fixturetoken"));
    assert_eq!(c.gh.ref_of(BRANCH), None);
    assert!(c.gh.prs().is_empty());
    let calls = c.gh.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|x| x.path.contains("/git/trees") && x.method == "POST")
            .count(),
        3
    );
    assert!(calls
        .iter()
        .all(|x| !x.path.contains("/git/refs") && !x.path.contains("/pulls/")));

    // An open PR exists; its update hits a secondary rate limit asking for longer than the
    // policy allows: fails at once, the open PR's branch keeps its commit.
    c.gh.clear_faults();
    run(&c).await.unwrap();
    let before = c.gh.ref_of(BRANCH).unwrap();
    let mut fl: Vec<String> = c.w.expected["flatcar.txt"].iter().cloned().collect();
    fl.remove(0);
    fixtures::html_tree(&c.w.mirror, FLATCAR_ROOT, &fl);
    c.gh.fault(Fault {
        method: "POST".into(),
        path: "/git/commits".into(),
        status: 403,
        headers: vec![("retry-after".into(), "3600".into())],
        body: json!({"message": "You have exceeded a secondary rate limit."}),
        times: usize::MAX,
    });
    c.gh.clear_calls();
    let e = format!("{:#}", run(&c).await.unwrap_err());
    assert!(
        e.contains("3600 s") && e.contains("secondary rate limit"),
        "{e}"
    );
    assert_eq!(c.gh.ref_of(BRANCH).unwrap(), before);
    assert_eq!(
        c.gh.calls()
            .iter()
            .filter(|x| x.path.ends_with("/git/commits"))
            .count(),
        1,
        "no retry when the wait is too long"
    );
    assert_eq!(c.gh.prs().len(), 1);
}

/// The check-run and auto-merge calls of the client against GitHub's rules as the fake models
/// them: auto-merge is armed only while a required check is pending ("clean status" otherwise),
/// a red check run leaves an armed pull request open, a green one merges it with a merge commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_runs_and_auto_merge_follow_branch_protection() {
    use kernel_packer::github::{AutoMerge, Conclusion, GitHub, MergeMethod, PrCreate};
    let gh = FakeGitHub::start(
        "acme",
        "kernels",
        &BTreeMap::from([("README".to_string(), b"x\n".to_vec())]),
    );
    let client = OctocrabGitHub::new(
        Some(&gh.base()),
        &Token::new("ghp_fixturetoken").unwrap(),
        RepoId::parse("acme/kernels").unwrap(),
        policy(),
    )
    .unwrap();
    gh.commit_files(
        "feature",
        &BTreeMap::from([("README".to_string(), b"y\n".to_vec())]),
        "change",
    );
    let head = gh.ref_of("feature").unwrap();
    let PrCreate::Created(pr) = client.create_pr("feature", "main", "t", "b").await.unwrap() else {
        panic!("not created")
    };
    assert_eq!(pr.head_sha, head);
    let refused = |r: AutoMerge| match r {
        AutoMerge::Refused(m) => m,
        AutoMerge::Enabled => panic!("armed"),
    };
    // No required check: nothing to wait for, GitHub refuses.
    let m = refused(
        client
            .enable_auto_merge(&pr.node_id, MergeMethod::Squash)
            .await
            .unwrap(),
    );
    assert!(m.contains("clean status"), "{m}");
    let m = refused(
        client
            .enable_auto_merge("PR_nope", MergeMethod::Squash)
            .await
            .unwrap(),
    );
    assert!(m.contains("PR_nope"), "{m}");

    gh.require_checks(&["kernel-packer/pr-check"]);
    let red = client
        .create_check_run("kernel-packer/pr-check", &head, "running")
        .await
        .unwrap();
    let armed = client
        .enable_auto_merge(&pr.node_id, MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(armed, AutoMerge::Enabled);
    client
        .complete_check_run(red, Conclusion::Failure, "1 of 1 not green", "| table |")
        .await
        .unwrap();
    let p = gh.prs().remove(0);
    assert_eq!((p.state.as_str(), p.merged), ("open", false));
    client.disable_auto_merge(&pr.node_id).await.unwrap();
    assert_eq!(gh.prs()[0].auto_merge, None);

    let green = client
        .create_check_run("kernel-packer/pr-check", &head, "running")
        .await
        .unwrap();
    client
        .enable_auto_merge(&pr.node_id, MergeMethod::Merge)
        .await
        .unwrap();
    client
        .complete_check_run(green, Conclusion::Success, "green", "| table |")
        .await
        .unwrap();
    assert!(gh.prs()[0].merged);
    let main = gh.ref_of("main").unwrap();
    assert_eq!(gh.parents(&main).len(), 2, "a merge commit");
    assert_eq!(gh.files_at(&main)["README"], b"y\n");
    let runs = gh.check_runs();
    assert_eq!(
        runs.iter()
            .map(|r| (r.conclusion.as_deref(), r.title.as_str()))
            .collect::<Vec<_>>(),
        [
            (Some("failure"), "1 of 1 not green"),
            (Some("success"), "green")
        ]
    );
    let graphql: Vec<String> = gh
        .calls()
        .iter()
        .filter(|c| c.path == "/graphql")
        .map(|c| {
            c.body["variables"]["method"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    assert_eq!(graphql, ["SQUASH", "SQUASH", "MERGE", "-", "MERGE"]);
}
