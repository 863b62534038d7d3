//! The source-based packers against a real kernel: Debian's `linux-source-6.1` tarball
//! (`tests/fetch-debian-source.sh`) with the `.config` of the real Debian headers → a cos-style and
//! a minikube-style bundle (each one `make modules_prepare`) → a module builds against each.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kernel_packer::pack::{pack_packages, PackOptions, PackedBundle, PackerKind};
use support::*;

/// The Debian kernel source tarball (downloaded once). Also turns on the packer's log
/// (`RUST_LOG=kernel_packer=debug` shows the time of each step).
fn debian_source_tarball() -> PathBuf {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    fetch("tests/fetch-debian-source.sh")
}

/// `dir/name` as a symlink to `target` (package files are read through links like any file).
fn link_as(dir: &Path, name: &str, target: &Path) -> PathBuf {
    let path = dir.join(name);
    std::os::unix::fs::symlink(target, &path).unwrap();
    path
}

fn check_bundle(packed: &PackedBundle, uname: &str, file_name: &str, distro: &str) {
    assert_eq!(packed.uname, uname);
    assert_eq!(packed.file_name, file_name);
    let dir = tempfile::tempdir().unwrap();
    unpack_bundle(&packed.path, dir.path());
    assert_eq!(meta(dir.path(), "BUNDLE_UNAME"), uname);
    assert_eq!(meta(dir.path(), "BUNDLE_DISTRO"), distro);
    assert_eq!(meta(dir.path(), "BUNDLE_BUILD_DIR"), ".");
    // `*.c` are gone outside scripts/, the host programs of scripts/ are kept.
    assert!(!dir.path().join("kernel/fork.c").exists());
    assert!(dir.path().join("scripts/mod/file2alias.c").exists());
    assert!(dir.path().join("scripts/basic/fixdep").exists());
    assert!(dir.path().join("include/generated/utsrelease.h").exists());
    let started = Instant::now();
    let vermagic = build_module(dir.path());
    eprintln!("{distro}: module build took {:?}", started.elapsed());
    assert!(
        vermagic.starts_with(&format!("{uname} ")),
        "vermagic {vermagic:?} does not start with {uname}"
    );
}

#[test]
fn cos_bundle_from_debian_sources_builds_a_module() {
    let tarball = debian_source_tarball();
    let version = source_version(&tarball);
    let debian = debian_tree();
    let packages = tempfile::tempdir().unwrap();
    let src = link_as(
        packages.path(),
        "https---storage.example-cos-tools-17800.218.69-kernel-src.tar.xz",
        &tarball,
    );
    // kernel-headers.tgz: the real Debian arch header tree (with its .config).
    let headers = packages
        .path()
        .join("https---storage.example-cos-tools-17800.218.69-kernel-headers.tgz");
    run(Command::new("tar")
        .arg("-czf")
        .arg(&headers)
        .arg("-C")
        .arg(&debian.root)
        .arg(&debian.arch_dir));
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Cos,
        &[src, headers],
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    eprintln!(
        "cos: pack took {:?} ({} bytes)",
        started.elapsed(),
        packed.size
    );
    check_bundle(
        &packed,
        &format!("{version}+"),
        &format!("bundle-{version}-17800.218.69-cos.tgz"),
        "cos",
    );
}

#[test]
fn minikube_bundle_from_debian_sources_builds_a_module() {
    let tarball = debian_source_tarball();
    let version = source_version(&tarball);
    let debian = debian_tree();
    let packages = tempfile::tempdir().unwrap();
    let src = link_as(
        packages.path(),
        &format!("https---cdn.example-pub-linux-kernel-v6.x-linux-{version}.tar.xz"),
        &tarball,
    );
    let config = packages.path().join(format!(
        "https---raw.example-kubernetes-minikube-v1.33.1-deploy-iso-minikube-iso-board-minikube-x86_64-linux_x86_64_defconfig-kernel-{version}"
    ));
    fs::copy(debian.root.join(&debian.arch_dir).join(".config"), &config).unwrap();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Minikube,
        &[config, src],
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    eprintln!(
        "minikube: pack took {:?} ({} bytes)",
        started.elapsed(),
        packed.size
    );
    check_bundle(
        &packed,
        &version,
        &format!("bundle-{version}-minikube-v1.33.1.tgz"),
        "minikube",
    );
}

#[test]
fn missing_config_and_non_kernel_sources_fail_clearly() {
    let work = tempfile::tempdir().unwrap();
    // A tarball that is no kernel tree.
    let junk_root = work.path().join("junk");
    fs::create_dir_all(junk_root.join("linux-6.1.1")).unwrap();
    fs::write(junk_root.join("linux-6.1.1/README"), "not a kernel").unwrap();
    let junk = work.path().join("linux-6.1.1.tar.gz");
    run(Command::new("tar")
        .arg("-czf")
        .arg(&junk)
        .arg("-C")
        .arg(&junk_root)
        .arg("linux-6.1.1"));

    // minikube without its config package.
    let err = pack_error(PackerKind::Minikube, std::slice::from_ref(&junk));
    assert!(err.contains("missing config"), "{err}");

    // cos headers without a .config.
    let headers_root = work.path().join("headers");
    fs::create_dir_all(headers_root.join("usr/src/linux-headers-6.1.1")).unwrap();
    fs::write(
        headers_root.join("usr/src/linux-headers-6.1.1/Makefile"),
        "x",
    )
    .unwrap();
    let headers = work.path().join("cos-tools-1.2.3-kernel-headers.tgz");
    run(Command::new("tar")
        .arg("-czf")
        .arg(&headers)
        .arg("-C")
        .arg(&headers_root)
        .arg("usr"));
    let src = link_as(work.path(), "cos-tools-1.2.3-kernel-src.tar.gz", &junk);
    let err = pack_error(PackerKind::Cos, &[src.clone(), headers]);
    assert!(
        err.contains("kernel-headers.tgz") && err.contains("missing config: no .config"),
        "{err}"
    );

    // linuxkit (shipped config) on a tarball that is no kernel tree.
    let err = pack_error(PackerKind::Linuxkit, std::slice::from_ref(&junk));
    assert!(
        err.contains("linux-6.1.1.tar.gz") && err.contains("no kernel source tree"),
        "{err}"
    );

    // A package that plays no role.
    let err = pack_error(
        PackerKind::Cos,
        &[src, work.path().join("linux-6.1.1.tar.gz")],
    );
    assert!(err.contains("neither a kernel source tarball"), "{err}");
}

#[test]
fn linuxkit_bundle_with_the_shipped_config_builds_a_module() {
    let tarball = debian_source_tarball();
    let version = source_version(&tarball);
    let packages = tempfile::tempdir().unwrap();
    let src = link_as(
        packages.path(),
        &format!("https---cdn.example-pub-linux-kernel-v6.x-linux-{version}.tar.xz"),
        &tarball,
    );
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Linuxkit,
        &[src],
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    eprintln!(
        "linuxkit: pack took {:?} ({} bytes)",
        started.elapsed(),
        packed.size
    );
    let uname = format!("{version}-linuxkit");
    // The shipped fragment was applied over defconfig: every option it sets is in the config.
    let dir = tempfile::tempdir().unwrap();
    unpack_bundle(&packed.path, dir.path());
    let config = fs::read_to_string(dir.path().join(".config")).unwrap();
    let fragment =
        fs::read_to_string(repo_root().join("kernel-package-lists/configs/linuxkit.config"))
            .unwrap();
    for line in fragment.lines().filter(|l| l.starts_with("CONFIG_")) {
        assert!(
            config.lines().any(|c| c == line),
            "{line} missing from .config"
        );
    }
    check_bundle(&packed, &uname, &format!("bundle-{uname}.tgz"), "linuxkit");
}
