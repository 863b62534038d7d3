//! Package lists (`kernel-package-lists/*.txt`): parsing, canonical writing, merging a crawl
//! result into a list, and the store the lists live in.
//!
//! A list file holds one package URL per line. Lines starting with `#` are comments and are kept
//! (in their original order) at the top of the file; blank lines and repeated URLs are dropped.
//! Two layouts ([`Order`]):
//! - `sorted` (the default): URLs sorted bytewise;
//! - `keep`: URLs in file order, new ones appended (sorted) at the end — for lists whose
//!   grouping rule depends on position (`one-to-each`, `one-to-pairs`: the first URL is the
//!   shared package).
//!
//! Every line ends in `\n`.
//!
//! The rule for URLs that vanish upstream: they move from the list to its uncrawled companion
//! (`<list>-uncrawled.txt` unless the source names another), so nothing ever gets lost.

mod store;

pub use store::{DirStore, ListStore};

use std::collections::BTreeSet;

use serde::Deserialize;

/// How a list's URLs are laid out (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Sorted bytewise.
    #[default]
    Sorted,
    /// File order kept; new URLs appended.
    Keep,
}

/// A parsed list file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageList {
    /// Comment lines (with their leading `#`), in file order.
    pub comments: Vec<String>,
    /// Package URLs (the set).
    pub urls: BTreeSet<String>,
    /// Package URLs in file order, without repeats (same members as `urls`).
    pub sequence: Vec<String>,
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
            } else if list.urls.insert(line.to_string()) {
                list.sequence.push(line.to_string());
            }
        }
        list
    }

    /// A list of these URLs (in this order, repeats dropped) and comments.
    pub fn from_urls(comments: Vec<String>, urls: impl IntoIterator<Item = String>) -> Self {
        let mut list = PackageList {
            comments,
            ..PackageList::default()
        };
        for u in urls {
            if list.urls.insert(u.clone()) {
                list.sequence.push(u);
            }
        }
        list
    }

    /// The canonical text of this list, sorted.
    pub fn render(&self) -> String {
        self.render_with(Order::Sorted)
    }

    /// The canonical text of this list in the given layout.
    pub fn render_with(&self, order: Order) -> String {
        let mut out = String::new();
        let urls: Box<dyn Iterator<Item = &String>> = match order {
            Order::Sorted => Box::new(self.urls.iter()),
            Order::Keep => Box::new(self.sequence.iter()),
        };
        for line in self.comments.iter().chain(urls) {
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

/// Renders a list sorted (see [`PackageList::render`]).
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
    /// URLs that are new in the list, in crawl order.
    pub added: Vec<String>,
    /// URLs moved from the list to the uncrawled list, sorted.
    pub moved: Vec<String>,
    /// URLs that were in the list before and still are.
    pub unchanged: usize,
}

/// Merges the URLs a crawl found (`found`, in crawl order) into `current` and its uncrawled
/// companion.
///
/// Contract: every URL of `current` and `uncrawled` ends up in exactly one of the returned lists
/// (never lost); `list.urls` equals the set of `found`. Sequences keep the surviving entries in
/// their order and append new ones in `found` order (what [`Order::Keep`] writes).
pub fn merge(current: &PackageList, uncrawled: &PackageList, found: &[String]) -> Merge {
    let found_order = found;
    let found: BTreeSet<String> = found.iter().cloned().collect();
    let found = &found;
    let mut seen = BTreeSet::new();
    let added: Vec<String> = found_order
        .iter()
        .filter(|u| !current.urls.contains(*u) && seen.insert(u.as_str()))
        .cloned()
        .collect();
    let moved: Vec<String> = current.urls.difference(found).cloned().collect();
    let unchanged = current.urls.intersection(found).count();
    let list = PackageList::from_urls(
        current.comments.clone(),
        current
            .sequence
            .iter()
            .filter(|u| found.contains(*u))
            .cloned()
            .chain(added.iter().cloned()),
    );
    let new_uncrawled = PackageList::from_urls(
        uncrawled.comments.clone(),
        uncrawled
            .sequence
            .iter()
            .chain(moved.iter())
            .filter(|u| !found.contains(*u))
            .cloned(),
    );
    Merge {
        list,
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

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_sorts_dedups_keeps_comments() {
        let list = PackageList::parse("b\r\n# note\n\na\nb\n");
        assert_eq!(list.comments, vec!["# note"]);
        assert_eq!(list.urls, set(&["a", "b"]));
        assert_eq!(list.render(), "# note\na\nb\n");
        assert_eq!(list.render_with(Order::Keep), "# note\nb\na\n");
    }

    #[test]
    fn empty_list_renders_empty() {
        assert_eq!(PackageList::parse("\n").render(), "");
    }

    #[test]
    fn merge_moves_vanished_urls_and_reports_counts() {
        let current = PackageList::parse("a\nb\nc\n");
        let uncrawled = PackageList::parse("# old\nz\nd\n");
        let m = merge(&current, &uncrawled, &v(&["b", "c", "d", "e"]));
        assert_eq!(m.list.urls, set(&["b", "c", "d", "e"]));
        assert_eq!(m.added, vec!["d", "e"]);
        assert_eq!(m.moved, vec!["a"]);
        assert_eq!(m.unchanged, 2);
        // d is back upstream, so it leaves the uncrawled list; a joins it.
        assert_eq!(m.uncrawled.render(), "# old\na\nz\n");
    }

    #[test]
    fn keep_order_appends_new_urls_after_the_survivors() {
        let current = PackageList::parse("shared\nz\ny\nx\n");
        let m = merge(
            &current,
            &PackageList::default(),
            &v(&["shared", "x", "y", "a", "b"]),
        );
        assert_eq!(m.list.render_with(Order::Keep), "shared\ny\nx\na\nb\n");
        assert_eq!(m.uncrawled.render_with(Order::Keep), "z\n");
    }

    #[test]
    fn merge_never_loses_a_url() {
        let current = PackageList::parse("a\nb\n");
        let uncrawled = PackageList::parse("c\n");
        let m = merge(&current, &uncrawled, &v(&[]));
        let all: BTreeSet<_> = m.list.urls.union(&m.uncrawled.urls).cloned().collect();
        assert_eq!(all, set(&["a", "b", "c"]));
    }
}
