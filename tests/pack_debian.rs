//! Real Debian bookworm header packages → bundle → a module builds against it, wherever unpacked.

mod support;

use std::fs;
use std::path::PathBuf;

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use support::*;

#[test]
fn real_debian_set_packs_into_a_bundle_that_builds_a_module() {
    let packages = debian_packages();
    let out = tempfile::tempdir().unwrap();
    let packed = pack_packages(
        PackerKind::Debian,
        &packages,
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    let arch = packages
        .iter()
        .find(|p| p.to_string_lossy().contains("-amd64_"))
        .unwrap();
    let uname = arch
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("linux-headers-")
        .split('_')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(packed.uname, uname);
    assert_eq!(packed.file_name, format!("bundle-{uname}.tgz"));
    assert!(packed.btf, "Debian kernels have CONFIG_DEBUG_INFO_BTF=y");
    // Only the bundle is left in the output directory: no temporary files.
    let left: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from(&packed.file_name)]);

    // Unpack it somewhere deep, unrelated to where it was built.
    let unpack = tempfile::tempdir().unwrap();
    let dir = unpack.path().join("some/where/else");
    unpack_bundle(&packed.path, &dir);
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), uname);
    assert_eq!(
        meta(&dir, "BUNDLE_BUILD_DIR"),
        format!("./usr/src/linux-headers-{uname}")
    );
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "debian");
    assert_eq!(meta(&dir, "BUNDLE_VERSION"), "6");
    assert_eq!(meta(&dir, "BUNDLE_MAJOR"), "1");
    assert_eq!(meta(&dir, "BUNDLE_MINOR"), "0");
    let simplified: Vec<String> = packages
        .iter()
        .map(|p| kernel_packer::names::simplify(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(
        meta(&dir, "BUNDLE_CHECKSUM"),
        kernel_packer::names::manifest_id(&simplified)
    );

    // build and source are relative links that resolve inside the bundle.
    let modules = dir.join("lib/modules").join(&uname);
    for link in ["build", "source"] {
        let target = fs::read_link(modules.join(link)).unwrap();
        assert!(target.is_relative(), "{link} -> {}", target.display());
        assert!(
            modules.join(link).join("Makefile").exists(),
            "{link} does not resolve"
        );
    }
    // No absolute include left in the arch Makefile.
    let makefile =
        fs::read_to_string(dir.join(meta(&dir, "BUNDLE_BUILD_DIR")).join("Makefile")).unwrap();
    assert!(!makefile.contains("include /usr/src"), "{makefile}");
    assert_links_stay_inside(&dir);

    let vermagic = build_module(&dir);
    assert!(
        vermagic.starts_with(&uname),
        "vermagic {vermagic:?} does not start with {uname}"
    );

    // Also through lib/modules/<uname>/build, as DKMS-style tools do.
    let via_build = build_module_at(&modules.join("build"));
    assert!(via_build.starts_with(&uname));
}

#[test]
fn packing_is_reproducible_and_independent_of_argument_order() {
    let mut packages = debian_packages();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = pack_packages(
        PackerKind::Debian,
        &packages,
        first.path(),
        &PackOptions::default(),
    )
    .unwrap();
    packages.reverse();
    let b = pack_packages(
        PackerKind::Debian,
        &packages,
        second.path(),
        &PackOptions::default(),
    )
    .unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.size, b.size);
    assert_eq!(fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
}

#[test]
fn cli_prints_the_bundle_path_and_honours_checksum_override() {
    let packages = debian_packages();
    let out = tempfile::tempdir().unwrap();
    let output = kernel_packer()
        .args(["pack", "--type", "kops", "--checksum", "abc123", "--out"])
        .arg(out.path())
        .args(&packages)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(printed.exists());
    let dir = tempfile::tempdir().unwrap();
    unpack_bundle(&printed, dir.path());
    assert_eq!(meta(dir.path(), "BUNDLE_CHECKSUM"), "abc123");
}

/// A bundle is an ordinary file (0644 under the usual umask 022, not a temporary file's 0600),
/// and logs written to a file carry no ANSI colour codes.
#[test]
fn cli_bundle_is_world_readable_and_file_logs_have_no_colour() {
    use std::os::unix::fs::PermissionsExt;
    let packages = debian_packages();
    let out = tempfile::tempdir().unwrap();
    let log_path = out.path().join("pack.log");
    let log = fs::File::create(&log_path).unwrap();
    let bin = kernel_packer().get_program().to_owned();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(bin)
        .args(["pack", "--type", "debian", "--out"])
        .arg(out.path().join("bundles"))
        .args(&packages)
        .env_remove("RUST_LOG")
        .env_remove("KERNEL_PACKER_LOG_FORMAT")
        .stderr(log)
        .output()
        .unwrap();
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(output.status.success(), "{log}");
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let mode = fs::metadata(&bundle).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644, "{} has mode {mode:o}", bundle.display());
    assert!(log.contains("INFO"), "no log lines in the file: {log:?}");
    assert!(
        !log.contains('\x1b'),
        "ANSI escape codes in a log file: {log:?}"
    );
}

#[test]
fn a_missing_companion_package_is_named() {
    let packages = debian_packages();
    let without_kbuild: Vec<_> = packages
        .iter()
        .filter(|p| !p.to_string_lossy().contains("kbuild"))
        .cloned()
        .collect();
    let err = pack_error(PackerKind::Debian, &without_kbuild);
    assert!(
        err.contains("missing companion package linux-kbuild"),
        "{err}"
    );
    let without_common: Vec<_> = packages
        .iter()
        .filter(|p| !p.to_string_lossy().contains("common"))
        .cloned()
        .collect();
    let err = pack_error(PackerKind::Debian, &without_common);
    assert!(
        err.contains("missing companion package") && err.contains("common"),
        "{err}"
    );
}

fn build_module_at(build_dir: &std::path::Path) -> String {
    // Point BUNDLE_BUILD_DIR-style lookup at an arbitrary dir by faking a bundle root.
    let fake = tempfile::tempdir().unwrap();
    fs::write(
        fake.path().join("BUNDLE_BUILD_DIR"),
        build_dir.to_string_lossy().as_bytes(),
    )
    .unwrap();
    build_module(fake.path())
}
