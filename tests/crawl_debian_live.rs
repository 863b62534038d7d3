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
//! 4. The same for arm64 (issue 17): `crawl --source debian-arm64` (the arm64 variant of the
//!    same source: `binary-arm64` indexes of the same suites), grouped with the `debian-arm64`
//!    entry of `reformat.yml`; every published arm64 header is one well-formed `arch: arm64` set
//!    whose kbuild is the arm64 one (flavours `arm64`, `cloud-arm64`, `rt-arm64`, and since
//!    Debian 13 `arm64-16k`). Both enumerations keep the `Packages.xz` they read in a
//!    content-keyed by-hash cache (`~/.cache/kernel-packer-tests/debian-by-hash/`), and the
//!    arm64 crawl keeps its HTTP cache under `~/.cache/kernel-packer-tests/`, so an unchanged
//!    archive is not downloaded again (an arm64 index is ~10 MB per suite).
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
    crawl_source("debian", lists, cache, overrides)
}

fn crawl_source(source: &str, lists: &Path, cache: &Path, overrides: &[(String, String)]) -> Crawl {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kernel-packer"));
    cmd.args(["crawl", "--source", source, "--json", "--lists"])
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

/// Every kernel header of one architecture the archive publishes, found without the project's
/// code (argv: main, security, arch, by-hash cache directory).
const ENUMERATE: &str = r#"
import hashlib, json, lzma, os, re, sys, tempfile, urllib.error, urllib.request
main, security, arch, cache = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(cache, exist_ok=True)
def get(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()
def packages_xz(root, suite, release):
    # The index by its sha256 in the Release, from the content-keyed cache or by-hash.
    path = f"main/binary-{arch}/Packages.xz"
    sha = None
    for line in release.split("SHA256:", 1)[1].splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == path:
            sha = parts[0]
        elif parts and len(parts) != 3:
            break
    if sha is None:
        raise SystemExit(f"{suite}: Release lists no {path}")
    cached = os.path.join(cache, sha)
    if os.path.exists(cached):
        with open(cached, "rb") as f:
            return f.read()
    data = get(f"{root}/dists/{suite}/main/binary-{arch}/by-hash/SHA256/{sha}")
    if hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"{suite}: {path} does not match its Release digest")
    fd, tmp = tempfile.mkstemp(dir=cache)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, cached)
    return data
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
            suite_release = get(f"{root}/dists/{suite}/Release").decode()
        except urllib.error.HTTPError as e:
            if e.code == 404 and suite != codename:
                continue
            raise
        text = lzma.decompress(packages_xz(root, suite, suite_release)).decode()
        for f in stanzas(text):
            m = re.fullmatch(r"linux-headers-(\d+\.\d+\.\d+[^_]*?)-((?:rt-|cloud-)?" + arch + "(?:-16k)?)", f.get("Package", ""))
            if not m or f.get("Architecture") != arch:
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

/// `~/.cache/kernel-packer-tests/<name>` (content-keyed or conditional caches that survive runs).
fn test_cache(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME");
    PathBuf::from(home)
        .join(".cache/kernel-packer-tests")
        .join(name)
}

/// Enumerates the published `arch` headers in a thread: (headers, seconds).
fn enumerate(
    main: &str,
    security: &str,
    arch: &str,
) -> std::thread::JoinHandle<(Vec<Published>, f64)> {
    let (main, security, arch) = (main.to_string(), security.to_string(), arch.to_string());
    let cache = test_cache("debian-by-hash");
    std::thread::spawn(move || {
        let t = Instant::now();
        let out = Command::new("python3")
            .args(["-c", ENUMERATE, &main, &security, &arch])
            .arg(&cache)
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
    })
}

/// `kernel-packer manifest` over `lists` with the project's `reformat.yml` entry `name` only.
fn manifest_of(lists: &Path, name: &str) -> Manifest {
    let reformat =
        std::fs::read_to_string(repo_root().join("kernel-package-lists/reformat.yml")).unwrap();
    let all: Vec<serde_norway::Value> = serde_norway::from_str(&reformat).unwrap();
    let entry: Vec<&serde_norway::Value> = all
        .iter()
        .filter(|e| e["name"].as_str() == Some(name))
        .collect();
    assert_eq!(entry.len(), 1, "reformat.yml entry {name}");
    std::fs::write(
        lists.join("reformat.yml"),
        serde_norway::to_string(&entry).unwrap(),
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
    Manifest::load(&manifest_path).unwrap()
}

/// Checks that each newest published `arch` header is in exactly one well-formed set of
/// `manifest` (its kbuild and common headers as its Depends name them, from its archive; the
/// set marked with `arch`, the kbuild built for it) and that the manifest holds nothing else.
fn check_published(
    manifest: &Manifest,
    published: &[Published],
    (up_main, up_security): (&str, &str),
    arch: &str,
    py_seconds: f64,
) {
    // Per archive and package, the newest version is the kernel the lists follow.
    let mut newest: BTreeMap<(String, String), &Published> = BTreeMap::new();
    for p in published {
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
            up_main
        } else {
            up_security
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
        let kbuild_arch = entry
            .packages
            .iter()
            .filter(|q| q.contains("-linux-kbuild-"))
            .all(|q| q.ends_with(&format!("_{arch}.deb")));
        let well_formed = entry.kind == "debian"
            && entry.arch() == arch
            && kbuild_arch
            && entry.packages.len() == want.len()
            && p.kbuild.len() == 1
            && p.common.len() == 1
            && entry.packages.iter().all(|q| q.starts_with(&pool))
            && want
                .iter()
                .all(|w| entry.packages.iter().any(|q| q.contains(w.as_str())));
        if !well_formed {
            problems.push(format!(
                "{} {} ({}, ABI {} flavour {}): set {:?} ({}), Depends names kbuild {:?} and common {:?}",
                p.suite, p.package, p.version, p.abi, p.flavour, entry.packages, entry.arch(), p.kbuild, p.common
            ));
        }
    }
    eprintln!(
        "live debian {arch}: {} suites, {} published {arch} kernel headers ({} ABI+flavour+archive), {} well-formed sets, {} manifest ids; enumeration {:.1} s",
        suites.len(),
        published.len(),
        newest.len(),
        newest.len() - problems.len(),
        manifest.entries.len(),
        py_seconds
    );
    assert!(
        newest.len() > 30,
        "suspiciously few {arch} kernels published: {}",
        newest.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {} published {arch} kernels are not well-formed sets:\n{}",
        problems.len(),
        newest.len(),
        problems.join("\n")
    );
    // Nothing but those sets: every manifest entry holds one of the published headers.
    assert_eq!(
        manifest.entries.len(),
        newest.len(),
        "the manifest holds sets beyond the published {arch} kernels"
    );
}

/// Mirrors, upstream roots, the overrides between them and a work dir with `lists/`.
struct Live {
    main: String,
    security: String,
    up_main: String,
    up_security: String,
    overrides: Vec<(String, String)>,
    dir: tempfile::TempDir,
    lists: PathBuf,
}

impl Live {
    fn new() -> Live {
        let (main, security) = mirrors();
        let (up_main, up_security) = upstream_roots();
        let overrides = vec![
            (up_main.clone(), format!("{main}/")),
            (up_security.clone(), format!("{security}/")),
        ];
        let dir = tempfile::tempdir().unwrap();
        let lists = dir.path().join("lists");
        std::fs::create_dir_all(&lists).unwrap();
        Live {
            main,
            security,
            up_main,
            up_security,
            overrides,
            dir,
            lists,
        }
    }
}

#[test]
fn debian_archive_every_published_kernel_is_a_well_formed_set() {
    let live = Live::new();
    let (lists, overrides) = (&live.lists, &live.overrides);
    let cache = live.dir.path().join("cache");

    // Independent enumeration, in parallel with the crawls.
    let python = enumerate(&live.main, &live.security, "amd64");

    let first = crawl(lists, &cache, overrides);
    let list_after_first = std::fs::read(lists.join("debian.txt")).unwrap();
    let repeat = crawl(lists, &cache, overrides);
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
    let manifest = manifest_of(lists, "debian");
    let (published, py_seconds) = python.join().unwrap();
    check_published(
        &manifest,
        &published,
        (&live.up_main, &live.up_security),
        "amd64",
        py_seconds,
    );
}

#[test]
fn debian_archive_every_published_arm64_kernel_is_a_well_formed_set() {
    let live = Live::new();
    let (lists, overrides) = (&live.lists, &live.overrides);
    let python = enumerate(&live.main, &live.security, "arm64");
    // The arm64 variant of the same source: same archives and suites, binary-arm64 indexes.
    let c = crawl_source(
        "debian-arm64",
        lists,
        &test_cache("debian-live-arm64-http"),
        overrides,
    );
    eprintln!(
        "live debian-arm64 crawl: {} requests, {} bytes, {} indexes reused, {:.1} s",
        c.requests, c.bytes, c.reused, c.seconds
    );
    let list = std::fs::read_to_string(lists.join("debian-arm64.txt")).unwrap();
    assert!(
        !list.contains("_amd64.deb"),
        "amd64 packages in the arm64 list"
    );
    let manifest = manifest_of(lists, "debian-arm64");
    let (published, py_seconds) = python.join().unwrap();
    check_published(
        &manifest,
        &published,
        (&live.up_main, &live.up_security),
        "arm64",
        py_seconds,
    );
}
