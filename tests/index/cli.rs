//! `kernel-packer index`: combines per-id entries into `cache.yml` and `features.yml`.

use clap::Parser;
use kernel_packer::index::{self, Features, IndexEntry};
use kernel_packer::store::DirStore;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: kernel_packer::cli::index::IndexArgs,
}

#[test]
fn writes_cache_and_features_views() {
    let dir = tempfile::tempdir().unwrap();
    let bundles = dir.path().join("bundles");
    let store = DirStore::new(bundles.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (n, kernel) in [(1u8, "4.18.0-305.el8.x86_64"), (2, "5.4.0-1100-aws")] {
        let entry = IndexEntry {
            id: format!("{n:x}a").repeat(32),
            kind: "redhat".into(),
            packages: vec![format!("p{n}.rpm")],
            bundle: format!("bundle-{kernel}.tgz"),
            sha256: "ab".repeat(32),
            size: 1,
            kernel: kernel.into(),
            distro: "x".into(),
            arch: "amd64".into(),
            features: Features {
                btf: n == 1,
                bpf_ringbuf: index::has_bpf_ringbuf(kernel),
            },
            ..Default::default()
        };
        rt.block_on(index::write_entry(&store, &entry)).unwrap();
    }
    let out = dir.path().join("views");
    let args = Cli::try_parse_from([
        "index",
        "--bundles",
        bundles.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap()
    .args;
    assert_eq!(
        kernel_packer::cli::index::run(args).unwrap(),
        std::process::ExitCode::SUCCESS
    );
    let cache = std::fs::read_to_string(out.join("cache.yml")).unwrap();
    assert!(
        cache.contains(&format!("{}:\n  type: redhat\n", "1a".repeat(32))),
        "{cache}"
    );
    assert!(
        cache.contains("bundle: bundle-5.4.0-1100-aws.tgz"),
        "{cache}"
    );
    let features = std::fs::read_to_string(out.join("features.yml")).unwrap();
    assert_eq!(
        features,
        "bundle-4.18.0-305.el8.x86_64.tgz:\n  btf: true\n  bpf_ringbuf: true\n\
         bundle-5.4.0-1100-aws.tgz:\n  btf: false\n  bpf_ringbuf: false\n"
    );
    // A malformed entry is an error naming it.
    std::fs::write(bundles.join(index::entry_key(&"3a".repeat(32))), "{").unwrap();
    let args = Cli::try_parse_from(["index", "--bundles", bundles.to_str().unwrap()])
        .unwrap()
        .args;
    let err = format!("{:#}", kernel_packer::cli::index::run(args).unwrap_err());
    assert!(err.contains(&"3a".repeat(32)), "{err}");
}
