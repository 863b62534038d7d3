//! Real Debian bookworm **arm64** header packages → bundle (`BUNDLE_ARCH` arm64, aarch64 host
//! tools) → a module builds against it the way an arm64 host would, here through qemu-user
//! emulation of the bundle's host tools and the aarch64 cross compiler.
//!
//! Needs `scripts/setup.d/70-arm64.sh` (arm64 dpkg architecture, qemu-user-static registered with
//! binfmt_misc, gcc-aarch64-linux-gnu); the packages come from `tests/fetch-debian-arm64-packages.sh`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use kernel_packer::verify::{verify_bundle, CheckStatus, Outcome, VerifyOptions};
use support::*;

/// ELF `e_machine` of AArch64 and x86-64.
const EM_AARCH64: u16 = 183;
const EM_X86_64: u16 = 62;

fn arm64_packages() -> Vec<PathBuf> {
    debian_arm64_packages()
}

/// The ELF machine of a file, read independently of the project's code (little-endian ELF).
fn elf_machine(path: &Path) -> u16 {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(bytes[5], 1, "{} is not little-endian", path.display());
    u16::from_le_bytes([bytes[18], bytes[19]])
}

fn uname_of(packages: &[PathBuf], suffix: &str) -> String {
    let header = packages
        .iter()
        .find(|p| p.to_string_lossy().contains(&format!("{suffix}_")))
        .unwrap();
    header
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("linux-headers-")
        .split('_')
        .next()
        .unwrap()
        .to_string()
}

/// Builds a hello-world module against an unpacked arm64 bundle as an arm64 host would: the
/// bundle's aarch64 host tools run under qemu-user (binfmt_misc), the compiler is the cross gcc.
/// Returns the `.ko` path (inside `module`).
fn build_arm64_module(bundle_dir: &Path, module: &Path) -> PathBuf {
    fs::write(
        module.join("hello.c"),
        "#include <linux/module.h>\n#include <linux/init.h>\nMODULE_LICENSE(\"GPL\");\n\
         static int __init hello_init(void) { pr_info(\"hello\\n\"); return 0; }\n\
         static void __exit hello_exit(void) { }\nmodule_init(hello_init);\nmodule_exit(hello_exit);\n",
    )
    .unwrap();
    fs::write(module.join("Makefile"), "obj-m += hello.o\n").unwrap();
    let build_dir = bundle_dir.join(meta(bundle_dir, "BUNDLE_BUILD_DIR"));
    run(Command::new("make")
        .arg("-C")
        .arg(&build_dir)
        .arg(format!("M={}", module.display()))
        .args([
            "ARCH=arm64",
            "CROSS_COMPILE=aarch64-linux-gnu-",
            "CC=aarch64-linux-gnu-gcc-12",
            "modules",
        ])
        .env("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu")
        .current_dir(module));
    let ko = module.join("hello.ko");
    assert!(ko.exists(), "no hello.ko built");
    ko
}

#[test]
fn real_debian_arm64_set_packs_and_builds_a_module_under_emulation() {
    let packages = arm64_packages();
    let uname = uname_of(&packages, "-arm64");
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Debian,
        &packages,
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    let arm64_pack = started.elapsed();
    assert_eq!(packed.uname, uname);
    assert_eq!(packed.arch, "arm64");
    // The uname already names the architecture: no suffix, no collision with `-amd64`.
    assert_eq!(packed.file_name, format!("bundle-{uname}.tgz"));

    let unpack = tempfile::tempdir().unwrap();
    let dir = unpack.path().join("on/an/arm64/host");
    unpack_bundle(&packed.path, &dir);
    assert_eq!(meta(&dir, "BUNDLE_ARCH"), "arm64");
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), uname);
    let build_dir = dir.join(meta(&dir, "BUNDLE_BUILD_DIR"));
    for tool in ["scripts/basic/fixdep", "scripts/mod/modpost"] {
        assert_eq!(
            elf_machine(&build_dir.join(tool)),
            EM_AARCH64,
            "{tool} is not an aarch64 binary"
        );
    }
    assert_links_stay_inside(&dir);

    let module = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let ko = build_arm64_module(&dir, module.path());
    let build = started.elapsed();
    assert_eq!(elf_machine(&ko), EM_AARCH64, "hello.ko is not AArch64");
    let vermagic = run(Command::new("modinfo").arg("-F").arg("vermagic").arg(&ko))
        .trim()
        .to_string();
    assert!(
        vermagic.starts_with(&format!("{uname} ")) && vermagic.contains("aarch64"),
        "vermagic {vermagic:?} is not {uname}'s aarch64 vermagic"
    );

    // The same release for amd64, for the pack-time comparison (timings are reported, not asserted).
    let amd64 = debian_packages();
    let amd64_out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let amd64_packed = pack_packages(
        PackerKind::Debian,
        &amd64,
        amd64_out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    let amd64_pack = started.elapsed();
    assert_eq!(amd64_packed.arch, "amd64");
    assert_ne!(amd64_packed.file_name, packed.file_name);
    eprintln!(
        "arm64 pack {:.2}s ({} bytes), amd64 pack {:.2}s ({} bytes, {}), module build under emulation {:.2}s",
        arm64_pack.as_secs_f64(),
        packed.size,
        amd64_pack.as_secs_f64(),
        amd64_packed.size,
        amd64_packed.uname,
        build.as_secs_f64()
    );
}

/// `pack --json` carries the architecture.
#[test]
fn cli_json_carries_arch() {
    let packages = arm64_packages();
    let out = tempfile::tempdir().unwrap();
    let output = kernel_packer()
        .args(["pack", "--type", "debian", "--json", "--out"])
        .arg(out.path())
        .args(&packages)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["arch"], "arm64", "{line}");
    assert_eq!(line["uname"], uname_of(&packages, "-arm64"), "{line}");
}

/// `.config` and host tools must agree: arm64 headers with the amd64 kbuild package (x86-64
/// `fixdep`) are refused with an error naming both, and nothing is written.
#[test]
fn arm64_config_with_amd64_host_tools_is_refused() {
    let mut packages: Vec<PathBuf> = arm64_packages()
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("kbuild"))
        .collect();
    let amd64_kbuild = debian_packages()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("kbuild"))
        .unwrap();
    // The amd64 kbuild really is x86-64 (checked independently through dpkg-deb).
    let unpacked = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&amd64_kbuild)
        .arg(unpacked.path()));
    assert_eq!(
        elf_machine(
            &unpacked
                .path()
                .join("usr/lib/linux-kbuild-6.1/scripts/basic/fixdep")
        ),
        EM_X86_64
    );
    packages.push(amd64_kbuild);
    let err = pack_error(PackerKind::Debian, &packages);
    assert!(
        err.contains("is for arm64") && err.contains("fixdep") && err.contains("amd64"),
        "{err}"
    );
}

/// `verify` of the arm64 bundle on this amd64 machine: the canary module is cross-built with the
/// kernel's gcc version's aarch64 compiler, the bundle's host tools run through qemu-user, and the
/// `.ko` is checked to be AArch64 with the bundle's vermagic. Without the cross compiler on PATH
/// the module check is skipped with the reason (exit 2: unverified), not failed.
#[test]
fn verify_cross_builds_the_canary_for_an_arm64_bundle() {
    let packages = arm64_packages();
    let uname = uname_of(&packages, "-arm64");
    let out = tempfile::tempdir().unwrap();
    let packed = pack_packages(
        PackerKind::Debian,
        &packages,
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    let started = Instant::now();
    let report = verify_bundle(&packed.path, &VerifyOptions::default()).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "arm64 verify (cross, host tools under qemu-user): {seconds:.2}s total, unpack {:.2}s, module {:.2}s, ebpf {:?} {:.2}s",
        report.unpack_seconds,
        report.module.seconds, report.ebpf.status, report.ebpf.seconds
    );
    assert_eq!(report.module.status, CheckStatus::Passed, "{report:#?}");
    assert_eq!(report.compiler.as_deref(), Some("aarch64-linux-gnu-gcc-12"));
    assert!(
        report
            .module
            .detail
            .starts_with(&format!("vermagic {uname} "))
            && report.module.detail.contains("aarch64")
            && report.module.detail.ends_with("arm64 ELF"),
        "{}",
        report.module.detail
    );
    assert_eq!(report.outcome(), Outcome::Verified, "{report:#?}");

    // Only `make` on PATH: no cross compiler, so the module check is skipped with the reason.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/bin/make", bin.path().join("make")).unwrap();
    let output = kernel_packer()
        .arg("verify")
        .arg(&packed.path)
        .env("PATH", bin.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("needs the arm64 cross toolchain"),
        "{stdout}\n{stderr}"
    );
}
