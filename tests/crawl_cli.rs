//! `kernel-packer crawl` front end (`cli::crawl::run`) against the fixture mirror: exit
//! status, mirror overrides, config and keys beside it, lists left alone on failure.

mod crawl_support;

use std::process::ExitCode;

use crawl_support::mirror::Fault;
use crawl_support::world::World;
use kernel_packer::cli::crawl::{parse_override, run, CrawlArgs};

fn args(w: &World, dir: &std::path::Path, sources: &[&str]) -> CrawlArgs {
    CrawlArgs {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        all: false,
        lists: w.lists.path().to_path_buf(),
        config: Some(dir.join("sources.yml")),
        cache_dir: Some(dir.join("cache")),
        no_cache: false,
        mirror_overrides: w
            .mirror
            .overrides(&w.hosts)
            .into_iter()
            .map(|(f, t)| format!("{f}={t}"))
            .collect(),
        ca_certs: vec![],
        request_timeout: Some(5.0),
        source_timeout: Some(60.0),
        retries: Some(1),
        backoff_ms: Some(5),
        json: false,
    }
}

/// The project's sources.yml copied beside a `keys/` directory holding the fixture key.
fn config_dir(w: &World) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let real =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/sources.yml");
    std::fs::copy(real, dir.path().join("sources.yml")).unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    for s in &w.config.sources {
        if let Some(k) = &s.key {
            std::fs::write(dir.path().join("keys").join(k), &w.signer.public).unwrap();
        }
    }
    dir
}

#[test]
fn crawl_command_exit_status_and_lists() {
    let w = World::build();
    let dir = config_dir(&w);
    let code = run(args(&w, dir.path(), &["linuxkit", "flatcar", "debian.txt"])).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    for list in ["linuxkit.txt", "flatcar.txt", "debian.txt"] {
        assert_eq!(w.list(list), w.expected[list], "{list}");
    }

    // A failing source: non-zero exit, its list untouched, the other source still done.
    std::fs::remove_file(w.lists.path().join("linuxkit.txt")).unwrap();
    let flatcar_before = std::fs::read(w.lists.path().join("flatcar.txt")).unwrap();
    w.mirror.fault(
        "https://stable.release.flatcar-linux.net/amd64-usr/",
        Fault::Status(502),
    );
    let code = run(args(&w, dir.path(), &["linuxkit", "flatcar"])).unwrap();
    assert_eq!(code, ExitCode::FAILURE);
    assert_eq!(
        std::fs::read(w.lists.path().join("flatcar.txt")).unwrap(),
        flatcar_before
    );
    assert_eq!(w.list("linuxkit.txt"), w.expected["linuxkit.txt"]);
}

#[test]
fn crawl_command_rejects_bad_input() {
    let w = World::build();
    let dir = config_dir(&w);
    let err = run(args(&w, dir.path(), &["no-such-source"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-source"), "{err}");
    let err = run(args(&w, dir.path(), &[])).unwrap_err().to_string();
    assert!(err.contains("--all"), "{err}");
    assert!(parse_override("http://a/=http://b/").is_ok());
    assert!(parse_override("nonsense").is_err());
    let mut a = args(&w, dir.path(), &["linuxkit"]);
    a.config = Some(dir.path().join("missing.yml"));
    let err = format!("{:#}", run(a).unwrap_err());
    assert!(err.contains("missing.yml"), "{err}");
}
