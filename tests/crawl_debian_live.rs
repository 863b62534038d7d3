//! Live test against the real Debian archive, through the mirror apt is configured with
//! (read from `/etc/apt/sources.list.d/debian.sources` at run time: first `URIs:` the main
//! archive, second the security archive; no host is written anywhere).
//!
//! 1. `kernel-packer crawl --source debian` with the committed `sources.yml` (aliases, index
//!    metadata selection, canary, the committed archive key), the upstream URLs mapped onto
//!    the mirror with `--mirror-override`; then the same crawl again with the same cache,
//!    which must reuse every index (only the InRelease files travel).
//! 2. `kernel-packer manifest` over the crawled list: every source grouped, nothing rejected.
//! 3. Independently of the project's parser (a few lines of Python over the archive's own
//!    `Packages.xz`, suites found through the archive's own alias Release files), every amd64
//!    kernel ABI + flavour the supported suites publish (`linux-headers-<X.Y.Z...>-<flavour>`)
//!    must be in exactly one well-formed set: that header, the kbuild and the common headers
//!    its own `Depends` names, from the same archive.
//!
//! Measured numbers are printed (`cargo test --test crawl_debian_live -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kernel_packer::crawl::config::{Config, Repository};
use kernel_packer::manifest::Manifest;
use kernel_packer::names::simplify;

const APT_SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// The mirror roots apt uses: (main archive, security archive), without trailing `/`.
fn mirrors() -> (String, String) {
    let text = std::fs::read_to_string(APT_SOURCES)
        .unwrap_or_else(|e| panic!("{APT_SOURCES}: {e} (the live test needs apt's mirror)"));
    let uris: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("URIs:"))
        .filter_map(|v| v.split_whitespace().next())
        .map(|u| u.trim_end_matches('/').to_string())
        .collect();
    assert!(
        uris.len() >= 2,
        "{APT_SOURCES}: expected a main and a security entry, found {uris:?}"
    );
    (uris[0].clone(), uris[1].clone())
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream archive roots of the debian source (main, security), from `sources.yml`.
fn upstream_roots() -> (String, String) {
    let config = Config::load(&repo_root().join("kernel-package-lists/sources.yml")).unwrap();
    let roots: Vec<String> = config
        .source("debian")
        .unwrap()
        .repositories
        .iter()
        .filter_map(|r| match r {
            Repository::Apt(a) => Some(format!("{}/", a.url.trim_end_matches('/'))),
            _ => None,
        })
        .collect();
    assert_eq!(
        roots.len(),
        2,
        "debian: expected the main and security archives"
    );
    (roots[0].clone(), roots[1].clone())
}

struct Crawl {
    requests: u64,
    bytes: u64,
    reused: u64,
    seconds: f64,
}

fn crawl(lists: &Path, cache: &Path, overrides: &[(String, String)]) -> Crawl {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kernel-packer"));
    cmd.args(["crawl", "--source", "debian", "--json", "--lists"])
        .arg(lists)
        .arg("--config")
        .arg(repo_root().join("kernel-package-lists/sources.yml"))
        .arg("--cache-dir")
        .arg(cache);
    for (from, to) in overrides {
        cmd.arg("--mirror-override").arg(format!("{from}={to}"));
    }
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let seconds = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "crawl failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let n = |k: &str| report["http"][k].as_u64().unwrap();
    Crawl {
        requests: n("requests"),
        bytes: n("bytes"),
        reused: n("reused"),
        seconds,
    }
}

/// Every amd64 kernel header the archive publishes, found without the project's code.
const ENUMERATE: &str = r#"
import json, lzma, re, sys, urllib.error, urllib.request
main, security = sys.argv[1], sys.argv[2]
def get(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()
def stanzas(text):
    for block in text.split("\n\n"):
        if not block.lstrip("\n").startswith("Package: linux-headers-"):
            continue
        fields = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if fields:
            yield fields
seen = set()
for alias in ["oldoldstable", "oldstable", "stable", "testing", "unstable"]:
    release = get(f"{main}/dists/{alias}/Release").decode()
    codename = re.search(r"^Codename:\s*(\S+)", release, re.M).group(1)
    for archive, root, suite in (("main", main, codename),
                                 ("main", main, codename + "-updates"),
                                 ("security", security, codename + "-security")):
        if (archive, suite) in seen:
            continue
        seen.add((archive, suite))
        try:
            get(f"{root}/dists/{suite}/Release")
        except urllib.error.HTTPError as e:
            if e.code == 404 and suite != codename:
                continue
            raise
        text = lzma.decompress(get(f"{root}/dists/{suite}/main/binary-amd64/Packages.xz")).decode()
        for f in stanzas(text):
            m = re.fullmatch(r"linux-headers-(\d+\.\d+\.\d+[^_]*?)-((?:rt-|cloud-)?amd64)", f.get("Package", ""))
            if not m or f.get("Architecture") != "amd64":
                continue
            deps = [d.split()[0] for d in re.split(r"[,|]", f.get("Depends", "")) if d.strip()]
            print(json.dumps({
                "archive": archive, "suite": suite, "package": f["Package"],
                "version": f["Version"], "filename": f["Filename"],
                "abi": m.group(1), "flavour": m.group(2),
                "kbuild": [d for d in deps if d.startswith("linux-kbuild-")],
                "common": [d for d in deps if re.fullmatch(r"linux-headers-.+-common(-[a-z0-9]+)?", d)],
            }))
"#;

#[derive(Debug, serde::Deserialize)]
struct Published {
    archive: String,
    suite: String,
    package: String,
    version: String,
    filename: String,
    abi: String,
    flavour: String,
    kbuild: Vec<String>,
    common: Vec<String>,
}

fn dpkg_newer(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "gt", b])
        .status()
        .unwrap()
        .success()
}

#[test]
fn debian_archive_every_published_kernel_is_a_well_formed_set() {
    let (main, security) = mirrors();
    let (up_main, up_security) = upstream_roots();
    let overrides = vec![
        (up_main.clone(), format!("{main}/")),
        (up_security.clone(), format!("{security}/")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&lists).unwrap();

    // Independent enumeration, in parallel with the crawls.
    let python = std::thread::spawn({
        let (main, security) = (main.clone(), security.clone());
        move || {
            let t = Instant::now();
            let out = Command::new("python3")
                .args(["-c", ENUMERATE, &main, &security])
                .output()
                .expect("python3");
            assert!(
                out.status.success(),
                "enumeration failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let published: Vec<Published> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (published, t.elapsed().as_secs_f64())
        }
    });

    let first = crawl(&lists, &cache, &overrides);
    let list_after_first = std::fs::read(lists.join("debian.txt")).unwrap();
    let repeat = crawl(&lists, &cache, &overrides);
    assert_eq!(
        std::fs::read(lists.join("debian.txt")).unwrap(),
        list_after_first,
        "an unchanged archive changed the list"
    );
    eprintln!(
        "live debian crawl: first {} requests, {} bytes, {:.1} s; repeat {} requests, {} bytes, {} indexes reused, {:.1} s",
        first.requests, first.bytes, first.seconds, repeat.requests, repeat.bytes, repeat.reused, repeat.seconds
    );
    // (Identical indexes, e.g. two empty ones, are fetched once even in the first crawl.)
    assert!(
        repeat.reused > first.reused,
        "the repeat crawl reused no index"
    );
    assert_eq!(
        repeat.requests + repeat.reused,
        first.requests + first.reused,
        "the repeat crawl must fetch exactly the InRelease files and reuse every index"
    );
    assert!(
        repeat.bytes * 5 < first.bytes,
        "repeat crawl transferred {} of {} bytes",
        repeat.bytes,
        first.bytes
    );

    // Group the crawled list with the project's grouping config entry for debian.
    let reformat =
        std::fs::read_to_string(repo_root().join("kernel-package-lists/reformat.yml")).unwrap();
    let all: Vec<serde_norway::Value> = serde_norway::from_str(&reformat).unwrap();
    let debian: Vec<&serde_norway::Value> = all
        .iter()
        .filter(|e| e["name"].as_str() == Some("debian"))
        .collect();
    std::fs::write(
        lists.join("reformat.yml"),
        serde_norway::to_string(&debian).unwrap(),
    )
    .unwrap();
    let manifest_path = lists.join("manifest.yml");
    let out = Command::new(env!("CARGO_BIN_EXE_kernel-packer"))
        .arg("manifest")
        .arg("--config")
        .arg(lists.join("reformat.yml"))
        .arg("--out")
        .arg(&manifest_path)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stderr);
    eprint!("{summary}");
    assert!(out.status.success(), "manifest: {}\n{summary}", out.status);
    let manifest = Manifest::load(&manifest_path).unwrap();

    let (published, py_seconds) = python.join().unwrap();
    // Per archive and package, the newest version is the kernel the lists follow.
    let mut newest: BTreeMap<(String, String), &Published> = BTreeMap::new();
    for p in &published {
        let key = (p.archive.clone(), p.package.clone());
        match newest.get(&key) {
            Some(q) if !dpkg_newer(&p.version, &q.version) => {}
            _ => {
                newest.insert(key, p);
            }
        }
    }
    let suites: BTreeSet<&str> = published.iter().map(|p| p.suite.as_str()).collect();
    let mut problems = Vec::new();
    for p in newest.values() {
        let root = if p.archive == "main" {
            &up_main
        } else {
            &up_security
        };
        let url = format!("{root}{}", p.filename);
        let name = simplify(&url);
        let holding: Vec<_> = manifest
            .entries
            .values()
            .filter(|e| e.packages.contains(&name))
            .collect();
        let [entry] = holding[..] else {
            problems.push(format!(
                "{} {} ({}): in {} sets",
                p.suite,
                p.package,
                p.version,
                holding.len()
            ));
            continue;
        };
        let pool = simplify(root);
        let mut want: Vec<String> = p
            .kbuild
            .iter()
            .chain(&p.common)
            .map(|n| simplify(&format!("/{n}_")))
            .collect();
        want.push(simplify(&format!("/{}_", p.package)));
        let well_formed = entry.kind == "debian"
            && entry.packages.len() == want.len()
            && p.kbuild.len() == 1
            && p.common.len() == 1
            && entry.packages.iter().all(|q| q.starts_with(&pool))
            && want
                .iter()
                .all(|w| entry.packages.iter().any(|q| q.contains(w.as_str())));
        if !well_formed {
            problems.push(format!(
                "{} {} ({}, ABI {} flavour {}): set {:?}, Depends names kbuild {:?} and common {:?}",
                p.suite, p.package, p.version, p.abi, p.flavour, entry.packages, p.kbuild, p.common
            ));
        }
    }
    eprintln!(
        "live debian: {} suites, {} published amd64 kernel headers ({} ABI+flavour+archive), {} well-formed sets, {} manifest ids; enumeration {:.1} s",
        suites.len(),
        published.len(),
        newest.len(),
        newest.len() - problems.len(),
        manifest.entries.len(),
        py_seconds
    );
    assert!(
        newest.len() > 50,
        "suspiciously few kernels published: {}",
        newest.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {} published kernels are not well-formed sets:\n{}",
        problems.len(),
        newest.len(),
        problems.join("\n")
    );
    // Nothing but those sets: every manifest entry holds one of the published headers.
    assert_eq!(
        manifest.entries.len(),
        newest.len(),
        "the manifest holds sets beyond the published kernels"
    );
}
