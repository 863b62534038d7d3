//! `lookup` against the committed manifest with os-release + uname fixtures for each distribution
//! family: the traps of `uname -r` alone (Debian package versions, Ubuntu flavours and HWE
//! backports, RHEL vs CentOS vs Amazon publishing the same kernel, COS build ids, Flatcar
//! versions) resolve to the family's own set. arm64 hosts (`uname -m` aarch64) resolve to the
//! arm64 set of the same kernel, and a kernel known only for the other architecture is a clear miss.

mod support;

use std::collections::BTreeMap;

use kernel_packer::index::{Features, IndexEntry};
use kernel_packer::lookup::{parse_os_release, resolve, Host, Miss};
use kernel_packer::manifest::Manifest;
use kernel_packer::pack::arch::Arch;

fn manifest() -> Manifest {
    Manifest::load(support::repo_root().join("kernel-package-lists/manifest.yml")).unwrap()
}

fn host(fixture: &str, uname_r: &str, uname_v: &str) -> Host {
    arch_host(fixture, uname_r, uname_v, Arch::Amd64)
}

fn arch_host(fixture: &str, uname_r: &str, uname_v: &str, arch: Arch) -> Host {
    let text = std::fs::read_to_string(
        support::repo_root()
            .join("tests/fixtures/os-release")
            .join(fixture),
    )
    .unwrap();
    Host {
        os_release: parse_os_release(&text),
        uname_r: uname_r.into(),
        uname_v: uname_v.into(),
        arch,
    }
}

#[test]
fn each_family_resolves_to_its_own_set() {
    let m = manifest();
    let none = BTreeMap::new();
    // (fixture, uname -r, uname -v, family, type, a package of the chosen set must contain)
    let cases = [
        (
            "debian-12",
            "6.1.0-21-amd64",
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)",
            "debian",
            "debian",
            "linux-headers-6.1.0-21-amd64_6.1.90-1_",
        ),
        (
            "ubuntu-22.04",
            "5.15.0-102-generic",
            "#112-Ubuntu SMP Tue Mar 5 16:50:32 UTC 2024",
            "ubuntu",
            "ubuntu",
            "linux-headers-5.15.0-102-generic_5.15.0-102.112_",
        ),
        (
            "ubuntu-22.04",
            "5.15.0-1051-aws",
            "#56-Ubuntu SMP Thu Nov 16 15:35:08 UTC 2023",
            "ubuntu",
            "ubuntu",
            "linux-headers-5.15.0-1051-aws_5.15.0-1051.56_",
        ),
        // The same ABI as an HWE backport on 20.04: `~20.04.1` in uname -v picks the other set.
        (
            "ubuntu-20.04",
            "5.15.0-1051-aws",
            "#56~20.04.1-Ubuntu SMP Thu Nov 16 15:35:08 UTC 2023",
            "ubuntu",
            "ubuntu",
            "linux-headers-5.15.0-1051-aws_5.15.0-1051.56-20.04.1_",
        ),
        // One kernel release, three publishers.
        (
            "rhel-7.7",
            "3.10.0-1062.1.1.el7.x86_64",
            "#1 SMP Wed Aug 7 18:08:02 UTC 2019",
            "rhel",
            "redhat",
            "redhat.com-",
        ),
        (
            "centos-7",
            "3.10.0-1062.1.1.el7.x86_64",
            "#1 SMP Wed Aug 7 18:08:02 UTC 2019",
            "centos",
            "redhat",
            "centos",
        ),
        (
            "amzn-2",
            "4.14.336-253.554.amzn2.x86_64",
            "#1 SMP Tue Jan 9 01:27:53 UTC 2024",
            "amazon",
            "redhat",
            "amazonlinux",
        ),
        (
            "ol-7.9",
            "5.4.17-2136.305.5.3.el7uek.x86_64",
            "#2 SMP Thu Mar 31 2022",
            "oracle",
            "oracle",
            "kernel-uek-devel-5.4.17-2136.305.5.3.el7uek",
        ),
        (
            "sles-15.2",
            "5.3.18-24.67-default",
            "#1 SMP Wed Jun 2 2021 (0c6b2d3)",
            "suse",
            "suse",
            "kernel-default-devel-5.3.18-24.67.",
        ),
        (
            "cos-105",
            "5.15.120+",
            "#1 SMP Sat Aug 19 2023",
            "cos",
            "cos",
            "cos-tools-16623.402.7-kernel",
        ),
        (
            "flatcar-3602.2.0",
            "5.15.125-flatcar",
            "#1 SMP Tue Sep 12 2023",
            "flatcar",
            "coreos",
            "amd64-usr-3602.2.0-flatcar_developer_container",
        ),
        (
            "gardenlinux-934",
            "5.15.110-gardenlinux-cloud-amd64",
            "#1 SMP Debian 5.15.110-0gardenlinux1",
            "garden",
            "garden",
            "linux-headers-5.15.110-gardenlinux-cloud-amd64_",
        ),
    ];
    for (fixture, r, v, family, kind, fragment) in cases {
        let got = resolve(&m, &none, &host(fixture, r, v))
            .unwrap_or_else(|e| panic!("{fixture} {r}: {e}"));
        assert_eq!(
            (got.family.as_str(), got.kind.as_str()),
            (family, kind),
            "{fixture} {r}"
        );
        let packages = &m.entries[&got.id].packages;
        assert!(
            packages.iter().any(|p| p.contains(fragment)),
            "{fixture} {r}: {packages:?} has no {fragment}"
        );
    }
}

#[test]
fn misses_name_the_newest_bundle_of_the_family() {
    let m = manifest();
    let entry = |id: char, kernel: &str, kind: &str, pkg: &str| IndexEntry {
        id: id.to_string().repeat(64),
        kind: kind.into(),
        packages: vec![pkg.into()],
        bundle: format!("bundle-{kernel}.tgz"),
        sha256: "ab".repeat(32),
        size: 1,
        kernel: kernel.into(),
        distro: kind.into(),
        arch: "amd64".into(),
        features: Features::default(),
        verification: None,
        packed_at: None,
        ..Default::default()
    };
    let index: BTreeMap<String, IndexEntry> = [
        entry(
            'a',
            "6.1.0-21-amd64",
            "debian",
            "x-linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb",
        ),
        entry(
            'b',
            "6.1.0-9-amd64",
            "debian",
            "x-linux-headers-6.1.0-9-amd64_6.1.27-1_amd64.deb",
        ),
        entry('c', "9.9.0-1-generic", "ubuntu", "x"),
    ]
    .into_iter()
    .map(|e| (e.id.clone(), e))
    .collect();
    let miss = resolve(
        &m,
        &index,
        &host("debian-12", "6.1.0-99-amd64", "#1 SMP Debian 6.1.999-1"),
    )
    .unwrap_err();
    match &miss {
        Miss::NoKernel { family, newest } => {
            assert_eq!(family, "debian");
            assert_eq!(newest.as_ref().unwrap().kernel, "6.1.0-21-amd64");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        miss.to_string().contains("bundle-6.1.0-21-amd64.tgz"),
        "{miss}"
    );
    assert!(matches!(
        resolve(&m, &index, &host("unknown", "6.1.0-21-amd64", "")),
        Err(Miss::UnknownDistribution(id)) if id == "plan9"
    ));
    // A bundled id wins, and its bundle is reported.
    let got = resolve(
        &m,
        &index,
        &host("debian-12", "6.1.0-21-amd64", "#1 SMP Debian 6.1.90-1"),
    )
    .unwrap();
    assert_eq!(got.bundle.as_deref(), Some("bundle-6.1.0-21-amd64.tgz"));
}

#[test]
fn cli_lookup_reads_fixture_files_and_exits_3_on_a_miss() {
    let root = support::repo_root();
    let fixture = root.join("tests/fixtures/os-release/ubuntu-20.04");
    let out = support::kernel_packer()
        .current_dir(&root)
        .arg("lookup")
        .arg("--os-release")
        .arg(&fixture)
        .args([
            "--uname-r",
            "5.15.0-1051-aws",
            "--uname-v",
            "#56~20.04.1-Ubuntu SMP",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "ubuntu");
    assert_eq!(json["id"].as_str().unwrap().len(), 64);
    let out = support::kernel_packer()
        .current_dir(&root)
        .arg("lookup")
        .arg("--os-release")
        .arg(&fixture)
        .args(["--uname-r", "9.9.9-1-aws", "--uname-v", "#1-Ubuntu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// arm64 sets as the manifest lists them (`arch: arm64`: Debian's arm64 flavour, Ubuntu's ports
/// archive, Amazon Linux 2023 aarch64, Flatcar's arm64 developer container), added to the committed
/// manifest, whose amd64 sets of the same kernels stay.
const ARM64_SETS: &str = "\
a64deb:
  type: debian
  arch: arm64
  packages:
  - http---deb.test-pool-updates-main-l-linux-linux-kbuild-6.1_6.1.90-1_arm64.deb
  - http---deb.test-pool-updates-main-l-linux-linux-headers-6.1.0-21-arm64_6.1.90-1_arm64.deb
  - http---deb.test-pool-updates-main-l-linux-linux-headers-6.1.0-21-common_6.1.90-1_all.deb
a64ubu:
  type: ubuntu
  arch: arm64
  packages:
  - http---ports.test-ubuntu-ports-pool-main-l-linux-linux-headers-5.15.0-102-generic_5.15.0-102.112_arm64.deb
  - http---ports.test-ubuntu-ports-pool-main-l-linux-linux-headers-5.15.0-102_5.15.0-102.112_all.deb
a64amzn:
  type: redhat
  arch: arm64
  packages:
  - https---al2023-repos.amazonaws.test-core-guids-00-aarch64-kernel-devel-6.1.115-126.197.amzn2023.aarch64.rpm
a64flat:
  type: coreos
  arch: arm64
  packages:
  - https---stable.release.flatcar-linux.net-arm64-usr-3602.2.0-flatcar_developer_container.bin.bz2
";

fn mixed_manifest() -> Manifest {
    let mut m = manifest();
    let arm = Manifest::parse(ARM64_SETS.as_bytes(), "ARM64_SETS").unwrap();
    for (id, e) in arm.entries {
        m.entries.insert(id, e);
    }
    m
}

#[test]
fn arm64_hosts_resolve_to_arm64_sets_and_amd64_hosts_keep_theirs() {
    let m = mixed_manifest();
    let none = BTreeMap::new();
    // (fixture, uname -r, uname -v, the arm64 id an arm64 host gets)
    let cases = [
        (
            "debian-12",
            "6.1.0-21-arm64",
            "#1 SMP Debian 6.1.90-1 (2024-05-03)",
            "a64deb",
        ),
        (
            "ubuntu-22.04",
            "5.15.0-102-generic",
            "#112-Ubuntu SMP Tue Mar 5 16:50:32 UTC 2024",
            "a64ubu",
        ),
        (
            "amzn-2023",
            "6.1.115-126.197.amzn2023.aarch64",
            "#1 SMP Tue Nov  5 00:18:35 UTC 2024",
            "a64amzn",
        ),
        (
            "flatcar-3602.2.0",
            "5.15.125-flatcar",
            "#1 SMP Tue Sep 12 2023",
            "a64flat",
        ),
    ];
    for (fixture, r, v, want) in cases {
        let got = resolve(&m, &none, &arch_host(fixture, r, v, Arch::Arm64))
            .unwrap_or_else(|e| panic!("{fixture} {r} arm64: {e}"));
        assert_eq!(got.id, want, "{fixture} {r}: {got:?}");
        assert_eq!(got.arch, "arm64");
        assert!(got.alternatives.is_empty(), "{got:?}");
        assert_eq!(m.entries[want].arch(), "arm64");
    }
    // The same Ubuntu and Flatcar kernels on amd64 hosts: the amd64 sets, as before.
    for (fixture, r, v, fragment) in [
        (
            "ubuntu-22.04",
            "5.15.0-102-generic",
            "#112-Ubuntu SMP Tue Mar 5 16:50:32 UTC 2024",
            "generic_5.15.0-102.112_amd64.deb",
        ),
        (
            "flatcar-3602.2.0",
            "5.15.125-flatcar",
            "#1 SMP Tue Sep 12 2023",
            "amd64-usr-3602.2.0-flatcar",
        ),
    ] {
        let got = resolve(&m, &none, &host(fixture, r, v)).unwrap();
        assert_eq!(got.arch, "amd64");
        let packages = &m.entries[&got.id].packages;
        assert!(
            packages.iter().any(|p| p.contains(fragment)),
            "{fixture}: {packages:?}"
        );
        assert_eq!(m.entries[&got.id].arch(), "amd64");
    }
}

#[test]
fn a_kernel_known_only_for_the_other_arch_names_it() {
    let m = mixed_manifest();
    let none = BTreeMap::new();
    // amd64 host asking for the arm64-only Amazon Linux 2023 kernel (say, `--arch amd64` by mistake).
    let miss = resolve(
        &m,
        &none,
        &host(
            "amzn-2023",
            "6.1.115-126.197.amzn2023.aarch64",
            "#1 SMP Tue Nov  5 00:18:35 UTC 2024",
        ),
    )
    .unwrap_err();
    assert!(
        matches!(&miss, Miss::OtherArch { wanted: Arch::Amd64, available, .. } if available == &[Arch::Arm64]),
        "{miss:?}"
    );
    let text = miss.to_string();
    assert!(
        text.contains(
            "no amd64 bundle for amazon kernel 6.1.115-126.197.amzn2023.aarch64; arm64 exists"
        ),
        "{text}"
    );
    // An arm64 host whose kernel exists only as an amd64 set (the committed manifest: no arm64).
    let miss = resolve(
        &manifest(),
        &none,
        &arch_host(
            "ubuntu-22.04",
            "5.15.0-1051-aws",
            "#56-Ubuntu SMP Thu Nov 16 15:35:08 UTC 2023",
            Arch::Arm64,
        ),
    )
    .unwrap_err();
    assert!(
        miss.to_string()
            .starts_with("no arm64 bundle for ubuntu kernel 5.15.0-1051-aws; amd64 exists"),
        "{miss}"
    );
    // A bundled id: its index entry's arch (BUNDLE_ARCH) decides, and its bundle is reported.
    let mut index = BTreeMap::new();
    let entry = IndexEntry {
        id: "a64ubu".into(),
        kind: "ubuntu".into(),
        packages: m.entries["a64ubu"].packages.clone(),
        bundle: "bundle-5.15.0-102-generic-arm64.tgz".into(),
        sha256: "ab".repeat(32),
        size: 1,
        kernel: "5.15.0-102-generic".into(),
        distro: "ubuntu".into(),
        arch: "arm64".into(),
        ..Default::default()
    };
    index.insert(entry.id.clone(), entry);
    let got = resolve(
        &m,
        &index,
        &arch_host(
            "ubuntu-22.04",
            "5.15.0-102-generic",
            "#112-Ubuntu SMP",
            Arch::Arm64,
        ),
    )
    .unwrap();
    assert_eq!(
        got.bundle.as_deref(),
        Some("bundle-5.15.0-102-generic-arm64.tgz")
    );
    // ...and an arm64 miss names the newest arm64 bundle, never an amd64 one.
    let miss = resolve(
        &m,
        &index,
        &arch_host("ubuntu-22.04", "9.9.9-1-generic", "#1-Ubuntu", Arch::Arm64),
    )
    .unwrap_err();
    assert!(
        miss.to_string()
            .contains("bundle-5.15.0-102-generic-arm64.tgz"),
        "{miss}"
    );
}

#[test]
fn cli_lookup_takes_arch_and_exits_3_naming_the_other_arch() {
    let root = support::repo_root();
    let fixture = root.join("tests/fixtures/os-release/ubuntu-22.04");
    let lookup = |arch: &str| {
        support::kernel_packer()
            .current_dir(&root)
            .arg("lookup")
            .arg("--os-release")
            .arg(&fixture)
            .args([
                "--uname-r",
                "5.15.0-102-generic",
                "--uname-v",
                "#112-Ubuntu SMP",
                "--arch",
                arch,
            ])
            .output()
            .unwrap()
    };
    let out = lookup("x86_64");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["arch"], "amd64");
    let out = lookup("aarch64");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no arm64 bundle for ubuntu kernel 5.15.0-102-generic; amd64 exists"),
        "{stderr}"
    );
    let out = lookup("riscv64");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported architecture \"riscv64\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
