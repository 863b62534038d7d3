//! Issue 16's sources (Amazon Linux 2 kernel-5.15 / kernel-ng, Amazon Linux 2023, CentOS 8
//! vault, CentOS Stream, AlmaLinux, Rocky Linux, Photon OS, openSUSE Leap, Ubuntu lowlatency
//! and oracle) crawled from the project's real `sources.yml` against fixture mirrors on
//! 127.0.0.1 laid out as the distributions publish them: AL2 extras mirror lists and
//! blobstore hrefs, AL2023's `core/mirrors/latest` mirror list naming a `core/guids/<id>`
//! repository whose hrefs climb to `/al2023/blobstore/`, vault and AppStream/BaseOS roots
//! (Rocky's `Packages/<letter>/`), Photon's `photon_{release,updates}_N.0_x86_64` roots with
//! `x86_64/` hrefs, Leap's `x86_64/` + `noarch/` hrefs, and Ubuntu's `meta-release` naming
//! the releases whose suites are followed (plucky found without a config change). The lists
//! then go through the manifest generator with the project's `reformat.yml`; the kernels
//! and sets per source are printed and checked. Canary and fault cases follow.

mod crawl_support;

use std::collections::{BTreeMap, BTreeSet};

use crawl_support::fixtures::{self, Deb, Rpm};
use crawl_support::mirror::Fault;
use crawl_support::world::{self, crawl_with, World};

/// The new sources, in the order they are reported.
const NEW: &[&str] = &[
    "amazon-5.15",
    "amazon-ng",
    "amazon2023",
    "centos8",
    "centos-stream",
    "almalinux",
    "rocky",
    "photon",
    "opensuse-leap",
    "ubuntu-lowlatency",
    "ubuntu-oracle",
];

const AL2: &str = "http://amazonlinux.us-west-2.amazonaws.com/";
const AL2023: &str = "https://cdn.amazonlinux.com/al2023/";
const AL2023_GUID: &str = "1d5bd8a8ec6d3ca7bd81a1f2f0bcde2a9ff3a6fee05a5cc40f4e52d1b2c8f1a7";
const UBUNTU: &str = "http://security.ubuntu.com/ubuntu/";

fn hex(seed: &str) -> String {
    kernel_packer::names::sha256_hex(seed.as_bytes())
}

/// What each new source must list after a crawl of the fixtures.
type Expected = BTreeMap<&'static str, BTreeSet<String>>;

/// An Amazon Linux 2 extras topic: `2/extras/<topic>/latest/x86_64/mirror.list` names
/// `2/extras/<topic>/stable/x86_64/<hash>/`, whose hrefs climb six levels to `/blobstore/`.
fn al2_topic(w: &World, topic: &str, wanted: &[&str], noise: &[&str]) -> BTreeSet<String> {
    let repo = format!("{AL2}2/extras/{topic}/stable/x86_64/{}/", hex(topic));
    w.mirror.put(
        &format!("{AL2}2/extras/{topic}/latest/x86_64/mirror.list"),
        format!("{repo}\n").into_bytes(),
    );
    let mut rpms = Vec::new();
    let mut urls = BTreeSet::new();
    for (i, file) in wanted.iter().chain(noise).enumerate() {
        let blob = format!("blobstore/{}/{file}", hex(file));
        rpms.push(Rpm::from_file(file, &format!("../../../../../../{blob}")));
        if i < wanted.len() {
            urls.insert(format!("{AL2}{blob}"));
        }
    }
    fixtures::yum_repo(&w.mirror, None, &repo, &rpms, "gz");
    urls
}

/// Amazon Linux 2023: `core/mirrors/latest/x86_64/mirror.list` → `core/guids/<id>/x86_64/`
/// (after a dead mirror line when `dead_first`); packages in `/al2023/blobstore/<hash>/`.
fn al2023(w: &World, extra: &[&str], dead_first: bool) -> BTreeSet<String> {
    let repo = format!("{AL2023}core/guids/{AL2023_GUID}/x86_64/");
    let mut list = String::new();
    if dead_first {
        let dead = format!("{AL2023}core/guids/{}/x86_64/", hex("dead"));
        w.mirror
            .fault(&format!("{dead}repodata/repomd.xml"), Fault::Status(503));
        list.push_str(&format!("{dead}\n"));
    }
    list.push_str(&format!("{repo}\n"));
    w.mirror.put(
        &format!("{AL2023}core/mirrors/latest/x86_64/mirror.list"),
        list.into_bytes(),
    );
    let wanted = [
        "kernel-devel-6.1.155-176.267.amzn2023.x86_64.rpm",
        "kernel-devel-6.1.156-177.286.amzn2023.x86_64.rpm",
        "kernel6.12-devel-6.12.46-66.121.amzn2023.x86_64.rpm",
        "kernel6.12-devel-6.12.53-69.119.amzn2023.x86_64.rpm",
        "kernel6.18-devel-6.18.2-12.35.amzn2023.x86_64.rpm",
    ];
    let noise = [
        "kernel-6.1.156-177.286.amzn2023.x86_64.rpm",
        "kernel-headers-6.1.156-177.286.amzn2023.x86_64.rpm",
        "kernel6.12-devel-6.12.53-69.119.amzn2023.aarch64.rpm",
        "kernel-livepatch-6.1.155-176.267-1.0-0.amzn2023.x86_64.rpm",
        "kernel6.18-6.18.2-12.35.amzn2023.x86_64.rpm",
    ];
    let mut rpms = Vec::new();
    let mut urls = BTreeSet::new();
    for (i, file) in wanted.iter().chain(&noise).chain(extra).enumerate() {
        let blob = format!("blobstore/{}/{file}", hex(file));
        rpms.push(Rpm::from_file(file, &format!("../../../../{blob}")));
        if i < wanted.len() {
            urls.insert(format!("{AL2023}{blob}"));
        }
    }
    fixtures::yum_repo(&w.mirror, None, &repo, &rpms, "xz");
    urls
}

/// A yum root whose `kernel-devel` (`wanted`) sit under `dir` (`Packages/`, `Packages/k/`,
/// `x86_64/`, `noarch/` by architecture when `dir` is empty), next to packages not wanted.
fn yum_root(w: &World, root: &str, dir: &str, wanted: &[&str], noise: &[&str]) -> Vec<String> {
    let href = |f: &str| -> String {
        if dir.is_empty() {
            let arch = f.trim_end_matches(".rpm").rsplit('.').next().unwrap();
            format!("{arch}/{f}")
        } else {
            format!("{dir}{f}")
        }
    };
    let rpms: Vec<Rpm> = wanted
        .iter()
        .chain(noise)
        .map(|f| Rpm::from_file(f, &href(f)))
        .collect();
    fixtures::yum_repo(&w.mirror, None, root, &rpms, "zst");
    wanted
        .iter()
        .map(|f| format!("{root}{}", href(f)))
        .collect()
}

/// EL roots: (root, dir, kernel versions, other packages).
fn el(w: &World, roots: &[(&str, &str, &[&str])]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (root, dir, versions) in roots {
        let wanted: Vec<String> = versions
            .iter()
            .map(|v| format!("kernel-devel-{v}.x86_64.rpm"))
            .collect();
        let v = versions.last().unwrap();
        let noise = [
            format!("kernel-{v}.x86_64.rpm"),
            format!("kernel-core-{v}.x86_64.rpm"),
            format!("kernel-headers-{v}.x86_64.rpm"),
            format!("kernel-debug-devel-{v}.x86_64.rpm"),
            format!("kernel-devel-{v}.aarch64.rpm"),
            "bash-5.1.8-9.el9.x86_64.rpm".to_string(),
        ];
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let noise: Vec<&str> = noise.iter().map(String::as_str).collect();
        out.extend(yum_root(w, root, dir, &wanted, &noise));
    }
    out
}

const VAULT: &str = "https://vault.centos.org/";
const STREAM: &str = "https://mirror.stream.centos.org/";
const ALMA: &str = "https://repo.almalinux.org/almalinux/";
const ROCKY: &str = "https://dl.rockylinux.org/pub/rocky/";
const PHOTON: &str = "https://packages.vmware.com/photon/";
const LEAP: &str = "https://download.opensuse.org/";

/// Roots under `base` whose packages sit in `x86_64/` and `noarch/` (Photon, Leap): per root
/// the `wanted` templates for each version, and the `noise` templates for its last version
/// (`{v}` is the version).
fn arch_dir_roots(
    w: &World,
    base: &str,
    roots: &[(&str, &[&str])],
    wanted: &[&str],
    noise: &[&str],
) -> BTreeSet<String> {
    let fill = |t: &&str, v: &str| t.replace("{v}", v);
    let mut out = BTreeSet::new();
    for (root, versions) in roots {
        let want: Vec<String> = versions
            .iter()
            .flat_map(|v| wanted.iter().map(move |t| fill(t, v)))
            .collect();
        let last = versions.last().unwrap();
        let other: Vec<String> = noise.iter().map(|t| fill(t, last)).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        let other: Vec<&str> = other.iter().map(String::as_str).collect();
        out.extend(yum_root(w, &format!("{base}{root}"), "", &want, &other));
    }
    out
}

fn photon(w: &World) -> BTreeSet<String> {
    arch_dir_roots(
        w,
        PHOTON,
        &[
            ("4.0/photon_release_4.0_x86_64/", &["5.10.4-16.ph4"]),
            (
                "4.0/photon_updates_4.0_x86_64/",
                &["5.10.240-2.ph4", "5.10.245-1.ph4"],
            ),
            ("5.0/photon_release_5.0_x86_64/", &["6.1.10-11.ph5"]),
            (
                "5.0/photon_updates_5.0_x86_64/",
                &["6.1.153-4.ph5", "6.1.158-12.ph5"],
            ),
        ],
        &[
            "linux-devel-{v}.x86_64.rpm",
            "linux-esx-devel-{v}.x86_64.rpm",
        ],
        &[
            "linux-{v}.x86_64.rpm",
            "linux-rt-devel-{v}.x86_64.rpm",
            "linux-api-headers-{v}.noarch.rpm",
            "linux-esx-{v}.x86_64.rpm",
        ],
    )
}

fn leap(w: &World) -> BTreeSet<String> {
    arch_dir_roots(
        w,
        LEAP,
        &[
            ("distribution/leap/15.5/repo/oss/", &["5.14.21-150500.53.2"]),
            (
                "update/leap/15.5/sle/",
                &["5.14.21-150500.55.97.1", "5.14.21-150500.55.100.1"],
            ),
            ("distribution/leap/15.6/repo/oss/", &["6.4.0-150600.21.3"]),
            (
                "update/leap/15.6/sle/",
                &["6.4.0-150600.23.25.1", "6.4.0-150600.23.73.1"],
            ),
            ("distribution/leap/16.0/repo/oss/", &["6.12.0-160000.5.1"]),
        ],
        &[
            "kernel-default-devel-{v}.x86_64.rpm",
            "kernel-devel-{v}.noarch.rpm",
        ],
        &[
            "kernel-default-{v}.x86_64.rpm",
            "kernel-source-{v}.noarch.rpm",
            "kernel-default-devel-{v}.aarch64.rpm",
            "kernel-syms-{v}.x86_64.rpm",
        ],
    )
}

/// One Ubuntu kernel: the flavour's arch header and the source's common header.
fn ubuntu_kernel(source: &str, common: &str, abi: &str, flavour: &str, version: &str) -> [Deb; 2] {
    fixtures::ubuntu_kernel(source, common, abi, flavour, version, "amd64")
}

/// Ubuntu: noble and plucky (plucky only through `meta-release`) suites plus the pool
/// listing; `oracle_meta` is the kernel `linux-headers-oracle` points at in plucky-security.
fn ubuntu(w: &World, oracle_meta: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let ll = [
        ubuntu_kernel(
            "linux-lowlatency",
            "linux-lowlatency",
            "6.8.0-31",
            "lowlatency",
            "6.8.0-31.31.1",
        ),
        ubuntu_kernel(
            "linux-lowlatency",
            "linux-lowlatency",
            "6.8.0-52",
            "lowlatency",
            "6.8.0-52.53.1",
        ),
        ubuntu_kernel(
            "linux-lowlatency-hwe-6.8",
            "linux-lowlatency-hwe-6.8",
            "6.8.0-60",
            "lowlatency",
            "6.8.0-60.63.1~22.04.1",
        ),
    ];
    let oracle = [
        ubuntu_kernel(
            "linux-oracle",
            "linux-oracle",
            "6.8.0-1005",
            "oracle",
            "6.8.0-1005.5",
        ),
        ubuntu_kernel(
            "linux-oracle",
            "linux-oracle",
            "6.8.0-1028",
            "oracle",
            "6.8.0-1028.29",
        ),
        ubuntu_kernel(
            "linux-oracle",
            "linux-oracle",
            "6.14.0-1005",
            "oracle",
            "6.14.0-1005.5",
        ),
    ];
    let meta = |name: &str, version: &str, kernel: &str| {
        fixtures::metapackage(name, version, kernel, "pool/main/l/linux-meta-oracle/")
    };
    let noble: Vec<Deb> = ll[..2]
        .iter()
        .chain(&oracle[..2])
        .flatten()
        .cloned()
        .chain([
            meta("linux-headers-lowlatency", "6.8.0-52.53.1", "linux-headers-6.8.0-52-lowlatency"),
            meta("linux-headers-oracle", "6.8.0-1028.29", "linux-headers-6.8.0-1028-oracle"),
            // Not wanted: another flavour and another architecture.
            Deb {
                package: "linux-headers-6.8.0-52-generic".into(),
                version: "6.8.0-52.53".into(),
                arch: "amd64".into(),
                filename: "pool/main/l/linux/linux-headers-6.8.0-52-generic_6.8.0-52.53_amd64.deb".into(),
                depends: String::new(),
            },
            Deb {
                package: "linux-headers-6.8.0-1028-oracle".into(),
                version: "6.8.0-1028.29".into(),
                arch: "arm64".into(),
                filename: "pool/main/l/linux-oracle/linux-headers-6.8.0-1028-oracle_6.8.0-1028.29_arm64.deb".into(),
                depends: String::new(),
            },
        ])
        .collect();
    let jammy: Vec<Deb> = ll[2]
        .iter()
        .cloned()
        .chain([meta(
            "linux-headers-lowlatency-hwe-22.04",
            "6.8.0-60.63.1~22.04.1",
            "linux-headers-6.8.0-60-lowlatency",
        )])
        .collect();
    let plucky: Vec<Deb> = oracle[2]
        .iter()
        .cloned()
        .chain([meta("linux-headers-oracle", "6.14.0-1005.5", oracle_meta)])
        .collect();
    for (suite, debs) in [
        ("noble-updates", noble.clone()),
        ("noble-security", noble),
        ("jammy-updates", jammy),
        ("plucky-security", plucky),
    ] {
        fixtures::apt_suite(
            &w.mirror,
            &w.signer,
            UBUNTU,
            suite,
            &[("main", debs), ("universe", vec![])],
            "amd64",
        );
    }
    let url = |d: &Deb| format!("{UBUNTU}{}", d.filename);
    let ll_urls: BTreeSet<String> = ll.iter().flatten().map(url).collect();
    let oracle_urls: BTreeSet<String> = oracle.iter().flatten().map(url).collect();
    // The pool keeps them all (plus what the selections skip).
    let mut files: Vec<String> = ll_urls.iter().chain(&oracle_urls).cloned().collect();
    files.push(format!(
        "{UBUNTU}pool/main/l/linux-oracle/linux-image-6.8.0-1028-oracle_6.8.0-1028.29_amd64.deb"
    ));
    files.push(format!(
        "{UBUNTU}pool/main/l/linux/linux-headers-6.8.0-52-generic_6.8.0-52.53_amd64.deb"
    ));
    fixtures::html_tree(&w.mirror, &format!("{UBUNTU}pool/main/l/"), &files);
    fixtures::html_tree(
        &w.mirror,
        &format!("{UBUNTU}pool/universe/l/"),
        &[format!(
            "{UBUNTU}pool/universe/l/lightdm/lightdm_1.30.0-0ubuntu14_amd64.deb"
        )],
    );
    (ll_urls, oracle_urls)
}

/// Serves every new source; returns what each list must hold.
fn serve(w: &World) -> Expected {
    let mut e = Expected::new();
    e.insert(
        "amazon-5.15",
        al2_topic(
            w,
            "kernel-5.15",
            &[
                "kernel-devel-5.15.173-118.169.amzn2.x86_64.rpm",
                "kernel-devel-5.15.186-182.230.amzn2.x86_64.rpm",
            ],
            &[
                "kernel-5.15.186-182.230.amzn2.x86_64.rpm",
                "kernel-headers-5.15.186-182.230.amzn2.x86_64.rpm",
            ],
        ),
    );
    e.insert(
        "amazon-ng",
        al2_topic(
            w,
            "kernel-ng",
            &[
                "kernel-devel-6.1.141-155.222.amzn2.x86_64.rpm",
                "kernel-devel-6.12.40-64.114.amzn2.x86_64.rpm",
            ],
            &[
                "kernel-6.12.40-64.114.amzn2.x86_64.rpm",
                "kernel-tools-6.12.40-64.114.amzn2.x86_64.rpm",
            ],
        ),
    );
    e.insert("amazon2023", al2023(w, &[], true));
    let vault: Vec<(String, &[&str])> = [
        ("8.0.1905", &["4.18.0-80.el8", "4.18.0-80.11.2.el8_0"][..]),
        ("8.1.1911", &["4.18.0-147.el8", "4.18.0-147.8.1.el8_1"][..]),
        ("8.2.2004", &["4.18.0-193.el8", "4.18.0-193.28.1.el8_2"][..]),
        ("8.3.2011", &["4.18.0-240.el8", "4.18.0-240.22.1.el8_3"][..]),
        (
            "8.4.2105",
            &["4.18.0-305.3.1.el8", "4.18.0-305.25.1.el8_4"][..],
        ),
        ("8.5.2111", &["4.18.0-348.el8", "4.18.0-348.7.1.el8_5"][..]),
    ]
    .into_iter()
    .map(|(r, v)| (format!("{VAULT}{r}/BaseOS/x86_64/os/"), v))
    .collect();
    let vault: Vec<(&str, &str, &[&str])> = vault
        .iter()
        .map(|(r, v)| (r.as_str(), "Packages/", *v))
        .collect();
    e.insert("centos8", el(w, &vault));
    let s9 = format!("{STREAM}9-stream/AppStream/x86_64/os/");
    let s10 = format!("{STREAM}10-stream/AppStream/x86_64/os/");
    e.insert(
        "centos-stream",
        el(
            w,
            &[
                (&s9, "Packages/", &["5.14.0-611.el9", "5.14.0-630.el9"]),
                (&s10, "Packages/", &["6.12.0-124.el10", "6.12.0-150.el10"]),
            ],
        ),
    );
    let a8 = format!("{ALMA}8/BaseOS/x86_64/os/");
    let a9 = format!("{ALMA}9/AppStream/x86_64/os/");
    let a10 = format!("{ALMA}10/AppStream/x86_64/os/");
    e.insert(
        "almalinux",
        el(
            w,
            &[
                (
                    &a8,
                    "Packages/",
                    &["4.18.0-553.el8_10", "4.18.0-553.78.1.el8_10"],
                ),
                (
                    &a9,
                    "Packages/",
                    &["5.14.0-570.12.1.el9_6", "5.14.0-570.52.1.el9_6"],
                ),
                (&a10, "Packages/", &["6.12.0-55.9.1.el10_0"]),
            ],
        ),
    );
    let r8 = format!("{ROCKY}8/BaseOS/x86_64/os/");
    let r9 = format!("{ROCKY}9/AppStream/x86_64/os/");
    let r10 = format!("{ROCKY}10/AppStream/x86_64/os/");
    e.insert(
        "rocky",
        el(
            w,
            &[
                (
                    &r8,
                    "Packages/k/",
                    &["4.18.0-553.el8_10", "4.18.0-553.77.1.el8_10"],
                ),
                (&r9, "Packages/k/", &["5.14.0-570.49.1.el9_6"]),
                (&r10, "Packages/k/", &["6.12.0-55.39.1.el10_0"]),
            ],
        ),
    );
    e.insert("photon", photon(w));
    e.insert("opensuse-leap", leap(w));
    let (ll, oracle) = ubuntu(w, "linux-headers-6.14.0-1005-oracle");
    e.insert("ubuntu-lowlatency", ll);
    e.insert("ubuntu-oracle", oracle);
    e
}

/// Sets (and URLs) per source of the manifest generated from the world's lists with the
/// project's `reformat.yml`.
fn sets_per_source(w: &World) -> BTreeMap<String, (usize, usize, Vec<String>)> {
    let reformat =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/reformat.yml");
    std::fs::copy(&reformat, w.lists.path().join("reformat.yml")).unwrap();
    let g = kernel_packer::manifest::generate_from_files(
        &w.lists.path().join("reformat.yml"),
        None,
        None,
    )
    .unwrap();
    g.sources
        .iter()
        .filter(|s| NEW.contains(&s.name.as_str()))
        .map(|s| {
            let problems = s
                .skipped
                .iter()
                .map(|k| format!("{}: {}", k.url, k.reason))
                .chain(s.error.clone())
                .collect();
            (s.name.clone(), (s.urls, s.sets, problems))
        })
        .collect()
}

#[test]
fn new_sources_crawl_into_well_formed_sets() {
    let w = World::build();
    let expected = serve(&w);
    let r = crawl_with(&w, &w.http(), NEW);
    assert!(r.ok(), "{}", r.summary());
    for (source, want) in &expected {
        let list = w.config.source(source).unwrap().list.clone();
        assert_eq!(&w.list(&list), want, "{source}: list");
    }
    let sets = sets_per_source(&w);
    // Kernels per source: one set per RPM kernel (SUSE: kernel-default-devel + kernel-devel;
    // Ubuntu: arch header + common header).
    let want_sets: BTreeMap<&str, usize> = [
        ("amazon-5.15", 2),
        ("amazon-ng", 2),
        ("amazon2023", 5),
        ("centos8", 12),
        ("centos-stream", 4),
        ("almalinux", 5),
        ("rocky", 4),
        ("photon", 12),
        ("opensuse-leap", 7),
        ("ubuntu-lowlatency", 3),
        ("ubuntu-oracle", 3),
    ]
    .into();
    let mut report = Vec::new();
    for name in NEW {
        let (urls, n, problems) = &sets[*name];
        report.push(format!("{name}: {urls} URLs, {n} sets"));
        assert!(problems.is_empty(), "{name}: {problems:?}");
        assert_eq!(*n, want_sets[name], "{name}: sets");
    }
    eprintln!("{}", report.join("\n"));
    // Every supported release of meta-release was probed, the unsupported ones were not.
    assert!(
        w.mirror
            .hits(&format!("{UBUNTU}dists/plucky-security/InRelease"))
            > 0
    );
    assert_eq!(
        w.mirror
            .hits(&format!("{UBUNTU}dists/bionic-updates/InRelease")),
        0
    );
}

/// Serves the new sources, then expects `source` to fail after `change` (lists unchanged).
fn expect_failure(source: &str, want: &[&str], change: impl FnOnce(&World)) {
    let w = World::build();
    serve(&w);
    world::expect_failure(&w, source, want, change);
}

#[test]
fn al2023_series_the_rules_miss_fails_the_canary() {
    expect_failure(
        "amazon2023",
        &[
            "rules are stale: ",
            "the newest entry kernel7-devel (7.0.1-1.1.amzn2023)",
        ],
        |w| {
            al2023(w, &["kernel7-devel-7.0.1-1.1.amzn2023.x86_64.rpm"], false);
        },
    );
}

#[test]
fn el_repository_without_kernel_devel_fails_the_canary() {
    // Rocky 10 moves kernel-devel out of AppStream (say, to CRB): stale, not silently empty.
    expect_failure(
        "rocky",
        &[
            "rules are stale: ",
            "10/AppStream/x86_64/os/",
            "no entry matches",
        ],
        |w| {
            let root = format!("{ROCKY}10/AppStream/x86_64/os/");
            yum_root(
                w,
                &root,
                "Packages/b/",
                &[],
                &["bash-5.2.26-6.el10.x86_64.rpm"],
            );
        },
    );
}

#[test]
fn ubuntu_metapackage_of_a_new_release_pointing_at_a_missed_kernel_fails() {
    expect_failure(
        "ubuntu-oracle",
        &[
            "rules are stale: ",
            "linux-headers-oracle (plucky-security) depends on linux-headers-6.14.0-1005-oracle-64k",
        ],
        |w| {
            ubuntu(w, "linux-headers-6.14.0-1005-oracle-64k");
        },
    );
}

#[test]
fn missing_release_list_or_repository_fails_naming_it() {
    expect_failure("ubuntu-lowlatency", &["meta-release"], |w| {
        w.mirror
            .remove("https://changelogs.ubuntu.com/meta-release");
    });
    expect_failure(
        "photon",
        &["photon_updates_5.0_x86_64/: no repodata/repomd.xml"],
        |w| {
            w.mirror.remove(&format!(
                "{PHOTON}5.0/photon_updates_5.0_x86_64/repodata/repomd.xml"
            ));
        },
    );
    expect_failure("amazon-ng", &["mirror.list"], |w| {
        w.mirror.fault(
            &format!("{AL2}2/extras/kernel-ng/latest/x86_64/mirror.list"),
            Fault::Status(404),
        );
    });
}

const REGISTRY: &str = "https://registry-1.docker.io/v2/docker/for-desktop-kernel/";
const TOKEN_URL: &str = "https://auth.docker.io/token?service=registry.docker.io&scope=repository:docker/for-desktop-kernel:pull";
const TOKEN: &str = "fixture-registry-token-4f1d";

/// A Docker Hub-shaped registry for `docker/for-desktop-kernel`: the anonymous token, the
/// tags list and one manifest per tag, each behind the bearer token; `empty` tags have only
/// the empty layer. Returns the blob URLs of the amd64 kernel tags.
fn registry(w: &World, tags: &[(&str, bool)]) -> BTreeSet<String> {
    w.mirror.put(
        TOKEN_URL,
        format!(r#"{{"token":"{TOKEN}","access_token":"{TOKEN}","expires_in":300,"issued_at":"2026-11-30T00:00:00Z"}}"#)
            .into_bytes(),
    );
    let bearer = format!("Bearer {TOKEN}");
    let names: Vec<String> = tags.iter().map(|(t, _)| format!("\"{t}\"")).collect();
    let list = format!("{REGISTRY}tags/list?n=10000");
    w.mirror.put(
        &list,
        format!(
            r#"{{"name":"docker/for-desktop-kernel","tags":[{}]}}"#,
            names.join(",")
        )
        .into_bytes(),
    );
    w.mirror.require_auth(&list, &bearer);
    let empty = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46a4";
    let mut blobs = BTreeSet::new();
    for (tag, has_kernel) in tags {
        let layer = format!("sha256:{}", hex(tag));
        let layers = if *has_kernel {
            format!(
                r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":187123456,"digest":"{layer}"}},{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"{empty}"}}"#
            )
        } else {
            format!(
                r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"{empty}"}}"#
            )
        };
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"sha256:{}"}},"layers":[{layers}]}}"#,
            hex(&format!("config {tag}"))
        );
        let url = format!("{REGISTRY}manifests/{tag}");
        w.mirror.put(&url, manifest.into_bytes());
        w.mirror.require_auth(&url, &bearer);
        if *has_kernel && tag.ends_with("-amd64") {
            blobs.insert(format!("{REGISTRY}blobs/{layer}"));
        }
    }
    blobs
}

const DD_TAGS: &[(&str, bool)] = &[
    (
        "5.15.49-5fee2a3a8ccff3d5cdfe4a3eec5fbd1dce2a7ae8-amd64",
        true,
    ),
    (
        "6.10.14-b1b7dd0b5a9a3f4f57ab2be1bd0ed02da4e1bd7d-amd64",
        true,
    ),
    (
        "6.10.14-b1b7dd0b5a9a3f4f57ab2be1bd0ed02da4e1bd7d-arm64",
        true,
    ),
    (
        "6.12.5-0c1b7ff3b54e1d4da1b3c8e4a3b0f96e7d2f8a11-amd64",
        true,
    ),
];

#[test]
fn docker_desktop_registry_yields_each_kernel_layer_without_logging_the_token() {
    let w = World::build();
    let want = registry(&w, DD_TAGS);
    let r = crawl_with(&w, &w.http(), &["dockerdesktop"]);
    assert!(r.ok(), "{}", r.summary());
    assert_eq!(w.list("dockerdesktop.txt"), want);
    assert_eq!(want.len(), 3);
    eprintln!("dockerdesktop: {} kernels", want.len());
    assert!(!r.summary().contains(TOKEN));
    // The newest amd64 tag without a kernel layer: stale rules, list unchanged; the failure
    // names the tag, never the token.
    let mut tags = DD_TAGS.to_vec();
    tags.push((
        "6.12.9-7d2f8a110c1b7ff3b54e1d4da1b3c8e4a3b0f96e-amd64",
        false,
    ));
    world::expect_failure(
        &w,
        "dockerdesktop",
        &["rules are stale: ", "the newest entry 6.12.9-"],
        |w| {
            registry(w, &tags);
        },
    );
    // A token the registry refuses: the source fails without printing it.
    w.mirror
        .put(TOKEN_URL, br#"{"token":"wrong-token-value"}"#.to_vec());
    let r = crawl_with(&w, &w.http(), &["dockerdesktop"]);
    match &r.sources[0].outcome {
        kernel_packer::crawl::Outcome::Failed { reason } => {
            assert!(reason.contains("401"), "{reason}");
            assert!(!reason.contains("wrong-token-value"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}
