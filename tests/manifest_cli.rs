//! `kernel-packer manifest` front end: output file, summary, failure handling.

use std::path::Path;

use kernel_packer::cli::manifest::{execute, ManifestArgs};
use kernel_packer::manifest::{Entry, Manifest};
use kernel_packer::names::{manifest_id, simplify};

const GOOD: &str = "https://h/kernel-devel-4.18.0-1.el8.x86_64.rpm";
const PAIR: [&str; 2] = [
    "http://u/linux-headers-5.4.0-1-aws_5.4.0-1.2_amd64.deb",
    "http://u/linux-aws-headers-5.4.0-1_5.4.0-1.2_all.deb",
];
const UNPAIRED: &str = "http://u/linux-headers-5.4.0-9-aws_5.4.0-9.9_amd64.deb";

fn setup(dir: &Path) {
    std::fs::write(
        dir.join("reformat.yml"),
        "- {name: rhel, type: redhat, file: rhel.txt, reformat: single}\n\
         - {name: ubuntu, type: ubuntu, file: ubuntu.txt, reformat: pairs}\n",
    )
    .unwrap();
    std::fs::write(dir.join("rhel.txt"), format!("{GOOD}\n")).unwrap();
    std::fs::write(
        dir.join("ubuntu.txt"),
        format!("{}\n{}\n{UNPAIRED}\n", PAIR[0], PAIR[1]),
    )
    .unwrap();
    // The previous manifest had the unpaired kernel with its (now vanished) common package.
    let pair: Vec<String> = [
        UNPAIRED,
        "http://u/linux-aws-headers-5.4.0-9_5.4.0-9.9_all.deb",
    ]
    .iter()
    .map(|u| simplify(u))
    .collect();
    let mut prev = Manifest::default();
    prev.entries.insert(
        manifest_id(&pair),
        Entry {
            kind: "ubuntu".into(),
            packages: pair,
            arch: None,
        },
    );
    std::fs::write(dir.join("previous.yml"), prev.to_yaml()).unwrap();
}

fn args(dir: &Path, previous: bool) -> ManifestArgs {
    ManifestArgs {
        config: dir.join("reformat.yml"),
        inventory: None,
        previous: previous.then(|| dir.join("previous.yml")),
        out: Some(dir.join("out.yml")),
    }
}

#[test]
fn rejected_kernel_is_reported_carried_over_and_the_rest_written() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let outcome = execute(&args(dir.path(), true)).unwrap();
    assert!(!outcome.generated.failed());
    assert!(outcome.generated.partial());
    let summary = &outcome.summary;
    assert!(
        summary.contains("REJECTED ")
            && summary.contains("ubuntu.txt")
            && summary.contains(UNPAIRED)
            && summary.contains("unpaired"),
        "{summary}"
    );
    assert!(summary.contains("1 carried over"), "{summary}");
    assert!(summary.contains("0 of 2 sources failed"), "{summary}");
    let written = std::fs::read_to_string(dir.path().join("out.yml")).unwrap();
    assert_eq!(written, outcome.yaml);
    let m = Manifest::parse(written.as_bytes(), "out").unwrap();
    assert_eq!(
        m.entries.len(),
        3,
        "rhel set + the good ubuntu pair + the carried set"
    );

    // Without --previous the rejected kernel is simply absent (still reported).
    let outcome = execute(&args(dir.path(), false)).unwrap();
    assert!(outcome.generated.partial());
    assert_eq!(outcome.generated.manifest.entries.len(), 2);
}

fn run_cli(dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kernel-packer"))
        .arg("manifest")
        .arg("--config")
        .arg(dir.join("reformat.yml"))
        .arg("--out")
        .arg(dir.join("out.yml"))
        .output()
        .unwrap()
}

#[test]
fn malformed_url_among_good_ones_exits_partial() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("ubuntu.txt"),
        format!("{}\n{}\nhttp://u/linux headers.deb\n", PAIR[0], PAIR[1]),
    )
    .unwrap();
    let out = run_cli(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(kernel_packer::cli::manifest::EXIT_PARTIAL)),
        "{stderr}"
    );
    assert!(
        stderr.contains("ubuntu.txt: http://u/linux headers.deb: malformed URL"),
        "{stderr}"
    );
    let m = Manifest::load(dir.path().join("out.yml")).unwrap();
    assert_eq!(m.entries.len(), 2, "the good sets are grouped and written");

    // A source that fails as a whole is a different exit status.
    std::fs::write(
        dir.path().join("reformat.yml"),
        "- {name: ubuntu, type: ubuntu, file: ubuntu.txt, reformat: triples}\n",
    )
    .unwrap();
    let out = run_cli(dir.path());
    assert_eq!(
        out.status.code(),
        Some(i32::from(kernel_packer::cli::manifest::EXIT_SOURCE_FAILED))
    );
}

#[test]
fn fatal_errors_leave_the_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("out.yml"), "keep me\n").unwrap();
    std::fs::write(dir.path().join("previous.yml"), "- not a manifest\n").unwrap();
    let err = format!("{:#}", execute(&args(dir.path(), true)).unwrap_err());
    assert!(err.contains("previous.yml"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yml")).unwrap(),
        "keep me\n"
    );
}

#[test]
fn successful_run_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(
        dir.path().join("ubuntu.txt"),
        format!("{}\n{}\n", PAIR[1], PAIR[0]),
    )
    .unwrap();
    let a = execute(&args(dir.path(), false)).unwrap();
    assert!(!a.generated.failed());
    let b = execute(&args(dir.path(), false)).unwrap();
    assert_eq!(a.yaml, b.yaml);
    assert!(a.summary.contains("0 of 2 sources failed"), "{}", a.summary);
}
