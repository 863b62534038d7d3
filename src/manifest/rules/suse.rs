//! `suse`: the noarch `kernel-devel-V.B.noarch.rpm` and the x86_64
//! `kernel-<flavour>-devel-V.B.x86_64.rpm` of the same kernel version `V` (`x.y.z-<release>`,
//! e.g. `5.14.21-150400.24.100`, the uname without flavour) make a set `[noarch, x86_64]`.
//! The trailing rebuild number `B` may differ between the two (`4.12.14-122.124.2.noarch`
//! pairs with `4.12.14-122.124.3.x86_64`, as in the seed). Each version must have exactly
//! one of each.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{GroupError, Set};
use crate::manifest::urls;

static DEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^kernel-(?:([A-Za-z0-9_]+)-)?devel-(\d+\.\d+(?:\.\d+)*-\d+(?:\.\d+)*)\.\d+\.(noarch|x86_64|aarch64)\.rpm$")
        .expect("valid regex")
});

#[derive(Default)]
struct Pair {
    noarch: Option<String>,
    arch: Option<String>,
}

/// Groups one host's SUSE devel RPM URLs into `[noarch, x86_64]` pairs.
pub fn group(urls: &[String]) -> Result<Vec<Set>, GroupError> {
    let mut pairs: BTreeMap<String, Pair> = BTreeMap::new();
    for url in urls {
        let c = DEVEL.captures(urls::file_name(url)).ok_or_else(|| {
            GroupError::at(url, "not a SUSE `kernel-[<flavour>-]devel-<x.y.z>-<release>.<build>.(noarch|x86_64).rpm`")
        })?;
        let flavour = c.get(1).map(|m| m.as_str());
        let version = c[2].to_string();
        let noarch = &c[3] == "noarch";
        if noarch != flavour.is_none() {
            return Err(GroupError::at(
                url,
                "expected the noarch package to be `kernel-devel` and the x86_64 one `kernel-<flavour>-devel`",
            ));
        }
        let pair = pairs.entry(version.clone()).or_default();
        let slot = if noarch {
            &mut pair.noarch
        } else {
            &mut pair.arch
        };
        if let Some(other) = slot {
            return Err(GroupError::at(
                url,
                format!(
                    "second {} package for version {version}: also {other}",
                    &c[3]
                ),
            ));
        }
        *slot = Some(url.clone());
    }
    pairs
        .into_iter()
        .map(|(version, pair)| match (pair.noarch, pair.arch) {
            (Some(n), Some(a)) => Ok(vec![n, a]),
            (Some(only), None) | (None, Some(only)) => Err(GroupError::at(
                &only,
                format!(
                    "unpaired SUSE package: version {version} lacks its noarch or x86_64 partner"
                ),
            )),
            (None, None) => unreachable!("a pair entry always has one package"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "https://updates.suse.example/SLE/15-SP4/x86_64/update/";

    fn u(name: &str) -> String {
        format!("{P}{name}")
    }

    #[test]
    fn pairs_noarch_and_flavour_by_version() {
        let urls = vec![
            u("x86_64/kernel-default-devel-5.14.21-150400.24.100.3.x86_64.rpm"),
            u("noarch/kernel-devel-5.14.21-150400.22.1.noarch.rpm"),
            u("noarch/kernel-devel-5.14.21-150400.24.100.2.noarch.rpm"),
            u("x86_64/kernel-default-devel-5.14.21-150400.22.1.x86_64.rpm"),
        ];
        let got = group(&urls).unwrap();
        assert_eq!(
            got,
            vec![
                vec![urls[1].clone(), urls[3].clone()],
                vec![urls[2].clone(), urls[0].clone()]
            ]
        );
    }

    #[test]
    fn unpaired_and_foreign_packages_are_errors() {
        let err = group(&[u("noarch/kernel-devel-4.12.14-122.37.1.noarch.rpm")]).unwrap_err();
        assert!(err.reason.contains("unpaired"), "{err}");
        let err = group(&[u("x86_64/kernel-default-4.12.14-122.37.1.x86_64.rpm")]).unwrap_err();
        assert!(err.reason.contains("not a SUSE"), "{err}");
        // Different kernel versions do not pair even if only the build number looks alike.
        let err = group(&[
            u("noarch/kernel-devel-4.12.14-122.37.1.noarch.rpm"),
            u("x86_64/kernel-default-devel-4.12.14-122.38.1.x86_64.rpm"),
        ])
        .unwrap_err();
        assert!(err.reason.contains("unpaired"), "{err}");
        let err = group(&[
            u("a/kernel-devel-4.12.14-122.37.1.noarch.rpm"),
            u("b/kernel-devel-4.12.14-122.37.1.noarch.rpm"),
        ])
        .unwrap_err();
        assert!(err.reason.contains("second noarch"), "{err}");
    }
}
