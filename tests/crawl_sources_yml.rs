//! The project's `kernel-package-lists/sources.yml` against the seed corpus: every crawled
//! list has a source, and each source's selection accepts the URLs already in its list (the
//! patterns were derived from them), except where upstream dropped a whole tree.

mod crawl_support;

use kernel_packer::crawl::config::{Config, Matcher, Repository};

fn config() -> Config {
    Config::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/sources.yml"),
    )
    .unwrap()
}

/// Lists kept by hand (no crawlable upstream); documented at the top of sources.yml.
const HAND_KEPT: &[&str] = &["rhel.txt", "rhel9-rhocp4.13.txt", "rhel9-rhocp4.14.txt"];

#[test]
fn every_corpus_list_has_a_source() {
    let c = config();
    for entry in std::fs::read_dir(crawl_support::world::corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".txt")
            || name.ends_with("-uncrawled.txt")
            || HAND_KEPT.contains(&name.as_str())
        {
            continue;
        }
        assert!(
            c.source(&name).is_some(),
            "{name} has no source in sources.yml"
        );
    }
}

/// (name, version, arch) of a package URL as the crawler of `kind` would see it.
fn candidate(kind: &str, url: &str) -> (String, Option<String>, Option<String>) {
    let file = url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    match kind {
        "apt" => {
            let stem = file.trim_end_matches(".deb");
            let p: Vec<&str> = stem.splitn(3, '_').collect();
            (
                p[0].into(),
                p.get(1).map(|s| s.to_string()),
                p.get(2).map(|s| s.to_string()),
            )
        }
        "yum" => {
            let r = crawl_support::fixtures::Rpm::from_file(&file, "");
            (r.name, Some(format!("{}-{}", r.ver, r.rel)), Some(r.arch))
        }
        _ => (file, None, None),
    }
}

/// Whether some repository of `source` would select `url` (as far as a URL tells).
fn accepts(source: &kernel_packer::crawl::config::Source, url: &String) -> bool {
    source.repositories.iter().any(|repo| {
        let (kind, select) = match repo {
            Repository::Apt(r) => ("apt", r.select.as_ref()),
            Repository::Yum(r) => ("yum", r.select.as_ref()),
            Repository::Html(r) => ("html", r.select.as_ref()),
            Repository::Bucket(r) => ("bucket", r.select.as_ref()),
            Repository::Fixed(r) => return r.urls.contains(url),
            Repository::Registry(r) => {
                return url.contains(&format!("/v2/{}/blobs/sha256:", r.repository))
            }
            Repository::Github(_) => {
                return url.contains("minikube") || url.contains("cdn.kernel.org")
            }
        };
        let Some(select) = select.or(source.select.as_ref()) else {
            return false;
        };
        let m = Matcher::new(select).unwrap();
        let (name, version, arch) = candidate(kind, url);
        // Versions of html/bucket candidates are paths only the crawl knows.
        let version = if kind == "apt" || kind == "yum" {
            version
        } else {
            None
        };
        let m_ok = if version.is_none() && (kind == "html" || kind == "bucket") {
            Matcher::new(&kernel_packer::crawl::config::Select {
                versions: vec![],
                ..select.clone()
            })
            .unwrap()
            .matches(&name, None, arch.as_deref(), url)
        } else {
            // apt also selects what a selected package depends on (kbuild, common).
            m.matches(&name, version.as_deref(), arch.as_deref(), url)
                || (kind == "apt"
                    && m.follows(&name)
                    && m.matches_followed(&name, version.as_deref(), arch.as_deref(), url))
        };
        m_ok
    })
}

#[test]
fn selections_accept_the_corpus_urls() {
    let c = config();
    let mut report = Vec::new();
    for source in &c.sources {
        let path = crawl_support::world::corpus_dir().join(&source.list);
        if !path.exists() {
            continue;
        }
        let urls = crawl_support::world::corpus(&source.list);
        let mut accepted = 0;
        let mut rejected = Vec::new();
        for url in &urls {
            let ok = accepts(source, url);
            if ok {
                accepted += 1;
            } else {
                rejected.push(url.clone());
            }
        }
        report.push(format!(
            "{}: {accepted}/{} accepted",
            source.list,
            urls.len()
        ));
        for r in rejected.iter().take(3) {
            report.push(format!("    rejected: {r}"));
        }
    }
    let text = report.join("\n");
    eprintln!("{text}");
    assert!(
        !text.contains("rejected"),
        "selections reject corpus URLs:\n{text}"
    );
}

#[test]
fn every_source_has_an_upstream_canary() {
    let c = config();
    let mut missing = Vec::new();
    for source in &c.sources {
        match &source.canary {
            None => missing.push(source.list.clone()),
            Some(canary) => {
                // Sources with repositories to follow name what must be selected; only a
                // source of fixed URLs (or a dead one) may say it has none, with a reason.
                let follows_upstream = source.enabled
                    && source
                        .repositories
                        .iter()
                        .any(|r| !matches!(r, Repository::Fixed(_)));
                if follows_upstream {
                    assert!(canary.none.is_none(), "{}: canary: none", source.list);
                }
            }
        }
    }
    assert!(missing.is_empty(), "sources without a canary: {missing:?}");
}

/// The arm64 variants (`architectures: [amd64, arm64]`): their own lists, committed and
/// grouped by a `reformat.yml` entry marked `arch: arm64` with the amd64 source's type and rule,
/// crawled by a scheduled group; nothing of amd64 left in them; and their selection takes the
/// arm64 counterpart of every corpus URL of their amd64 source (`_amd64` → `_arm64`,
/// `x86_64` → `aarch64`, Ubuntu's archive → its ports archive).
#[test]
fn arm64_variants_mirror_their_amd64_sources() {
    let c = config();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
    let reformat = kernel_packer::manifest::Config::load(&dir.join("reformat.yml")).unwrap();
    let groups = kernel_packer::crawl_pr::groups::parse_groups(
        &std::fs::read_to_string(dir.join("crawl-groups.yml")).unwrap(),
        "crawl-groups.yml",
    )
    .unwrap();
    let grouped: Vec<&str> = groups.values().flatten().map(String::as_str).collect();
    let mut report = Vec::new();
    let variants: Vec<_> = c.sources.iter().filter(|s| s.arch == "arm64").collect();
    assert!(variants.len() >= 14, "{} arm64 variants", variants.len());
    for v in variants {
        let base_name = v.name().strip_suffix("-arm64").unwrap();
        let base = c.source(base_name).unwrap();
        assert_eq!(base.arch, "amd64");
        assert!(
            dir.join(&v.list).is_file(),
            "{}: list not committed",
            v.list
        );
        let entry = reformat.sources.iter().find(|e| e.file == v.list).unwrap();
        let base_entry = reformat
            .sources
            .iter()
            .find(|e| e.file == base.list)
            .unwrap();
        assert_eq!(entry.arch(), "arm64", "{}", v.list);
        assert_eq!(
            (&entry.kind, &entry.reformat),
            (&base_entry.kind, &base_entry.reformat),
            "{}",
            v.list
        );
        assert!(
            grouped.contains(&v.name()),
            "{}: in no crawl group",
            v.name()
        );
        let text = format!("{:?} {:?} {:?}", v.repositories, v.select, v.canary);
        for amd64 in ["amd64", "x86_64", "security.ubuntu.com"] {
            assert!(!text.contains(amd64), "{}: {amd64} left in {text}", v.list);
        }
        let corpus = crawl_support::world::corpus_dir().join(&base.list);
        if !corpus.exists() {
            continue;
        }
        let urls = crawl_support::world::corpus(&base.list);
        let mut accepted = 0;
        for url in &urls {
            let arm = url
                .replace("_amd64.deb", "_arm64.deb")
                .replace("-amd64_", "-arm64_")
                .replace("x86_64", "aarch64")
                .replace("amd64-usr", "arm64-usr")
                .replace(
                    "http://security.ubuntu.com/ubuntu/",
                    "http://ports.ubuntu.com/ubuntu-ports/",
                );
            assert!(accepts(base, url), "{}: {url}", base.list);
            if accepts(v, &arm) {
                accepted += 1;
            } else {
                panic!("{}: rejects {arm}", v.list);
            }
            // (A package file name says its architecture; html names such as Flatcar's are
            // told apart by the start URL, which `accepts` does not model.)
            // (The file name, not the path: SLES keeps noarch files under x86_64/ roots.)
            let package = url.ends_with(".deb") || url.ends_with(".rpm");
            let file = url.rsplit('/').next().unwrap_or(url);
            assert!(
                !package || !accepts(v, url) || !file.contains("amd64") && !file.contains("x86_64"),
                "{}: takes {url}",
                v.list
            );
        }
        report.push(format!(
            "{}: {accepted}/{} arm64 counterparts",
            v.list,
            urls.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
}
