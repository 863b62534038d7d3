//! Manifest access for pack on demand: loading from a file or an object URL, and a kernel lookup
//! that must name exactly one id. Grouping and matching rules live in [`crate::manifest`].

use anyhow::Context;

pub use crate::manifest::{Entry as ManifestSet, Manifest};
use crate::store::{S3Options, StoreUrl};

/// Loads the manifest from a file path or an object URL (`s3://bucket/key`).
pub async fn load(location: &str, s3: &S3Options) -> anyhow::Result<Manifest> {
    if location.starts_with("s3://") {
        let (url, key) = StoreUrl::parse_object(location)?;
        let store = crate::store::open_url(&url, s3).await?;
        let bytes = store
            .get_bytes(&key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("manifest {location}: no such object"))?;
        Manifest::parse(bytes.as_slice(), location)
    } else {
        let location = location.to_string();
        tokio::task::spawn_blocking(move || Manifest::load(&location))
            .await
            .context("manifest reader panicked")?
    }
}

/// The sets of `manifest` whose architecture (`arch:`, absent: amd64) is `arch`.
pub fn only_arch(manifest: &Manifest, arch: crate::pack::arch::Arch) -> Manifest {
    Manifest {
        entries: manifest
            .entries
            .iter()
            .filter(|(_, e)| e.arch() == arch.as_str())
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect(),
    }
}

/// The one id whose packages are for kernel `uname` ([`Manifest::find_by_kernel`]); errors when
/// none or several ids match (several: use the id).
pub fn find_by_kernel(manifest: &Manifest, uname: &str) -> anyhow::Result<String> {
    let hits = manifest.find_by_kernel(uname);
    match hits[..] {
        [id] => Ok(id.clone()),
        [] => anyhow::bail!("kernel {uname:?}: no manifest entry has packages for it"),
        _ => anyhow::bail!(
            "kernel {uname}: ambiguous, {} manifest entries match ({}); pack by id",
            hits.len(),
            hits.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "# generated\n\
a1:\n  type: debian\n  packages:\n  - http---d-linux-kbuild-5.10_5.10.218-1_amd64.deb\n  - http---d-linux-headers-5.10.0-28-cloud-amd64_5.10.209-2_amd64.deb\n\
b2:\n  type: redhat\n  packages:\n  - https---m-kernel-devel-3.10.0-1160.80.1.el7.x86_64.rpm\n\
c3:\n  type: debian\n  packages:\n  - http---d-linux-headers-5.10.0-28-amd64_5.10.209-2_amd64.deb\n";

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text.as_bytes(), "m.yml").unwrap()
    }

    #[test]
    fn finds_exactly_one_id() {
        let m = manifest(M);
        assert_eq!(find_by_kernel(&m, "5.10.0-28-cloud-amd64").unwrap(), "a1");
        assert_eq!(find_by_kernel(&m, "5.10.0-28-amd64").unwrap(), "c3");
        assert_eq!(
            find_by_kernel(&m, "3.10.0-1160.80.1.el7.x86_64").unwrap(),
            "b2"
        );
        let err = find_by_kernel(&m, "9.9.9").unwrap_err().to_string();
        assert!(err.contains("9.9.9"), "{err}");
        let m = manifest(&format!(
            "{M}d4:\n  type: debian\n  packages:\n  - x-linux-headers-5.10.0-28-amd64_1_amd64.deb\n"
        ));
        let err = find_by_kernel(&m, "5.10.0-28-amd64")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ambiguous") && err.contains("c3") && err.contains("d4"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn loads_files_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest.yml");
        std::fs::write(&p, M).unwrap();
        let m = load(p.to_str().unwrap(), &S3Options::default())
            .await
            .unwrap();
        assert_eq!(m.entries.len(), 3);
        std::fs::write(&p, "a: [").unwrap();
        let err = format!(
            "{:#}",
            load(p.to_str().unwrap(), &S3Options::default())
                .await
                .unwrap_err()
        );
        assert!(err.contains("manifest.yml"), "{err}");
        let err = format!(
            "{:#}",
            load("/nonexistent/m.yml", &S3Options::default())
                .await
                .unwrap_err()
        );
        assert!(err.contains("/nonexistent/m.yml"), "{err}");
    }
}
