//! Which sources one scheduled run crawls: a request (`{"group": "ubuntu"}` or
//! `{"sources": ["debian", ...]}`, the EventBridge event's detail) resolved against the
//! groups file `crawl-groups.yml` beside `sources.yml`:
//!
//! ```yaml
//! groups:
//!   ubuntu: [ubuntu-standard, ubuntu-hwe]
//!   rhel: [rhel7, rhel8]
//! ```
//!
//! A group may instead be a map, to set options for its pull requests:
//!
//! ```yaml
//! groups:
//!   debian: {sources: [debian, kops], auto_merge: true}
//! ```
//!
//! `auto_merge: true`: when the pull-request check ([`super::check`]) is green, the crawl enables
//! GitHub's auto-merge on the pull request (see [`auto_merge`]). Default false.
//!
//! The group names the bot branch (`kernel-packer/crawl-<group>`). The group `all` (unless the
//! file defines it) is every enabled source. A request with `sources` and no `group` gets the
//! group name of its single source, or `custom-<8 hex>` of the sorted names.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::crawl::Selection;

/// File name of the groups file, in the lists directory.
pub const GROUPS_FILE: &str = "crawl-groups.yml";

/// What a run was asked to crawl (the scheduled event's payload).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CrawlRequest {
    /// A group from the groups file (or `all`).
    #[serde(default)]
    pub group: Option<String>,
    /// Sources by name or list file; with `group`, the group only names the branch.
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    groups: BTreeMap<String, GroupEntry>,
}

/// A group: its sources, or a map with its sources and options.
#[derive(Deserialize)]
#[serde(untagged)]
enum GroupEntry {
    Sources(Vec<String>),
    Spec(GroupSpec),
}

/// One group of the groups file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Source names (list names without `.txt`).
    pub sources: Vec<String>,
    /// Enable GitHub's auto-merge on the group's pull request when its check is green.
    #[serde(default)]
    pub auto_merge: bool,
}

/// Parses the groups file into full group specs; `origin` names it in errors.
pub fn parse_group_specs(text: &str, origin: &str) -> Result<BTreeMap<String, GroupSpec>> {
    let f: GroupsFile =
        serde_norway::from_str(text).with_context(|| format!("parsing {origin}"))?;
    let mut out = BTreeMap::new();
    for (name, entry) in f.groups {
        check_name(&name).with_context(|| origin.to_string())?;
        let spec = match entry {
            GroupEntry::Sources(sources) => GroupSpec {
                sources,
                auto_merge: false,
            },
            GroupEntry::Spec(spec) => spec,
        };
        if spec.sources.is_empty() {
            bail!("{origin}: group {name:?} has no sources");
        }
        out.insert(name, spec);
    }
    Ok(out)
}

/// Parses the groups file (group → sources); `origin` names it in errors.
pub fn parse_groups(text: &str, origin: &str) -> Result<BTreeMap<String, Vec<String>>> {
    Ok(parse_group_specs(text, origin)?
        .into_iter()
        .map(|(name, spec)| (name, spec.sources))
        .collect())
}

/// Whether `group` is configured `auto_merge: true` in the groups file `groups` (false for a
/// group the file does not define, such as `all` or an ad-hoc `sources` request).
pub fn auto_merge(groups: Option<&str>, group: &str) -> Result<bool> {
    let Some(text) = groups else {
        return Ok(false);
    };
    Ok(parse_group_specs(text, GROUPS_FILE)?
        .get(group)
        .is_some_and(|g| g.auto_merge))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
        || name.contains("..")
    {
        bail!("group name {name:?} must be 1-64 chars of [a-z0-9._-]");
    }
    Ok(())
}

/// Resolves a request to `(group, selection)`. `groups` is the groups file's text, if the
/// repository has one. Unknown groups and empty requests are errors; unknown source names
/// are caught later by the crawler (it names them).
pub fn resolve(req: &CrawlRequest, groups: Option<&str>) -> Result<(String, Selection)> {
    let defined = match groups {
        Some(text) => parse_groups(text, GROUPS_FILE)?,
        None => BTreeMap::new(),
    };
    if !req.sources.is_empty() {
        let group = match &req.group {
            Some(g) => g.clone(),
            None if req.sources.len() == 1 => {
                req.sources[0].trim_end_matches(".txt").to_ascii_lowercase()
            }
            None => {
                let mut names: Vec<&str> = req
                    .sources
                    .iter()
                    .map(|s| s.trim_end_matches(".txt"))
                    .collect();
                names.sort();
                names.dedup();
                let h = Sha256::digest(names.join("\n").as_bytes());
                format!("custom-{}", &hex::encode(h)[..8])
            }
        };
        check_name(&group)?;
        return Ok((group, Selection::Sources(req.sources.clone())));
    }
    let Some(group) = &req.group else {
        bail!("the request names neither `group` nor `sources`");
    };
    check_name(group)?;
    match defined.get(group) {
        Some(sources) => Ok((group.clone(), Selection::Sources(sources.clone()))),
        None if group == "all" => Ok((group.clone(), Selection::All)),
        None => bail!(
            "unknown group {group:?} (groups in {GROUPS_FILE}: {})",
            defined.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "groups:\n  ubuntu: [ubuntu-standard, ubuntu-hwe]\n  debian: [debian]\n";

    fn req(json: &str) -> CrawlRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn resolves_groups_sources_and_all() {
        let (g, s) = resolve(&req(r#"{"group":"ubuntu"}"#), Some(FILE)).unwrap();
        assert_eq!(g, "ubuntu");
        assert_eq!(
            s,
            Selection::Sources(vec!["ubuntu-standard".into(), "ubuntu-hwe".into()])
        );
        let (g, s) = resolve(&req(r#"{"group":"all"}"#), Some(FILE)).unwrap();
        assert_eq!((g.as_str(), s), ("all", Selection::All));
        let (g, _) = resolve(&req(r#"{"sources":["debian.txt"]}"#), None).unwrap();
        assert_eq!(g, "debian");
        let (g1, _) = resolve(&req(r#"{"sources":["a","b"]}"#), None).unwrap();
        let (g2, _) = resolve(&req(r#"{"sources":["b","a.txt"]}"#), None).unwrap();
        assert!(g1.starts_with("custom-") && g1 == g2, "{g1} {g2}");
        let (g, s) = resolve(&req(r#"{"sources":["x"],"group":"mine"}"#), None).unwrap();
        assert_eq!(
            (g.as_str(), s),
            ("mine", Selection::Sources(vec!["x".into()]))
        );
    }

    #[test]
    fn rejects_bad_requests_and_files() {
        let e = resolve(&req(r#"{"group":"nope"}"#), Some(FILE)).unwrap_err();
        assert!(format!("{e:#}").contains("nope"), "{e:#}");
        assert!(resolve(&req("{}"), Some(FILE)).is_err());
        assert!(resolve(&req(r#"{"group":"../x"}"#), None).is_err());
        assert!(serde_json::from_str::<CrawlRequest>(r#"{"grop":"x"}"#).is_err());
        let e = resolve(&req(r#"{"group":"x"}"#), Some("groups:\n  x: []\n")).unwrap_err();
        assert!(format!("{e:#}").contains(GROUPS_FILE), "{e:#}");
        let e = resolve(
            &req(r#"{"group":"x"}"#),
            Some("groups:\n  x: {sources: [a], auto_merg: true}\n"),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains(GROUPS_FILE), "{e:#}");
    }

    #[test]
    fn groups_as_maps_carry_auto_merge() {
        let file = "groups:\n  debian: {sources: [debian, kops], auto_merge: true}\n  rpm: [centos]\n  suse: {sources: [suse]}\n";
        let (g, s) = resolve(&req(r#"{"group":"debian"}"#), Some(file)).unwrap();
        assert_eq!(g, "debian");
        assert_eq!(s, Selection::Sources(vec!["debian".into(), "kops".into()]));
        assert!(auto_merge(Some(file), "debian").unwrap());
        assert!(!auto_merge(Some(file), "rpm").unwrap());
        assert!(!auto_merge(Some(file), "suse").unwrap());
        assert!(!auto_merge(Some(file), "all").unwrap());
        assert!(!auto_merge(None, "debian").unwrap());
        assert_eq!(parse_groups(file, "f").unwrap()["rpm"], vec!["centos"]);
    }
}

#[cfg(test)]
mod committed {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every group names known sources; every enabled source is in exactly one group.
    #[test]
    fn committed_groups_cover_enabled_sources_once() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
        let config = crate::crawl::config::Config::load(&dir.join("sources.yml")).unwrap();
        let text = std::fs::read_to_string(dir.join(GROUPS_FILE)).unwrap();
        let groups = parse_groups(&text, GROUPS_FILE).unwrap();
        let mut seen = BTreeSet::new();
        for (g, sources) in &groups {
            for s in sources {
                let src = config
                    .source(s)
                    .unwrap_or_else(|| panic!("group {g}: unknown source {s}"));
                assert!(seen.insert(src.list.clone()), "{} in two groups", src.list);
            }
        }
        for s in config.sources.iter().filter(|s| s.enabled) {
            assert!(seen.contains(&s.list), "{} is in no group", s.list);
        }
    }
}
