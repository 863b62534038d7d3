//! Packs saved by content dedup on the committed manifest, estimated before any sync: ids whose
//! sets have the same packer type and the same package file names (the last URL segment, from the
//! committed lists) are the same content listed under several mirror paths (RHEL dist/EUS, CentOS
//! mirror/vault), which `pack --missing` packs once after sync proves the digests equal.
//! Only versioned package files (`.rpm`, `.deb`) count as the same by name: tarballs and images
//! (COS, Minikube, CoreOS) reuse one file name across versions, so their sets are taken as distinct.
//! Run: `cargo bench --bench dedup` (`--profile dev` is enough: it only reads files). Prints ids,
//! distinct contents, packs saved per packer type.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kernel_packer::manifest::Manifest;
use kernel_packer::names::simplify;

fn main() {
    let lists = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
    let manifest = Manifest::load(lists.join("manifest.yml").to_str().unwrap()).expect("manifest");
    // simplified name → file name, from every list's URLs.
    let mut file_names: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&lists).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let url = line.trim();
            if url.is_empty() || url.starts_with('#') {
                continue;
            }
            let base = url.rsplit('/').next().unwrap_or(url);
            if base.ends_with(".rpm") || base.ends_with(".deb") {
                file_names.insert(simplify(url), base.to_string());
            }
        }
    }
    let mut groups: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    let mut unmapped = 0;
    for (id, set) in &manifest.entries {
        let mut names: Vec<String> = set
            .packages
            .iter()
            .map(|p| {
                file_names.get(p).cloned().unwrap_or_else(|| {
                    unmapped += 1;
                    p.clone()
                })
            })
            .collect();
        names.sort();
        groups
            .entry((set.kind.clone(), names))
            .or_default()
            .push(id.clone());
    }
    let ids = manifest.entries.len();
    let shared: Vec<&Vec<String>> = groups.values().filter(|g| g.len() > 1).collect();
    let saved: usize = shared.iter().map(|g| g.len() - 1).sum();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for ((kind, _), g) in &groups {
        if g.len() > 1 {
            *kinds.entry(kind.as_str()).or_default() += g.len() - 1;
        }
    }
    let sizes: BTreeSet<usize> = shared.iter().map(|g| g.len()).collect();
    println!("manifest ids:                     {ids}");
    println!("distinct contents (by file name): {}", groups.len());
    println!("contents listed under >1 id:      {}", shared.len());
    println!(
        "packs saved by content dedup:     {saved} ({:.1}% of ids)",
        100.0 * saved as f64 / ids as f64
    );
    println!("saved per packer type:            {kinds:?}");
    println!("ids per shared content:           {sizes:?}");
    println!("packages compared by full URL:    {unmapped}");
}
