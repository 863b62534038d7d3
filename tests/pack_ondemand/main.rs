//! Pack on demand with the real Debian header set: packages in an S3 package store (moto), bundle
//! and index entries in an S3 bundle store; a broken id fails without stopping the good one.

#[path = "../harness/mod.rs"]
mod harness;
#[path = "../support/mod.rs"]
mod support;

// Same-uname ids sharing or splitting bundles: a module of this binary (one test binary fewer).
mod bundle_collisions;

use std::collections::BTreeMap;
use std::sync::Arc;

use harness::{s3_store, upload_debs, Moto};
use kernel_packer::index;
use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::ondemand::{self, find_by_kernel, Manifest, ManifestSet, PackContext};
use kernel_packer::store::Store;

/// Puts the real Debian header packages into `store` under their simplified pool URLs.
async fn upload_debian(store: &dyn Store) -> Vec<String> {
    let debs = support::debian_packages();
    upload_debs(store, &debs, "http://mirror.test/pool/main/l/linux/").await
}

/// One directory store for packages and bundles under `dir`, work dir `dir/w`.
fn dir_ctx(dir: &std::path::Path) -> (Arc<dyn Store>, PackContext) {
    let store: Arc<dyn Store> = Arc::new(kernel_packer::store::DirStore::new(dir.join("s")));
    let ctx = PackContext {
        packages: store.clone(),
        bundles: store.clone(),
        work_dir: Some(dir.join("w")),
        verify: None,
    };
    (store, ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_real_debian_set_between_s3_stores_and_indexes_it() {
    let moto = Moto::start();
    let packages: Arc<dyn Store> = Arc::new(s3_store(&moto.endpoint(), "packages", "", None).await);
    let bundles: Arc<dyn Store> =
        Arc::new(s3_store(&moto.endpoint(), "bundles", "v1/", None).await);
    let names = upload_debian(packages.as_ref()).await;
    let good = manifest_id(&names);
    let broken_pkgs = vec![simplify(
        "http://mirror.test/pool/linux-headers-9.9.9-1-amd64_9.9.9-1_amd64.deb",
    )];
    let broken = manifest_id(&broken_pkgs);
    let manifest = Manifest {
        entries: BTreeMap::from([
            (
                good.clone(),
                ManifestSet {
                    kind: "debian".into(),
                    packages: names.clone(),
                    arch: None,
                },
            ),
            (
                broken.clone(),
                ManifestSet {
                    kind: "debian".into(),
                    packages: broken_pkgs,
                    arch: None,
                },
            ),
        ]),
    };
    let work = tempfile::tempdir().unwrap();
    let ctx = PackContext {
        packages,
        bundles: bundles.clone(),
        work_dir: Some(work.path().to_path_buf()),
        verify: None,
    };

    let mut missing = ondemand::missing_ids(&manifest, bundles.as_ref())
        .await
        .unwrap();
    missing.sort();
    let mut expected = vec![good.clone(), broken.clone()];
    expected.sort();
    assert_eq!(missing, expected);

    let results = ondemand::pack_many(&ctx, &manifest, &missing, 2, false).await;
    let by_id: BTreeMap<_, _> = results.into_iter().collect();
    let err = by_id[&broken].as_ref().unwrap_err();
    assert!(
        err.contains(&broken) && err.contains("not in the package store"),
        "{err}"
    );
    let out = by_id[&good].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.kernel.starts_with("6.1.0-") && out.kernel.ends_with("-amd64"),
        "{out:?}"
    );
    assert!(out.bundle.starts_with("bundle-") && out.bundle.ends_with(".tgz"));

    // The bundle is in the store, whole, with the reported sha256.
    let head = bundles.head(&out.bundle).await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.sha256.as_deref()),
        (out.size, Some(out.sha256.as_str()))
    );
    let local = work.path().join("check.tgz");
    bundles.get_to_file(&out.bundle, &local).await.unwrap();
    assert_eq!(
        kernel_packer::store::sha256_file(&local).await.unwrap().0,
        out.sha256
    );
    let listing = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&local)
        .output()
        .unwrap();
    assert!(listing.status.success());
    assert!(String::from_utf8_lossy(&listing.stdout).contains("BUNDLE_UNAME"));
    support::assert_bundle_relocatable(&local);

    // Index: entry for the good id only; features from the real kernel config and release.
    let entry = index::read_entry(bundles.as_ref(), &good)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.bundle, out.bundle);
    assert_eq!(entry.packages, names);
    assert_eq!(entry.kind, "debian");
    assert!(
        entry.features.btf,
        "Debian 6.1 kernels have CONFIG_DEBUG_INFO_BTF=y"
    );
    assert!(entry.features.bpf_ringbuf);
    // Packed without a canary build: the entry says so, and why.
    assert_eq!(
        entry.verification,
        Some(index::Verification::Unverified {
            reason: ondemand::UNVERIFIED_REASON.to_string()
        })
    );
    assert!(index::read_entry(bundles.as_ref(), &broken)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        ondemand::missing_ids(&manifest, bundles.as_ref())
            .await
            .unwrap(),
        std::slice::from_ref(&broken)
    );
    let all = index::read_all(bundles.clone()).await.unwrap();
    let cache = index::to_yaml(&index::cache_view(&all)).unwrap();
    assert!(
        cache.contains(&format!("{good}:\n  type: debian\n")),
        "{cache}"
    );
    assert!(
        cache.contains(&format!("bundle: {}", out.bundle)),
        "{cache}"
    );
    let features = index::to_yaml(&index::features_view(&all)).unwrap();
    assert!(
        features.contains(&format!(
            "{}:\n  btf: true\n  bpf_ringbuf: true",
            out.bundle
        )),
        "{features}"
    );

    // The kernel lookup finds the id by its release.
    assert_eq!(find_by_kernel(&manifest, &out.kernel).unwrap(), good);
    // Nothing left in the work dir.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "check.tgz")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_packer_type_and_bad_ids_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ctx) = dir_ctx(dir.path());
    let set = ManifestSet {
        kind: "plan9".into(),
        packages: vec!["x.deb".into()],
        arch: None,
    };
    let err = format!(
        "{:#}",
        ondemand::pack_id(&ctx, &"a".repeat(64), &set)
            .await
            .unwrap_err()
    );
    assert!(err.contains("plan9"), "{err}");
    let err = format!(
        "{:#}",
        ondemand::pack_id(&ctx, "../x", &set).await.unwrap_err()
    );
    assert!(err.contains("invalid manifest id"), "{err}");
    let manifest = Manifest::default();
    let r = ondemand::pack_many(&ctx, &manifest, &["b".repeat(64)], 1, false).await;
    assert!(r[0].1.as_ref().unwrap_err().contains("not in the manifest"));
    assert!(index::ids(store.as_ref()).await.unwrap().is_empty());
}

/// A set whose manifest `arch` disagrees with the packed content's `BUNDLE_ARCH` (the real
/// amd64 Debian packages labelled arm64) fails, naming both, and publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_arch_must_match_bundle_arch() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ctx) = dir_ctx(dir.path());
    let names = upload_debian(store.as_ref()).await;
    let set = ManifestSet {
        kind: "debian".into(),
        packages: names.clone(),
        arch: Some("arm64".into()),
    };
    let err = format!(
        "{:#}",
        ondemand::pack_id(&ctx, &manifest_id(&names), &set)
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("manifest set is for arm64") && err.contains("is amd64 (BUNDLE_ARCH)"),
        "{err}"
    );
    assert!(index::ids(store.as_ref()).await.unwrap().is_empty());
    let bundles: Vec<String> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.starts_with("bundle-"))
        .collect();
    assert!(bundles.is_empty(), "{bundles:?}");
}

#[derive(clap::Parser)]
struct PackCli {
    #[command(flatten)]
    args: kernel_packer::cli::pack::PackArgs,
}

fn pack_args(args: &[&str]) -> kernel_packer::cli::pack::PackArgs {
    use clap::Parser;
    PackCli::try_parse_from(std::iter::once("pack").chain(args.iter().copied()))
        .unwrap()
        .args
}

/// `kernel-packer pack --kernel/--id/--missing` (manifest mode) with directory stores.
#[test]
fn cli_manifest_mode_packs_by_kernel_and_missing() {
    use std::process::ExitCode;
    let debs = support::debian_packages();
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("packages");
    let bundles = dir.path().join("bundles");
    std::fs::create_dir(&packages).unwrap();
    let mut names = Vec::new();
    for deb in &debs {
        let name = simplify(&format!(
            "http://mirror.test/pool/{}",
            deb.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::copy(deb, packages.join(&name)).unwrap();
        names.push(name);
    }
    let good = manifest_id(&names);
    let uname = support::header_uname(&debs, "-amd64");
    let manifest_path = dir.path().join("manifest.yml");
    let broken_pkg = simplify("http://mirror.test/pool/linux-headers-0.1.0-1-amd64_1_amd64.deb");
    let broken = manifest_id(std::slice::from_ref(&broken_pkg));
    std::fs::write(
        &manifest_path,
        format!(
            "{good}:\n  type: debian\n  packages:\n{}{broken}:\n  type: debian\n  packages:\n  - {broken_pkg}\n",
            names.iter().map(|n| format!("  - {n}\n")).collect::<String>()
        ),
    )
    .unwrap();
    let common = [
        "--manifest",
        manifest_path.to_str().unwrap(),
        "--packages",
        packages.to_str().unwrap(),
        "--bundles",
        bundles.to_str().unwrap(),
        "--json",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        kernel_packer::cli::pack_manifest::run_from_manifest(&pack_args(&args))
    };
    assert_eq!(run(&["--kernel", &uname]).unwrap(), ExitCode::SUCCESS);
    let store = kernel_packer::store::DirStore::new(bundles.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let entry = rt
        .block_on(index::read_entry(&store, &good))
        .unwrap()
        .unwrap();
    assert_eq!(entry.kernel, uname);
    assert!(bundles.join(&entry.bundle).is_file());
    // --missing: only the broken id is left, and it fails → non-zero exit.
    assert_eq!(run(&["--missing"]).unwrap(), ExitCode::FAILURE);
    let ids = rt.block_on(index::ids(&store)).unwrap();
    assert_eq!(ids, std::slice::from_ref(&good));
    // Unknown ids and kernels are clear errors.
    let err = run(&["--id", &"f".repeat(64)]).unwrap_err().to_string();
    assert!(err.contains("not in the manifest"), "{err}");
    let err = run(&["--kernel", "0.0.0-nope"]).unwrap_err().to_string();
    assert!(err.contains("0.0.0-nope"), "{err}");
}
