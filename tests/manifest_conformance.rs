//! Conformance with the seed on its real corpus (`tests/corpus/stackrox-2024-07`, committed
//! with the repository): every id of the corpus `manifest.yml` must come out of
//! our generator with the same type and the same package set.
//!
//! The seed kept only sets whose every package was already mirrored into its bucket, so we
//! may produce more ids, never fewer; the extras are counted per type and printed
//! (`cargo test --test manifest_conformance -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kernel_packer::manifest::{generate_from_files, Manifest};

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/stackrox-2024-07");
    assert!(
        dir.join("reformat.yml").is_file() && dir.join("manifest.yml").is_file(),
        "conformance corpus missing: expected reformat.yml and manifest.yml in {} \
         (the seed's kernel-package-lists at stackrox/kernel-packer 51be64f1)",
        dir.display()
    );
    dir
}

#[test]
fn every_seed_id_comes_out_with_the_same_type_and_packages() {
    let dir = corpus();
    let seed = Manifest::load(dir.join("manifest.yml")).unwrap();
    assert_eq!(seed.entries.len(), 6473, "unexpected corpus manifest size");
    assert!(
        seed.mismatched_ids().is_empty(),
        "corpus ids are sha256 of sorted simplified names"
    );

    let got = generate_from_files(&dir.join("reformat.yml"), None, None).unwrap();
    for s in &got.sources {
        assert_eq!(s.error, None, "source {} failed", s.name);
        assert!(
            s.conflicts.is_empty(),
            "source {}: {:?}",
            s.name,
            s.conflicts
        );
    }
    assert!(got.manifest.mismatched_ids().is_empty());

    let mut problems = Vec::new();
    for (id, want) in &seed.entries {
        match got.manifest.entries.get(id) {
            None => problems.push(format!("missing {id} ({}): {:?}", want.kind, want.packages)),
            Some(e) if e.kind != want.kind => {
                problems.push(format!("{id}: type {} want {}", e.kind, want.kind))
            }
            Some(e) => {
                let a: BTreeSet<&String> = e.packages.iter().collect();
                let b: BTreeSet<&String> = want.packages.iter().collect();
                if a != b || e.packages.len() != want.packages.len() {
                    problems.push(format!(
                        "{id}: packages {:?} want {:?}",
                        e.packages, want.packages
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} seed ids differ:\n{}",
        problems.len(),
        seed.entries.len(),
        problems[..problems.len().min(20)].join("\n")
    );

    let mut extra: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, e) in &got.manifest.entries {
        if !seed.entries.contains_key(id) {
            *extra.entry(e.kind.as_str()).or_default() += 1;
        }
    }
    let total: usize = extra.values().sum();
    println!(
        "seed ids: {} all matched; generated: {}; extra ids: {total} {extra:?}",
        seed.entries.len(),
        got.manifest.entries.len()
    );
    assert_eq!(got.manifest.entries.len(), seed.entries.len() + total);
}

#[test]
fn the_corpus_inventory_filter_reproduces_the_seed_exactly() {
    // Using the seed's own package names as the inventory must leave exactly its ids:
    // proof that every extra id is explained by the bucket filter.
    let dir = corpus();
    let seed = Manifest::load(dir.join("manifest.yml")).unwrap();
    let names: BTreeSet<&String> = seed
        .entries
        .values()
        .flat_map(|e| e.packages.iter())
        .collect();
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        tmp.path(),
        names.iter().map(|n| format!("{n}\n")).collect::<String>(),
    )
    .unwrap();
    let got = generate_from_files(&dir.join("reformat.yml"), Some(tmp.path()), None).unwrap();
    let got_ids: BTreeSet<&String> = got.manifest.entries.keys().collect();
    let seed_ids: BTreeSet<&String> = seed.entries.keys().collect();
    let extra: Vec<_> = got_ids.difference(&seed_ids).collect();
    let missing: Vec<_> = seed_ids.difference(&got_ids).collect();
    assert!(
        missing.is_empty(),
        "{} seed ids missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        extra.is_empty(),
        "{} ids survive the inventory but are not in the seed, e.g. {:?}",
        extra.len(),
        &extra[..extra.len().min(5)]
    );
}
