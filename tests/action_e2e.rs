//! End-to-end tests of the GitHub Action (`action/`): its steps run in an emulated runner
//! environment (`tests/support/actions_runner.rs`: GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
//! GITHUB_WORKSPACE, RUNNER_TEMP, RUNNER_OS/ARCH) with the crate's own `kernel-packer` binary.
//!
//! - Packing: real Debian bookworm kernel header packages (`tests/fetch-debian-packages.sh`) laid out
//!   as a directory package store under their simplified names, with a one-entry manifest; checks the
//!   `bundles` / `bundle-dir` outputs, the job summary table and the bundle itself; and that a kernel
//!   that fails makes the step fail only after the others are packed.
//! - Binary resolution: a released binary served by a local HTTP server (the test harness's, on
//!   127.0.0.1) is downloaded and verified against its `.sha256`; a checksum mismatch fails; a cache
//!   hit needs no server.
//! - Architecture: with real amd64 and arm64 Debian sets in one manifest, an ARM64 runner (no `arch`
//!   input) packs the arm64 set for `missing` and refuses the amd64 id; `arch: amd64` on the same
//!   runner packs the amd64 one.
//! - S3: the bundle store is an `s3://` URL on a local moto_server; the reported URL, size and sha256
//!   match the object in the bucket.

#[path = "support/actions_runner.rs"]
mod actions_runner;
mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use actions_runner::{run_composite, ActionResult, Runner};
use kernel_packer::names::{manifest_id, sha256_hex, simplify};
use kernel_packer_test_support::fixtures::{debian_arm64_packages, debian_packages};
use kernel_packer_test_support::harness::{HttpServer, Moto};
use serde_json::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_kernel-packer");

fn action_dir() -> PathBuf {
    Path::new(REPO).join("action")
}

fn runner(root: &Path) -> Runner {
    let workspace = root.join("workspace");
    let temp = root.join("runner-temp");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::create_dir_all(&temp).unwrap();
    Runner {
        workspace,
        temp,
        os: "Linux".into(),
        arch: "X64".into(),
        env: BTreeMap::new(),
    }
}

fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn dump(result: &ActionResult) -> String {
    let mut s = String::new();
    for step in &result.steps {
        s.push_str(&format!(
            "--- step {:?} exit {:?} uses {:?}\nstdout:\n{}\nstderr:\n{}\noutputs: {:?}\n",
            step.name, step.exit_code, step.uses, step.stdout, step.stderr, step.outputs
        ));
    }
    s.push_str(&format!("--- summary:\n{}\n", result.summary));
    s
}

/// The real Debian header set: (package store dir, manifest id, kernel uname).
struct DebianSet {
    id: String,
    uname: String,
}

/// Lays the real Debian packages (downloaded once) out under `root`: `packages/` as a directory
/// package store (files named by their simplified names) and `workspace/kernels/manifest.yml`.
fn debian_store(root: &Path) -> DebianSet {
    debian_stores(root, &[debian_packages()]).remove(0)
}

/// [`debian_store`] for several sets of real Debian packages in one store and manifest.
fn debian_stores(root: &Path, sets: &[Vec<PathBuf>]) -> Vec<DebianSet> {
    let store = root.join("packages");
    std::fs::create_dir_all(&store).unwrap();
    let mut manifest = String::new();
    let mut out = Vec::new();
    for debs in sets {
        let mut names = Vec::new();
        let mut uname = None;
        for path in debs {
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            if let Some(rest) = file.strip_prefix("linux-headers-") {
                let release = rest.split('_').next().unwrap();
                if !release.ends_with("-common") {
                    uname = Some(release.to_string());
                }
            }
            let name = simplify(&file);
            std::fs::copy(path, store.join(&name)).unwrap();
            names.push(name);
        }
        names.sort();
        let id = manifest_id(&names);
        manifest.push_str(&format!("{id}:\n  type: debian\n"));
        // Debian names the architecture in the arch-specific package file names.
        if debs
            .iter()
            .any(|d| d.to_string_lossy().ends_with("_arm64.deb"))
        {
            manifest.push_str("  arch: arm64\n");
        }
        manifest.push_str("  packages:\n");
        for n in &names {
            manifest.push_str(&format!("  - {n}\n"));
        }
        out.push(DebianSet {
            id,
            uname: uname.expect("a linux-headers-<abi>-<flavour> package"),
        });
    }
    let kernels = root.join("workspace/kernels");
    std::fs::create_dir_all(&kernels).unwrap();
    std::fs::write(kernels.join("manifest.yml"), manifest).unwrap();
    out
}

/// Checks one `bundles` entry against the bundle file: sha256, size, name, and a gzip tar with
/// `BUNDLE_*` meta files at its root: BUNDLE_UNAME is the kernel, BUNDLE_BUILD_DIR a directory with
/// a Makefile.
fn check_bundle(entry: &Value, bundle_dir: &Path, uname: &str) {
    let path = PathBuf::from(entry["bundle"].as_str().expect("bundle path"));
    assert!(
        path.starts_with(bundle_dir),
        "{} not under {}",
        path.display(),
        bundle_dir.display()
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(entry["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64));
    let name = entry["name"].as_str().unwrap();
    assert_eq!(name, path.file_name().unwrap().to_str().unwrap());
    assert!(
        name.starts_with("bundle-") && name.ends_with(".tgz"),
        "{name}"
    );

    support::assert_bundle_relocatable(&path);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut meta = BTreeMap::new();
    let mut files = Vec::new();
    for e in archive.entries().expect("bundle is a gzip tar") {
        let mut e = e.expect("tar entry");
        let p = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if p.starts_with("BUNDLE_") && !p.contains('/') {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            meta.insert(p.clone(), s.trim().to_string());
        }
        files.push(p);
    }
    let build_dir = meta
        .get("BUNDLE_BUILD_DIR")
        .unwrap_or_else(|| panic!("no BUNDLE_BUILD_DIR at the bundle root; meta files: {meta:?}"));
    let build_dir = build_dir.trim_start_matches("./").trim_start_matches('/');
    let makefile = format!("{}/Makefile", build_dir.trim_end_matches('/'));
    assert!(
        files.iter().any(|f| f == &makefile),
        "bundle has no {makefile}"
    );
    assert_eq!(meta.get("BUNDLE_UNAME").map(String::as_str), Some(uname));
}

#[test]
fn packs_real_debian_kernel_and_reports_outputs_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let set = debian_store(tmp.path());
    let mut r = runner(tmp.path());
    r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
    let packages = tmp.path().join("packages");
    let result = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            (
                "kernels",
                &format!(
                    "# the Debian kernel, by uname (twice: packed once)\n{}\n  {}  \n",
                    set.uname, set.uname
                ),
            ),
            ("manifest", "kernels/manifest.yml"),
            ("packages", packages.to_str().unwrap()),
            ("output", "bundles"),
        ]),
    );
    let log = dump(&result);
    assert!(result.success, "action failed:\n{log}");
    assert_eq!(result.step("binary").outputs["path"], BIN, "{log}");
    assert_eq!(result.step("plan").outputs["cache-key"], "", "{log}");
    assert!(
        result.steps.iter().any(|s| s.uses.is_some()),
        "the cache step is in the action"
    );

    let bundle_dir = r.workspace.join("bundles");
    assert_eq!(
        result.outputs["bundle-dir"],
        bundle_dir.display().to_string()
    );
    let bundles: Value = serde_json::from_str(&result.outputs["bundles"]).expect("bundles is JSON");
    let list = bundles.as_array().expect("bundles is a list");
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(set.id.as_str()));
    assert_eq!(list[0]["kernel"].as_str(), Some(set.uname.as_str()));
    check_bundle(&list[0], &bundle_dir, &set.uname);
    assert_eq!(result.outputs["failures"], "[]");

    let name = list[0]["name"].as_str().unwrap();
    assert!(
        result
            .summary
            .contains("| Kernel | Manifest id | Bundle | Size | Result |"),
        "{log}"
    );
    assert!(result.summary.contains("1 packed, 0 failed"), "{log}");
    let row = result
        .summary
        .lines()
        .find(|l| l.starts_with(&format!("| {} |", set.uname)))
        .unwrap_or_else(|| panic!("no summary row for {}:\n{log}", set.uname));
    assert!(
        row.contains(name) && row.contains(&set.id[..12]) && row.contains("packed"),
        "{row}"
    );
    assert!(
        row.contains("MiB") || row.contains("KiB"),
        "size in the row: {row}"
    );
}

#[test]
fn failing_kernel_fails_the_step_after_packing_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let set = debian_store(tmp.path());
    let mut r = runner(tmp.path());
    r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
    let packages = tmp.path().join("packages");
    let result = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            ("kernels", &format!("9.9.9-no-such-kernel\n{}\n", set.id)),
            ("manifest", "kernels/manifest.yml"),
            ("packages", packages.to_str().unwrap()),
            ("output", "bundles"),
        ]),
    );
    let log = dump(&result);
    assert!(!result.success, "the action must fail:\n{log}");
    let pack = result.step("pack");
    assert_ne!(pack.exit_code, Some(0), "{log}");

    // The manifest id listed after the failing kernel was still packed.
    let bundles: Value = serde_json::from_str(&result.outputs["bundles"]).unwrap();
    let list = bundles.as_array().unwrap();
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(set.id.as_str()));
    check_bundle(&list[0], &r.workspace.join("bundles"), &set.uname);

    let failures: Value = serde_json::from_str(&result.outputs["failures"]).unwrap();
    let failures = failures.as_array().unwrap();
    assert_eq!(failures.len(), 1, "{log}");
    assert_eq!(failures[0]["kernel"].as_str(), Some("9.9.9-no-such-kernel"));
    assert!(!failures[0]["error"].as_str().unwrap().is_empty());

    assert!(result.summary.contains("1 packed, 1 failed"), "{log}");
    assert!(
        result
            .summary
            .lines()
            .any(|l| l.starts_with("| 9.9.9-no-such-kernel |") && l.contains("failed")),
        "{log}"
    );
    assert!(
        pack.stdout
            .contains("::error title=kernel-packer::9.9.9-no-such-kernel"),
        "{log}"
    );
}

#[test]
fn rejects_empty_kernels_and_option_like_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = runner(tmp.path());
    r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
    let packages = tmp.path().join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    let empty = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            ("kernels", "# nothing\n\n"),
            ("packages", packages.to_str().unwrap()),
        ]),
    );
    assert!(!empty.success);
    assert!(
        empty.stdout().contains("input kernels is empty"),
        "{}",
        dump(&empty)
    );

    let evil = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            ("kernels", "--help"),
            ("packages", packages.to_str().unwrap()),
        ]),
    );
    assert!(!evil.success);
    let failures: Value = serde_json::from_str(&evil.outputs["failures"]).unwrap();
    assert_eq!(
        failures[0]["kernel"].as_str(),
        Some("--help"),
        "{}",
        dump(&evil)
    );
    assert!(failures[0]["error"]
        .as_str()
        .unwrap()
        .contains("not a kernel uname"));
}

/// Publishes `kernel-packer-<target>.tar.gz` (the real binary, stripped into `root/staging/`) and
/// its `.sha256` (or `wrong_sha` when given) under a release layout.
fn publish_release(root: &Path, tag: &str, target: &str, wrong_sha: Option<&str>) {
    let dir = root.join(format!("owner/kernel-packer/releases/download/{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let staging = root.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    // The real binary, stripped (as released binaries are; debug info makes it hundreds of MB).
    let status = Command::new("strip")
        .arg("-o")
        .arg(staging.join("kernel-packer"))
        .arg(BIN)
        .status()
        .expect("strip (binutils) is needed");
    assert!(status.success());
    let tarball = dir.join(format!("kernel-packer-{target}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&staging)
        .arg("kernel-packer")
        .status()
        .unwrap();
    assert!(status.success());
    let sha = sha256_hex(&std::fs::read(&tarball).unwrap());
    let sha = wrong_sha.map(str::to_string).unwrap_or(sha);
    std::fs::write(
        dir.join(format!("kernel-packer-{target}.tar.gz.sha256")),
        format!("{sha}  kernel-packer-{target}.tar.gz\n"),
    )
    .unwrap();
}

fn resolve_only(r: &Runner, version: &str) -> ActionResult {
    // `kernels` is required but the pack step is not reached when resolution fails; when it
    // succeeds, an option-like entry makes pack fail fast without touching any store.
    run_composite(
        r,
        &action_dir(),
        &inputs(&[
            ("kernels", "--resolve-only"),
            ("packages", "unused"),
            ("version", version),
        ]),
    )
}

#[test]
fn downloads_verified_release_binary_then_uses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    publish_release(&site, "v9.9.9", "x86_64-unknown-linux-gnu", None);
    publish_release(
        &site,
        "v6.6.6",
        "x86_64-unknown-linux-gnu",
        Some(&"0".repeat(64)),
    );
    let server = HttpServer::serve_dir(&site);

    let mut r = runner(tmp.path());
    r.env.insert(
        "GITHUB_SERVER_URL".into(),
        format!("http://127.0.0.1:{}", server.port),
    );
    r.env.insert(
        "GITHUB_ACTION_REPOSITORY".into(),
        "owner/kernel-packer".into(),
    );
    r.env.insert(
        "RUNNER_TOOL_CACHE".into(),
        tmp.path().join("tool-cache").display().to_string(),
    );

    let result = resolve_only(&r, "v9.9.9");
    let log = dump(&result);
    let plan = &result.step("plan").outputs;
    assert_eq!(plan["target"], "x86_64-unknown-linux-gnu", "{log}");
    assert!(
        plan["cache-key"].starts_with("kernel-packer-Linux-X64-v9.9.9-"),
        "{log}"
    );
    let cached = PathBuf::from(&plan["cache-dir"]).join("bin/kernel-packer");
    let binary = result.step("binary");
    assert_eq!(binary.exit_code, Some(0), "{log}");
    assert_eq!(
        binary.outputs["path"],
        cached.display().to_string(),
        "{log}"
    );
    assert!(binary.stderr.contains("downloaded v9.9.9"), "{log}");
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(site.join("staging/kernel-packer")).unwrap()
    );
    // The pack step ran with the downloaded binary and refused the option-like entry.
    assert_eq!(result.step("pack").exit_code, Some(1), "{log}");

    // A checksum mismatch fails the step and installs nothing.
    let bad = resolve_only(&r, "v6.6.6");
    let log = dump(&bad);
    let binary = bad.step("binary");
    assert_eq!(binary.exit_code, Some(1), "{log}");
    assert!(binary.stderr.contains("checksum mismatch"), "{log}");
    let bad_dir = PathBuf::from(&bad.step("plan").outputs["cache-dir"]);
    assert!(!bad_dir.join("bin/kernel-packer").exists());

    // With the server gone, the cached binary is used.
    drop(server);
    let again = resolve_only(&r, "v9.9.9");
    let log = dump(&again);
    let binary = again.step("binary");
    assert_eq!(binary.exit_code, Some(0), "{log}");
    assert!(binary.stderr.contains("cached binary"), "{log}");
    assert_eq!(binary.outputs["path"], cached.display().to_string());
}

#[test]
fn syncs_lists_from_a_local_mirror_then_packs() {
    // The Debian packages served by a local HTTP mirror; the lists name their URLs, the manifest
    // their simplified URLs, and the action's `lists` input syncs them into an empty store first.
    let tmp = tempfile::tempdir().unwrap();
    let staged = tmp.path().join("staged");
    let set = debian_store(&staged);
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    for e in std::fs::read_dir(staged.join("packages")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, mirror.join(p.file_name().unwrap())).unwrap();
    }
    let server = HttpServer::serve_dir(&mirror);
    let mut urls: Vec<String> = std::fs::read_dir(&mirror)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            format!("http://127.0.0.1:{}/{name}", server.port)
        })
        .collect();
    urls.sort();
    let names: Vec<String> = urls.iter().map(|u| simplify(u)).collect();
    let id = manifest_id(&names);

    let r = {
        let mut r = runner(tmp.path());
        r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
        r
    };
    let lists = r.workspace.join("kernel-lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(lists.join("debian.txt"), urls.join("\n") + "\n").unwrap();
    let mut manifest = format!("{id}:\n  type: debian\n  packages:\n");
    for n in &names {
        manifest.push_str(&format!("  - {n}\n"));
    }
    std::fs::write(lists.join("manifest.yml"), manifest).unwrap();

    let result = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            ("kernels", &set.uname),
            ("lists", "kernel-lists"),
            ("manifest", "kernel-lists/manifest.yml"),
            ("packages", ".kernel-packages"),
            ("output", "bundles"),
        ]),
    );
    let log = dump(&result);
    assert!(result.success, "action failed:\n{log}");
    assert_eq!(result.step("pack").exit_code, Some(0), "{log}");
    for n in &names {
        assert!(
            r.workspace.join(".kernel-packages").join(n).is_file(),
            "sync did not store {n}:\n{log}"
        );
    }
    let bundles: Value = serde_json::from_str(&result.outputs["bundles"]).unwrap();
    let list = bundles.as_array().unwrap();
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(id.as_str()));
    check_bundle(&list[0], &r.workspace.join("bundles"), &set.uname);
}

#[test]
fn missing_packs_only_ids_without_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let set = debian_store(tmp.path());
    let mut r = runner(tmp.path());
    r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
    let packages = tmp.path().join("packages");
    let with = inputs(&[
        ("kernels", "missing"),
        ("manifest", "kernels/manifest.yml"),
        ("packages", packages.to_str().unwrap()),
        ("output", "bundles"),
    ]);

    let first = run_composite(&r, &action_dir(), &with);
    let log = dump(&first);
    assert!(first.success, "{log}");
    let bundles: Value = serde_json::from_str(&first.outputs["bundles"]).unwrap();
    let list = bundles.as_array().unwrap();
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(set.id.as_str()));
    check_bundle(&list[0], &r.workspace.join("bundles"), &set.uname);

    // Nothing is missing any more: success, nothing packed.
    let second = run_composite(&r, &action_dir(), &with);
    let log = dump(&second);
    assert!(second.success, "{log}");
    assert_eq!(second.outputs["bundles"], "[]", "{log}");
    assert!(second.summary.contains("0 packed, 0 failed"), "{log}");
}

/// Runs curl against moto with SigV4-signed requests (test credentials), returning stdout bytes
/// (curl instead of the AWS SDK keeps this test binary half the size).
fn s3_curl(moto: &Moto, args: &[&str], path: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "60"])
        .args([
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "testing:testing",
        ])
        .args(args)
        .arg(format!("{}/{path}", moto.endpoint()))
        .output()
        .expect("curl (scripts/setup.d/05-base.sh)");
    assert!(
        out.status.success(),
        "curl {args:?} {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn packs_into_an_s3_bundle_store() {
    let tmp = tempfile::tempdir().unwrap();
    let set = debian_store(tmp.path());
    let moto = Moto::start();
    s3_curl(&moto, &["-X", "PUT"], "kp-bundles");

    let mut r = runner(tmp.path());
    for (k, v) in [
        ("KERNEL_PACKER_BIN", BIN.to_string()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ] {
        r.env.insert(k.into(), v);
    }
    let packages = tmp.path().join("packages");
    let result = run_composite(
        &r,
        &action_dir(),
        &inputs(&[
            ("kernels", &set.uname),
            ("manifest", "kernels/manifest.yml"),
            ("packages", packages.to_str().unwrap()),
            ("output", "s3://kp-bundles/ci"),
        ]),
    );
    let log = dump(&result);
    assert!(result.success, "action failed:\n{log}");
    assert_eq!(result.outputs["bundle-dir"], "s3://kp-bundles/ci");
    let bundles: Value = serde_json::from_str(&result.outputs["bundles"]).unwrap();
    let entry = &bundles.as_array().unwrap()[0];
    let url = entry["bundle"].as_str().unwrap();
    let key = url
        .strip_prefix("s3://")
        .unwrap_or_else(|| panic!("bundle is not an s3:// URL: {url}"));
    assert!(key.starts_with("kp-bundles/ci/"), "{url}");
    // The object in the bucket is the bundle the outputs describe.
    let bytes = s3_curl(&moto, &[], key);
    assert_eq!(entry["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(entry["size"].as_u64(), Some(bytes.len() as u64));
    assert!(result.summary.contains("1 packed, 0 failed"), "{log}");
}

#[test]
fn arch_input_defaults_to_the_runner_and_selects_the_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = debian_stores(tmp.path(), &[debian_packages(), debian_arm64_packages()]);
    let (amd, arm) = (&sets[0], &sets[1]);
    let mut r = runner(tmp.path());
    r.arch = "ARM64".into();
    r.env.insert("KERNEL_PACKER_BIN".into(), BIN.into());
    let packages = tmp.path().join("packages");
    let common = [
        ("manifest", "kernels/manifest.yml"),
        ("packages", packages.to_str().unwrap()),
        ("output", "bundles"),
    ];

    // ARM64 runner, no arch input: `missing` packs the arm64 set only; the amd64 id is refused.
    let mut with = inputs(&common);
    with.insert("kernels".into(), format!("missing\n{}\n", amd.id));
    let first = run_composite(&r, &action_dir(), &with);
    let log = dump(&first);
    assert!(!first.success, "the amd64 id must fail:\n{log}");
    let bundles: Value = serde_json::from_str(&first.outputs["bundles"]).unwrap();
    let list = bundles.as_array().unwrap();
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(arm.id.as_str()));
    assert_eq!(list[0]["arch"], "arm64", "{log}");
    check_bundle(&list[0], &r.workspace.join("bundles"), &arm.uname);
    let failures: Value = serde_json::from_str(&first.outputs["failures"]).unwrap();
    let error = failures[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("is an amd64 set, not arm64"), "{log}");

    // The same runner with `arch: amd64`: the amd64 set.
    let mut with = inputs(&common);
    with.insert("kernels".into(), "missing".into());
    with.insert("arch".into(), "amd64".into());
    let second = run_composite(&r, &action_dir(), &with);
    let log = dump(&second);
    assert!(second.success, "{log}");
    let bundles: Value = serde_json::from_str(&second.outputs["bundles"]).unwrap();
    let list = bundles.as_array().unwrap();
    assert_eq!(list.len(), 1, "{log}");
    assert_eq!(list[0]["id"].as_str(), Some(amd.id.as_str()));
    assert_eq!(list[0]["arch"], "amd64", "{log}");

    // An architecture the action does not know fails the step with the reason.
    with.insert("arch".into(), "riscv64".into());
    let third = run_composite(&r, &action_dir(), &with);
    let log = dump(&third);
    assert!(!third.success, "{log}");
    assert!(log.contains("unsupported architecture 'riscv64'"), "{log}");
}
