//! `verify` and `pack --verify` on the real Debian bookworm bundle: the canary module and eBPF
//! object build with the kernel's own compiler and kbuild's include paths; a bundle missing
//! `include/generated/autoconf.h` fails verification, and `pack --verify` then publishes nothing.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kernel_packer::index::{self, Verification};
use kernel_packer::names::manifest_id;
use kernel_packer::ondemand::{self, Manifest, ManifestSet, PackContext};
use kernel_packer::pack::PackerKind;
use kernel_packer::store::{DirStore, Store};
use kernel_packer::verify::{verify_bundle, CheckStatus, CompilerSource, Outcome, VerifyOptions};
use kernel_packer_test_support::harness::{object, upload_debs};
use support::*;

fn pack(packages: &[PathBuf], out: &Path) -> kernel_packer::pack::PackedBundle {
    pack_ok(PackerKind::Debian, packages, out)
}

#[test]
fn real_debian_bundle_builds_the_canary_module_and_ebpf_object() {
    let out = tempfile::tempdir().unwrap();
    let packed = pack(&debian_packages(), out.path());
    let report = verify_bundle(&packed.path, &VerifyOptions::default()).unwrap();
    eprintln!(
        "verify {}: unpack {:.2}s, module {:.2}s, ebpf {:.2}s",
        report.uname, report.unpack_seconds, report.module.seconds, report.ebpf.seconds
    );
    assert_eq!(report.uname, packed.uname);
    assert_eq!(report.module.status, CheckStatus::Passed, "{report:#?}");
    assert!(
        report
            .module
            .detail
            .starts_with(&format!("vermagic {} ", packed.uname)),
        "{report:#?}"
    );
    assert_eq!(report.ebpf.status, CheckStatus::Passed, "{report:#?}");
    // The kernel's own compiler, from the bundle's BUNDLE_COMPILER_VERSION meta file.
    assert_eq!(report.compiler.as_deref(), Some("gcc-12"));
    assert_eq!(report.compiler_source, Some(CompilerSource::MetaFile));
    assert!(report
        .kernel_compiler
        .as_deref()
        .unwrap()
        .starts_with("gcc-12 (Debian"));
    assert_eq!(report.outcome(), Outcome::Verified);
    assert_eq!(
        report.index_record(),
        Some(Verification::Verified {
            module: true,
            ebpf: true,
            compiler: "gcc-12".into()
        })
    );

    // The CLI on the unpacked directory: exit 0, JSON report; the eBPF object is a real BPF ELF
    // (checked independently with `file`-like magic through llvm-objdump when present).
    let dir = tempfile::tempdir().unwrap();
    let unpacked = dir.path().join("b");
    unpack_bundle(&packed.path, &unpacked);
    let json: serde_json::Value = serde_json::from_str(&run(kernel_packer()
        .args(["verify", "--json", "--keep"])
        .arg(&unpacked)))
    .unwrap();
    assert_eq!(json["module"]["status"], "passed");
    assert_eq!(json["ebpf"]["status"], "passed");
    let scratch = PathBuf::from(json["scratch"].as_str().unwrap());
    let headers = run(Command::new("llvm-objdump")
        .arg("-h")
        .arg(scratch.join("ebpf/kp_canary_bpf.o")));
    assert!(headers.contains("elf64-bpf"), "{headers}");
    assert!(headers.contains("kprobe/do_sys_openat2"), "{headers}");
    let vermagic = run(Command::new("modinfo")
        .args(["-F", "vermagic"])
        .arg(scratch.join("module/kp_canary.ko")));
    assert!(vermagic.starts_with(&packed.uname), "{vermagic}");
    fs::remove_dir_all(&scratch).unwrap();
}

/// bookworm's 6.12 LTS kernel (BTF, `+deb12` naming, a triplet-prefixed compiler in its config).
#[test]
fn real_debian_6_12_bundle_builds_the_canary_module_and_ebpf_object() {
    let debs = debs_in(&fetch("tests/fetch-debian-6.12-packages.sh"));
    let out = tempfile::tempdir().unwrap();
    let packed = pack(&debs, out.path());
    assert!(packed.uname.starts_with("6.12.") && packed.uname.ends_with("+deb12-amd64"));
    let report = verify_bundle(&packed.path, &VerifyOptions::default()).unwrap();
    eprintln!(
        "verify {}: unpack {:.2}s, module {:.2}s, ebpf {:.2}s",
        report.uname, report.unpack_seconds, report.module.seconds, report.ebpf.seconds
    );
    assert_eq!(report.outcome(), Outcome::Verified, "{report:#?}");
    assert_eq!(report.ebpf.status, CheckStatus::Passed, "{report:#?}");
    assert!(report
        .compiler
        .as_deref()
        .is_some_and(|c| c.ends_with("gcc-12")));
}

#[test]
fn a_bundle_without_autoconf_h_fails_and_pack_verify_publishes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let pkgs_dir = work.path().join("pkgs");
    fs::create_dir(&pkgs_dir).unwrap();
    let broken = packages_without_autoconf(&pkgs_dir);

    // Packing alone succeeds (the header set looks complete to the packer)...
    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    let packed = pack(&broken, &out);
    // ...but verification fails and names the first compiler error.
    let report = verify_bundle(&packed.path, &VerifyOptions::default()).unwrap();
    match report.outcome() {
        Outcome::Failed(error) => {
            assert!(error.starts_with("module: "), "{error}");
            assert!(error.contains("autoconf.h"), "{error}");
        }
        other => panic!("expected failure, got {other:?}: {report:#?}"),
    }
    assert_eq!(report.ebpf.status, CheckStatus::Failed, "{report:#?}");
    assert!(report.index_record().is_none());

    // CLI `verify`: exit 1 and the first error on stderr.
    let output = kernel_packer()
        .arg("verify")
        .arg(&packed.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("autoconf.h"), "{stderr}");

    // Local `pack --verify`: fails, names the error, leaves nothing in the output dir.
    let out2 = work.path().join("out2");
    fs::create_dir(&out2).unwrap();
    let output = kernel_packer()
        .args(["pack", "--type", "debian", "--verify", "--out"])
        .arg(&out2)
        .args(&broken)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("verification failed, nothing published") && stderr.contains("autoconf.h"),
        "{stderr}"
    );
    assert_eq!(fs::read_dir(&out2).unwrap().count(), 0);
}

/// Manifest mode with verification: the good set is published with `verified` in its index entry;
/// the broken set publishes neither a bundle nor an index entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_on_demand_with_verify_records_the_result_and_publishes_nothing_on_failure() {
    let work = tempfile::tempdir().unwrap();
    let pkgs_dir = work.path().join("broken");
    fs::create_dir(&pkgs_dir).unwrap();
    let broken_debs = packages_without_autoconf(&pkgs_dir);
    let packages: Arc<dyn Store> = Arc::new(DirStore::new(work.path().join("packages")));
    let bundles: Arc<dyn Store> = Arc::new(DirStore::new(work.path().join("bundles")));
    let mut sets = BTreeMap::new();
    for (host, debs) in [
        ("good.test", debian_packages()),
        ("broken.test", broken_debs),
    ] {
        let names = upload_debs(packages.as_ref(), &debs, &format!("http://{host}/pool/")).await;
        sets.insert(
            manifest_id(&names),
            ManifestSet {
                kind: "debian".into(),
                packages: names,
                arch: None,
            },
        );
    }
    let ids: Vec<String> = sets.keys().cloned().collect();
    let manifest = Manifest { entries: sets };
    let ctx = PackContext {
        packages,
        bundles: bundles.clone(),
        work_dir: Some(work.path().join("w")),
        verify: Some(VerifyOptions::default()),
    };
    // One at a time: both sets have the same uname, hence the same bundle key.
    let results = ondemand::pack_many(&ctx, &manifest, &ids, 1, false).await;
    let mut good = None;
    for (id, result) in results {
        let is_broken = manifest.entries[&id].packages[0].contains("broken.test");
        match (is_broken, result) {
            (true, Err(e)) => {
                assert!(
                    e.contains("verification failed, nothing published")
                        && e.contains("autoconf.h"),
                    "{e}"
                );
                assert!(index::read_entry(bundles.as_ref(), &id)
                    .await
                    .unwrap()
                    .is_none());
            }
            (false, Ok(out)) => good = Some((id, out)),
            (b, r) => panic!("broken={b}: unexpected {r:?}"),
        }
    }
    let (id, out) = good.unwrap();
    let entry = index::read_entry(bundles.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.verification,
        Some(Verification::Verified {
            module: true,
            ebpf: true,
            compiler: "gcc-12".into()
        })
    );
    // The one bundle in the store is the verified one.
    let stored = work.path().join("stored.tgz");
    bundles.get_to_file(&out.bundle, &stored).await.unwrap();
    assert_eq!(
        kernel_packer::store::sha256_file(&stored).await.unwrap().0,
        entry.sha256
    );
    let raw: serde_json::Value =
        serde_json::from_slice(&object(bundles.as_ref(), &index::entry_key(&id)).await).unwrap();
    assert_eq!(raw["verification"]["verified"]["compiler"], "gcc-12");
}
