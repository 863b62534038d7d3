//! The `newest` upstream canary of yum, html, bucket and github repositories: among the
//! entries a crawl saw whose names match the canary regex, the newest must have been
//! selected, else the rules no longer follow the distribution. (apt's metapackage canary
//! lives in [`super::apt`], next to the index it reads.)

use anyhow::{bail, Result};
use regex::Regex;

use crate::manifest::version;

/// One entry a crawl saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// What the canary regex is matched against (package name, file name, tag).
    pub name: String,
    /// Ordering key, compared with Debian version ordering (digit runs numerically): an
    /// rpm `ver-rel`, the path below the start URL, an ordinal for API order.
    pub key: String,
    /// Whether the crawl selected it.
    pub selected: bool,
}

/// A compiled `newest` canary.
#[derive(Debug, Clone)]
pub struct Newest {
    /// Entry names that count.
    pub names: Regex,
    /// If not empty, only entries whose key matches one of these count.
    pub versions: Vec<Regex>,
}

/// Checks that the newest entry the canary counts was selected; `place` names the repository.
pub fn check_newest(canary: &Newest, seen: &[Seen], place: &str) -> Result<()> {
    let re = &canary.names;
    let newest = seen
        .iter()
        .filter(|s| re.is_match(&s.name))
        .filter(|s| {
            canary.versions.is_empty() || canary.versions.iter().any(|v| v.is_match(&s.key))
        })
        .max_by(|a, b| version::compare(&a.key, &b.key).then_with(|| a.name.cmp(&b.name)));
    match newest {
        None => bail!(
            "rules are stale: {place}: no entry matches the canary {:?}",
            re.as_str()
        ),
        Some(s) if !s.selected => bail!(
            "rules are stale: {place}: the newest entry {} ({}) was not selected",
            s.name,
            s.key
        ),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, key: &str, selected: bool) -> Seen {
        Seen {
            name: name.into(),
            key: key.into(),
            selected,
        }
    }

    #[test]
    fn newest_must_be_selected() {
        let re = Newest {
            names: Regex::new("^kernel-devel$").unwrap(),
            versions: vec![],
        };
        let mut s = vec![
            seen("kernel-devel", "3.10.0-1160.el7", true),
            seen("kernel-devel", "3.10.0-957.el7", true),
            seen("kernel-headers", "9.9-1", false),
        ];
        check_newest(&re, &s, "r").unwrap();
        s[0].selected = false;
        let err = check_newest(&re, &s, "r").unwrap_err().to_string();
        assert!(
            err.starts_with("rules are stale: r: the newest entry kernel-devel (3.10.0-1160.el7)"),
            "{err}"
        );
        let only_old = Newest {
            versions: vec![Regex::new("^3\\.10\\.0-957").unwrap()],
            ..re.clone()
        };
        check_newest(&only_old, &s, "r").unwrap();
        let none = Newest {
            names: Regex::new("^x$").unwrap(),
            versions: vec![],
        };
        let err = check_newest(&none, &s, "r").unwrap_err();
        assert!(err.to_string().contains("no entry matches"), "{err}");
    }
}
