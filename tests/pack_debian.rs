//! Real Debian bookworm header packages → bundle → a module builds against it, wherever unpacked.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kernel_packer::pack::PackerKind;
use support::*;

#[test]
fn real_debian_set_packs_into_a_bundle_that_builds_a_module() {
    let packages = debian_packages();
    let out = tempfile::tempdir().unwrap();
    let packed = pack_ok(PackerKind::Debian, &packages, out.path());
    let uname = header_uname(&packages, "-amd64");
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
    assert_eq!(meta(&dir, "BUNDLE_ARCH"), "amd64");
    assert_eq!(packed.arch, "amd64");
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

    // Build facts, checked against the packages' own control data read by dpkg-deb.
    assert_eq!(meta(&dir, "BUNDLE_COMPILER"), "gcc-12");
    assert!(
        meta(&dir, "BUNDLE_COMPILER_VERSION").starts_with("gcc-12 (Debian 12."),
        "{}",
        meta(&dir, "BUNDLE_COMPILER_VERSION")
    );
    assert_eq!(packed.facts.compiler, "gcc-12");
    let requirements = meta(&dir, "BUNDLE_HOST_REQUIREMENTS");
    let lines: Vec<&str> = requirements.lines().collect();
    for deb in &packages {
        let depends = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Depends"));
        for relation in depends.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let own =
                relation.starts_with("linux-headers-") || relation.starts_with("linux-kbuild-");
            assert_eq!(
                lines.contains(&relation),
                !own,
                "{relation:?} of {} vs BUNDLE_HOST_REQUIREMENTS:\n{requirements}",
                deb.display()
            );
        }
    }
    assert!(
        lines.iter().any(|l| l.starts_with("libelf1")),
        "{requirements}"
    );
    assert!(
        lines.contains(&"linux-compiler-gcc-12-x86"),
        "{requirements}"
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
    let a = pack_ok(PackerKind::Debian, &packages, first.path());
    packages.reverse();
    let b = pack_ok(PackerKind::Debian, &packages, second.path());
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.size, b.size);
    support::assert_bundle_relocatable(&a.path);
    assert_eq!(fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
}

#[test]
fn cli_prints_the_bundle_path_and_honours_checksum_override() {
    let packages = debian_packages();
    let out = tempfile::tempdir().unwrap();
    let printed = PathBuf::from(
        run(kernel_packer()
            .args(["pack", "--type", "kops", "--checksum", "abc123", "--out"])
            .arg(out.path())
            .args(&packages))
        .trim(),
    );
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
    // The set without the packages whose path contains `part`.
    let without = |part: &str| -> Vec<PathBuf> {
        packages
            .iter()
            .filter(|p| !p.to_string_lossy().contains(part))
            .cloned()
            .collect()
    };
    let err = pack_error(PackerKind::Debian, &without("kbuild"));
    assert!(
        err.contains("missing companion package linux-kbuild"),
        "{err}"
    );
    let err = pack_error(PackerKind::Debian, &without("common"));
    assert!(
        err.contains("missing companion package") && err.contains("common"),
        "{err}"
    );
}

/// The real Debian tree with its kbuild files naming install paths as Debian 7.x and others do
/// (`KBUILD_OUTPUT=/usr/src/...`, `-I/usr/src/...`, a `.kernelvariables` path into the kbuild
/// package), packed as one .deb: the bundle builds a module wherever unpacked and names no
/// install path; references that cannot be relocated fail the pack naming file and line.
#[test]
fn absolute_install_paths_in_kbuild_files_are_relocated_or_refused() {
    let tree = debian_tree();
    let arch = tree.root.join(&tree.arch_dir);
    let makefile = arch.join("Makefile");
    let original = fs::read_to_string(&makefile).unwrap();
    let kbuild = format!("/{}", tree.kbuild_dir.display());
    let common = format!("/{}", tree.common_dir.display());
    let rewrite = |path: &Path, text: &str| {
        let _ = fs::remove_file(path);
        fs::write(path, text).unwrap();
    };
    rewrite(
        &makefile,
        &format!("KBUILD_OUTPUT=/{}\n{original}", tree.arch_dir.display()),
    );
    let variables = arch.join(".kernelvariables");
    let kernelvariables = fs::read_to_string(&variables).unwrap();
    rewrite(
        &variables,
        &format!(
            "{kernelvariables}KP_SCRIPTS := {kbuild}/scripts # comment /usr/src/nowhere\n\
             KBUILD_CFLAGS += -I{common}/include/linux\n"
        ),
    );
    let work = tempfile::tempdir().unwrap();
    let deb = work.path().join("linux-headers-all.deb");
    let build = || {
        build_deb(
            &tree.root,
            "linux-headers-all",
            "1",
            &deb,
            DebCompression::Gzip,
        )
    };
    build();

    let out = tempfile::tempdir().unwrap();
    let packed = pack_ok(PackerKind::Debian, std::slice::from_ref(&deb), out.path());
    let dir = out.path().join("else/where");
    unpack_bundle(&packed.path, &dir);
    let build_dir = dir.join(meta(&dir, "BUNDLE_BUILD_DIR"));
    let relocated = fs::read_to_string(build_dir.join("Makefile")).unwrap();
    assert!(
        relocated.contains("KBUILD_OUTPUT=$(kernel_packer_dir_"),
        "{relocated}"
    );
    let relocated = fs::read_to_string(build_dir.join(".kernelvariables")).unwrap();
    assert!(
        relocated.contains("-I$(kernel_packer_dir_") && relocated.contains("# comment /usr/src"),
        "{relocated}"
    );
    let vermagic = build_module(&dir);
    assert!(vermagic.starts_with(&tree.uname), "{vermagic}");

    // Unrelocatable references: built from a variable, or provided by no package.
    for (line, reason) in [
        (
            "include /usr/src/linux-headers-$(KERNELRELEASE)-x/Makefile",
            "built from a variable",
        ),
        (
            "-include /usr/src/linux-headers-0.0.0-common/Makefile",
            "missing companion package",
        ),
    ] {
        rewrite(&makefile, &format!("# first\n{line}\n{original}"));
        build();
        let err = pack_error(PackerKind::Debian, std::slice::from_ref(&deb));
        let place = format!("{}/Makefile line 2", tree.arch_dir.display());
        assert!(err.contains(&place) && err.contains(reason), "{err}");
    }
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
