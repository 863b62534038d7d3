//! `kernel-packer status`: the freshness report of a bundle store, refreshed from a lists directory;
//! a listed kernel waits until its id is indexed.

use crate::support;

use kernel_packer::index::{self, IndexEntry};
use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::store::DirStore;

#[test]
fn status_shows_waiting_kernels_until_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    let url = "http://deb.test/pool/linux-headers-6.1.0-7-amd64_6.1.20-1_amd64.deb";
    let id = manifest_id(&[simplify(url)]);
    std::fs::write(lists.join("debian.txt"), format!("{url}\n")).unwrap();
    std::fs::write(
        lists.join("manifest.yml"),
        format!(
            "{id}:\n  type: debian\n  packages:\n  - {}\n",
            simplify(url)
        ),
    )
    .unwrap();
    let bundles = dir.path().join("bundles");
    let status = |extra: &[&str]| {
        let out = support::kernel_packer()
            .args(["status", "--bundles", bundles.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert_eq!(status(&[]).0, Some(1), "no report yet");
    let (code, text) = status(&["--lists", lists.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert!(
        text.contains("debian: last successful crawl never; newest kernel 6.1.0-7-amd64; 1 listed, 1 without a bundle"),
        "{text}"
    );
    assert!(
        text.contains("waiting since 0m ago: 6.1.0-7-amd64"),
        "{text}"
    );
    let entry = IndexEntry {
        id: id.clone(),
        kind: "debian".into(),
        bundle: "bundle-6.1.0-7-amd64.tgz".into(),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(index::write_entry(&DirStore::new(bundles.clone()), &entry))
        .unwrap();
    let (_, text) = status(&[]);
    assert!(text.contains("1 listed, 0 without a bundle"), "{text}");
    let (_, json) = status(&["--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["sources"]["debian"]["listed"], 1);
}
