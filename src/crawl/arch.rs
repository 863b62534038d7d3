//! Architecture variants of crawl sources (`architectures:` in `sources.yml`).
//!
//! A source is written for amd64. `architectures: [amd64, arm64]` (default `[amd64]`) adds one
//! variant per other architecture, derived as data: every string of the source (repository
//! URLs, selection regexes, canaries) goes through the architecture's `replace` table of the
//! top-level `arch_variants:` map, plus the source's own `arch_replace.<arch>` entries (which
//! win), in one pass with the longest match first (so `amd64` → `arm64` and the Ubuntu archive
//! → its ports archive compose without re-replacing). The variant feeds its own list,
//! `<stem>-<arch>.txt`, with the uncrawled companion `<uncrawled stem>-<arch>.txt`, so the
//! amd64 lists, and the ids of their sets, are untouched by adding an architecture.
//!
//! The expansion runs on the YAML document before it is typed: [`expand`] turns the
//! `sources:` sequence into the expanded one and records each entry's `arch`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use regex::Regex;
use serde_norway::{Mapping, Value};

/// The architecture a source is written for.
pub const DEFAULT_ARCH: &str = "amd64";

/// `arch`, or [`DEFAULT_ARCH`] when none is named (lists, manifest entries).
pub fn or_default(arch: Option<&str>) -> &str {
    arch.unwrap_or(DEFAULT_ARCH)
}

/// The list file of `list` (`debian.txt`) for `arch`: `debian-arm64.txt`; amd64 keeps it.
pub fn list_for_arch(list: &str, arch: &str) -> String {
    if arch == DEFAULT_ARCH {
        return list.to_string();
    }
    let stem = list.strip_suffix(".txt").unwrap_or(list);
    format!("{stem}-{arch}.txt")
}

fn key(s: &str) -> Value {
    Value::String(s.to_string())
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let seq = v
        .as_sequence()
        .with_context(|| format!("{what} must be a list"))?;
    seq.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .with_context(|| format!("{what} must hold strings"))
        })
        .collect()
}

/// `from → to` pairs of a `{from: to}` mapping.
fn pairs(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_mapping()
        .with_context(|| format!("{what} must be a map of text to text"))?;
    map.iter()
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            (Some(k), Some(v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("{what} must be a map of non-empty text to text"),
        })
        .collect()
}

/// One-pass replacement, longest `from` first.
struct Replacer {
    re: Regex,
    to: BTreeMap<String, String>,
}

impl Replacer {
    fn new(table: BTreeMap<String, String>) -> Result<Replacer> {
        let mut froms: Vec<&String> = table.keys().collect();
        froms.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let alternation: Vec<String> = froms.iter().map(|f| regex::escape(f)).collect();
        let re = if alternation.is_empty() {
            Regex::new("$^")
        } else {
            Regex::new(&alternation.join("|"))
        }
        .context("replacement table")?;
        Ok(Replacer { re, to: table })
    }

    fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let out = self.re.replace_all(s, |c: &regex::Captures| {
                    self.to[c.get(0).expect("whole match").as_str()].clone()
                });
                *s = out.into_owned();
            }
            Value::Sequence(seq) => seq.iter_mut().for_each(|x| self.apply(x)),
            Value::Mapping(map) => map.iter_mut().for_each(|(_, x)| self.apply(x)),
            Value::Tagged(t) => self.apply(&mut t.value),
            _ => {}
        }
    }
}

/// Expands the `sources:` of a parsed `sources.yml` document into one entry per source and
/// architecture (see the module docs). Each entry gets `arch`; a variant gets its list names
/// and `architectures: [<arch>]`. Errors name the source: an unknown architecture, a repeated
/// one, an `arch` written by hand, an `arch_replace` for an architecture the source does not
/// select.
pub fn expand(doc: &mut Value) -> Result<()> {
    let Some(root) = doc.as_mapping_mut() else {
        return Ok(());
    };
    let mut tables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Some(variants) = root.get(key("arch_variants")) {
        let variants = variants
            .as_mapping()
            .context("`arch_variants` must map architecture names to {replace: {from: to}}")?;
        for (name, spec) in variants {
            let name = name
                .as_str()
                .context("`arch_variants` keys must be architecture names")?;
            if name == DEFAULT_ARCH {
                bail!("`arch_variants` must not name {DEFAULT_ARCH}: sources are written for it");
            }
            let replace = pairs(
                spec.as_mapping().and_then(|m| m.get(key("replace"))),
                &format!("arch_variants.{name}.replace"),
            )?;
            if replace.is_empty() {
                bail!("arch_variants.{name} needs a non-empty `replace` table");
            }
            tables.insert(name.to_string(), replace);
        }
    }
    let Some(Value::Sequence(sources)) = root.get_mut(key("sources")) else {
        return Ok(());
    };
    let mut expanded = Vec::with_capacity(sources.len());
    for entry in sources.drain(..) {
        let Value::Mapping(map) = entry else {
            expanded.push(entry);
            continue;
        };
        let list = map
            .get(key("list"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let variants = variants_of(&map, &tables).with_context(|| format!("source {list}"))?;
        expanded.extend(variants.into_iter().map(Value::Mapping));
    }
    *sources = expanded;
    Ok(())
}

fn variants_of(
    map: &Mapping,
    tables: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<Mapping>> {
    if map.contains_key(key("arch")) {
        bail!("`arch` is derived from `architectures`; do not write it");
    }
    let mut arches = strings(map.get(key("architectures")), "`architectures`")?;
    if !map.contains_key(key("architectures")) {
        arches.push(DEFAULT_ARCH.to_string());
    }
    if arches.is_empty() {
        bail!("`architectures` must name at least one architecture");
    }
    let own = match map.get(key("arch_replace")) {
        None => BTreeMap::new(),
        Some(v) => {
            let m = v
                .as_mapping()
                .context("`arch_replace` must map architectures to {from: to}")?;
            let mut out = BTreeMap::new();
            for (arch, table) in m {
                let arch = arch
                    .as_str()
                    .context("`arch_replace` keys must be architecture names")?;
                if !arches.iter().any(|a| a == arch) || arch == DEFAULT_ARCH {
                    bail!("`arch_replace.{arch}`: the source has no {arch} variant");
                }
                out.insert(
                    arch.to_string(),
                    pairs(Some(table), &format!("arch_replace.{arch}"))?,
                );
            }
            out
        }
    };
    let list = map
        .get(key("list"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stem = list.strip_suffix(".txt").unwrap_or(&list).to_string();
    let uncrawled = map
        .get(key("uncrawled"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{stem}-uncrawled.txt"));
    let mut out = Vec::new();
    for (i, arch) in arches.iter().enumerate() {
        if arches[..i].contains(arch) {
            bail!("architecture {arch} appears twice in `architectures`");
        }
        let mut v = map.clone();
        v.remove(key("arch_replace"));
        if arch != DEFAULT_ARCH {
            let Some(global) = tables.get(arch) else {
                let known: Vec<&str> = std::iter::once(DEFAULT_ARCH)
                    .chain(tables.keys().map(String::as_str))
                    .collect();
                bail!(
                    "unknown architecture {arch} (known: {}; add it to `arch_variants`)",
                    known.join(", ")
                );
            };
            // An apt repository's `architectures` defaults to amd64: spell it out so the
            // replacement names the variant's.
            if let Some(Value::Sequence(repos)) = v.get_mut(key("repositories")) {
                for repo in repos.iter_mut().filter_map(Value::as_mapping_mut) {
                    let apt = repo.get(key("kind")).and_then(Value::as_str) == Some("apt");
                    if apt && !repo.contains_key(key("architectures")) {
                        repo.insert(
                            key("architectures"),
                            Value::Sequence(vec![key(DEFAULT_ARCH)]),
                        );
                    }
                }
            }
            let mut table = global.clone();
            table.extend(own.get(arch).cloned().unwrap_or_default());
            let mut value = Value::Mapping(v);
            Replacer::new(table)?.apply(&mut value);
            let Value::Mapping(m) = value else {
                unreachable!("a mapping stays a mapping")
            };
            v = m;
            v.insert(key("list"), key(&list_for_arch(&list, arch)));
            v.insert(key("uncrawled"), key(&list_for_arch(&uncrawled, arch)));
        }
        v.insert(
            key("architectures"),
            Value::Sequence(vec![key(arch.as_str())]),
        );
        v.insert(key("arch"), key(arch));
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "arch_variants:\n  arm64:\n    replace:\n      amd64: arm64\n      x86_64: aarch64\n      http://security.ubuntu.com/ubuntu: http://ports.ubuntu.com/ubuntu-ports\n";

    fn expand_text(sources: &str) -> Result<Vec<Mapping>> {
        let mut doc: Value = serde_norway::from_str(&format!("{TABLE}sources:\n{sources}"))?;
        expand(&mut doc)?;
        Ok(doc["sources"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_mapping().unwrap().clone())
            .collect())
    }

    fn get<'a>(m: &'a Mapping, k: &str) -> &'a Value {
        m.get(key(k)).unwrap()
    }

    #[test]
    fn default_is_amd64_only_and_unchanged() {
        let got = expand_text("  - {list: a.txt, select: {names: ['_amd64']}}\n").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(get(&got[0], "arch").as_str(), Some("amd64"));
        assert_eq!(get(&got[0], "list").as_str(), Some("a.txt"));
        assert_eq!(get(&got[0], "select")["names"][0].as_str(), Some("_amd64"));
    }

    #[test]
    fn variant_rewrites_strings_once_and_names_its_lists() {
        let got = expand_text(
            "  - list: u.txt\n    uncrawled: ubuntu-uncrawled.txt\n    architectures: [amd64, arm64]\n    select: {names: ['_(amd64|all)\\.deb$', 'x86_64']}\n    repositories:\n      - {kind: apt, url: 'http://security.ubuntu.com/ubuntu'}\n",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        let arm = &got[1];
        assert_eq!(get(arm, "arch").as_str(), Some("arm64"));
        assert_eq!(get(arm, "list").as_str(), Some("u-arm64.txt"));
        assert_eq!(
            get(arm, "uncrawled").as_str(),
            Some("ubuntu-uncrawled-arm64.txt")
        );
        assert_eq!(
            get(arm, "select")["names"][0].as_str(),
            Some("_(arm64|all)\\.deb$")
        );
        assert_eq!(get(arm, "select")["names"][1].as_str(), Some("aarch64"));
        let repo = &get(arm, "repositories")[0];
        assert_eq!(
            repo["url"].as_str(),
            Some("http://ports.ubuntu.com/ubuntu-ports")
        );
        assert_eq!(repo["architectures"][0].as_str(), Some("arm64"));
        // The amd64 entry is the source as written.
        assert_eq!(get(&got[0], "list").as_str(), Some("u.txt"));
        assert_eq!(
            get(&got[0], "repositories")[0]["url"].as_str(),
            Some("http://security.ubuntu.com/ubuntu")
        );
    }

    #[test]
    fn source_replacements_win_and_bad_input_names_the_source() {
        let got = expand_text(
            "  - {list: f.txt, architectures: [amd64, arm64], arch_replace: {arm64: {amd64-usr: arm64-usr, amd64: ARM}}, urls: [x/amd64-usr/amd64]}\n",
        )
        .unwrap();
        assert_eq!(get(&got[1], "urls")[0].as_str(), Some("x/arm64-usr/ARM"));
        assert!(!got[1].contains_key(key("arch_replace")));
        for (bad, why) in [
            (
                "{list: b.txt, architectures: [riscv64]}",
                "unknown architecture riscv64",
            ),
            ("{list: b.txt, architectures: [arm64, arm64]}", "twice"),
            ("{list: b.txt, architectures: []}", "at least one"),
            ("{list: b.txt, arch: arm64}", "derived"),
            (
                "{list: b.txt, arch_replace: {arm64: {a: b}}}",
                "no arm64 variant",
            ),
        ] {
            let err = format!("{:#}", expand_text(&format!("  - {bad}\n")).unwrap_err());
            assert!(err.contains("b.txt") && err.contains(why), "{bad}: {err}");
        }
    }
}
