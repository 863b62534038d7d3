//! arm64 as a dimension of crawl, lists and manifest (issue 17), from the project's real
//! `sources.yml` and `reformat.yml` against fixture mirrors on 127.0.0.1 laid out as the
//! distributions publish arm64: Debian's `binary-arm64` indexes beside `binary-amd64` in the
//! same signed suites (the fixture world), Ubuntu's ports archive (`ubuntu-ports`, its own
//! pool listing), Amazon Linux 2 (`2/core/latest/aarch64/mirror.list`) and 2023
//! (`core/mirrors/latest/aarch64/` → `core/guids/<id>/aarch64/`, blobstore hrefs), Rocky and
//! AlmaLinux, CentOS 8 vault and Stream `aarch64/os/` roots, Oracle Linux 7 UEK R5/R6
//! `aarch64/getPackage/`, Photon OS `photon_*_aarch64` roots, openSUSE Leap's multi-architecture repositories
//! (`x86_64/`, `aarch64/`, `noarch/` hrefs in one `primary.xml`), Fedora's Koji `aarch64/`
//! directories and Flatcar's `arm64-usr/` developer containers. amd64 and arm64 variants are
//! crawled together into their own lists, then one mixed manifest is generated: arm64 sets
//! carry `arch: arm64`, never hold an amd64 package, never share an id with an amd64 set, and
//! the amd64 sets are exactly those generated without the arm64 lists.

mod crawl_support;

use std::collections::{BTreeMap, BTreeSet};

use crawl_support::fixtures::{self, Deb, Rpm};
use crawl_support::mirror::Mirror;
use crawl_support::world::{crawl_with, World};
use kernel_packer::manifest::urls::binary_arch;
use kernel_packer::manifest::{generate, Config, Generated, SourceInput};
use kernel_packer::names::manifest_id;

const PORTS: &str = "http://ports.ubuntu.com/ubuntu-ports/";
const AL2: &str = "http://amazonlinux.us-west-2.amazonaws.com/";
const AL2023: &str = "https://cdn.amazonlinux.com/al2023/";
const AL2023_GUID: &str = "5f3c1e0b8d2a4f6e9b7c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
const ROCKY: &str = "https://dl.rockylinux.org/pub/rocky/";
const ALMA: &str = "https://repo.almalinux.org/almalinux/";
const LEAP: &str = "https://download.opensuse.org/";
const PHOTON: &str = "https://packages.vmware.com/photon/";
const FLATCAR: &str = "https://stable.release.flatcar-linux.net/arm64-usr/";
const CDN: &str = "https://cdn.redhat.com/content/";
const SUSE: &str = "https://updates.suse.com/SUSE/";
/// The fixture SLES registration token (appended to every SLES metadata URL).
const SUSE_TOKEN: &str = "7f3a9c1e5b2d4f60a8c9e1b3d5f7a9c2";

/// amd64 sources crawled beside their arm64 variants (served by the world or here).
const AMD64: &[&str] = &[
    "debian",
    "ubuntu-standard",
    "amazon",
    "fedora-coreos",
    "flatcar",
    "opensuse-leap",
];

/// The arm64 variants and the sets each must give.
const ARM64: &[(&str, usize)] = &[
    ("debian-arm64", 5),
    ("ubuntu-standard-arm64", 6),
    ("amazon-arm64", 2),
    ("amazon2023-arm64", 3),
    ("rocky-arm64", 4),
    ("almalinux-arm64", 3),
    ("opensuse-leap-arm64", 5),
    ("fedora-coreos-arm64", 50),
    ("flatcar-arm64", 3),
    ("ubuntu-aws-arm64", 2),
    ("photon-arm64", 4),
    ("oracle-uek-arm64", 3),
    ("centos8-arm64", 6),
    ("centos-stream-arm64", 2),
    ("ubuntu-azure-arm64", 2),
    ("ubuntu-gcp-arm64", 2),
    ("ubuntu-oracle-arm64", 2),
    ("ubuntu-lowlatency-arm64", 3),
    ("ubuntu-hwe-arm64", 2),
    ("rhel8-arm64", 2),
    ("rhel84-eus-arm64", 1),
    ("suse-arm64", 10),
];

fn hex(seed: &str) -> String {
    kernel_packer::names::sha256_hex(seed.as_bytes())
}

/// Ubuntu flavours in the ports archive beside generic and AWS: (list, source package,
/// flavour, metapackage, per suite: ABI and version). HWE is jammy's `linux-hwe-6.8` and
/// focal's `linux-hwe-5.15` (`~22.04.1` / `~20.04.1` versions, common headers
/// `linux-hwe-<series>-headers-*`).
#[allow(clippy::type_complexity)]
const PORTS_FLAVOURS: &[(&str, &str, &str, &str, &[(&str, &str, &str)])] = &[
    (
        "ubuntu-azure-arm64.txt",
        "linux-azure",
        "azure",
        "linux-headers-azure",
        &[
            ("jammy-security", "5.15.0-1073", "5.15.0-1073.82"),
            ("noble-security", "6.8.0-1017", "6.8.0-1017.20"),
        ],
    ),
    (
        "ubuntu-gcp-arm64.txt",
        "linux-gcp",
        "gcp",
        "linux-headers-gcp",
        &[
            ("jammy-security", "5.15.0-1067", "5.15.0-1067.75"),
            ("noble-security", "6.8.0-1015", "6.8.0-1015.17"),
        ],
    ),
    (
        "ubuntu-oracle-arm64.txt",
        "linux-oracle",
        "oracle",
        "linux-headers-oracle",
        &[
            ("jammy-security", "5.15.0-1066", "5.15.0-1066.72"),
            ("noble-security", "6.8.0-1013", "6.8.0-1013.13"),
        ],
    ),
    (
        "ubuntu-lowlatency-arm64.txt",
        "linux-lowlatency",
        "lowlatency",
        "linux-headers-lowlatency",
        &[
            ("jammy-security", "5.15.0-119", "5.15.0-119.129"),
            ("noble-security", "6.8.0-45", "6.8.0-45.45.1"),
        ],
    ),
    (
        "ubuntu-hwe-arm64.txt",
        "linux-hwe-6.8",
        "generic",
        "linux-headers-generic-hwe-22.04",
        &[("jammy-security", "6.8.0-47", "6.8.0-47.47~22.04.1")],
    ),
    (
        "ubuntu-hwe-arm64.txt",
        "linux-hwe-5.15",
        "generic",
        "linux-headers-generic-hwe-20.04",
        &[("focal-security", "5.15.0-122", "5.15.0-122.132~20.04.1")],
    ),
];

/// Ubuntu's ports archive: jammy- and noble-security `binary-arm64` indexes (generic, AWS and
/// the [`PORTS_FLAVOURS`] headers with their common headers, and each flavour's metapackage)
/// and the pool listings, which also keep an older generic kernel the indexes dropped.
/// Returns every Ubuntu arm64 list.
fn ubuntu_ports(w: &World) -> BTreeMap<String, BTreeSet<String>> {
    let pool = "pool/main/l/linux/";
    let kernel = |source: &str, abi: &str, flavour: &str, version: &str| -> Vec<Deb> {
        fixtures::ubuntu_kernel(source, source, abi, flavour, version, "arm64").to_vec()
    };
    let mut files = Vec::new();
    let mut lists: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let url = |d: &Deb| format!("{PORTS}{}", d.filename);
    // focal-security: only HWE here (the generic and AWS canaries are met by later suites).
    let generic_aws: [(&str, Option<[&str; 5]>); 3] = [
        ("focal-security", None),
        (
            "jammy-security",
            Some([
                "5.15.0-115",
                "5.15.0-115.125",
                "5.15.0.115.115",
                "5.15.0-1063",
                "5.15.0-1063.69",
            ]),
        ),
        (
            "noble-security",
            Some([
                "6.8.0-45",
                "6.8.0-45.45",
                "6.8.0-45.45",
                "6.8.0-1015",
                "6.8.0-1015.16",
            ]),
        ),
    ];
    for (suite, kernels) in generic_aws {
        let mut debs = Vec::new();
        let mut metas = Vec::new();
        if let Some([abi, version, meta, aws_abi, aws_version]) = kernels {
            let generic = kernel("linux", abi, "generic", version);
            lists
                .entry("ubuntu-standard-arm64.txt".into())
                .or_default()
                .extend(generic.iter().map(url));
            let aws_debs = kernel("linux-aws", aws_abi, "aws", aws_version);
            lists
                .entry("ubuntu-aws-arm64.txt".into())
                .or_default()
                .extend(aws_debs.iter().map(url));
            debs.extend(generic);
            // The arm64-only generic-64k flavour, against the same common headers.
            let k64 = kernel("linux", abi, "generic-64k", version)[0].clone();
            lists
                .entry("ubuntu-standard-arm64.txt".into())
                .or_default()
                .insert(url(&k64));
            debs.push(k64);
            debs.extend(aws_debs);
            metas.push((
                "linux-headers-generic".to_string(),
                meta.to_string(),
                format!("linux-headers-{abi}-generic"),
                "pool/main/l/linux-meta/".to_string(),
            ));
            metas.push((
                "linux-headers-aws".into(),
                aws_version.into(),
                format!("linux-headers-{aws_abi}-aws"),
                "pool/main/l/linux-meta-aws/".into(),
            ));
        }
        for (list, source, flavour, metapackage, kernels) in PORTS_FLAVOURS {
            for (_, abi, version) in kernels.iter().filter(|k| k.0 == suite) {
                let flavour_debs = kernel(source, abi, flavour, version);
                lists
                    .entry(list.to_string())
                    .or_default()
                    .extend(flavour_debs.iter().map(url));
                debs.extend(flavour_debs);
                let meta_source = source.replacen("linux", "linux-meta", 1);
                metas.push((
                    metapackage.to_string(),
                    version.to_string(),
                    format!("linux-headers-{abi}-{flavour}"),
                    format!("pool/main/l/{meta_source}/"),
                ));
            }
        }
        files.extend(debs.iter().map(url));
        for (name, version, kernel, pool) in metas {
            debs.push(fixtures::metapackage_for(
                &name, &version, &kernel, &pool, "arm64",
            ));
        }
        fixtures::apt_suite(
            &w.mirror,
            &w.signer,
            PORTS,
            suite,
            &[("main", debs), ("universe", Vec::new())],
            "arm64",
        );
    }
    // Only in the pool: an older jammy kernel, jammy's generic-64k beside its generic, an
    // older noble kernel of which only generic-64k is kept, plus files the selections must
    // skip.
    let pool_only = [
        kernel("linux", "5.15.0-113", "generic", "5.15.0-113.123"),
        vec![kernel("linux", "5.15.0-115", "generic-64k", "5.15.0-115.125")[0].clone()],
        kernel("linux", "6.8.0-31", "generic-64k", "6.8.0-31.31"),
    ];
    // noble's lowlatency-64k, in the pool only, beside the indexed lowlatency kernel.
    let ll64k = kernel(
        "linux-lowlatency",
        "6.8.0-45",
        "lowlatency-64k",
        "6.8.0-45.45.1",
    )[0]
    .clone();
    lists
        .entry("ubuntu-lowlatency-arm64.txt".into())
        .or_default()
        .insert(url(&ll64k));
    files.push(url(&ll64k));
    for d in pool_only.iter().flatten() {
        lists
            .entry("ubuntu-standard-arm64.txt".into())
            .or_default()
            .insert(url(d));
        files.push(url(d));
    }
    for skip in [
        format!("{pool}linux-image-5.15.0-115-generic_5.15.0-115.125_arm64.deb"),
        format!("{pool}linux-image-6.8.0-31-generic-64k_6.8.0-31.31_arm64.deb"),
        "pool/main/l/linux-aws/linux-image-6.8.0-1015-aws_6.8.0-1015.16_arm64.deb".to_string(),
        "pool/main/l/linux-azure/linux-image-6.8.0-1017-azure_6.8.0-1017.20_arm64.deb".to_string(),
    ] {
        files.push(format!("{PORTS}{skip}"));
    }
    fixtures::html_tree(&w.mirror, &format!("{PORTS}pool/main/l/"), &files);
    fixtures::html_tree(
        &w.mirror,
        &format!("{PORTS}pool/universe/l/"),
        &[format!(
            "{PORTS}pool/universe/l/lightdm/lightdm_1.30.0-0ubuntu14_arm64.deb"
        )],
    );
    lists
}

/// Photon OS `photon_{release,updates}_N.0_aarch64` roots with `aarch64/` and `noarch/` hrefs.
fn photon(w: &World) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (root, versions) in [
        ("4.0/photon_release_4.0_aarch64/", &["5.10.4-16.ph4"][..]),
        ("4.0/photon_updates_4.0_aarch64/", &["5.10.245-1.ph4"][..]),
        ("5.0/photon_release_5.0_aarch64/", &["6.1.10-11.ph5"][..]),
        ("5.0/photon_updates_5.0_aarch64/", &["6.1.158-12.ph5"][..]),
    ] {
        let root = format!("{PHOTON}{root}");
        let mut files: Vec<String> = versions
            .iter()
            .map(|v| format!("linux-devel-{v}.aarch64.rpm"))
            .collect();
        let wanted = files.len();
        files.push("linux-api-headers-6.1.10-11.ph5.noarch.rpm".into());
        files.push("bash-5.2.15-1.ph5.aarch64.rpm".into());
        let href = |f: &str| {
            let arch = f.trim_end_matches(".rpm").rsplit('.').next().unwrap();
            format!("{arch}/{f}")
        };
        let rpms: Vec<Rpm> = files.iter().map(|f| Rpm::from_file(f, &href(f))).collect();
        fixtures::yum_repo(&w.mirror, None, &root, &rpms, "gz");
        out.extend(files[..wanted].iter().map(|f| format!("{root}{}", href(f))));
    }
    out
}

/// A yum repository behind a mirror list whose packages sit in a blobstore `up` levels above
/// the repository (Amazon Linux 2: 5, 2023: 4).
fn blobstore_repo(
    w: &World,
    host: &str,
    list: &str,
    repo: &str,
    up: usize,
    wanted: &[&str],
    noise: &[&str],
) -> BTreeSet<String> {
    w.mirror.put(list, format!("{repo}\n").into_bytes());
    let mut rpms = Vec::new();
    let mut urls = BTreeSet::new();
    for (i, file) in wanted.iter().chain(noise).enumerate() {
        let blob = format!("blobstore/{}/{file}", hex(file));
        rpms.push(Rpm::from_file(file, &format!("{}{blob}", "../".repeat(up))));
        if i < wanted.len() {
            urls.insert(format!("{host}{blob}"));
        }
    }
    fixtures::yum_repo(&w.mirror, None, repo, &rpms, "xz");
    urls
}

/// yum roots whose packages sit under `dir` (per root: kernel versions; `kernel-devel` is
/// wanted, the other aarch64 packages of the last version are not).
fn el_aarch64(w: &World, base: &str, dir: &str, roots: &[(&str, &[&str])]) -> BTreeSet<String> {
    yum_aarch64(w, base, dir, "kernel-devel", roots)
}

/// [`el_aarch64`] with the wanted package named `devel` (`kernel-uek-devel`).
fn yum_aarch64(
    w: &World,
    base: &str,
    dir: &str,
    devel: &str,
    roots: &[(&str, &[&str])],
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (root, versions) in roots {
        let root = format!("{base}{root}");
        let v = versions.last().unwrap();
        let noise = [
            format!("kernel-{v}.aarch64.rpm"),
            format!("kernel-64k-devel-{v}.aarch64.rpm"),
            format!("kernel-headers-{v}.aarch64.rpm"),
            "bash-5.1.8-9.el9.aarch64.rpm".to_string(),
        ];
        let wanted: Vec<String> = versions
            .iter()
            .map(|v| format!("{devel}-{v}.aarch64.rpm"))
            .collect();
        let rpms: Vec<Rpm> = wanted
            .iter()
            .chain(&noise)
            .map(|f| Rpm::from_file(f, &format!("{dir}{f}")))
            .collect();
        fixtures::yum_repo(&w.mirror, None, &root, &rpms, "zst");
        out.extend(wanted.iter().map(|f| format!("{root}{dir}{f}")));
    }
    out
}

/// openSUSE Leap: one repository per release for every architecture (hrefs `x86_64/`,
/// `aarch64/`, `noarch/`); returns the amd64 and the arm64 lists.
fn leap(w: &World) -> (BTreeSet<String>, BTreeSet<String>) {
    let roots = [
        ("distribution/leap/15.5/repo/oss/", "5.14.21-150500.53.2"),
        ("update/leap/15.5/sle/", "5.14.21-150500.55.100.1"),
        ("distribution/leap/15.6/repo/oss/", "6.4.0-150600.21.3"),
        ("update/leap/15.6/sle/", "6.4.0-150600.23.73.1"),
        ("distribution/leap/16.0/repo/oss/", "6.12.0-160000.5.1"),
    ];
    let (mut amd, mut arm) = (BTreeSet::new(), BTreeSet::new());
    for (root, v) in roots {
        let root = format!("{LEAP}{root}");
        let files = [
            format!("kernel-default-devel-{v}.x86_64.rpm"),
            format!("kernel-devel-{v}.noarch.rpm"),
            format!("kernel-default-devel-{v}.aarch64.rpm"),
        ];
        let noise = [
            format!("kernel-default-{v}.x86_64.rpm"),
            format!("kernel-default-{v}.aarch64.rpm"),
            format!("kernel-source-{v}.noarch.rpm"),
            format!("kernel-64kb-devel-{v}.aarch64.rpm"),
        ];
        let href = |f: &str| {
            let arch = f.trim_end_matches(".rpm").rsplit('.').next().unwrap();
            format!("{arch}/{f}")
        };
        let rpms: Vec<Rpm> = files
            .iter()
            .chain(&noise)
            .map(|f| Rpm::from_file(f, &href(f)))
            .collect();
        fixtures::yum_repo(&w.mirror, None, &root, &rpms, "zst");
        for f in &files {
            let url = format!("{root}{}", href(f));
            if f.ends_with(".x86_64.rpm") {
                amd.insert(url);
            } else if f.ends_with(".aarch64.rpm") {
                arm.insert(url);
            } else {
                amd.insert(url.clone());
                arm.insert(url);
            }
        }
    }
    (amd, arm)
}

/// The credentials of the sources that need one, as files in `dir` named by the variants'
/// `credential.file` (their variables unset here): RHEL's entitlement certificate + key (PEM,
/// made by the `openssl` CLI; the fixture CDN is plain HTTP, so only its parsing is exercised)
/// and the SLES registration token.
fn credentials(w: &mut World, dir: &std::path::Path) {
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=fixture-entitlement", "-days", "2"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (scripts/setup.d/50-crawl-signed-apt-metadata.sh)");
    assert!(status.success());
    let pem = [dir.join("cert.pem"), dir.join("key.pem")]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    let rhel = dir.join("rhel-entitlement.pem");
    std::fs::write(&rhel, pem).unwrap();
    let suse = dir.join("suse-repo-token");
    std::fs::write(&suse, format!("?{SUSE_TOKEN}\n")).unwrap();
    for s in &mut w.config.sources {
        let file = match s.name() {
            "rhel8-arm64" | "rhel84-eus-arm64" => &rhel,
            "suse-arm64" => &suse,
            _ => continue,
        };
        let c = s
            .credential
            .as_mut()
            .expect("the variant keeps its credential");
        c.env = None;
        c.file = Some(file.display().to_string());
    }
}

/// Moves a yum repository's metadata behind `?<token>` (SLES answers only with the
/// registration token; without it the repository is a 404).
fn behind_token(m: &Mirror, root: &str) {
    let repomd = format!("{root}repodata/repomd.xml");
    let text = String::from_utf8(m.get(&repomd).unwrap()).unwrap();
    let href = text.split("<location href=\"").nth(1).unwrap();
    let primary = format!("{root}{}", href.split('"').next().unwrap());
    for url in [repomd, primary] {
        let body = m.get(&url).unwrap();
        m.remove(&url);
        m.put(&format!("{url}?{SUSE_TOKEN}"), body);
    }
}

/// SLES update and product repositories for aarch64: `aarch64/` and `noarch/` hrefs, one
/// kernel per repository (kernel-default-devel + kernel-devel), metadata behind the token.
fn sles(w: &World) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (root, v) in [
        ("Updates/SLE-SERVER/12-SP4-LTSS/", "4.12.14-95.173.1"),
        ("Updates/SLE-SERVER/12-SP5/", "4.12.14-122.231.1"),
        (
            "Updates/SLE-Module-Basesystem/15/",
            "4.12.14-150000.150.101.1",
        ),
        (
            "Updates/SLE-Module-Basesystem/15-SP1/",
            "4.12.14-150100.197.148.1",
        ),
        (
            "Updates/SLE-Module-Basesystem/15-SP2/",
            "5.3.18-150200.24.183.1",
        ),
        (
            "Updates/SLE-Module-Basesystem/15-SP3/",
            "5.3.18-150300.59.164.1",
        ),
        (
            "Updates/SLE-Module-Basesystem/15-SP4/",
            "5.14.21-150400.24.125.1",
        ),
        (
            "Updates/SLE-Module-Basesystem/15-SP5/",
            "5.14.21-150500.55.68.1",
        ),
        (
            "Products/SLE-Module-Basesystem/15-SP4/",
            "5.14.21-150400.22.1",
        ),
        (
            "Products/SLE-Module-Basesystem/15-SP5/",
            "5.14.21-150500.53.2",
        ),
    ] {
        let kind = if root.starts_with("Products") {
            "product"
        } else {
            "update"
        };
        let root = format!("{SUSE}{root}aarch64/{kind}/");
        let files = [
            format!("kernel-default-devel-{v}.aarch64.rpm"),
            format!("kernel-devel-{v}.noarch.rpm"),
        ];
        let noise = [
            format!("kernel-default-{v}.aarch64.rpm"),
            format!("kernel-64kb-devel-{v}.aarch64.rpm"),
            format!("kernel-source-{v}.noarch.rpm"),
        ];
        let href = |f: &str| {
            let arch = f.trim_end_matches(".rpm").rsplit('.').next().unwrap();
            format!("{arch}/{f}")
        };
        let rpms: Vec<Rpm> = files
            .iter()
            .chain(&noise)
            .map(|f| Rpm::from_file(f, &href(f)))
            .collect();
        fixtures::yum_repo(&w.mirror, None, &root, &rpms, "gz");
        behind_token(&w.mirror, &root);
        out.extend(files.iter().map(|f| format!("{root}{}", href(f))));
    }
    out
}

/// Flatcar's `arm64-usr/` releases: developer containers beside production images.
fn flatcar(w: &World) -> BTreeSet<String> {
    let mut files = Vec::new();
    let mut want = BTreeSet::new();
    for v in ["3815.2.0", "3975.2.1", "4081.2.0"] {
        let dev = format!("{FLATCAR}{v}/flatcar_developer_container.bin.bz2");
        files.push(dev.clone());
        files.push(format!("{FLATCAR}{v}/flatcar_production_image.bin.bz2"));
        files.push(format!("{FLATCAR}{v}/version.txt"));
        want.insert(dev);
    }
    files.push(format!(
        "{FLATCAR}current/flatcar_developer_container.bin.bz2"
    ));
    fixtures::html_tree(&w.mirror, FLATCAR, &files);
    want
}

/// Serves the arm64 content the world lacks; returns what every crawled list must hold.
fn serve(w: &World) -> BTreeMap<String, BTreeSet<String>> {
    let mut e = BTreeMap::new();
    for s in AMD64 {
        let list = w.config.source(s).unwrap().list.clone();
        if let Some(want) = w.expected.get(&list) {
            e.insert(list, want.clone());
        }
    }
    e.extend(w.arm64.clone());
    e.extend(ubuntu_ports(w));
    e.insert("photon-arm64.txt".into(), photon(w));
    e.insert(
        "amazon-arm64.txt".into(),
        blobstore_repo(
            w,
            AL2,
            &format!("{AL2}2/core/latest/aarch64/mirror.list"),
            &format!("{AL2}2/core/2.0/aarch64/{}/", hex("al2-aarch64")),
            5,
            &[
                "kernel-devel-4.14.336-257.562.amzn2.aarch64.rpm",
                "kernel-devel-4.14.343-261.564.amzn2.aarch64.rpm",
            ],
            &[
                "kernel-4.14.343-261.564.amzn2.aarch64.rpm",
                "kernel-headers-4.14.343-261.564.amzn2.aarch64.rpm",
            ],
        ),
    );
    e.insert(
        "amazon2023-arm64.txt".into(),
        blobstore_repo(
            w,
            AL2023,
            &format!("{AL2023}core/mirrors/latest/aarch64/mirror.list"),
            &format!("{AL2023}core/guids/{AL2023_GUID}/aarch64/"),
            4,
            &[
                "kernel-devel-6.1.156-177.286.amzn2023.aarch64.rpm",
                "kernel6.12-devel-6.12.53-69.119.amzn2023.aarch64.rpm",
                "kernel6.18-devel-6.18.2-12.35.amzn2023.aarch64.rpm",
            ],
            &[
                "kernel-6.1.156-177.286.amzn2023.aarch64.rpm",
                "kernel-livepatch-6.1.156-177.286-1.0-0.amzn2023.aarch64.rpm",
                "kernel6.18-6.18.2-12.35.amzn2023.aarch64.rpm",
            ],
        ),
    );
    e.insert(
        "rocky-arm64.txt".into(),
        el_aarch64(
            w,
            ROCKY,
            "Packages/k/",
            &[
                (
                    "8/BaseOS/aarch64/os/",
                    &["4.18.0-553.el8_10", "4.18.0-553.77.1.el8_10"],
                ),
                ("9/AppStream/aarch64/os/", &["5.14.0-570.49.1.el9_6"]),
                ("10/AppStream/aarch64/os/", &["6.12.0-55.39.1.el10_0"]),
            ],
        ),
    );
    e.insert(
        "almalinux-arm64.txt".into(),
        el_aarch64(
            w,
            ALMA,
            "Packages/",
            &[
                ("8/BaseOS/aarch64/os/", &["4.18.0-553.78.1.el8_10"]),
                ("9/AppStream/aarch64/os/", &["5.14.0-570.52.1.el9_6"]),
                ("10/AppStream/aarch64/os/", &["6.12.0-55.9.1.el10_0"]),
            ],
        ),
    );
    e.insert(
        "oracle-uek-arm64.txt".into(),
        yum_aarch64(
            w,
            "http://yum.oracle.com/repo/OracleLinux/OL7/",
            "getPackage/",
            "kernel-uek-devel",
            &[
                (
                    "UEKR5/aarch64/",
                    &["4.14.35-2047.510.0.el7uek", "4.14.35-2047.520.0.el7uek"],
                ),
                ("UEKR6/aarch64/", &["5.4.17-2136.330.7.1.el7uek"]),
            ],
        ),
    );
    // CentOS 8 vault: one release per root.
    let vault: Vec<(String, &str)> = [
        ("8.0.1905", "4.18.0-80.11.2.el8_0"),
        ("8.1.1911", "4.18.0-147.8.1.el8_1"),
        ("8.2.2004", "4.18.0-193.28.1.el8_2"),
        ("8.3.2011", "4.18.0-240.22.1.el8_3"),
        ("8.4.2105", "4.18.0-305.25.1.el8_4"),
        ("8.5.2111", "4.18.0-348.7.1.el8_5"),
    ]
    .into_iter()
    .map(|(r, v)| (format!("{r}/BaseOS/aarch64/os/"), v))
    .collect();
    let vault: Vec<(&str, &[&str])> = vault
        .iter()
        .map(|(r, v)| (r.as_str(), std::slice::from_ref(v)))
        .collect();
    e.insert(
        "centos8-arm64.txt".into(),
        el_aarch64(w, "https://vault.centos.org/", "Packages/", &vault),
    );
    e.insert(
        "centos-stream-arm64.txt".into(),
        el_aarch64(
            w,
            "https://mirror.stream.centos.org/",
            "Packages/",
            &[
                ("9-stream/AppStream/aarch64/os/", &["5.14.0-630.el9"]),
                ("10-stream/AppStream/aarch64/os/", &["6.12.0-150.el10"]),
            ],
        ),
    );
    let (leap_amd, leap_arm) = leap(w);
    e.insert("opensuse-leap.txt".into(), leap_amd);
    e.insert("opensuse-leap-arm64.txt".into(), leap_arm);
    // The world's Koji tree has aarch64 builds of the first 50 amd64 kernels.
    let fedora: BTreeSet<String> = w.expected["fedora-coreos.txt"]
        .iter()
        .take(50)
        .map(|u| {
            u.replace("/x86_64/", "/aarch64/")
                .replace(".x86_64.rpm", ".aarch64.rpm")
        })
        .collect();
    e.insert("fedora-coreos-arm64.txt".into(), fedora);
    e.insert("flatcar-arm64.txt".into(), flatcar(w));
    // Red Hat CDN: the aarch64 BaseOS repositories of RHEL 8 and 8.4 EUS.
    e.insert(
        "rhel8-arm64.txt".into(),
        el_aarch64(
            w,
            CDN,
            "Packages/k/",
            &[(
                "dist/rhel8/8/aarch64/baseos/os/",
                &["4.18.0-553.16.1.el8_10", "4.18.0-553.22.1.el8_10"],
            )],
        ),
    );
    e.insert(
        "rhel84-eus-arm64.txt".into(),
        el_aarch64(
            w,
            CDN,
            "Packages/k/",
            &[(
                "eus/rhel8/8.4/aarch64/baseos/os/",
                &["4.18.0-305.120.1.el8_4"],
            )],
        ),
    );
    e.insert("suse-arm64.txt".into(), sles(w));
    e
}

/// The manifest of the world's lists with the project's `reformat.yml`, restricted to the
/// crawled sources (`with_arm64`: also the arm64 lists).
fn manifest(w: &World, with_arm64: bool) -> Generated {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/reformat.yml");
    let mut cfg = Config::load(&path).unwrap();
    cfg.dir = w.lists.path().to_path_buf();
    let names: Vec<&str> = AMD64
        .iter()
        .copied()
        .chain(ARM64.iter().map(|(n, _)| *n).filter(|_| with_arm64))
        .collect();
    let files: Vec<String> = names
        .iter()
        .map(|n| w.config.source(n).unwrap().list.clone())
        .collect();
    cfg.sources.retain(|s| files.contains(&s.file));
    assert_eq!(cfg.sources.len(), names.len(), "reformat.yml entries");
    let inputs: Vec<SourceInput> = cfg
        .sources
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(cfg.list_path(s)).unwrap_or_default();
            SourceInput {
                source: s,
                file: s.file.clone(),
                urls: Ok(kernel_packer::lists::parse(&text)
                    .urls
                    .into_iter()
                    .collect()),
            }
        })
        .collect();
    generate(&inputs, None, None)
}

#[test]
fn amd64_and_arm64_crawl_into_one_manifest_without_mixing() {
    let mut w = World::build();
    let secrets = tempfile::tempdir().unwrap();
    credentials(&mut w, secrets.path());
    let expected = serve(&w);
    let names: Vec<&str> = AMD64
        .iter()
        .copied()
        .chain(ARM64.iter().map(|(n, _)| *n))
        .collect();
    let r = crawl_with(&w, &w.http(), &names);
    assert!(r.ok(), "{}", r.summary());
    for (list, want) in &expected {
        assert_eq!(&w.list(list), want, "{list}");
        // The SLES token is sent, never written.
        assert!(!w.list_text(list).unwrap().contains(SUSE_TOKEN), "{list}");
    }
    // Every arm64 variant read arm64 metadata only: the amd64 index of Debian's shared
    // suites was read by the amd64 crawl, and no ports URL holds amd64.
    for (name, _) in ARM64 {
        let list = w.config.source(name).unwrap().list.clone();
        assert_eq!(list, format!("{name}.txt"));
        for url in &expected[&list] {
            assert_ne!(binary_arch(url), Some("amd64"), "{url}");
        }
    }

    let mixed = manifest(&w, true);
    let mut report = Vec::new();
    for s in &mixed.sources {
        assert_eq!(s.error, None, "{}", s.name);
        report.push(format!("{}: {} URLs, {} sets", s.name, s.urls, s.sets));
        // (The seed's amd64 lists hold a few kernels their rules reject; arm64 ones none.)
        if let Some((_, want)) = ARM64.iter().find(|(n, _)| format!("{n}.txt") == s.file) {
            assert!(s.rejected.is_empty(), "{}: {:?}", s.name, s.rejected);
            assert_eq!(s.sets, *want, "{}: sets", s.name);
            assert_eq!(s.duplicates, 0, "{}", s.name);
            assert!(s.conflicts.is_empty(), "{}: {:?}", s.name, s.conflicts);
        }
    }
    eprintln!("{}", report.join("\n"));
    let m = &mixed.manifest;
    assert!(m.mismatched_ids().is_empty());
    let arm: Vec<(&String, &kernel_packer::manifest::Entry)> = m
        .entries
        .iter()
        .filter(|(_, e)| e.arch() == "arm64")
        .collect();
    // No arm64 set was lost to an amd64 id: every arm64 set is an entry of its own.
    let want_arm: usize = ARM64.iter().map(|(_, n)| n).sum();
    assert_eq!(arm.len(), want_arm);
    for (id, e) in &m.entries {
        let arches: BTreeSet<Option<&str>> = e.packages.iter().map(|p| binary_arch(p)).collect();
        match e.arch() {
            "arm64" => {
                assert!(arches.contains(&Some("arm64")), "{id}: {e:?}");
                assert!(!arches.contains(&Some("amd64")), "{id}: {e:?}");
            }
            "amd64" => assert!(!arches.contains(&Some("arm64")), "{id}: {e:?}"),
            other => panic!("{id}: arch {other}"),
        }
        assert_eq!(manifest_id(&e.packages), **id);
    }
    // Debian: each arm64 header with the arm64 kbuild of its version; rt with -common-rt.
    let debian: Vec<&Vec<String>> = arm
        .iter()
        .map(|(_, e)| &e.packages)
        .filter(|p| p.iter().any(|n| n.contains("linux-kbuild-")))
        .collect();
    assert_eq!(debian.len(), 5);
    for p in &debian {
        let kbuild = p.iter().find(|n| n.contains("linux-kbuild-")).unwrap();
        assert!(kbuild.ends_with("_arm64.deb"), "{p:?}");
        let rt = p.iter().any(|n| n.contains("-rt-arm64_"));
        assert_eq!(rt, p.iter().any(|n| n.contains("-common-rt_")), "{p:?}");
    }
    // The amd64 sets are exactly those without the arm64 lists: ids unchanged.
    let alone = manifest(&w, false).manifest;
    let amd: BTreeMap<&String, &kernel_packer::manifest::Entry> = m
        .entries
        .iter()
        .filter(|(_, e)| e.arch() == "amd64")
        .collect();
    assert_eq!(amd, alone.entries.iter().collect::<BTreeMap<_, _>>());
    // `arch: arm64` is written for arm64 sets only, and read back.
    let yaml = m.to_yaml();
    assert_eq!(yaml.matches("\n  arch: arm64\n").count(), want_arm);
    assert!(!yaml.contains("arch: amd64"));
    assert_eq!(
        &kernel_packer::manifest::Manifest::parse(yaml.as_bytes(), "mixed").unwrap(),
        m
    );
    eprintln!(
        "mixed manifest: {} amd64 + {} arm64 sets",
        amd.len(),
        arm.len()
    );
}

#[test]
fn an_amd64_package_in_an_arm64_list_is_rejected_not_grouped() {
    let w = World::build();
    let debian = w.arm64["debian-arm64.txt"].clone();
    let kbuild_amd64 = debian
        .iter()
        .find(|u| u.contains("linux-kbuild-6.1_6.1.94-1_arm64"))
        .unwrap()
        .replace("_arm64.deb", "_amd64.deb");
    let mut list: Vec<String> = debian.into_iter().collect();
    list.push(kbuild_amd64.clone());
    list.sort();
    std::fs::write(
        w.lists.path().join("debian-arm64.txt"),
        format!("{}\n", list.join("\n")),
    )
    .unwrap();
    let g = manifest(&w, true);
    let s = g.sources.iter().find(|s| s.name == "debian-arm64").unwrap();
    assert_eq!(s.sets, 5, "{s:?}");
    assert_eq!(s.rejected.len(), 1, "{s:?}");
    assert_eq!(s.rejected[0].url, kbuild_amd64);
    assert!(
        s.rejected[0]
            .reason
            .contains("amd64 package in a list of arm64 kernels"),
        "{s:?}"
    );
}

#[test]
fn stale_canaries_and_missing_credentials_fail_the_new_arm64_variants() {
    let mut w = World::build();
    let secrets = tempfile::tempdir().unwrap();
    credentials(&mut w, secrets.path());
    serve(&w);
    // Ubuntu: noble-updates' linux-headers-azure points at a flavour the rules miss.
    crawl_support::world::expect_failure(
        &w,
        "ubuntu-azure-arm64",
        &[
            "rules are stale: ",
            "linux-headers-azure (noble-updates) depends on linux-headers-6.8.0-1020-azure-64k",
        ],
        |w| {
            let meta = fixtures::metapackage_for(
                "linux-headers-azure",
                "6.8.0-1020.23",
                "linux-headers-6.8.0-1020-azure-64k",
                "pool/main/l/linux-meta-azure/",
                "arm64",
            );
            fixtures::apt_suite(
                &w.mirror,
                &w.signer,
                PORTS,
                "noble-updates",
                &[("main", vec![meta]), ("universe", Vec::new())],
                "arm64",
            );
        },
    );
    // RHEL 8.4 EUS moves kernel-devel away (only kernel-64k-devel left): stale, not empty.
    crawl_support::world::expect_failure(
        &w,
        "rhel84-eus-arm64",
        &["rules are stale: ", "eus/rhel8/8.4/aarch64/baseos/os/"],
        |w| {
            let root = format!("{CDN}eus/rhel8/8.4/aarch64/baseos/os/");
            let f = "kernel-64k-devel-4.18.0-305.125.1.el8_4.aarch64.rpm";
            let rpms = [Rpm::from_file(f, &format!("Packages/k/{f}"))];
            fixtures::yum_repo(&w.mirror, None, &root, &rpms, "zst");
        },
    );
    // SLES 15 SP5 ships only kernel-64kb-devel for aarch64: stale.
    crawl_support::world::expect_failure(
        &w,
        "suse-arm64",
        &["rules are stale: ", "15-SP5/aarch64/update/"],
        |w| {
            let root = format!("{SUSE}Updates/SLE-Module-Basesystem/15-SP5/aarch64/update/");
            let f = "kernel-64kb-devel-5.14.21-150500.55.73.1.aarch64.rpm";
            let rpms = [Rpm::from_file(f, &format!("aarch64/{f}"))];
            fixtures::yum_repo(&w.mirror, None, &root, &rpms, "gz");
            behind_token(&w.mirror, &root);
        },
    );
    // Without its entitlement certificate RHEL 8 fails, naming the credential, not a secret.
    crawl_support::world::expect_failure(&w, "rhel8-arm64", &["credential missing"], |_| {
        std::fs::remove_file(secrets.path().join("rhel-entitlement.pem")).unwrap();
    });
}
