//! Grouping rules (`reformat` in the config): each turns one list's URLs into package sets.
//!
//! Every rule is a pure function over URLs. A rule that cannot place a URL fails with a
//! [`GroupError`] naming the URL and why. [`Rule::group`] isolates such failures per URL:
//! the URL is rejected (reported with the reason), left out, and the rest of its pool is
//! grouped again, so one odd package never holds back the others. Every set is then checked
//! against its rule's shape ([`Rule::check_set`]) before it is returned; a malformed set is
//! rejected, never written. Rules that work
//! per package pool ([`Rule::partitions_by_host`]) are applied to each `scheme://host`
//! partition separately, as the seed did; `one-to-each`, `one-to-pairs` and `minikube`
//! see the whole list because their sets span hosts (kops: a Debian kbuild with headers
//! from another host; minikube: a config URL with a kernel.org tarball).

mod cos;
pub mod debian;
pub mod minikube;
mod one_to_each;
mod one_to_pairs;
pub mod pairs;
mod single;
mod suse;

use std::fmt;

use serde::Deserialize;

use super::urls;

/// Distro knowledge a rule needs, as data: the optional `options:` map of a config entry.
/// Every field defaults to the seed's behaviour, so the seed's config needs none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOptions {
    /// `pairs`: backport suffixes kept in the version key (prefix match on `~…`).
    /// Default: [`pairs::DEFAULT_BACKPORTS`] (`~16.04`, `~20.04`).
    #[serde(default)]
    pub backports: Option<Vec<String>>,
    /// `debian`: host substring of the pool preferred for duplicate header file names.
    /// Default: [`debian::DEFAULT_PREFERRED_HOST`] (`security.debian.org`).
    #[serde(default)]
    pub preferred_host: Option<String>,
    /// `minikube`: kernel source tarball URL template with `{major}` and `{version}`.
    /// Default: [`minikube::DEFAULT_TARBALL_URL`] (kernel.org `.tar.xz`).
    #[serde(default)]
    pub tarball_url: Option<String>,
}

/// A package set: URLs in the rule's order (the id does not depend on it).
pub type Set = Vec<String>;

/// Result of grouping one list (or one host partition of it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Grouped {
    /// The package sets, in a deterministic order.
    pub sets: Vec<Set>,
    /// URLs deliberately left out, with the reason (e.g. a Debian common header without
    /// any arch header). Not errors; reported in the summary.
    pub skipped: Vec<Skipped>,
    /// URLs that could not be grouped or whose set failed the rule's check, with the reason.
    /// Errors isolated to their kernel: reported, the rest of the list is still grouped.
    pub rejected: Vec<Skipped>,
}

/// A URL a rule left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The URL.
    pub url: String,
    /// Why it was left out.
    pub reason: String,
}

/// Why a rule could not group a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupError {
    /// The offending URL, when one URL is to blame.
    pub url: Option<String>,
    /// Human-readable reason.
    pub reason: String,
}

impl GroupError {
    pub(crate) fn at(url: &str, reason: impl Into<String>) -> Self {
        GroupError {
            url: Some(url.to_string()),
            reason: reason.into(),
        }
    }
    pub(crate) fn general(reason: impl Into<String>) -> Self {
        GroupError {
            url: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.url {
            Some(url) => write!(f, "{url}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for GroupError {}

/// The grouping rules known to the generator (`reformat` values of the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Each URL alone.
    Single,
    /// The first URL paired with each other URL.
    OneToEach,
    /// The first URL with each following pair of URLs.
    OneToPairs,
    /// Ubuntu header pairs by `x.y.z-abi` and revision.
    Pairs,
    /// Debian / Garden Linux: kbuild + arch header + optional common header.
    Debian,
    /// SUSE: noarch `kernel-devel` + x86_64 `kernel-<flavour>-devel` of the same version.
    Suse,
    /// Container-Optimized OS: `kernel-src.tar.gz` (+ `kernel-headers.t*gz`) per build dir.
    Cos,
    /// minikube: kernel config URL + kernel.org source tarball.
    Minikube,
}

impl Rule {
    /// Every rule with its config name.
    pub const ALL: [(Rule, &'static str); 8] = [
        (Rule::Single, "single"),
        (Rule::OneToEach, "one-to-each"),
        (Rule::OneToPairs, "one-to-pairs"),
        (Rule::Pairs, "pairs"),
        (Rule::Debian, "debian"),
        (Rule::Suse, "suse"),
        (Rule::Cos, "cos"),
        (Rule::Minikube, "minikube"),
    ];

    /// Looks a rule up by its config name; the error lists the known names.
    pub fn from_name(name: &str) -> Result<Rule, GroupError> {
        Rule::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(r, _)| *r)
            .ok_or_else(|| {
                let known: Vec<&str> = Rule::ALL.iter().map(|(_, n)| *n).collect();
                GroupError::general(format!(
                    "unknown grouping rule {name:?} (known: {})",
                    known.join(", ")
                ))
            })
    }

    /// The config name of the rule.
    pub fn name(self) -> &'static str {
        Rule::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Whether the rule runs once per `scheme://host` partition of the list.
    pub fn partitions_by_host(self) -> bool {
        !matches!(self, Rule::OneToEach | Rule::OneToPairs | Rule::Minikube)
    }

    /// Groups `urls` (one list file's URLs, in file order). A URL that is not well formed is
    /// rejected (a line without `scheme://` made only of `[A-Za-z0-9_.-]` is an already
    /// simplified package name and is taken as it is, in a pool of its own); partitioning
    /// rules then run per host, in first-seen host order. An error naming a URL rejects that
    /// URL and regroups the rest of its pool; an error naming none fails the list.
    pub fn group(self, urls: &[String], options: &RuleOptions) -> Result<Grouped, GroupError> {
        let mut all = Grouped::default();
        let mut pools: Vec<(&str, Vec<String>)> = Vec::new();
        for url in urls {
            let origin = match urls::origin(url) {
                Ok(o) => o,
                Err(_) if urls::is_simplified_name(url) => "",
                Err(why) => {
                    all.rejected.push(Skipped {
                        url: url.clone(),
                        reason: why,
                    });
                    continue;
                }
            };
            let key = if self.partitions_by_host() {
                origin
            } else {
                ""
            };
            match pools.iter_mut().find(|(k, _)| *k == key) {
                Some((_, pool)) => pool.push(url.clone()),
                None => pools.push((key, vec![url.clone()])),
            }
        }
        for (_, mut pool) in pools {
            let part = loop {
                match self.group_pool(&pool, options) {
                    Ok(part) => break part,
                    Err(GroupError {
                        url: Some(url),
                        reason,
                    }) if pool.contains(&url) => {
                        pool.retain(|u| *u != url);
                        all.rejected.push(Skipped { url, reason });
                    }
                    Err(e) => return Err(e),
                }
            };
            for set in part.sets {
                match self.check_set(&set) {
                    Ok(()) => all.sets.push(set),
                    Err(reason) => all.rejected.extend(set.into_iter().map(|url| Skipped {
                        url,
                        reason: format!("malformed {} set: {reason}", self.name()),
                    })),
                }
            }
            all.skipped.extend(part.skipped);
            all.rejected.extend(part.rejected);
        }
        Ok(all)
    }

    /// Checks one set against the rule's shape: `debian` sets hold exactly one arch header,
    /// one kbuild and at most one common header, the one the flavour needs; `pairs` sets hold
    /// one flavoured package and one common package; every set is non-empty without repeated
    /// URLs.
    pub fn check_set(self, set: &[String]) -> Result<(), String> {
        if set.is_empty() {
            return Err("empty set".into());
        }
        let distinct: std::collections::BTreeSet<&String> = set.iter().collect();
        if distinct.len() != set.len() {
            return Err("a URL appears twice".into());
        }
        let arches: std::collections::BTreeSet<&str> =
            set.iter().filter_map(|u| urls::binary_arch(u)).collect();
        if arches.len() > 1 {
            let arches: Vec<&str> = arches.into_iter().collect();
            return Err(format!(
                "packages built for several architectures ({})",
                arches.join(", ")
            ));
        }
        match self {
            Rule::Debian => debian::check_set(set),
            Rule::Pairs => pairs::check_set(set),
            _ => Ok(()),
        }
    }

    fn group_pool(self, urls: &[String], options: &RuleOptions) -> Result<Grouped, GroupError> {
        let sets = |sets: Result<Vec<Set>, GroupError>| {
            sets.map(|sets| Grouped {
                sets,
                ..Grouped::default()
            })
        };
        match self {
            Rule::Single => sets(Ok(single::group(urls))),
            Rule::OneToEach => sets(one_to_each::group(urls)),
            Rule::OneToPairs => sets(one_to_pairs::group(urls)),
            Rule::Pairs => {
                let backports: Vec<&str> = match &options.backports {
                    Some(b) => b.iter().map(String::as_str).collect(),
                    None => pairs::DEFAULT_BACKPORTS.to_vec(),
                };
                pairs::group(urls, &backports)
            }
            Rule::Debian => debian::group(
                urls,
                options
                    .preferred_host
                    .as_deref()
                    .unwrap_or(debian::DEFAULT_PREFERRED_HOST),
            ),
            Rule::Suse => sets(suse::group(urls)),
            Rule::Cos => sets(cos::group(urls)),
            Rule::Minikube => sets(minikube::group(
                urls,
                options
                    .tarball_url
                    .as_deref()
                    .unwrap_or(minikube::DEFAULT_TARBALL_URL),
            )),
        }
    }
}

#[cfg(test)]
pub(crate) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_rule_name_is_an_error_listing_known_names() {
        let err = Rule::from_name("triples").unwrap_err();
        assert!(
            err.reason.contains("unknown grouping rule \"triples\""),
            "{err}"
        );
        assert!(err.reason.contains("one-to-each"), "{err}");
        for (rule, name) in Rule::ALL {
            assert_eq!(Rule::from_name(name).unwrap(), rule);
            assert_eq!(rule.name(), name);
        }
    }

    #[test]
    fn malformed_url_is_rejected_by_every_rule_and_the_rest_grouped() {
        for (rule, _) in Rule::ALL {
            let urls = strings(&["https://h/a.deb", "h/no scheme.deb"]);
            let got = rule.group(&urls, &RuleOptions::default());
            let got = match got {
                Ok(g) => g,
                // Rules that cannot group `a.deb` alone still must not blame the bad URL.
                Err(e) => {
                    assert_ne!(e.url.as_deref(), Some("h/no scheme.deb"), "{rule:?}");
                    continue;
                }
            };
            let bad = got
                .rejected
                .iter()
                .find(|r| r.url == "h/no scheme.deb")
                .unwrap_or_else(|| panic!("{rule:?}: {got:?}"));
            assert!(bad.reason.contains("malformed URL"), "{rule:?}: {bad:?}");
        }
    }

    #[test]
    fn simplified_names_are_taken_as_they_are() {
        let urls = strings(&[
            "https---h-kernel-devel-1.rpm",
            "https://h/kernel-devel-2.rpm",
        ]);
        let got = Rule::Single.group(&urls, &RuleOptions::default()).unwrap();
        assert!(got.rejected.is_empty(), "{got:?}");
        assert_eq!(got.sets.len(), 2);
        // A Debian set written as simplified names groups as its URLs did.
        let urls = strings(&[
            "http---d-pool-main-l-linux-linux-kbuild-6.1_6.1.90-1_amd64.deb",
            "http---d-pool-main-l-linux-linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb",
            "http---d-pool-main-l-linux-linux-headers-6.1.0-21-common_6.1.90-1_all.deb",
        ]);
        let got = Rule::Debian.group(&urls, &RuleOptions::default()).unwrap();
        assert!(got.rejected.is_empty(), "{got:?}");
        assert_eq!(got.sets.len(), 1);
        assert_eq!(got.sets[0].len(), 3);
    }

    #[test]
    fn one_bad_url_is_rejected_and_the_others_grouped() {
        let urls = strings(&[
            "http://u/linux-aws-headers-4.4.0-1031_4.4.0-1031.40_all.deb",
            "http://u/linux-headers-4.4.0-1031-aws_4.4.0-1031.40_amd64.deb",
            "http://u/linux-headers-4.4.0-1032-aws_4.4.0-1032.41_amd64.deb",
        ]);
        let got = Rule::Pairs.group(&urls, &RuleOptions::default()).unwrap();
        assert_eq!(got.sets.len(), 1);
        assert_eq!(got.rejected.len(), 1);
        assert!(got.rejected[0].url.contains("1032"));
        assert!(got.rejected[0].reason.contains("unpaired"), "{got:?}");
    }

    #[test]
    fn options_reach_the_rules() {
        let urls = strings(&[
            "http://u/linux-gcp-headers-5.4.0-1010_5.4.0-1010.10~18.04.1_all.deb",
            "http://u/linux-headers-5.4.0-1010-gcp_5.4.0-1010.10~18.04.1_amd64.deb",
            "http://u/linux-gcp-headers-5.4.0-1010_5.4.0-1010.10_all.deb",
            "http://u/linux-headers-5.4.0-1010-gcp_5.4.0-1010.10_amd64.deb",
        ]);
        // By default ~18.04 is not a supported backport: the plain set wins alone.
        let default = Rule::Pairs.group(&urls, &RuleOptions::default()).unwrap();
        assert_eq!(default.sets.len(), 1);
        let options = RuleOptions {
            backports: Some(vec!["~18.04".into()]),
            ..Default::default()
        };
        assert_eq!(Rule::Pairs.group(&urls, &options).unwrap().sets.len(), 2);
    }

    #[test]
    fn no_rule_mixes_architectures_in_a_set() {
        let urls = strings(&["https://h/k-1.x86_64.rpm", "https://h/k-1.aarch64.rpm"]);
        let got = Rule::OneToEach
            .group(&urls, &RuleOptions::default())
            .unwrap();
        assert!(got.sets.is_empty(), "{got:?}");
        assert!(
            got.rejected[0]
                .reason
                .contains("several architectures (amd64, arm64)"),
            "{got:?}"
        );
        assert_eq!(
            Rule::Single
                .group(&urls, &RuleOptions::default())
                .unwrap()
                .sets
                .len(),
            2
        );
    }

    #[test]
    fn partitioning_rules_group_each_host_separately() {
        let urls = strings(&[
            "https://a/linux-headers-4.4.0-1_4.4.0-1.2_all.deb",
            "https://b/linux-headers-4.4.0-1_4.4.0-1.2_all.deb",
            "https://a/linux-headers-4.4.0-1-aws_4.4.0-1.2_amd64.deb",
            "https://b/linux-headers-4.4.0-1-aws_4.4.0-1.2_amd64.deb",
        ]);
        let got = Rule::Pairs.group(&urls, &RuleOptions::default()).unwrap();
        assert_eq!(got.sets.len(), 2);
        for set in &got.sets {
            let hosts: Vec<&str> = set.iter().map(|u| urls::origin(u).unwrap()).collect();
            assert_eq!(hosts[0], hosts[1], "{set:?}");
        }
    }
}
