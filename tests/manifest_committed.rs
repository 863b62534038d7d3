//! The committed `kernel-package-lists/manifest.yml` must be exactly what the generator
//! produces from the committed lists, so the two cannot drift. To refresh it:
//! `kernel-packer manifest --config kernel-package-lists/reformat.yml --out kernel-package-lists/manifest.yml`.

use std::path::PathBuf;

use kernel_packer::manifest::{generate_from_files, Manifest};

#[test]
fn committed_manifest_matches_the_committed_lists() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
    let committed = std::fs::read_to_string(dir.join("manifest.yml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("manifest.yml").display()));
    let got = generate_from_files(&dir.join("reformat.yml"), None, None).unwrap();
    for s in &got.sources {
        assert_eq!(s.error, None, "source {} failed", s.name);
    }
    let fresh = got.manifest.to_yaml();
    if fresh != committed {
        let old = Manifest::parse(committed.as_bytes(), "committed").unwrap();
        let added = got
            .manifest
            .entries
            .keys()
            .filter(|k| !old.entries.contains_key(*k))
            .count();
        let removed = old
            .entries
            .keys()
            .filter(|k| !got.manifest.entries.contains_key(*k))
            .count();
        panic!(
            "kernel-package-lists/manifest.yml is stale ({added} ids to add, {removed} to remove); regenerate it with \
             `kernel-packer manifest --config kernel-package-lists/reformat.yml --out kernel-package-lists/manifest.yml`"
        );
    }
}

#[test]
fn kernel_lookup_on_the_committed_manifest() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/manifest.yml");
    let m = Manifest::load(&path).unwrap();
    let kinds = |uname: &str| -> Vec<String> {
        let ids = m.find_by_kernel(uname);
        let mut kinds: Vec<String> = ids.iter().map(|id| m.entries[*id].kind.clone()).collect();
        kinds.sort();
        kinds
    };
    // Same kernel in the csail and security pools: two sets.
    assert_eq!(kinds("5.10.0-30-amd64"), ["debian", "debian"]);
    assert_eq!(kinds("5.4.0-1103-gke"), ["ubuntu"]);
    assert_eq!(kinds("5.15.114-gardenlinux-cloud-amd64"), ["garden"]);
    assert_eq!(kinds("5.14.21-150400.24.100-default"), ["suse"]);
    assert_eq!(kinds("5.4.17-2136.300.7.el7uek.x86_64"), ["oracle"]);
    // One internal and two OpenShift mirror copies of the same RPM.
    assert_eq!(
        kinds("4.18.0-372.46.1.el8_6.x86_64"),
        ["redhat", "redhat", "redhat"]
    );
    // Twelve minikube releases ship kernel 5.10.57.
    assert_eq!(kinds("5.10.57").len(), 12);
    assert!(kinds("5.10.5").is_empty());
    assert!(kinds("9.9.9-does-not-exist").is_empty());
}
