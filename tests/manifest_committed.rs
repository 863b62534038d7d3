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
