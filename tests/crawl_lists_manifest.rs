//! The crawler writes lists sorted and deduplicated (comments first). The manifest generator
//! reads lists in file order, so this checks that rewriting every committed list in the
//! crawler's canonical form yields the same manifest: the same ids, each with the same type
//! and package set (only the order of packages inside a set, which ids ignore, may differ).

use std::path::Path;

use kernel_packer::crawl::config::Config;
use kernel_packer::lists;
use kernel_packer::manifest::generate_from_files;

#[test]
fn canonical_lists_generate_the_same_manifest() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
    let sources = Config::load(&src.join("sources.yml")).unwrap();
    // The layout the crawler writes each list in (uncrawled companions follow their source).
    let order = |name: &str| {
        sources
            .sources
            .iter()
            .find(|s| s.list == name || s.uncrawled_list() == name)
            .map(|s| s.order)
            .unwrap_or_default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rewritten = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let out = if name.ends_with(".txt") {
            let canonical = lists::parse(&text).render_with(order(&name));
            rewritten += usize::from(canonical != text);
            canonical
        } else {
            text
        };
        std::fs::write(dir.path().join(&name), out).unwrap();
    }
    assert!(
        rewritten > 10,
        "the committed lists are not canonical yet: the check would be vacuous"
    );
    let original = generate_from_files(&src.join("reformat.yml"), None, None).unwrap();
    let canonical = generate_from_files(&dir.path().join("reformat.yml"), None, None).unwrap();
    assert!(!original.failed() && !canonical.failed());
    let sets = |m: &kernel_packer::manifest::Generated| {
        m.manifest
            .entries
            .iter()
            .map(|(id, e)| {
                let mut p = e.packages.clone();
                p.sort();
                (id.clone(), e.kind.clone(), p)
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (sets(&original), sets(&canonical));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
}
