//! Package lists (`kernel-package-lists/*.txt`): parsing, canonical writing, merging a crawl
//! result into a list, and the store the lists live in.
//!
//! A list file holds one package URL per line. Lines starting with `#` are comments and are kept
//! (in their original order) at the top of the file; blank lines are dropped. The canonical form
//! written by [`render`] is: comments, then URLs sorted bytewise and deduplicated, every line
//! ending in `\n`.
//!
//! The rule for URLs that vanish upstream: they move from the list to its uncrawled companion
//! (`<list>-uncrawled.txt` unless the source names another), so nothing ever gets lost.

mod store;

pub use store::{DirStore, ListStore};

use std::collections::BTreeSet;

/// A parsed list file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageList {
    /// Comment lines (with their leading `#`), in file order.
    pub comments: Vec<String>,
    /// Package URLs, sorted and deduplicated.
    pub urls: BTreeSet<String>,
}

impl PackageList {
    /// Parses list text; tolerant of CRLF, blank lines, unsorted and duplicate entries.
    pub fn parse(text: &str) -> Self {
        let mut list = PackageList::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                list.comments.push(line.to_string());
            } else {
                list.urls.insert(line.to_string());
            }
        }
        list
    }

    /// The canonical text of this list (see the module docs).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in self.comments.iter().chain(self.urls.iter()) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Parses list text (see [`PackageList::parse`]).
pub fn parse(text: &str) -> PackageList {
    PackageList::parse(text)
}

/// Renders a list in canonical form (see [`PackageList::render`]).
pub fn render(list: &PackageList) -> String {
    list.render()
}

/// The outcome of merging one successful crawl into a list and its uncrawled companion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The new list: exactly the URLs found upstream (comments kept).
    pub list: PackageList,
    /// The new uncrawled list: old uncrawled entries plus URLs that vanished upstream, minus
    /// URLs that are upstream again (those live in `list`).
    pub uncrawled: PackageList,
    /// URLs that are new in the list.
    pub added: Vec<String>,
    /// URLs moved from the list to the uncrawled list.
    pub moved: Vec<String>,
    /// URLs that were in the list before and still are.
    pub unchanged: usize,
}

/// Merges the URLs a crawl found (`found`) into `current` and its uncrawled companion.
///
/// Contract: every URL of `current` and `uncrawled` ends up in exactly one of the returned lists
/// (never lost); `list.urls == found`.
pub fn merge(current: &PackageList, uncrawled: &PackageList, found: &BTreeSet<String>) -> Merge {
    let added: Vec<String> = found.difference(&current.urls).cloned().collect();
    let moved: Vec<String> = current.urls.difference(found).cloned().collect();
    let unchanged = current.urls.intersection(found).count();
    let mut new_uncrawled = uncrawled.clone();
    new_uncrawled.urls.extend(moved.iter().cloned());
    new_uncrawled.urls.retain(|u| !found.contains(u));
    Merge {
        list: PackageList {
            comments: current.comments.clone(),
            urls: found.clone(),
        },
        uncrawled: new_uncrawled,
        added,
        moved,
        unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_sorts_dedups_keeps_comments() {
        let list = PackageList::parse("b\r\n# note\n\na\nb\n");
        assert_eq!(list.comments, vec!["# note"]);
        assert_eq!(list.urls, set(&["a", "b"]));
        assert_eq!(list.render(), "# note\na\nb\n");
    }

    #[test]
    fn empty_list_renders_empty() {
        assert_eq!(PackageList::parse("\n").render(), "");
    }

    #[test]
    fn merge_moves_vanished_urls_and_reports_counts() {
        let current = PackageList::parse("a\nb\nc\n");
        let uncrawled = PackageList::parse("# old\nz\nd\n");
        let m = merge(&current, &uncrawled, &set(&["b", "c", "d", "e"]));
        assert_eq!(m.list.urls, set(&["b", "c", "d", "e"]));
        assert_eq!(m.added, vec!["d", "e"]);
        assert_eq!(m.moved, vec!["a"]);
        assert_eq!(m.unchanged, 2);
        // d is back upstream, so it leaves the uncrawled list; a joins it.
        assert_eq!(m.uncrawled.render(), "# old\na\nz\n");
    }

    #[test]
    fn merge_never_loses_a_url() {
        let current = PackageList::parse("a\nb\n");
        let uncrawled = PackageList::parse("c\n");
        let m = merge(&current, &uncrawled, &set(&[]));
        let all: BTreeSet<_> = m.list.urls.union(&m.uncrawled.urls).cloned().collect();
        assert_eq!(all, set(&["a", "b", "c"]));
    }
}
