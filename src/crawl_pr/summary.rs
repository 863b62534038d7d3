//! What a crawl changed, for the pull request: kernels (manifest entries) added and removed
//! per list, with their kernel release (`uname -r`, derived from the package names) and
//! type; per-list URL counts; sources that failed and why. Pure: values in, text out.

use std::collections::{BTreeMap, HashMap};

use crate::crawl::{CrawlReport, Outcome};
use crate::manifest::{Entry, Manifest};
use crate::names::simplify;

/// One kernel (manifest entry) that appeared or disappeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Kernel release derived from the package names; for packages without one (COS,
    /// Flatcar, tarballs), the last two segments of the first package's URL.
    pub uname: String,
    /// Packer type.
    pub kind: String,
    /// Manifest id.
    pub id: String,
}

/// The change a run proposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Group crawled.
    pub group: String,
    /// Kernels added, by list file (`(unknown list)` when no list holds their packages).
    pub added: BTreeMap<String, Vec<Kernel>>,
    /// Kernels removed, by the list that held them before.
    pub removed: BTreeMap<String, Vec<Kernel>>,
    /// Per list: `(list, URLs added, URLs moved to the uncrawled list, uncrawled list)`.
    pub lists: Vec<(String, usize, usize, String)>,
    /// Failed sources: `(list, reason)`.
    pub failed: Vec<(String, String)>,
    /// Kernels the manifest left out (rejected URLs): `(list, URL, reason)`.
    pub rejected: Vec<(String, String, String)>,
    /// Files changed (paths relative to the lists directory).
    pub files: Vec<String>,
}

/// The kernel release of an entry: the longest `linux-headers-<X>_` (the flavoured
/// package), else `-devel-<X>.rpm`, else the first package name.
pub fn uname_of(entry: &Entry) -> String {
    release_of(entry).unwrap_or_else(|| entry.packages.first().cloned().unwrap_or_default())
}

/// Package names whose kernel release is not the `-devel-` suffix: Photon's
/// `linux[-<flavour>]-devel-<ver>-<rel>.phN.<arch>.rpm` (uname `<ver>-<rel>.phN[-<flavour>]`)
/// and SUSE's `kernel-<flavour>-devel-<ver>-<rel>.<build>.<arch>.rpm` (uname
/// `<ver>-<rel>-<flavour>`).
fn distro_release(package: &str) -> Option<String> {
    static RES: std::sync::OnceLock<[regex::Regex; 2]> = std::sync::OnceLock::new();
    let [photon, suse] = RES.get_or_init(|| {
        [
            regex::Regex::new(
                r"(?:^|-)linux(?:-([a-z]+))?-devel-(\d[\w.+-]*?\.ph\d+)\.[a-z0-9_]+\.rpm$",
            )
            .unwrap(),
            regex::Regex::new(
                r"(?:^|-)kernel-([a-z]+)-devel-(\d[\w.+]*-[\d.]+?)\.\d+\.[a-z0-9_]+\.rpm$",
            )
            .unwrap(),
        ]
    });
    if let Some(c) = photon.captures(package) {
        return Some(match c.get(1) {
            Some(flavour) => format!("{}-{}", &c[2], flavour.as_str()),
            None => c[2].to_string(),
        });
    }
    let c = suse.captures(package)?;
    (&c[1] != "uek").then(|| format!("{}-{}", &c[2], &c[1]))
}

/// The kernel release found in an entry's package names, if any (see [`uname_of`]). Debian's
/// flavour-independent `linux-headers-<abi>-common[-rt]` package names no kernel.
pub fn release_of(entry: &Entry) -> Option<String> {
    if let Some(r) = entry.packages.iter().find_map(|p| distro_release(p)) {
        return Some(r);
    }
    let mut best: Option<String> = None;
    for p in &entry.packages {
        let cand = if let Some(i) = p.rfind("linux-headers-") {
            let rest = &p[i + "linux-headers-".len()..];
            rest.split('_')
                .next()
                .filter(|r| !r.ends_with("-common") && !r.ends_with("-common-rt"))
                .map(str::to_string)
        } else if let Some(i) = p.rfind("-devel-") {
            p[i + "-devel-".len()..]
                .strip_suffix(".rpm")
                .map(str::to_string)
        } else {
            None
        };
        if let Some(c) = cand.filter(|c| !c.is_empty()) {
            if best.as_ref().is_none_or(|b| c.len() > b.len()) {
                best = Some(c);
            }
        }
    }
    best
}

/// Simplified package name → (list file, URL), over the main lists (not the uncrawled ones).
fn owners(lists: &BTreeMap<String, String>) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for (name, text) in lists {
        if !name.ends_with(".txt") || name.ends_with("-uncrawled.txt") {
            continue;
        }
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                out.entry(simplify(line))
                    .or_insert_with(|| (name.clone(), line.to_string()));
            }
        }
    }
    out
}

/// The last two path segments of a URL (`1.0.0/flatcar_developer_container.bin.bz2`): the
/// label of a kernel whose packages carry no release in their names.
fn short_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let segs: Vec<&str> = path.rsplit('/').filter(|s| !s.is_empty()).take(2).collect();
    segs.into_iter().rev().collect::<Vec<_>>().join("/")
}

fn kernels(
    from: &Manifest,
    without: &Manifest,
    lists: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<Kernel>> {
    let owner = owners(lists);
    let mut out: BTreeMap<String, Vec<Kernel>> = BTreeMap::new();
    for (id, e) in &from.entries {
        if without.entries.contains_key(id) {
            continue;
        }
        let found = e.packages.iter().find_map(|p| owner.get(p));
        let list = found
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| "(unknown list)".to_string());
        let uname = match (release_of(e), found) {
            (Some(u), _) => u,
            (None, Some((_, url))) => short_url(url),
            (None, None) => e.packages.first().cloned().unwrap_or_default(),
        };
        out.entry(list).or_default().push(Kernel {
            uname,
            kind: e.kind.clone(),
            id: id.clone(),
        });
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| (&a.uname, &a.id).cmp(&(&b.uname, &b.id)));
    }
    out
}

/// Builds the summary from the manifests and list files before and after, and the crawl
/// report. `files` are the changed paths.
pub fn summarize(
    group: &str,
    before: (&Manifest, &BTreeMap<String, String>),
    after: (&Manifest, &BTreeMap<String, String>),
    report: &CrawlReport,
    files: Vec<String>,
) -> Summary {
    let mut s = Summary {
        group: group.to_string(),
        added: kernels(after.0, before.0, after.1),
        removed: kernels(before.0, after.0, before.1),
        files,
        ..Default::default()
    };
    for src in &report.sources {
        match &src.outcome {
            Outcome::Updated { added, moved, .. } => {
                if !added.is_empty() || !moved.is_empty() {
                    s.lists.push((
                        src.list.clone(),
                        added.len(),
                        moved.len(),
                        src.uncrawled.clone(),
                    ));
                }
            }
            Outcome::Failed { reason } => s.failed.push((src.list.clone(), reason.clone())),
        }
    }
    s
}

/// Rows shown per list and direction; the rest is counted.
pub const MAX_ROWS: usize = 100;
/// GitHub rejects longer bodies; ours stays below.
pub const MAX_BODY: usize = 60_000;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(out: &mut String, title: &str, rows: &BTreeMap<String, Vec<Kernel>>) {
    if rows.is_empty() {
        return;
    }
    let n: usize = rows.values().map(Vec::len).sum();
    out.push_str(&format!("\n### Kernels {title} ({n})\n"));
    for (list, ks) in rows {
        out.push_str(&format!(
            "\n**{}** ({})\n\n| uname | type |\n| --- | --- |\n",
            cell(list),
            ks.len()
        ));
        for k in ks.iter().take(MAX_ROWS) {
            out.push_str(&format!("| `{}` | {} |\n", cell(&k.uname), cell(&k.kind)));
        }
        if ks.len() > MAX_ROWS {
            out.push_str(&format!("| … and {} more | |\n", ks.len() - MAX_ROWS));
        }
    }
}

/// Renders the pull request body (Markdown, at most [`MAX_BODY`] bytes).
pub fn render_body(s: &Summary) -> String {
    let mut out = format!(
        "Automated crawl of group `{}` by kernel-packer.\n",
        cell(&s.group)
    );
    if !s.lists.is_empty() {
        out.push_str("\n### Lists\n\n");
        for (list, added, moved, uncrawled) in &s.lists {
            out.push_str(&format!("- `{list}`: {added} URL(s) added"));
            if *moved > 0 {
                out.push_str(&format!(", {moved} moved to `{uncrawled}`"));
            }
            out.push('\n');
        }
    }
    table(&mut out, "added", &s.added);
    table(&mut out, "removed", &s.removed);
    if !s.failed.is_empty() {
        out.push_str(&format!(
            "\n### Failed sources ({})\n\nTheir lists are unchanged.\n\n",
            s.failed.len()
        ));
        for (list, reason) in &s.failed {
            out.push_str(&format!("- `{list}`: {}\n", cell(reason)));
        }
    }
    if !s.rejected.is_empty() {
        out.push_str(&format!(
            "\n### Kernels skipped by the manifest ({})\n\nTheir previous sets are kept.\n\n| list | URL | reason |\n| --- | --- | --- |\n",
            s.rejected.len()
        ));
        for (list, url, reason) in s.rejected.iter().take(MAX_ROWS) {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                cell(list),
                cell(url),
                cell(reason)
            ));
        }
        if s.rejected.len() > MAX_ROWS {
            out.push_str(&format!(
                "| … and {} more | | |\n",
                s.rejected.len() - MAX_ROWS
            ));
        }
    }
    if !s.files.is_empty() {
        out.push_str("\n### Files changed\n\n");
        for f in &s.files {
            out.push_str(&format!("- `{f}`\n"));
        }
    }
    if out.len() > MAX_BODY {
        let mut cut = MAX_BODY - 40;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n\n… (truncated)\n");
    }
    out
}

/// A short commit message: title line, then one line per list and failure.
pub fn commit_message(title: &str, s: &Summary) -> String {
    let mut m = format!("{title}\n\n");
    for (list, added, moved, _) in &s.lists {
        m.push_str(&format!(
            "{list}: +{added} URL(s), {moved} moved to uncrawled\n"
        ));
    }
    let (a, r): (usize, usize) = (
        s.added.values().map(Vec::len).sum(),
        s.removed.values().map(Vec::len).sum(),
    );
    m.push_str(&format!("manifest: {a} kernel(s) added, {r} removed\n"));
    for (list, _) in &s.failed {
        m.push_str(&format!("{list}: crawl failed (unchanged)\n"));
    }
    if !s.rejected.is_empty() {
        m.push_str(&format!(
            "manifest: {} URL(s) rejected (previous sets kept)\n",
            s.rejected.len()
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crawl::{http::HttpStats, SourceReport};

    fn entry(kind: &str, packages: &[&str]) -> Entry {
        Entry {
            kind: kind.into(),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            arch: None,
        }
    }

    #[test]
    fn uname_from_package_names() {
        let deb = entry(
            "ubuntu",
            &[
                "http---u-linux-headers-5.4.0-1103_5.4.0-1103.111_all.deb",
                "http---u-linux-headers-5.4.0-1103-gke_5.4.0-1103.111_amd64.deb",
            ],
        );
        assert_eq!(uname_of(&deb), "5.4.0-1103-gke");
        let rpm = entry(
            "redhat",
            &["https---h-kernel-devel-4.18.0-372.el8.x86_64.rpm"],
        );
        assert_eq!(uname_of(&rpm), "4.18.0-372.el8.x86_64");
        let photon = entry(
            "photon",
            &["https---p-x86_64-linux-esx-devel-6.1.158-12.ph5.x86_64.rpm"],
        );
        assert_eq!(uname_of(&photon), "6.1.158-12.ph5-esx");
        let photon = entry(
            "photon",
            &["https---p-linux-devel-5.10.245-1.ph4.x86_64.rpm"],
        );
        assert_eq!(uname_of(&photon), "5.10.245-1.ph4");
        let suse = entry(
            "suse",
            &[
                "https---o-noarch-kernel-devel-6.4.0-150600.23.25.1.noarch.rpm",
                "https---o-x86_64-kernel-default-devel-6.4.0-150600.23.25.1.x86_64.rpm",
            ],
        );
        assert_eq!(uname_of(&suse), "6.4.0-150600.23.25-default");
        let al2023 = entry(
            "redhat",
            &["https---c-kernel6.12-devel-6.12.40-63.114.amzn2023.x86_64.rpm"],
        );
        assert_eq!(uname_of(&al2023), "6.12.40-63.114.amzn2023.x86_64");
        let uek = entry(
            "oracle",
            &["http---y-kernel-uek-devel-5.4.17-2136.300.7.el7uek.x86_64.rpm"],
        );
        assert_eq!(uname_of(&uek), "5.4.17-2136.300.7.el7uek.x86_64");
        let other = entry("cos", &["https---c-cos-kernel-headers.tgz"]);
        assert_eq!(uname_of(&other), "https---c-cos-kernel-headers.tgz");
        assert_eq!(release_of(&other), None);
        assert_eq!(
            short_url("https://s.example/amd64-usr/1.0.0/flatcar_developer_container.bin.bz2"),
            "1.0.0/flatcar_developer_container.bin.bz2"
        );
    }

    fn manifest(entries: &[Entry]) -> Manifest {
        let mut m = Manifest::default();
        for e in entries {
            m.entries
                .insert(crate::names::manifest_id(&e.packages), e.clone());
        }
        m
    }

    #[test]
    fn summarizes_per_list_and_renders() {
        let old = entry("redhat", &["http---h-kernel-devel-1.0-1.x86_64.rpm"]);
        let new = entry("redhat", &["http---h-kernel-devel-2.0-1.x86_64.rpm"]);
        let before_lists = BTreeMap::from([(
            "r.txt".to_string(),
            "http://h/kernel-devel-1.0-1.x86_64.rpm\n".to_string(),
        )]);
        let after_lists = BTreeMap::from([
            (
                "r.txt".to_string(),
                "http://h/kernel-devel-2.0-1.x86_64.rpm\n".to_string(),
            ),
            (
                "r-uncrawled.txt".to_string(),
                "http://h/kernel-devel-1.0-1.x86_64.rpm\n".to_string(),
            ),
        ]);
        let report = CrawlReport {
            sources: vec![
                SourceReport {
                    name: "r".into(),
                    list: "r.txt".into(),
                    uncrawled: "r-uncrawled.txt".into(),
                    outcome: Outcome::Updated {
                        added: vec!["http://h/kernel-devel-2.0-1.x86_64.rpm".into()],
                        moved: vec!["http://h/kernel-devel-1.0-1.x86_64.rpm".into()],
                        unchanged: 0,
                        written: true,
                    },
                    seconds: 0.1,
                },
                SourceReport {
                    name: "d".into(),
                    list: "d.txt".into(),
                    uncrawled: "d-uncrawled.txt".into(),
                    outcome: Outcome::Failed {
                        reason: "GET http://d/: 503 | down".into(),
                    },
                    seconds: 0.1,
                },
            ],
            http: HttpStats::default(),
            seconds: 0.2,
        };
        let s = summarize(
            "g",
            (&manifest(&[old]), &before_lists),
            (&manifest(&[new]), &after_lists),
            &report,
            vec!["r.txt".into(), "manifest.yml".into()],
        );
        assert_eq!(s.added["r.txt"][0].uname, "2.0-1.x86_64");
        assert_eq!(s.removed["r.txt"][0].uname, "1.0-1.x86_64");
        assert_eq!(
            s.lists,
            vec![("r.txt".into(), 1, 1, "r-uncrawled.txt".into())]
        );
        assert_eq!(s.failed.len(), 1);
        let body = render_body(&s);
        for want in [
            "group `g`",
            "`r.txt`: 1 URL(s) added, 1 moved to `r-uncrawled.txt`",
            "### Kernels added (1)",
            "| `2.0-1.x86_64` | redhat |",
            "### Kernels removed (1)",
            "| `1.0-1.x86_64` | redhat |",
            "- `d.txt`: GET http://d/: 503 \\| down",
            "- `manifest.yml`",
        ] {
            assert!(body.contains(want), "{want:?} missing in:\n{body}");
        }
        let msg = commit_message("t", &s);
        assert!(msg.starts_with("t\n\nr.txt: +1 URL(s), 1 moved"), "{msg}");
    }

    #[test]
    fn body_lists_the_kernels_the_manifest_skipped() {
        let s = Summary {
            group: "debian".into(),
            rejected: vec![(
                "ubuntu-standard.txt".into(),
                "http://u/linux-headers-4.4.0-9-lowlatency_4.4.0-9.9_amd64.deb".into(),
                "unpaired Ubuntu package | odd".into(),
            )],
            ..Default::default()
        };
        let body = render_body(&s);
        assert!(
            body.contains("### Kernels skipped by the manifest (1)"),
            "{body}"
        );
        assert!(
            body.contains("| `ubuntu-standard.txt` | http://u/linux-headers-4.4.0-9-lowlatency_4.4.0-9.9_amd64.deb | unpaired Ubuntu package \\| odd |"),
            "{body}"
        );
        assert!(commit_message("t", &s).contains("1 URL(s) rejected"));
    }
}
