//! The browsable index in a real browser: `kernel-packer index --html` writes the page and its
//! JSON; Debian's headless chromium, driven over the DevTools protocol by tests/browser/search.mjs,
//! gets a kernel typed into the search box; exactly the matching row stays visible, and a
//! screenshot is saved into the test's output dir (target/index-html/).

use crate::support;

use std::process::Command;

use kernel_packer::index::{self, Features, IndexEntry, Verification};
use kernel_packer::store::DirStore;

fn entry(n: u8, kernel: &str, distro: &str, verification: Option<Verification>) -> IndexEntry {
    IndexEntry {
        id: format!("{n:02x}").repeat(32),
        kind: distro.into(),
        packages: vec![format!("p{n}")],
        bundle: format!("bundle-{kernel}.tgz"),
        sha256: format!("{:02x}", n + 16).repeat(32),
        size: 13_850_213 + n as u64,
        kernel: kernel.into(),
        distro: distro.into(),
        arch: "amd64".into(),
        features: Features {
            btf: true,
            bpf_ringbuf: n % 2 == 0,
        },
        verification,
        packed_at: Some(1_700_000_000),
        ..Default::default()
    }
}

#[test]
fn search_in_headless_chromium_shows_the_matching_row() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("bundles");
    let store = DirStore::new(store_dir.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let verified = Some(Verification::Verified {
        module: true,
        ebpf: true,
        compiler: "gcc-12".into(),
    });
    for e in [
        entry(1, "6.1.0-57-amd64", "debian", verified.clone()),
        entry(2, "6.1.0-21-amd64", "debian", verified),
        entry(3, "5.15.0-1051-aws", "ubuntu", None),
        entry(
            4,
            "4.18.0-513.el8.x86_64",
            "redhat",
            Some(Verification::Unverified {
                reason: "module: the kernel's compiler is not installed".into(),
            }),
        ),
    ] {
        rt.block_on(index::write_entry(&store, &e)).unwrap();
    }
    support::run(
        support::kernel_packer()
            .args(["index", "--bundles"])
            .arg(&store_dir)
            .arg("--html")
            .arg(&store_dir),
    );
    let page = store_dir.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store_dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(json.as_object().unwrap().len(), 4);
    eprintln!("index.html: {} bytes for 4 bundles", html.len());
    // Usable without JavaScript: every row is in the markup.
    for k in [
        "6.1.0-57-amd64",
        "6.1.0-21-amd64",
        "5.15.0-1051-aws",
        "4.18.0-513.el8.x86_64",
    ] {
        assert!(html.contains(&format!("<td>{k}</td>")), "{k}");
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));

    let shots = support::repo_root().join("target/index-html");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("search-6.1.0-21.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(support::repo_root().join("tests/browser/search.mjs"))
        .arg("/usr/bin/chromium")
        .arg(format!("file://{}", page.display()))
        .arg("6.1.0-21")
        .arg(&shot)
        .arg(profile.path())
        .output()
        .expect("node (scripts/setup.d) and chromium (scripts/setup.d/60-verify-toolchain.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["total"], 4, "{result}");
    assert_eq!(
        result["visible"],
        serde_json::json!(["6.1.0-21-amd64"]),
        "{result}"
    );
    assert_eq!(result["shown"], "1");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "screenshot"
    );
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());
}
