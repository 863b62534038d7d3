//! Real signed metadata: a genuine Debian `InRelease` (left by `apt-get update` in
//! /var/lib/apt/lists/) verifies against Debian's archive keys (package
//! `debian-archive-keyring`), and is rejected with one byte changed or against another key.
//! Both are installed by scripts/setup.d/50-crawl-signed-apt-metadata.sh; missing → the test
//! fails.

mod crawl_support;

use std::path::{Path, PathBuf};

use kernel_packer::crawl::apt::parse_release;
use kernel_packer::crawl::verify::Keyring;

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const LISTS: &str = "/var/lib/apt/lists";

/// Copies the system's InRelease files and keyring into a temporary directory.
fn copy_real_files(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
    let key = dir.join("debian-archive-keyring.gpg");
    std::fs::copy(KEYRING, &key).unwrap_or_else(|e| {
        panic!("{KEYRING}: {e} (run scripts/setup.d/50-crawl-signed-apt-metadata.sh)")
    });
    let mut files = Vec::new();
    for entry in std::fs::read_dir(LISTS).unwrap_or_else(|e| panic!("{LISTS}: {e}")) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("_InRelease") {
            let to = dir.join(&name);
            std::fs::copy(entry.path(), &to).unwrap();
            files.push(to);
        }
    }
    assert!(
        !files.is_empty(),
        "no InRelease in {LISTS} (run scripts/setup.d/50-crawl-signed-apt-metadata.sh)"
    );
    files.sort();
    (files, key)
}

#[test]
fn genuine_inrelease_verifies_and_one_changed_byte_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = copy_real_files(dir.path());
    let keyring = Keyring::load(&key).unwrap();
    assert!(keyring.len() >= 3, "Debian's keyring holds several keys");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let what = file.display().to_string();
        let signed = keyring
            .verify_cleartext(&text, &what)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let index = parse_release(&signed).unwrap();
        assert!(
            index.keys().any(|p| p.contains("/binary-")),
            "{what}: no Packages entries"
        );

        // Change one byte inside the signed text: a digit of the first SHA256 entry.
        let at = text.find("SHA256:\n").expect("SHA256 section") + 9;
        let mut bytes = text.clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_ne!(tampered, text);
        let err = keyring
            .verify_cleartext(&tampered, &what)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad signature"), "{err}");
    }
}

#[test]
fn genuine_inrelease_is_rejected_by_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = copy_real_files(dir.path());
    let other = crawl_support::fixtures::Signer::new("Not Debian <x@invalid>");
    let keyring = Keyring::from_bytes(&other.public, "test key").unwrap();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let err = keyring
        .verify_cleartext(&text, "InRelease")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad signature"), "{err}");
}
