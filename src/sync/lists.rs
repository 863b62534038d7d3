//! Reading package lists for the mirror: `<dir>/*.txt`, one URL per line (`#` comments and blank
//! lines ignored), plus an optional sidecar `<name>.sums` next to `<name>.txt` with what the crawl
//! recorded: lines `<sha256> <size> <url>` (`-` for an unknown field).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

/// One package to mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncItem {
    /// Where to download it.
    pub url: String,
    /// Store key: the simplified URL.
    pub name: String,
    /// Size recorded by the crawl.
    pub size: Option<u64>,
    /// Lowercase hex sha256 recorded by the crawl.
    pub sha256: Option<String>,
}

impl SyncItem {
    /// An item with nothing recorded.
    pub fn new(url: &str) -> Self {
        SyncItem {
            url: url.to_string(),
            name: crate::names::simplify(url),
            size: None,
            sha256: None,
        }
    }
}

/// Parses list text: one URL per line.
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// What the crawl recorded per URL: (size, sha256).
pub type Sums = BTreeMap<String, (Option<u64>, Option<String>)>;

/// Parses sidecar text into url → (size, sha256). `origin` names the file in errors.
pub fn parse_sums(origin: &str, text: &str) -> anyhow::Result<Sums> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [sha, size, url] = fields[..] else {
            anyhow::bail!("{origin}:{}: want `<sha256> <size> <url>`", n + 1);
        };
        let sha = match sha {
            "-" => None,
            s if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(s.to_ascii_lowercase())
            }
            s => anyhow::bail!("{origin}:{}: bad sha256 {s:?}", n + 1),
        };
        let size = match size {
            "-" => None,
            s => Some(
                s.parse()
                    .with_context(|| format!("{origin}:{}: bad size {s:?}", n + 1))?,
            ),
        };
        out.insert(url.to_string(), (size, sha));
    }
    Ok(out)
}

/// Reads one list, `<dir>/<name>.txt` (`name` may carry the `.txt`), with its sidecar.
pub fn read_list(dir: &Path, name: &str) -> anyhow::Result<Vec<SyncItem>> {
    let stem = name.strip_suffix(".txt").unwrap_or(name);
    if stem.is_empty()
        || stem.starts_with('.')
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        anyhow::bail!("invalid list name {name:?}");
    }
    read_files(vec![dir.join(format!("{stem}.txt"))])
}

/// Reads every `*.txt` list in `dir` (sorted by file name) with their sidecars; one item per
/// distinct store name, first occurrence wins.
pub fn read_lists(dir: &Path) -> anyhow::Result<Vec<SyncItem>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("read list directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
        .collect();
    files.sort();
    read_files(files)
}

fn read_files(files: Vec<std::path::PathBuf>) -> anyhow::Result<Vec<SyncItem>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut items = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let sums_path = file.with_extension("sums");
        let sums = match std::fs::read_to_string(&sums_path) {
            Ok(t) => parse_sums(&sums_path.display().to_string(), &t)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("read {}", sums_path.display())),
        };
        for url in parse_list(&text) {
            let mut item = SyncItem::new(&url);
            if let Some((size, sha)) = sums.get(&url) {
                item.size = *size;
                item.sha256 = sha.clone();
            }
            if seen.insert(item.name.clone()) {
                items.push(item);
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_comments_and_blanks() {
        assert_eq!(parse_list("# c\n\n a \nb\n"), ["a", "b"]);
    }

    #[test]
    fn sums_parse_and_errors_name_the_line() {
        let s = parse_sums(
            "x.sums",
            &format!("{} 12 http://a/b\n- - http://c\n", "AB".repeat(32)),
        )
        .unwrap();
        assert_eq!(s["http://a/b"], (Some(12), Some("ab".repeat(32))));
        assert_eq!(s["http://c"], (None, None));
        let err = parse_sums("x.sums", "\nzz 1 u").unwrap_err().to_string();
        assert!(err.contains("x.sums:2"), "{err}");
        assert!(parse_sums("x.sums", "a b").is_err());
    }

    #[test]
    fn reads_directory_with_sidecars_and_dedupes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.txt"),
            "http://h/p1.deb\nhttp://h/p2.deb\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.txt"), "http://h/p2.deb\n").unwrap();
        std::fs::write(
            dir.path().join("a.sums"),
            format!("{} 3 http://h/p1.deb\n", "0".repeat(64)),
        )
        .unwrap();
        std::fs::write(dir.path().join("manifest.yml"), "x: 1\n").unwrap();
        let items = read_lists(dir.path()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].name, "http---h-p1.deb");
        assert_eq!(items[0].size, Some(3));
        assert_eq!(items[1].sha256, None);
        assert!(read_lists(&dir.path().join("nope"))
            .unwrap_err()
            .to_string()
            .contains("nope"));
        assert_eq!(read_list(dir.path(), "a").unwrap().len(), 2);
        assert_eq!(read_list(dir.path(), "b.txt").unwrap().len(), 1);
        assert!(read_list(dir.path(), "../a").is_err());
        assert!(format!("{:#}", read_list(dir.path(), "zz").unwrap_err()).contains("zz.txt"));
    }
}
