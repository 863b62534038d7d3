//! Manifest generation: group package lists into per-kernel sets, compatibly with the seed.
//!
//! - [`config`]: the `reformat.yml` format (sources: name, type, list file, rule).
//! - [`lists`]: list files (one URL per line).
//! - [`rules`]: grouping rules, one module each (single, one-to-each, one-to-pairs, pairs,
//!   debian, suse, cos, minikube), with host partitioning.
//! - [`generate()`]: ids, inventory filter, carry-over of failed sources, report.
//! - [`model`]: the [`Manifest`] type, YAML reading and deterministic writing.
//! - [`lookup`]: lookup by kernel release, [`Manifest::find_by_kernel`].
//! - This module: the file edges ([`generate_from_files`], [`read_inventory`], [`write_atomic`]).

pub mod config;
pub mod generate;
pub mod lists;
pub mod lookup;
pub mod model;
pub mod rules;
pub mod urls;
pub mod version;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

pub use config::{Config, Source};
pub use generate::{generate, Generated, SourceInput, SourceReport};
pub use model::{Entry, Manifest};
pub use rules::{GroupError, Rule};

/// Reads the config, every list file (a list that cannot be read fails only its source),
/// the optional inventory and previous manifest, and generates the manifest.
/// Errors: unreadable or invalid config, inventory or previous manifest.
pub fn generate_from_files(
    config: &Path,
    inventory: Option<&Path>,
    previous: Option<&Path>,
) -> anyhow::Result<Generated> {
    let cfg = Config::load(config)?;
    let inventory = inventory.map(read_inventory).transpose()?;
    let previous = previous.map(Manifest::load).transpose()?;
    let inputs: Vec<SourceInput> = cfg
        .sources
        .iter()
        .map(|source| {
            let path = cfg.list_path(source);
            let file = path.display().to_string();
            let urls = std::fs::File::open(&path)
                .and_then(|f| lists::read(std::io::BufReader::new(f)))
                .map_err(|e| format!("{file}: cannot read list: {e}"));
            SourceInput { source, file, urls }
        })
        .collect();
    Ok(generate(&inputs, inventory.as_ref(), previous.as_ref()))
}

/// Reads an inventory file: one simplified package name per line (list-file syntax).
pub fn read_inventory(path: &Path) -> anyhow::Result<HashSet<String>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot open inventory", path.display()))?;
    let names = lists::read(std::io::BufReader::new(file))
        .with_context(|| format!("{}: cannot read inventory", path.display()))?;
    Ok(names.into_iter().collect())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`. On error `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot replace", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_from_files_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reformat.yml"),
            "- {name: r, type: redhat, file: r.txt, reformat: single}\n- {name: missing, type: redhat, file: nope.txt, reformat: single}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("r.txt"),
            "# c\nhttps://h/kernel-devel-1.rpm\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("inv.txt"), "https---h-kernel-devel-1.rpm\n").unwrap();
        let got = generate_from_files(
            &dir.path().join("reformat.yml"),
            Some(&dir.path().join("inv.txt")),
            None,
        )
        .unwrap();
        assert_eq!(got.manifest.entries.len(), 1);
        let err = got.sources[1].error.as_deref().unwrap();
        assert!(
            err.contains("nope.txt") && err.contains("cannot read list"),
            "{err}"
        );

        let out = dir.path().join("manifest.yml");
        write_atomic(&out, got.manifest.to_yaml().as_bytes()).unwrap();
        assert_eq!(Manifest::load(&out).unwrap(), got.manifest);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 4, "no temporary file left behind");

        let err = format!(
            "{:#}",
            generate_from_files(&dir.path().join("absent.yml"), None, None).unwrap_err()
        );
        assert!(err.contains("absent.yml"), "{err}");
        let err = format!(
            "{:#}",
            read_inventory(&dir.path().join("no-inv.txt")).unwrap_err()
        );
        assert!(err.contains("no-inv.txt"), "{err}");
    }
}
