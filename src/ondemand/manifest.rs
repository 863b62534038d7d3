//! Minimal manifest reader for pack on demand: `id: {type, packages: [...]}` YAML.
//!
//! Kept deliberately small and private to this stage so the full `crate::manifest` reader can
//! replace [`load`] and [`find_by_kernel`] without touching the rest.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Deserialize;

use crate::store::{S3Options, StoreUrl};

/// One kernel's package set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestSet {
    /// Packer type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Simplified package names (store keys).
    pub packages: Vec<String>,
}

/// Manifest id → set.
pub type Manifest = BTreeMap<String, ManifestSet>;

/// Parses manifest YAML; `origin` names the source in errors.
pub fn parse(origin: &str, text: &str) -> anyhow::Result<Manifest> {
    let m: Option<Manifest> =
        serde_norway::from_str(text).with_context(|| format!("{origin}: not a valid manifest"))?;
    Ok(m.unwrap_or_default())
}

/// Loads the manifest from a file path or an object URL (`s3://bucket/key`).
pub async fn load(location: &str, s3: &S3Options) -> anyhow::Result<Manifest> {
    let text = if location.starts_with("s3://") {
        let (url, key) = StoreUrl::parse_object(location)?;
        let store = crate::store::open_url(&url, s3).await?;
        let bytes = store
            .get_bytes(&key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("manifest {location}: no such object"))?;
        String::from_utf8(bytes).with_context(|| format!("manifest {location}: not UTF-8"))?
    } else {
        tokio::fs::read_to_string(location)
            .await
            .with_context(|| format!("read manifest {location}"))?
    };
    parse(location, &text)
}

/// The id whose packages name kernel `uname` (the release appears in a package name, delimited by
/// non-version characters). Errors when none or several ids match.
pub fn find_by_kernel(manifest: &Manifest, uname: &str) -> anyhow::Result<String> {
    let uname = uname.trim();
    if uname.is_empty() {
        anyhow::bail!("empty kernel release");
    }
    let hits: Vec<&String> = manifest
        .iter()
        .filter(|(_, set)| set.packages.iter().any(|p| names_release(p, uname)))
        .map(|(id, _)| id)
        .collect();
    match hits[..] {
        [id] => Ok(id.clone()),
        [] => anyhow::bail!("kernel {uname}: no manifest entry has a package for it"),
        _ => anyhow::bail!(
            "kernel {uname}: ambiguous, {} manifest entries match ({})",
            hits.len(),
            hits.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn names_release(package: &str, uname: &str) -> bool {
    let bytes = package.as_bytes();
    package.match_indices(uname).any(|(at, _)| {
        let before_ok = at == 0 || matches!(bytes[at - 1], b'-' | b'_');
        let end = at + uname.len();
        // `_` starts the package version; `.`/`-` must not continue the release with a digit.
        let after_ok = end == bytes.len()
            || bytes[end] == b'_'
            || (matches!(bytes[end], b'.' | b'-')
                && !bytes.get(end + 1).is_some_and(u8::is_ascii_digit));
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "# generated\n\
a1:\n  type: debian\n  packages:\n  - http---d-linux-kbuild-5.10_5.10.218-1_amd64.deb\n  - http---d-linux-headers-5.10.0-28-cloud-amd64_5.10.209-2_amd64.deb\n\
b2:\n  type: redhat\n  packages:\n  - https---m-kernel-devel-3.10.0-1160.80.1.el7.x86_64.rpm\n\
c3:\n  type: debian\n  packages:\n  - http---d-linux-headers-5.10.0-28-amd64_5.10.209-2_amd64.deb\n";

    #[test]
    fn parses_and_finds_kernels() {
        let m = parse("m.yml", M).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["b2"].kind, "redhat");
        assert_eq!(find_by_kernel(&m, "5.10.0-28-cloud-amd64").unwrap(), "a1");
        assert_eq!(find_by_kernel(&m, "5.10.0-28-amd64").unwrap(), "c3");
        assert_eq!(
            find_by_kernel(&m, "3.10.0-1160.80.1.el7.x86_64").unwrap(),
            "b2"
        );
        // A prefix of a longer release is not a match.
        assert!(find_by_kernel(&m, "3.10.0-1160.80").is_err());
        assert!(find_by_kernel(&m, "5.10.0-2").is_err());
        let err = find_by_kernel(&m, "9.9.9").unwrap_err().to_string();
        assert!(err.contains("9.9.9"), "{err}");
    }

    #[test]
    fn ambiguity_is_reported() {
        let m = parse("m.yml", &format!("{M}d4:\n  type: debian\n  packages:\n  - x-linux-headers-5.10.0-28-amd64_1_amd64.deb\n")).unwrap();
        let err = find_by_kernel(&m, "5.10.0-28-amd64")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ambiguous") && err.contains("c3") && err.contains("d4"),
            "{err}"
        );
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let err = format!("{:#}", parse("some/manifest.yml", "a: [").unwrap_err());
        assert!(err.contains("some/manifest.yml"), "{err}");
        assert!(parse("x", "").unwrap().is_empty());
    }
}
