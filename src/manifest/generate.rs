//! Building a manifest from grouped sources: ids, inventory filter, carry-over from the
//! previous manifest, per-source report. Pure: inputs are values, nothing is read here.

use std::collections::HashSet;

use super::rules::{Rule, Skipped};
use super::{urls, Entry, Manifest, Source};
use crate::crawl::arch::DEFAULT_ARCH;
use crate::names::{manifest_id, simplify};

/// One source with its list file's URLs, or why the list could not be read.
#[derive(Debug, Clone)]
pub struct SourceInput<'a> {
    /// The config entry.
    pub source: &'a Source,
    /// The list file's path as shown in messages.
    pub file: String,
    /// The URLs, or the read error.
    pub urls: Result<Vec<String>, String>,
}

/// What happened to one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// List file as shown in messages.
    pub file: String,
    /// URLs read from the list.
    pub urls: usize,
    /// Sets the rule produced.
    pub sets: usize,
    /// Sets left out because a package is missing from the inventory.
    pub dropped: usize,
    /// Sets already produced by an earlier source (same id and type).
    pub duplicates: usize,
    /// URLs the rule left out on purpose.
    pub skipped: Vec<Skipped>,
    /// URLs that could not be grouped (their kernel is left out; reported with the reason).
    pub rejected: Vec<Skipped>,
    /// Sets carried over from the previous manifest because this source failed, or because
    /// they hold a rejected URL.
    pub carried: usize,
    /// Why the source failed: `<file>: <url>: <reason>`.
    pub error: Option<String>,
    /// Same id produced with a different type by an earlier source (kept the first).
    pub conflicts: Vec<String>,
}

/// The generated manifest and what happened per source.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The manifest to write.
    pub manifest: Manifest,
    /// One report per source, in config order.
    pub sources: Vec<SourceReport>,
}

impl Generated {
    /// Whether any source failed (the CLI then exits non-zero).
    pub fn failed(&self) -> bool {
        self.sources.iter().any(|s| s.error.is_some())
    }

    /// Whether some kernels were rejected while their sources were otherwise grouped.
    pub fn partial(&self) -> bool {
        self.sources.iter().any(|s| !s.rejected.is_empty())
    }
}

/// Groups every source and assembles the manifest.
///
/// - Each source's URLs are grouped with its rule; ids are [`manifest_id`] of the simplified
///   names. The first source producing an id wins; a later one with another type is a
///   conflict (reported, not fatal).
/// - With `inventory` (simplified names), a set with any package missing from it is dropped.
/// - A failed source (unreadable list, unknown rule, grouping error) contributes its sets
///   from `previous`: entries of the source's type that have a package from its list, or
///   that have no package from the list of any source that succeeded. They are not
///   filtered by the inventory (nothing is lost).
/// - A rejected URL (a kernel the rule could not group) is reported; the `previous` entries
///   of the source's type that hold it are carried over.
pub fn generate(
    inputs: &[SourceInput],
    inventory: Option<&HashSet<String>>,
    previous: Option<&Manifest>,
) -> Generated {
    let mut out = Generated::default();
    let mut failed: Vec<usize> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let mut report = SourceReport {
            name: input.source.name.clone(),
            file: input.file.clone(),
            ..Default::default()
        };
        let grouped = match &input.urls {
            Err(e) => Err(e.clone()),
            Ok(urls) => {
                report.urls = urls.len();
                let arch = input.source.arch();
                let (own, foreign) = split_by_arch(urls, arch);
                report.rejected.extend(foreign);
                Rule::from_name(&input.source.reformat)
                    .and_then(|rule| rule.group(&own, &input.source.options))
                    .map_err(|e| format!("{}: {e}", input.file))
            }
        };
        match grouped {
            Err(e) => {
                report.error = Some(e);
                failed.push(i);
            }
            Ok(grouped) => {
                report.sets = grouped.sets.len();
                report.skipped = grouped.skipped;
                report.rejected.extend(grouped.rejected);
                let arch = input.source.arch();
                for set in grouped.sets {
                    if let Err(reason) = check_set_arch(&set, arch) {
                        report.sets -= 1;
                        report.rejected.extend(set.into_iter().map(|url| Skipped {
                            url,
                            reason: reason.clone(),
                        }));
                        continue;
                    }
                    let packages: Vec<String> = set.iter().map(|u| simplify(u)).collect();
                    if let Some(inv) = inventory {
                        if packages.iter().any(|p| !inv.contains(p)) {
                            report.dropped += 1;
                            continue;
                        }
                    }
                    let id = manifest_id(&packages);
                    match out.manifest.entries.get(&id) {
                        Some(e) if e.kind == input.source.kind => report.duplicates += 1,
                        Some(e) => report.conflicts.push(format!(
                            "{id}: type {} here, {} from an earlier source (kept)",
                            input.source.kind, e.kind
                        )),
                        None => {
                            out.manifest.entries.insert(
                                id,
                                Entry {
                                    kind: input.source.kind.clone(),
                                    packages,
                                    arch: (arch != DEFAULT_ARCH).then(|| arch.to_string()),
                                },
                            );
                        }
                    }
                }
            }
        }
        out.sources.push(report);
    }
    if let Some(previous) = previous {
        carry_over(inputs, &failed, previous, &mut out);
        carry_rejected(inputs, previous, &mut out);
    }
    out
}

/// Splits a list's URLs into those of `arch` (or of no known architecture) and the rejected
/// ones built for another architecture (see [`urls::binary_arch`]).
fn split_by_arch(list: &[String], arch: &str) -> (Vec<String>, Vec<Skipped>) {
    let mut own = Vec::with_capacity(list.len());
    let mut foreign = Vec::new();
    for url in list {
        match urls::binary_arch(url) {
            Some(a) if a != arch => foreign.push(Skipped {
                url: url.clone(),
                reason: format!("{a} package in a list of {arch} kernels"),
            }),
            _ => own.push(url.clone()),
        }
    }
    (own, foreign)
}

/// A set of a non-amd64 list must hold a package built for its architecture: a set of only
/// architecture-independent packages would have the id of the amd64 set of the same files.
/// No package may name another architecture.
pub fn check_set_arch(set: &[String], arch: &str) -> Result<(), String> {
    let arches: Vec<Option<&str>> = set.iter().map(|u| urls::binary_arch(u)).collect();
    if let Some(other) = arches.iter().flatten().find(|a| **a != arch) {
        return Err(format!("{arch} set holds an {other} package"));
    }
    if arch != DEFAULT_ARCH && !arches.contains(&Some(arch)) {
        return Err(format!("{arch} set holds no {arch} package"));
    }
    Ok(())
}

/// Whether a previous entry belongs to `source`'s kind and architecture.
fn same_kind(entry: &Entry, source: &Source) -> bool {
    entry.kind == source.kind && entry.arch() == source.arch()
}

/// Carries over the previous sets of each source's type that hold one of its rejected URLs.
fn carry_rejected(inputs: &[SourceInput], previous: &Manifest, out: &mut Generated) {
    for (i, input) in inputs.iter().enumerate() {
        let rejected: HashSet<String> = out.sources[i]
            .rejected
            .iter()
            .map(|r| simplify(&r.url))
            .collect();
        if rejected.is_empty() {
            continue;
        }
        for (id, entry) in &previous.entries {
            if same_kind(entry, input.source)
                && !out.manifest.entries.contains_key(id)
                && entry.packages.iter().any(|p| rejected.contains(p))
            {
                out.manifest.entries.insert(id.clone(), entry.clone());
                out.sources[i].carried += 1;
            }
        }
    }
}

fn list_names(input: &SourceInput) -> HashSet<String> {
    input
        .urls
        .as_ref()
        .map(|urls| urls.iter().map(|u| simplify(u)).collect())
        .unwrap_or_default()
}

fn carry_over(inputs: &[SourceInput], failed: &[usize], previous: &Manifest, out: &mut Generated) {
    if failed.is_empty() {
        return;
    }
    let claimed: HashSet<String> = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| !failed.contains(i))
        .flat_map(|(_, input)| list_names(input))
        .collect();
    for &i in failed {
        let input = &inputs[i];
        let own = list_names(input);
        let mut carried = 0;
        for (id, entry) in &previous.entries {
            if !same_kind(entry, input.source) || out.manifest.entries.contains_key(id) {
                continue;
            }
            let mine = entry.packages.iter().any(|p| own.contains(p));
            let unclaimed = entry.packages.iter().all(|p| !claimed.contains(p));
            if mine || unclaimed {
                out.manifest.entries.insert(id.clone(), entry.clone());
                carried += 1;
            }
        }
        out.sources[i].carried = carried;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, kind: &str, reformat: &str) -> Source {
        Source {
            name: name.into(),
            description: None,
            kind: kind.into(),
            file: format!("{name}.txt"),
            reformat: reformat.into(),
            options: Default::default(),
            arch: None,
        }
    }

    fn input<'a>(s: &'a Source, urls: &[&str]) -> SourceInput<'a> {
        SourceInput {
            source: s,
            file: s.file.clone(),
            urls: Ok(urls.iter().map(|u| u.to_string()).collect()),
        }
    }

    #[test]
    fn arm64_lists_give_arm64_sets_that_never_take_amd64_packages() {
        let amd = source("x", "redhat", "single");
        let mut arm = source("x-arm64", "redhat", "single");
        arm.arch = Some("arm64".into());
        let g = generate(
            &[
                input(
                    &amd,
                    &["http://h/k-1.x86_64.rpm", "http://h/n-1.noarch.rpm"],
                ),
                input(
                    &arm,
                    &[
                        "http://h/k-1.aarch64.rpm",
                        "http://h/k-2.x86_64.rpm",
                        "http://h/n-1.noarch.rpm",
                    ],
                ),
            ],
            None,
            None,
        );
        let arches: Vec<(&str, &str)> = g
            .manifest
            .entries
            .values()
            .map(|e| (e.packages[0].as_str(), e.arch()))
            .collect();
        assert_eq!(arches.len(), 3, "{g:?}");
        assert!(arches.contains(&("http---h-k-1.aarch64.rpm", "arm64")));
        assert!(arches.contains(&("http---h-k-1.x86_64.rpm", "amd64")));
        // The noarch package alone is an amd64 set (as before); in the arm64 list it would
        // collide with it and is rejected, as is the x86_64 package.
        let rejected: Vec<&str> = g.sources[1]
            .rejected
            .iter()
            .map(|r| r.reason.as_str())
            .collect();
        assert_eq!(
            rejected,
            [
                "amd64 package in a list of arm64 kernels",
                "arm64 set holds no arm64 package"
            ]
        );
        let yaml = g.manifest.to_yaml();
        assert_eq!(yaml.matches("arch: arm64").count(), 1, "{yaml}");
        assert!(!yaml.contains("amd64"), "{yaml}");
        assert_eq!(Manifest::parse(yaml.as_bytes(), "m").unwrap(), g.manifest);
    }

    #[test]
    fn ids_inventory_and_duplicates() {
        let a = source("a", "redhat", "single");
        let b = source("b", "redhat", "single");
        let inv: HashSet<String> = ["http---h-1.rpm", "http---h-2.rpm"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = generate(
            &[
                input(&a, &["http://h/1.rpm", "http://h/3.rpm"]),
                input(&b, &["http://h/1.rpm", "http://h/2.rpm"]),
            ],
            Some(&inv),
            None,
        );
        assert!(!got.failed());
        assert_eq!(got.manifest.entries.len(), 2);
        assert_eq!(got.sources[0].dropped, 1);
        assert_eq!(got.sources[1].duplicates, 1);
        let id = manifest_id(&["http---h-1.rpm"]);
        assert_eq!(got.manifest.entries[&id].packages, ["http---h-1.rpm"]);
    }

    #[test]
    fn rejected_kernel_is_reported_and_its_previous_set_carried_over() {
        let good = source("good", "redhat", "single");
        let odd = source("odd", "ubuntu", "pairs");
        let bad_url = "http://u/linux-headers-4.4.0-2-aws_4.4.0-2.3_amd64.deb";
        let prev_bad = vec![
            simplify(bad_url),
            "http---u-linux-aws-headers-4.4.0-2_4.4.0-2.3_all.deb".to_string(),
        ];
        let prev_other = vec!["http---u-gone_1.0-1.2_all.deb".to_string()];
        let mut previous = Manifest::default();
        for p in [&prev_bad, &prev_other] {
            previous.entries.insert(
                manifest_id(p),
                Entry {
                    kind: "ubuntu".into(),
                    packages: p.clone(),
                    arch: None,
                },
            );
        }
        let got = generate(
            &[
                input(&good, &["http://h/1.rpm"]),
                input(
                    &odd,
                    &[
                        "http://u/linux-headers-4.4.0-1-aws_4.4.0-1.2_amd64.deb",
                        "http://u/linux-aws-headers-4.4.0-1_4.4.0-1.2_all.deb",
                        bad_url,
                    ],
                ),
            ],
            None,
            Some(&previous),
        );
        assert!(!got.failed());
        assert!(got.partial());
        let report = &got.sources[1];
        assert_eq!(report.sets, 1);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].url, bad_url);
        assert!(report.rejected[0].reason.contains("unpaired"), "{report:?}");
        // The rejected kernel's previous set comes back; an unrelated previous set does not.
        assert_eq!(report.carried, 1);
        assert!(got.manifest.entries.contains_key(&manifest_id(&prev_bad)));
        assert!(!got.manifest.entries.contains_key(&manifest_id(&prev_other)));
        assert_eq!(got.manifest.entries.len(), 3);
    }

    #[test]
    fn failed_source_is_carried_over() {
        let good = source("good", "redhat", "single");
        let bad = source("bad", "ubuntu", "triples");
        let prev_bad = vec!["http---u-linux-headers-4.4.0-1-aws_4.4.0-1.2_amd64.deb".to_string()];
        let prev_gone = vec!["http---u-gone_1.0-1.2_all.deb".to_string()];
        let prev_redhat = vec!["http---h-old.rpm".to_string()];
        let mut previous = Manifest::default();
        for (kind, p) in [
            ("ubuntu", &prev_bad),
            ("ubuntu", &prev_gone),
            ("redhat", &prev_redhat),
        ] {
            previous.entries.insert(
                manifest_id(p),
                Entry {
                    kind: kind.into(),
                    packages: p.clone(),
                    arch: None,
                },
            );
        }
        let got = generate(
            &[
                input(&good, &["http://h/1.rpm"]),
                input(
                    &bad,
                    &["http://u/linux-headers-4.4.0-1-aws_4.4.0-1.2_amd64.deb"],
                ),
            ],
            None,
            Some(&previous),
        );
        assert!(got.failed());
        let err = got.sources[1].error.as_deref().unwrap();
        assert!(err.starts_with("bad.txt: unknown grouping rule"), "{err}");
        // Both previous ubuntu sets come back (one from the list, one unclaimed); the
        // previous redhat set of the successful source does not.
        assert_eq!(got.sources[1].carried, 2);
        assert!(!got
            .manifest
            .entries
            .contains_key(&manifest_id(&prev_redhat)));
        assert_eq!(got.manifest.entries.len(), 3);
    }

    #[test]
    fn unknown_rule_and_unreadable_list_fail_only_their_source() {
        let a = source("a", "redhat", "triples");
        let b = source("b", "redhat", "single");
        let unreadable = SourceInput {
            source: &b,
            file: "b.txt".into(),
            urls: Err("b.txt: cannot open: denied".into()),
        };
        let c = source("c", "coreos", "single");
        let got = generate(
            &[
                input(&a, &["http://h/1.rpm"]),
                unreadable,
                input(&c, &["http://h/x.bz2"]),
            ],
            None,
            None,
        );
        assert!(got.sources[0]
            .error
            .as_deref()
            .unwrap()
            .contains("unknown grouping rule \"triples\""));
        assert!(got.sources[1].error.as_deref().unwrap().contains("denied"));
        assert_eq!(got.sources[2].error, None);
        assert_eq!(got.manifest.entries.len(), 1);
    }

    #[test]
    fn conflicting_types_keep_the_first() {
        let a = source("a", "redhat", "single");
        let b = source("b", "oracle", "single");
        let got = generate(
            &[
                input(&a, &["http://h/1.rpm"]),
                input(&b, &["http://h/1.rpm"]),
            ],
            None,
            None,
        );
        assert_eq!(got.sources[1].conflicts.len(), 1);
        assert_eq!(got.manifest.entries.values().next().unwrap().kind, "redhat");
    }
}
