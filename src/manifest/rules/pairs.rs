//! `pairs` (Ubuntu): the generic `linux-<flavour>-headers-X.Y.Z-ABI` and the flavour's
//! `linux-headers-X.Y.Z-ABI-<flavour>` packages of one kernel make a set.
//!
//! Key and revision come from `(\d+\.\d+\.\d+-\d+)\.(\d+)(\.\d+)?(~[\d.]+)?_` in the file name:
//! `4.15.0-1098.109~16.04.1_` → key `4.15.0-1098`, revision 109, backport `~16.04.1`; a
//! derivative's extra number (`linux-lowlatency` `6.8.0-31.31.1_`) is not part of either.
//! - A higher revision of a key replaces the set collected so far.
//! - The backport suffix is part of the key only for the supported backports
//!   (config option `backports`, default [`DEFAULT_BACKPORTS`]: `~16.04…`, `~20.04…`); other
//!   backports share the plain key.
//! - For the same revision a non-backport package replaces a backport set, and a package
//!   joins a set only if it is of the same class (backport or not); a file name already in
//!   the set is not added twice.
//! - Every final set must hold exactly two packages.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{GroupError, Grouped, Skipped};
use crate::manifest::urls;

/// Backport suffixes kept in the key (prefix match on the `~…` suffix) unless configured.
pub const DEFAULT_BACKPORTS: &[&str] = &["~16.04", "~20.04"];

static FLAVOURED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^linux-headers-\d+\.\d+\.\d+-\d+-[a-z]").expect("valid regex"));
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d+\.\d+\.\d+-\d+)\.(\d+)(?:\.\d+)?(~[\d.]+)?_").expect("valid regex")
});

struct Slot {
    urls: Vec<String>,
    revision: u64,
    backport: bool,
}

/// Groups one host's Ubuntu header URLs into pairs.
pub fn group(urls: &[String], supported_backports: &[&str]) -> Result<Grouped, GroupError> {
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    for url in urls {
        let name = urls::file_name(url);
        let caps = VERSION.captures(name).ok_or_else(|| {
            GroupError::at(
                url,
                "no Ubuntu version `X.Y.Z-ABI.REV[~BACKPORT]_` in the file name",
            )
        })?;
        let revision: u64 = caps[2]
            .parse()
            .map_err(|_| GroupError::at(url, format!("revision {:?} is not a number", &caps[2])))?;
        let suffix = caps.get(3).map(|m| m.as_str());
        let mut key = caps[1].to_string();
        if let Some(suffix) = suffix {
            if supported_backports.iter().any(|b| suffix.starts_with(b)) {
                key.push_str(suffix);
            }
        }
        let backport = suffix.is_some();
        let fresh = || Slot {
            urls: vec![url.clone()],
            revision,
            backport,
        };
        match slots.get_mut(&key) {
            None => {
                slots.insert(key, fresh());
            }
            Some(slot) if revision > slot.revision => *slot = fresh(),
            Some(slot) if revision < slot.revision => {}
            Some(slot) => {
                if slot.backport == backport {
                    if !slot.urls.iter().any(|u| urls::file_name(u) == name) {
                        slot.urls.push(url.clone());
                    }
                } else if slot.backport && !backport {
                    *slot = fresh();
                }
            }
        }
    }
    let mut out = Grouped::default();
    for (key, slot) in slots {
        if slot.urls.len() == 2 {
            out.sets.push(slot.urls);
            continue;
        }
        // More than two: Ubuntu builds several flavours of one kernel (`-generic`,
        // `-lowlatency`) against one common package; each flavour is its own kernel.
        let (flavoured, common): (Vec<&String>, Vec<&String>) = slot
            .urls
            .iter()
            .partition(|u| FLAVOURED.is_match(urls::file_name(u)));
        if slot.urls.len() > 2 && common.len() == 1 {
            for f in flavoured {
                out.sets.push(vec![common[0].clone(), f.clone()]);
            }
            continue;
        }
        let why = format!(
            "unpaired Ubuntu package: version {key} revision {} has {} package(s) instead of one common package and its flavours: {}",
            slot.revision,
            slot.urls.len(),
            slot.urls.join(", ")
        );
        out.rejected.extend(slot.urls.iter().map(|u| Skipped {
            url: u.clone(),
            reason: why.clone(),
        }));
    }
    Ok(out)
}

/// The shape of a `pairs` set: one flavoured package (`linux-headers-X.Y.Z-ABI-<flavour>`)
/// and one common package.
pub fn check_set(set: &[String]) -> Result<(), String> {
    let flavoured = set
        .iter()
        .filter(|u| FLAVOURED.is_match(urls::file_name(u)))
        .count();
    if set.len() != 2 || flavoured != 1 {
        return Err(format!(
            "{} package(s), {flavoured} of them flavoured, instead of one flavoured and one common package",
            set.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::strings;
    use super::*;

    const H: &str = "http://security.ubuntu.com/ubuntu/pool/main/l/linux-aws/";

    fn u(name: &str) -> String {
        format!("{H}{name}")
    }

    fn run(names: &[&str]) -> Result<Vec<Vec<String>>, GroupError> {
        let urls: Vec<String> = names.iter().map(|n| u(n)).collect();
        let g = group(&urls, DEFAULT_BACKPORTS)?;
        match g.rejected.first() {
            Some(r) => Err(GroupError::at(&r.url, r.reason.clone())),
            None => Ok(g.sets),
        }
    }

    #[test]
    fn higher_revision_replaces_lower() {
        let got = run(&[
            "linux-aws-headers-4.4.0-1031_4.4.0-1031.40_all.deb",
            "linux-headers-4.4.0-1031-aws_4.4.0-1031.40_amd64.deb",
            "linux-aws-headers-4.4.0-1031_4.4.0-1031.50_all.deb",
            "linux-headers-4.4.0-1031-aws_4.4.0-1031.50_amd64.deb",
            "linux-headers-4.4.0-1069-aws_4.4.0-1069.79_amd64.deb",
            "linux-aws-headers-4.4.0-1069_4.4.0-1069.79_all.deb",
            // An older revision after a newer one is ignored.
            "linux-aws-headers-4.4.0-1031_4.4.0-1031.45_all.deb",
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                vec![
                    u("linux-aws-headers-4.4.0-1031_4.4.0-1031.50_all.deb"),
                    u("linux-headers-4.4.0-1031-aws_4.4.0-1031.50_amd64.deb")
                ],
                vec![
                    u("linux-headers-4.4.0-1069-aws_4.4.0-1069.79_amd64.deb"),
                    u("linux-aws-headers-4.4.0-1069_4.4.0-1069.79_all.deb")
                ],
            ]
        );
    }

    #[test]
    fn supported_backports_get_their_own_key_others_share_it() {
        let got = run(&[
            // ~16.04 backport: own key, coexists with the plain 4.15.0-1098 set.
            "linux-azure-headers-4.15.0-1098_4.15.0-1098.109~16.04.1_all.deb",
            "linux-headers-4.15.0-1098-azure_4.15.0-1098.109~16.04.1_amd64.deb",
            "linux-azure-headers-4.15.0-1098_4.15.0-1098.109_all.deb",
            "linux-headers-4.15.0-1098-azure_4.15.0-1098.109_amd64.deb",
        ])
        .unwrap();
        assert_eq!(got.len(), 2);

        // ~18.04 is not supported: same key as the plain set; the plain (non-backport) set
        // of the same revision wins, whatever the order.
        let plain = [
            "linux-gcp-headers-5.4.0-1010_5.4.0-1010.10_all.deb",
            "linux-headers-5.4.0-1010-gcp_5.4.0-1010.10_amd64.deb",
        ];
        let backport = [
            "linux-gcp-headers-5.4.0-1010_5.4.0-1010.10~18.04.1_all.deb",
            "linux-headers-5.4.0-1010-gcp_5.4.0-1010.10~18.04.1_amd64.deb",
        ];
        for order in [[backport, plain].concat(), [plain, backport].concat()] {
            let got = run(&order).unwrap();
            assert_eq!(got.len(), 1, "{order:?}");
            assert!(got[0].iter().all(|u| !u.contains('~')), "{got:?}");
        }
    }

    #[test]
    fn duplicate_file_name_does_not_join_twice() {
        let urls = strings(&[
            "http://a/x/linux-headers-5.4.0-1010-gcp_5.4.0-1010.10_amd64.deb",
            "http://a/y/linux-headers-5.4.0-1010-gcp_5.4.0-1010.10_amd64.deb",
            "http://a/x/linux-gcp-headers-5.4.0-1010_5.4.0-1010.10_all.deb",
        ]);
        assert_eq!(group(&urls, DEFAULT_BACKPORTS).unwrap().sets[0].len(), 2);
    }

    #[test]
    fn unpaired_package_is_rejected_naming_it() {
        let urls: Vec<String> = [
            "linux-aws-headers-4.4.0-1031_4.4.0-1031.40_all.deb",
            "linux-headers-4.4.0-1031-aws_4.4.0-1031.40_amd64.deb",
            "linux-headers-4.4.0-1032-aws_4.4.0-1032.41_amd64.deb",
        ]
        .iter()
        .map(|n| u(n))
        .collect();
        let got = group(&urls, DEFAULT_BACKPORTS).unwrap();
        assert_eq!(got.sets.len(), 1);
        assert_eq!(got.rejected.len(), 1);
        assert_eq!(got.rejected[0].url, urls[2]);
        assert!(got.rejected[0].reason.contains("unpaired"), "{got:?}");
    }

    #[test]
    fn lowlatency_is_its_own_kernel_with_the_common_package() {
        let got = run(&[
            "linux-headers-4.15.0-20_4.15.0-20.21_all.deb",
            "linux-headers-4.15.0-20-generic_4.15.0-20.21_amd64.deb",
            "linux-headers-4.15.0-20-lowlatency_4.15.0-20.21_amd64.deb",
        ])
        .unwrap();
        let common = u("linux-headers-4.15.0-20_4.15.0-20.21_all.deb");
        assert_eq!(
            got,
            vec![
                vec![
                    common.clone(),
                    u("linux-headers-4.15.0-20-generic_4.15.0-20.21_amd64.deb")
                ],
                vec![
                    common,
                    u("linux-headers-4.15.0-20-lowlatency_4.15.0-20.21_amd64.deb")
                ],
            ]
        );
        // Three flavoured packages and no common one: rejected.
        let err = run(&[
            "linux-headers-4.15.0-20-aws_4.15.0-20.21_amd64.deb",
            "linux-headers-4.15.0-20-generic_4.15.0-20.21_amd64.deb",
            "linux-headers-4.15.0-20-lowlatency_4.15.0-20.21_amd64.deb",
        ])
        .unwrap_err();
        assert!(err.reason.contains("3 package(s)"), "{err}");
    }

    #[test]
    fn arm64_generic_64k_is_its_own_kernel() {
        // Alone with the common package (a kernel whose -generic is gone from the list)...
        let common = u("linux-headers-6.8.0-31_6.8.0-31.31_all.deb");
        let k64 = u("linux-headers-6.8.0-31-generic-64k_6.8.0-31.31_arm64.deb");
        let got = run(&[
            "linux-headers-6.8.0-31-generic-64k_6.8.0-31.31_arm64.deb",
            "linux-headers-6.8.0-31_6.8.0-31.31_all.deb",
        ])
        .unwrap();
        assert_eq!(got, vec![vec![k64.clone(), common.clone()]]);
        assert_eq!(check_set(&got[0]), Ok(()));
        // ...and beside -generic: two kernels sharing the common package.
        let got = run(&[
            "linux-headers-6.8.0-31_6.8.0-31.31_all.deb",
            "linux-headers-6.8.0-31-generic_6.8.0-31.31_arm64.deb",
            "linux-headers-6.8.0-31-generic-64k_6.8.0-31.31_arm64.deb",
        ])
        .unwrap();
        let generic = u("linux-headers-6.8.0-31-generic_6.8.0-31.31_arm64.deb");
        assert_eq!(got, vec![vec![common.clone(), generic], vec![common, k64]]);
    }

    #[test]
    fn derivative_versions_pair_their_packages() {
        let l = "http://security.ubuntu.com/ubuntu/pool/main/l/linux-lowlatency/";
        let urls = vec![
            format!("{l}linux-headers-6.8.0-31-lowlatency_6.8.0-31.31.1_amd64.deb"),
            format!("{l}linux-lowlatency-headers-6.8.0-31_6.8.0-31.31.1_all.deb"),
            format!("{l}linux-headers-6.8.0-52-lowlatency_6.8.0-52.53.1_amd64.deb"),
            format!("{l}linux-lowlatency-headers-6.8.0-52_6.8.0-52.53.1_all.deb"),
        ];
        let g = group(&urls, DEFAULT_BACKPORTS).unwrap();
        assert!(g.rejected.is_empty(), "{:?}", g.rejected);
        assert_eq!(g.sets.len(), 2);
    }

    #[test]
    fn file_name_without_version_is_an_error() {
        let err = run(&["linux-headers-generic_all.deb"]).unwrap_err();
        assert!(err.reason.contains("no Ubuntu version"), "{err}");
    }
}
