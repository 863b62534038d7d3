//! The real Debian header tree re-laid out as the other distros ship it (Ubuntu .debs with zstd data,
//! Garden Linux, kernel-devel RPMs with xz and zstd payloads, Oracle UEK, SUSE's two packages,
//! VMware Photon OS `linux-devel`) → bundle → a module builds against it.
//! - Photon's `linux-devel` (and `linux-esx-devel`): one RPM whose payload is the whole header
//!   tree, `.config` included, at `/usr/src/linux-headers-<uname>`.
//! - Amazon Linux 2023 ships the `redhat` layout (`/usr/src/kernels/<uname>`) and openSUSE Leap
//!   the SUSE one (`kernel-devel` + `kernel-default-devel`).

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use support::*;

/// Replaces every occurrence of `from` with `to` in a text file.
fn patch(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    let _ = fs::remove_file(path);
    fs::write(path, text.replace(from, to)).unwrap();
}

/// Sets (or adds) `key=value` in a kernel .config.
fn set_config(config: &Path, key: &str, value: &str) {
    let text = fs::read_to_string(config).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{key}=")))
        .map(String::from)
        .collect();
    lines.push(format!("{key}={value}"));
    fs::remove_file(config).unwrap();
    fs::write(config, lines.join("\n") + "\n").unwrap();
}

/// Mirrors Ubuntu's arch headers: for every entry of `common` that `arch` lacks, a relative link.
fn link_missing(common: &Path, arch: &Path, up: &str) {
    for entry in fs::read_dir(common).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let dest = arch.join(&name);
        let rel = format!("{up}/{}", name.to_string_lossy());
        match fs::symlink_metadata(&dest) {
            Err(_) => symlink(&rel, &dest).unwrap(),
            Ok(meta) if meta.is_dir() && entry.file_type().unwrap().is_dir() => {
                link_missing(&entry.path(), &dest, &format!("../{rel}"))
            }
            Ok(_) => {}
        }
    }
}

fn pack(
    kind: PackerKind,
    packages: &[PathBuf],
) -> (
    tempfile::TempDir,
    kernel_packer::pack::PackedBundle,
    PathBuf,
) {
    let out = tempfile::tempdir().unwrap();
    let packed = pack_ok(kind, packages, out.path());
    let dir = out.path().join("unpacked");
    unpack_bundle(&packed.path, &dir);
    (out, packed, dir)
}

#[test]
fn ubuntu_zstd_packages_make_a_self_contained_generic_bundle() {
    let tree = debian_tree();
    let abi = &tree.abi;
    let work = tempfile::tempdir().unwrap();
    let uname = format!("{abi}-generic");
    // Common package: usr/src/linux-headers-<abi>/ (sources, no compiled scripts) plus a rust/ dir.
    let common_root = work.path().join("common");
    let common = common_root.join(format!("usr/src/linux-headers-{abi}"));
    copy_tree(&tree.root.join(&tree.common_dir), &common);
    fs::remove_file(common.join("scripts")).unwrap();
    fs::remove_file(common.join("tools")).unwrap();
    fs::create_dir_all(common.join("rust")).unwrap();
    fs::write(common.join("rust/Makefile"), "# rust support\n").unwrap();
    // Arch package: compiled scripts/tools, config and generated files; the rest links to common.
    let arch_root = work.path().join("arch");
    let arch = arch_root.join(format!("usr/src/linux-headers-{uname}"));
    copy_tree(&tree.root.join(&tree.arch_dir), &arch);
    fs::remove_file(arch.join("Makefile")).unwrap();
    for sub in ["scripts", "tools"] {
        fs::remove_file(arch.join(sub)).unwrap();
        copy_tree(&tree.root.join(&tree.kbuild_dir).join(sub), &arch.join(sub));
    }
    fs::create_dir_all(arch.join("scripts/dtc")).unwrap();
    fs::write(
        arch.join("scripts/dtc/dtc.c"),
        "int main(void){return 0;}\n",
    )
    .unwrap();
    link_missing(&common, &arch, &format!("../linux-headers-{abi}"));
    patch(&arch.join(".kernelvariables"), &tree.uname, &uname);
    patch(
        &arch.join("include/generated/utsrelease.h"),
        &tree.uname,
        &uname,
    );
    set_config(
        &arch.join(".config"),
        "CONFIG_VERSION_SIGNATURE",
        &format!("\"Ubuntu {abi}.1~20.04.1-generic 6.1.192\""),
    );
    let modules = arch_root.join(format!("lib/modules/{uname}"));
    fs::create_dir_all(&modules).unwrap();
    symlink(
        format!("../../../usr/src/linux-headers-{uname}"),
        modules.join("build"),
    )
    .unwrap();
    // A second flavour in the same set: -generic must win.
    let low_root = work.path().join("lowlatency");
    let low = low_root.join(format!("usr/src/linux-headers-{abi}-lowlatency"));
    fs::create_dir_all(&low).unwrap();
    fs::copy(arch.join(".config"), low.join(".config")).unwrap();

    let packages = vec![
        work.path()
            .join(format!("linux-headers-{uname}_{abi}.1~20.04.1_amd64.deb")),
        work.path()
            .join(format!("linux-hwe-headers-{abi}_{abi}.1~20.04.1_all.deb")),
        work.path().join(format!(
            "linux-headers-{abi}-lowlatency_{abi}.1~20.04.1_amd64.deb"
        )),
    ];
    build_deb(
        &arch_root,
        "linux-headers-generic",
        "1",
        &packages[0],
        DebCompression::Zstd,
    );
    build_deb(
        &common_root,
        "linux-hwe-headers",
        "1",
        &packages[1],
        DebCompression::Zstd,
    );
    build_deb(
        &low_root,
        "linux-headers-lowlatency",
        "1",
        &packages[2],
        DebCompression::Gzip,
    );

    let (_out, packed, dir) = pack(PackerKind::Ubuntu, &packages);
    assert_eq!(packed.file_name, format!("bundle-{uname}~20.04.tgz"));
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), uname);
    assert_eq!(meta(&dir, "BUNDLE_BUILD_DIR"), ".");
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "ubuntu");
    assert!(!dir.join("scripts/dtc").exists(), "scripts/dtc is left out");
    assert!(!dir.join("rust").exists(), "rust is left out");
    assert!(
        dir.join("include/linux/module.h").is_file(),
        "common headers were resolved into the bundle"
    );
    assert_links_stay_inside(&dir);
    let vermagic = build_module(&dir);
    assert!(vermagic.starts_with(&uname), "{vermagic}");
}

#[test]
fn garden_bundle_is_named_after_the_garden_kernel_version() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    // Re-build the arch package with a Garden Linux UTS_VERSION; keep the real common and kbuild.
    let arch_root = work.path().join("arch");
    copy_tree(
        &tree.root.join(&tree.arch_dir),
        &arch_root.join(&tree.arch_dir),
    );
    let version_file = arch_root
        .join(&tree.arch_dir)
        .join("include/generated/utsversion.h");
    fs::remove_file(&version_file).unwrap();
    fs::write(
        &version_file,
        "#define UTS_VERSION \"#1 SMP Debian 6.1.192-0gardenlinux1 (2026-11-16)\"\n",
    )
    .unwrap();
    let arch_deb = work.path().join(format!(
        "linux-headers-{}_6.1.192-0gardenlinux1_amd64.deb",
        tree.uname
    ));
    build_deb(
        &arch_root,
        "linux-headers",
        "1",
        &arch_deb,
        DebCompression::Xz,
    );
    let mut packages: Vec<PathBuf> = debian_packages()
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("-amd64_"))
        .collect();
    packages.push(arch_deb);

    let (_out, packed, dir) = pack(PackerKind::Garden, &packages);
    assert_eq!(
        packed.file_name,
        format!("bundle-{}-gl-6.1.192-0gardenlinux1.tgz", tree.uname)
    );
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), tree.uname);
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "garden");
    assert!(build_module(&dir).starts_with(&tree.uname));
}

/// A redhat-style kernel-devel RPM of the Debian tree; returns (rpm path, uname).
fn kernel_devel_rpm(
    tree: &DebianTree,
    work: &Path,
    compression: rpm::CompressionWithLevel,
    extra: impl Fn(&Path),
) -> PathBuf {
    let kernel = tree.merged_kernel_tree(&work.join("tree"));
    symlink("../../nowhere/at/all", kernel.join("dangling-link")).unwrap();
    extra(&kernel);
    let rpm_path = work.join(format!("kernel-devel-{}.rpm", tree.uname));
    build_rpm(
        &kernel,
        &format!("/usr/src/kernels/{}", tree.uname),
        ("kernel-devel", "6.1.0", "56.el9", "x86_64"),
        compression,
        &rpm_path,
    );
    rpm_path
}

#[test]
fn redhat_kernel_devel_rpm_with_xz_payload_builds_a_module() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let rpm = kernel_devel_rpm(&tree, work.path(), rpm::CompressionWithLevel::Xz(1), |_| {});
    let (_out, packed, dir) = pack(PackerKind::Redhat, &[rpm]);
    assert_eq!(packed.file_name, format!("bundle-{}.tgz", tree.uname));
    assert_eq!(meta(&dir, "BUNDLE_BUILD_DIR"), ".");
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "redhat");
    assert!(
        fs::symlink_metadata(dir.join("dangling-link")).is_err(),
        "dangling links are dropped"
    );
    assert!(build_module(&dir).starts_with(&tree.uname));
}

#[test]
fn redhat_kernel_devel_rpm_with_zstd_payload_builds_a_module() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let rpm = kernel_devel_rpm(
        &tree,
        work.path(),
        rpm::CompressionWithLevel::Zstd(3),
        |_| {},
    );
    let (_out, packed, dir) = pack(PackerKind::Redhat, &[rpm]);
    assert_eq!(packed.uname, tree.uname);
    assert!(build_module(&dir).starts_with(&tree.uname));
}

#[test]
fn oracle_drops_c_sources_outside_scripts_and_repairs_asm_link() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let rpm = kernel_devel_rpm(
        &tree,
        work.path(),
        rpm::CompressionWithLevel::Gzip(1),
        |kernel| {
            fs::create_dir_all(kernel.join("kernel")).unwrap();
            fs::write(kernel.join("kernel/bounds.c"), "int x;\n").unwrap();
            fs::write(kernel.join("scripts/keep-me.c"), "int y;\n").unwrap();
            fs::create_dir_all(kernel.join("include/asm")).unwrap();
            symlink("../asm-x86-missing", kernel.join("include/asm/asm")).unwrap();
        },
    );
    let (_out, _packed, dir) = pack(PackerKind::Oracle, &[rpm]);
    assert!(!dir.join("kernel/bounds.c").exists());
    assert!(dir.join("scripts/keep-me.c").exists());
    let repaired = fs::canonicalize(dir.join("include/asm/asm")).unwrap();
    assert_eq!(
        repaired,
        fs::canonicalize(dir.join("arch/x86/include/asm")).unwrap()
    );
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "oracle");
    assert!(build_module(&dir).starts_with(&tree.uname));
}

#[test]
fn suse_base_and_flavour_packages_merge_into_one_tree() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let version = "6.1.0-56";
    // noarch kernel-devel: the source side (common + kbuild scripts/tools, the real Makefile).
    let base = work.path().join("base");
    copy_tree(&tree.root.join(&tree.common_dir), &base);
    for sub in ["scripts", "tools"] {
        fs::remove_file(base.join(sub)).unwrap();
        copy_tree(&tree.root.join(&tree.kbuild_dir).join(sub), &base.join(sub));
    }
    // kernel-default-devel: the object side, whose Makefile delegates to the base tree.
    let obj = work.path().join("obj");
    copy_tree(&tree.root.join(&tree.arch_dir), &obj);
    for sub in ["Makefile", "scripts", "tools"] {
        fs::remove_file(obj.join(sub)).unwrap();
    }
    fs::write(
        obj.join("Makefile"),
        format!(
            "# Automatically generated: don't edit\ninclude ../../../linux-{version}/Makefile\n"
        ),
    )
    .unwrap();
    fs::create_dir_all(obj.join("include/config")).unwrap();
    let _ = fs::remove_file(obj.join("include/config/kernel.release"));
    fs::write(
        obj.join("include/config/kernel.release"),
        format!("{}\n", tree.uname),
    )
    .unwrap();
    let noarch = work
        .path()
        .join(format!("kernel-devel-{version}.1.noarch.rpm"));
    let flavour = work
        .path()
        .join(format!("kernel-default-devel-{version}.1.x86_64.rpm"));
    build_rpm(
        &base,
        &format!("/usr/src/linux-{version}"),
        ("kernel-devel", "6.1.0", "56.1", "noarch"),
        rpm::CompressionWithLevel::Xz(1),
        &noarch,
    );
    build_rpm(
        &obj,
        &format!("/usr/src/linux-{version}-obj/x86_64/default"),
        ("kernel-default-devel", "6.1.0", "56.1", "x86_64"),
        rpm::CompressionWithLevel::Zstd(3),
        &flavour,
    );

    // Flavour first: roles come from content, not order.
    let (_out, packed, dir) = pack(PackerKind::Suse, &[flavour.clone(), noarch.clone()]);
    assert_eq!(packed.uname, tree.uname);
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "suse");
    assert!(
        dir.join("Module.symvers").is_file(),
        "object tree files are in the bundle"
    );
    assert!(
        dir.join("include/linux/module.h").is_file(),
        "base tree merged in"
    );
    assert!(build_module(&dir).starts_with(&tree.uname));

    // Without the base package: a clear error naming what is missing.
    let err = pack_error(PackerKind::Suse, &[flavour]);
    assert!(err.contains("missing companion package"), "{err}");
}

#[test]
fn every_deb_data_compression_is_read() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    tree.merged_kernel_tree(
        &work
            .path()
            .join("k")
            .join("usr/src/kernels")
            .join(&tree.uname),
    );
    let mut shas = Vec::new();
    for (i, compression) in [
        DebCompression::None,
        DebCompression::Gzip,
        DebCompression::Xz,
        DebCompression::Zstd,
        DebCompression::Bzip2,
    ]
    .into_iter()
    .enumerate()
    {
        let deb = work.path().join(format!("kernel-devel-{i}.deb"));
        build_deb(
            &work.path().join("k"),
            "kernel-devel",
            "1",
            &deb,
            compression,
        );
        let out = tempfile::tempdir().unwrap();
        let options = PackOptions {
            checksum: Some("fixed".into()),
            ..PackOptions::default()
        };
        let packed = pack_packages(PackerKind::Redhat, &[deb], out.path(), &options).unwrap();
        if shas.is_empty() {
            support::assert_bundle_relocatable(&packed.path);
        }
        shas.push(packed.sha256);
    }
    shas.dedup();
    assert_eq!(shas.len(), 1, "every compression gives the same bundle");
}

#[test]
fn photon_linux_devel_rpm_builds_a_module() {
    let tree = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let kernel = tree.merged_kernel_tree(&work.path().join("tree"));
    let rpm = work
        .path()
        .join(format!("linux-devel-{}.ph5.x86_64.rpm", tree.uname));
    build_rpm(
        &kernel,
        &format!("/usr/src/linux-headers-{}", tree.uname),
        ("linux-devel", "6.1.158", "12.ph5", "x86_64"),
        rpm::CompressionWithLevel::Xz(1),
        &rpm,
    );
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_ok(PackerKind::Photon, std::slice::from_ref(&rpm), out.path());
    eprintln!(
        "photon pack: {:.2} s, {} bytes",
        started.elapsed().as_secs_f64(),
        packed.size
    );
    assert_eq!(packed.file_name, format!("bundle-{}.tgz", tree.uname));
    assert_eq!(packed.distro, "photon");
    let dir = out.path().join("unpacked");
    unpack_bundle(&packed.path, &dir);
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), tree.uname);
    assert_eq!(meta(&dir, "BUNDLE_BUILD_DIR"), ".");
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "photon");
    assert!(dir.join(".config").is_file());
    assert_links_stay_inside(&dir);
    assert!(build_module(&dir).starts_with(&tree.uname));

    // Not a Photon package (a kernel-devel tree under /usr/src/kernels): a clear error.
    let other = work.path().join("kernel-devel.rpm");
    build_rpm(
        &kernel,
        &format!("/usr/src/kernels/{}", tree.uname),
        ("kernel-devel", "6.1.0", "56.el9", "x86_64"),
        rpm::CompressionWithLevel::Gzip(1),
        &other,
    );
    let err = pack_error(PackerKind::Photon, &[other]);
    assert!(err.contains("no kernel tree"), "{err}");
}
