//! Packs of the packer layouts issue 16 adds, from the real Debian header tree re-laid out as
//! the distribution ships it, each building the canary module:
//! - VMware Photon OS `linux-devel` (and `linux-esx-devel`): one RPM whose payload is the
//!   whole header tree, `.config` included, at `/usr/src/linux-headers-<uname>`.
//!
//! Amazon Linux 2023 ships the `redhat` layout (`/usr/src/kernels/<uname>`) and openSUSE
//! Leap the SUSE one (`kernel-devel` + `kernel-default-devel`); both are packed in
//! `tests/pack_fixtures.rs`.

mod support;

use std::time::Instant;

use kernel_packer::pack::PackerKind;
use support::*;

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
