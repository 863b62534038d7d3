//! Ids with the same uname never overwrite each other's bundle (issue 12, item 5), with the real
//! Debian header set in S3 stores (moto):
//! - the same packages listed under two hosts → packed once, both ids indexed to one bundle;
//! - a different content for the same uname → a second, digest-suffixed bundle; both resolvable
//!   through the conventional `bundle-<uname>.tgz`;
//! - packs of them running concurrently (separate `pack_id` calls, as the Step Functions
//!   fan-out does) end in the same state (into a directory bundle store: its create-if-absent is
//!   atomic as S3's `If-None-Match: *` is, while moto checks and writes in two steps, so truly
//!   concurrent creators race inside moto itself; store_s3.rs covers the S3 conditional write);
//! - every index entry's sha256 is the stored object's, and each bundle's BUNDLE_CHECKSUM is the
//!   entry's `checksum`.

use crate::{harness, support};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use harness::{s3_store, upload_debs, Moto};
use kernel_packer::index::{self, IndexEntry};
use kernel_packer::names::manifest_id;
use kernel_packer::ondemand::{self, Manifest, ManifestSet, PackContext};
use kernel_packer::store::{sha256_file, Store};

/// The real common-headers package rebuilt with one extra header: same uname, different content.
fn altered_debs(debs: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    debs.iter()
        .map(|deb| {
            let name = deb.file_name().unwrap().to_str().unwrap();
            if !name.contains("-common_") {
                return deb.clone();
            }
            let root = dir.join("unpacked");
            support::run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&root));
            let src = std::fs::read_dir(root.join("usr/src"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            std::fs::write(src.join("include/fixture-extra.h"), "/* extra */\n").unwrap();
            let out = dir.join(name);
            support::run(
                Command::new("dpkg-deb")
                    .args(["--root-owner-group", "-Zgzip", "-z1", "-b"])
                    .arg(&root)
                    .arg(&out),
            );
            out
        })
        .collect()
}

/// Uploads `debs` as listed under `host`; returns the set.
async fn upload(packages: &dyn Store, debs: &[PathBuf], host: &str) -> ManifestSet {
    let mut names = upload_debs(packages, debs, &format!("http://{host}/pool/main/l/linux/")).await;
    names.sort();
    ManifestSet {
        kind: "debian".into(),
        packages: names,
        arch: None,
    }
}

/// Every index entry names an object whose sha256 (of the downloaded bytes) is the entry's, and whose
/// BUNDLE_CHECKSUM is the entry's `checksum`. Returns the entries.
async fn assert_index_true(bundles: Arc<dyn Store>, work: &Path) -> BTreeMap<String, IndexEntry> {
    let all = index::read_all(bundles.clone()).await.unwrap();
    let mut checked: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for (id, e) in &all {
        if !checked.contains_key(&e.bundle) {
            let local = work.join("check.tgz");
            bundles.get_to_file(&e.bundle, &local).await.unwrap();
            let sha = sha256_file(&local).await.unwrap().0;
            let meta =
                |name: &str| support::run(Command::new("tar").arg("-xzOf").arg(&local).arg(name));
            checked.insert(
                e.bundle.clone(),
                (sha, meta("BUNDLE_CHECKSUM"), meta("BUNDLE_UNAME")),
            );
            std::fs::remove_file(&local).unwrap();
        }
        let (sha, checksum, uname) = &checked[&e.bundle];
        assert_eq!(sha, &e.sha256, "{id}");
        assert_eq!(checksum, &e.checksum, "{id}");
        assert_eq!(uname, &e.kernel, "{id}");
    }
    all
}

async fn bundle_keys(bundles: &dyn Store) -> BTreeSet<String> {
    bundles.keys("bundle-").await.unwrap().into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_uname_ids_share_or_split_bundles_and_the_index_never_lies() {
    let debs = support::debian_packages();
    let fixtures = tempfile::tempdir().unwrap();
    let altered = altered_debs(&debs, fixtures.path());
    let moto = Moto::start();
    let packages: Arc<dyn Store> = Arc::new(s3_store(&moto.endpoint(), "packages", "", None).await);
    let work = tempfile::tempdir().unwrap();

    // Same content from two hosts (a and b), a third host later (c); different content (d).
    let a = upload(packages.as_ref(), &debs, "mirror-a.test").await;
    let b = upload(packages.as_ref(), &debs, "mirror-b.test").await;
    let c = upload(packages.as_ref(), &debs, "vault-c.test").await;
    let d = upload(packages.as_ref(), &altered, "mirror-d.test").await;
    let id = |s: &ManifestSet| manifest_id(&s.packages);
    let (ia, ib, ic, idd) = (id(&a), id(&b), id(&c), id(&d));
    let manifest = Manifest {
        entries: BTreeMap::from([
            (ia.clone(), a.clone()),
            (ib.clone(), b.clone()),
            (ic.clone(), c.clone()),
            (idd.clone(), d.clone()),
        ]),
    };
    let smaller = ia.clone().min(ib.clone());

    // 1. One `pack --missing` run over a, b, d: a and b are packed once.
    let bundles: Arc<dyn Store> =
        Arc::new(s3_store(&moto.endpoint(), "bundles", "v1/", None).await);
    let ctx = PackContext {
        packages: packages.clone(),
        bundles: bundles.clone(),
        work_dir: Some(work.path().join("w")),
        verify: None,
    };
    let ids = vec![ia.clone(), ib.clone(), idd.clone()];
    let results = ondemand::pack_many(&ctx, &manifest, &ids, 2, false).await;
    let out: BTreeMap<String, ondemand::PackOutcome> = results
        .into_iter()
        .map(|(id, r)| (id, r.unwrap_or_else(|e| panic!("{e}"))))
        .collect();
    let uname = out[&ia].kernel.clone();
    let plain = format!("bundle-{uname}.tgz");
    assert_eq!(out[&ia].bundle, out[&ib].bundle);
    assert_eq!(
        out[&ia].checksum, smaller,
        "the group's smallest id is BUNDLE_CHECKSUM"
    );
    assert_eq!(
        [out[&ia].packed, out[&ib].packed]
            .iter()
            .filter(|p| **p)
            .count(),
        1,
        "packed once"
    );
    assert_eq!(out[&idd].kernel, uname);
    assert_ne!(out[&idd].bundle, out[&ia].bundle);
    assert_ne!(out[&idd].sha256, out[&ia].sha256);
    // Which content got the conventional key depends on which pack finished first; the other one
    // is under its digest-suffixed key.
    let expect_keys = |shared: &str, other: &str| {
        let (sa, so) = (&out[&ia].content, &out[&idd].content);
        assert!(
            (shared == plain && other == format!("bundle-{uname}-{}.tgz", &so[..12]))
                || (other == plain && shared == format!("bundle-{uname}-{}.tgz", &sa[..12])),
            "{shared} {other}"
        );
    };
    let keys = bundle_keys(bundles.as_ref()).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    expect_keys(&out[&ia].bundle, &out[&idd].bundle);
    let suffixed = keys.iter().find(|k| **k != plain).unwrap().clone();

    // 2. A later id with the same content (c) is indexed without packing.
    let oc = ondemand::pack_id(&ctx, &ic, &c).await.unwrap();
    assert!(!oc.packed);
    assert_eq!(
        (oc.bundle.as_str(), oc.sha256.as_str()),
        (out[&ia].bundle.as_str(), out[&ia].sha256.as_str())
    );
    assert_eq!(bundle_keys(bundles.as_ref()).await.len(), 2);

    let all = assert_index_true(bundles.clone(), work.path()).await;
    assert_eq!(all.len(), 4);
    let resolved: BTreeSet<&str> = index::resolve(&all, &plain)
        .iter()
        .map(|e| e.bundle.as_str())
        .collect();
    assert_eq!(
        resolved,
        BTreeSet::from([plain.as_str(), suffixed.as_str()])
    );
    assert_eq!(all[&idd].name, plain);
    assert_eq!(all[&ia].name, plain);
    assert_eq!(
        all[&ic].packages, c.packages,
        "each entry keeps its own packages"
    );
    assert!(ondemand::missing_ids(&manifest, bundles.as_ref())
        .await
        .unwrap()
        .is_empty());

    // 3. The same four ids packed concurrently, one `pack_id` each, into an empty store (a
    // directory store: see the module docs).
    let bundles2: Arc<dyn Store> = Arc::new(kernel_packer::store::DirStore::new(
        work.path().join("bundles2"),
    ));
    let ctx2 = PackContext {
        packages: packages.clone(),
        bundles: bundles2.clone(),
        work_dir: Some(work.path().join("w2")),
        verify: None,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, s) in [(&ia, &a), (&ib, &b), (&idd, &d)] {
        let (ctx2, i, s) = (ctx2.clone(), i.clone(), s.clone());
        tasks.spawn(async move { ondemand::pack_id(&ctx2, &i, &s).await });
    }
    let mut concurrent = Vec::new();
    while let Some(r) = tasks.join_next().await {
        concurrent.push(r.unwrap().unwrap_or_else(|e| panic!("{e:#}")));
    }
    assert_eq!(concurrent.len(), 3);
    let keys2 = bundle_keys(bundles2.as_ref()).await;
    assert_eq!(keys2.len(), 2, "{keys2:?}");
    let all2 = assert_index_true(bundles2.clone(), work.path()).await;
    assert_eq!(all2.len(), 3);
    let shared: BTreeSet<&str> = [&ia, &ib]
        .iter()
        .map(|i| all2[*i].bundle.as_str())
        .collect();
    assert_eq!(shared.len(), 1, "{shared:?}");
    expect_keys(shared.first().unwrap(), &all2[&idd].bundle);
    let checksums: BTreeSet<&str> = [&ia, &ib]
        .iter()
        .map(|i| all2[*i].checksum.as_str())
        .collect();
    assert_eq!(checksums.len(), 1, "one BUNDLE_CHECKSUM for one bundle");
    // Work dirs are cleaned up.
    for w in ["w", "w2"] {
        let left: Vec<_> = std::fs::read_dir(work.path().join(w))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// The directory store gives the same write-once guarantee across threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_store_create_is_write_once_under_concurrency() {
    use kernel_packer::store::{Created, DirStore};
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().join("s")));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..16u8 {
        let store = store.clone();
        let src = dir.path().join(format!("src{n}"));
        std::fs::write(&src, [n; 100]).unwrap();
        tasks.spawn(async move {
            store
                .create_file("k", &src, None, &format!("t{n}"))
                .await
                .unwrap()
        });
    }
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Created::New(info) => winners.push(info),
            Created::Existing { info, tag } => seen.push((info, tag)),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = store.get_bytes("k").await.unwrap().unwrap();
    let sha = kernel_packer::names::sha256_hex(&stored);
    assert_eq!(winners[0].sha256.as_deref(), Some(sha.as_str()));
    let tag = format!("t{}", stored[0]);
    for (info, t) in seen {
        assert_eq!(info.sha256.as_deref(), Some(sha.as_str()));
        assert_eq!(t.as_deref(), Some(tag.as_str()));
    }
}
