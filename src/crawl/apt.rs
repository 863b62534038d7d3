//! apt repositories: `dists/<suite>/InRelease` (or `Release` + `Release.gpg`), the SHA256 list
//! in it, `Packages.{xz,gz}` checked against that list, and `Filename` → package URL.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;

use super::config::{AptRepo, Matcher};
use super::content::{decompress, dir_url};
use super::verify::strip_cleartext;
use super::RepoCtx;

/// One file listed in a `Release` file's `SHA256:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Parses the `SHA256:` section of a `Release` file: path (relative to `dists/<suite>/`) →
/// digest and size.
pub fn parse_release(text: &str) -> Result<HashMap<String, ReleaseFile>> {
    let mut files = HashMap::new();
    let mut in_sha256 = false;
    let mut saw_section = false;
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if in_sha256 {
                let parts: Vec<&str> = line.split_whitespace().collect();
                let [hash, size, path] = parts[..] else {
                    bail!("malformed SHA256 line in Release: {line:?}");
                };
                let size = size
                    .parse()
                    .map_err(|_| anyhow!("malformed size in Release line {line:?}"))?;
                files.insert(
                    path.to_string(),
                    ReleaseFile {
                        sha256: hash.to_ascii_lowercase(),
                        size,
                    },
                );
            }
        } else {
            in_sha256 = line.trim_end() == "SHA256:";
            saw_section |= in_sha256;
        }
    }
    if !saw_section {
        bail!("Release has no SHA256 section");
    }
    Ok(files)
}

/// One `Depends` relation: a package name and an optional version constraint. Alternatives
/// (`a | b`) are flattened into separate relations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relation {
    /// Package name (without an `:arch` qualifier).
    pub name: String,
    /// `=`, `>=`, `<<`, ... if constrained.
    pub op: Option<String>,
    /// The constraint's version.
    pub version: Option<String>,
}

/// Parses a `Depends` value (`a (>= 1), b | c (= 2)`).
pub fn parse_relations(value: &str) -> Vec<Relation> {
    value
        .split([',', '|'])
        .filter_map(|alt| {
            let alt = alt.trim();
            let (name, rest) = match alt.find([' ', '(']) {
                Some(i) => (&alt[..i], alt[i..].trim()),
                None => (alt, ""),
            };
            let name = name.split(':').next().unwrap_or(name);
            if name.is_empty() {
                return None;
            }
            let (op, version) = match rest
                .strip_prefix('(')
                .and_then(|r| r.split(')').next())
                .map(str::trim)
            {
                Some(c) => {
                    let split = c
                        .find(|ch: char| !matches!(ch, '<' | '>' | '='))
                        .unwrap_or(c.len());
                    (
                        Some(c[..split].to_string()),
                        Some(c[split..].trim().to_string()),
                    )
                }
                None => (None, None),
            };
            Some(Relation {
                name: name.to_string(),
                op,
                version,
            })
        })
        .collect()
}

/// The fields of one `Packages` stanza that crawling needs, borrowed from the index text
/// (an index is tens of megabytes: nothing is copied until a package is selected).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza<'a> {
    /// `Package`.
    pub package: &'a str,
    /// `Version`.
    pub version: &'a str,
    /// `Architecture`.
    pub architecture: &'a str,
    /// `Filename` (relative to the archive root).
    pub filename: &'a str,
    /// `Source` (name only), empty if absent (then it is the package's own name).
    pub source: &'a str,
    /// `Depends`, unparsed (see [`Stanza::depends`]).
    pub depends_field: &'a str,
}

impl Stanza<'_> {
    /// `Depends`, alternatives flattened.
    pub fn depends(&self) -> Vec<Relation> {
        parse_relations(self.depends_field)
    }
}

/// Parses a `Packages` index (RFC 822-style stanzas separated by blank lines). A stanza
/// without `Package` or `Filename` is an error.
pub fn parse_packages(text: &str) -> Result<Vec<Stanza<'_>>> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    let mut has_fields = false;
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        n = i + 1;
        if line.trim().is_empty() {
            if has_fields {
                if cur.package.is_empty() || cur.filename.is_empty() {
                    bail!("Packages stanza ending at line {n} lacks Package or Filename");
                }
                out.push(std::mem::take(&mut cur));
            }
            has_fields = false;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue; // continuation of a multi-line field
        }
        let Some((key, value)) = line.split_once(':') else {
            bail!("malformed Packages line {n}: {line:?}");
        };
        has_fields = true;
        let value = value.trim();
        match key {
            "Package" => cur.package = value,
            "Version" => cur.version = value,
            "Architecture" => cur.architecture = value,
            "Filename" => cur.filename = value,
            "Source" => cur.source = value.split_whitespace().next().unwrap_or(""),
            "Depends" => cur.depends_field = value,
            _ => {}
        }
    }
    if has_fields {
        if cur.package.is_empty() || cur.filename.is_empty() {
            bail!("Packages stanza ending at line {n} lacks Package or Filename");
        }
        out.push(cur);
    }
    Ok(out)
}

/// The value of a single-line field of a `Release` file (`Codename`, `Acquire-By-Hash`).
pub fn release_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

fn satisfies(stanza: &Stanza, rel: &Relation) -> bool {
    match (rel.op.as_deref(), rel.version.as_deref()) {
        (Some("="), Some(v)) => stanza.version == v,
        _ => true,
    }
}

/// Selects from one index: packages passing the matcher (names, filters and `depends`),
/// then, transitively, the dependencies `follow_depends` names (if they pass the filters).
/// Returns indices into `stanzas`, sorted. `url` maps a stanza to its package URL.
pub fn select(
    stanzas: &[Stanza],
    matcher: &Matcher,
    url: impl Fn(&Stanza) -> String,
) -> Vec<usize> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in stanzas.iter().enumerate() {
        by_name.entry(s.package).or_default().push(i);
    }
    let mut chosen = vec![false; stanzas.len()];
    let mut work = Vec::new();
    for (i, s) in stanzas.iter().enumerate() {
        if matcher.name_matches(s.package)
            && matcher.matches(s.package, Some(s.version), Some(s.architecture), &url(s))
            && matcher.depends_ok(s.depends().iter().map(|d| d.name.as_str()))
        {
            chosen[i] = true;
            work.push(i);
        }
    }
    while let Some(i) = work.pop() {
        for rel in stanzas[i].depends() {
            if !matcher.follows(&rel.name) {
                continue;
            }
            for &j in by_name.get(rel.name.as_str()).into_iter().flatten() {
                let d = &stanzas[j];
                if !chosen[j]
                    && satisfies(d, &rel)
                    && matcher.matches_followed(
                        d.package,
                        Some(d.version),
                        Some(d.architecture),
                        &url(d),
                    )
                {
                    chosen[j] = true;
                    work.push(j);
                }
            }
        }
    }
    (0..stanzas.len()).filter(|i| chosen[*i]).collect()
}

/// The kernel package a metapackage points at: breadth first through `Depends` (within the
/// index), the first package name other than the metapackage matching `kernel`. `None` if
/// the index does not publish the metapackage; `Some(Err(..))` if it does but no dependency
/// matches.
pub fn canary_kernel(
    stanzas: &[Stanza],
    metapackage: &str,
    kernel: &Regex,
) -> Option<std::result::Result<String, String>> {
    let by_name: HashMap<&str, &Stanza> = stanzas.iter().map(|s| (s.package, s)).collect();
    let start = by_name.get(metapackage)?;
    let mut queue = std::collections::VecDeque::from([*start]);
    let mut seen = std::collections::HashSet::from([metapackage.to_string()]);
    while let Some(s) = queue.pop_front() {
        for rel in s.depends() {
            if !seen.insert(rel.name.clone()) {
                continue;
            }
            if kernel.is_match(&rel.name) {
                return Some(Ok(rel.name));
            }
            if let Some(d) = by_name.get(rel.name.as_str()) {
                queue.push_back(d);
            }
        }
    }
    Some(Err(format!(
        "{metapackage} depends on no package matching {:?}",
        kernel.as_str()
    )))
}

/// Fetches and authenticates a suite's `Release` text; `Ok(None)` if the suite does not exist.
async fn release_text(ctx: &RepoCtx, dists: &str) -> Result<Option<String>> {
    let inrelease_url = format!("{dists}InRelease");
    if let Some(bytes) = ctx.http.get_optional(&inrelease_url, &ctx.auth).await? {
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("{inrelease_url}: not UTF-8"))?;
        let what = super::http::redact(&inrelease_url);
        return Ok(Some(match &ctx.keyring {
            Some(k) => k.verify_cleartext(&text, &what)?,
            None => strip_cleartext(&text, &what)?,
        }));
    }
    let release_url = format!("{dists}Release");
    let Some(bytes) = ctx.http.get_optional(&release_url, &ctx.auth).await? else {
        return Ok(None);
    };
    if let Some(k) = &ctx.keyring {
        let sig_url = format!("{dists}Release.gpg");
        let sig = ctx.http.get(&sig_url, &ctx.auth).await.with_context(|| {
            format!(
                "{}: signature required by the source's key",
                super::http::redact(&release_url)
            )
        })?;
        k.verify_detached(&bytes, &sig, &super::http::redact(&release_url))?;
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| anyhow!("{}: not UTF-8", super::http::redact(&release_url)))
}

/// A suite to crawl and whether its absence is an error.
struct SuiteSpec {
    name: String,
    required: bool,
}

/// The suites of a repository: pinned ones, GitHub-discovered ones, then those the release
/// aliases resolve to (each alias's Release is read and verified; its `Codename` fills the
/// templates). Without repeats, in that order.
async fn suites(repo: &AptRepo, ctx: &RepoCtx, root: &str) -> Result<Vec<SuiteSpec>> {
    let mut out: Vec<SuiteSpec> = Vec::new();
    let mut push = |name: String, required: bool| match out.iter_mut().find(|s| s.name == name) {
        Some(s) => s.required |= required,
        None => out.push(SuiteSpec { name, required }),
    };
    for s in &repo.suites {
        push(s.clone(), !repo.optional_suites);
    }
    if let Some(gh) = &repo.suites_from_github {
        let found = super::github::crawl(gh, ctx)
            .await
            .context("discovering suites")?;
        for s in found {
            push(s, !repo.optional_suites);
        }
    }
    if let Some(aliases) = &repo.aliases {
        let from = aliases
            .from
            .as_deref()
            .map(dir_url)
            .unwrap_or_else(|| root.to_string());
        for alias in &aliases.names {
            let dists = format!("{from}dists/{alias}/");
            let release = release_text(ctx, &dists).await?.ok_or_else(|| {
                anyhow!(
                    "{}: release alias {alias} has neither InRelease nor Release",
                    super::http::redact(&from)
                )
            })?;
            let codename = release_field(&release, "Codename")
                .filter(|c| !c.is_empty() && !c.contains(['/', ' ']))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: Release of alias {alias} names no Codename",
                        super::http::redact(&dists)
                    )
                })?
                .to_string();
            tracing::debug!("{alias} is {codename}");
            for t in &aliases.suites {
                push(t.replace("{codename}", &codename), true);
            }
            for t in &aliases.companions {
                push(t.replace("{codename}", &codename), false);
            }
        }
    }
    if let Some(releases) = &repo.releases {
        let shown = super::http::redact(&releases.url);
        let text = ctx
            .http
            .get(&releases.url, &super::credentials::Auth::None)
            .await
            .context("reading the release list")?;
        let text = String::from_utf8(text).map_err(|_| anyhow!("{shown}: not UTF-8"))?;
        let codenames = supported_releases(&text);
        if codenames.is_empty() {
            bail!("{shown}: names no supported release");
        }
        tracing::debug!("supported releases: {codenames:?}");
        for codename in codenames {
            for t in &releases.companions {
                push(t.replace("{codename}", &codename), false);
            }
        }
    }
    Ok(out)
}

/// The `Dist` of every stanza marked `Supported: 1` in a release list (Ubuntu's
/// `meta-release`), in file order; names that are not plain words are ignored.
pub fn supported_releases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let dist = release_field(stanza, "Dist");
        let supported = release_field(stanza, "Supported") == Some("1");
        if let (Some(d), true) = (dist, supported) {
            if !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push(d.to_string());
            }
        }
    }
    out
}

/// A canary pointer: (metapackage, suite, the kernel package it depends on or why none).
pub type Pointer = (String, String, std::result::Result<String, String>);

/// What one index contributes.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct IndexResult {
    urls: Vec<String>,
    names: Vec<String>,
    pointers: Vec<Pointer>,
}

/// Decompresses, parses and selects from one verified index (CPU work, run off the async
/// threads). An empty index is legitimate (e.g. a fresh `-updates` suite): its checksum was
/// checked against the Release file.
fn read_index(
    path: &str,
    data: &[u8],
    what: &str,
    root: &str,
    suite: &str,
    ctx: &RepoCtx,
    kernel_re: Option<&Regex>,
) -> Result<IndexResult> {
    let matcher = ctx.matcher()?;
    let text = decompress(path, data, what)?;
    let text = String::from_utf8(text).map_err(|_| anyhow!("{what}: not UTF-8"))?;
    let stanzas = parse_packages(&text).with_context(|| what.to_string())?;
    let url_of = |s: &Stanza| format!("{root}{}", s.filename.trim_start_matches('/'));
    let mut out = IndexResult::default();
    for i in select(&stanzas, matcher, url_of) {
        out.names.push(stanzas[i].package.to_string());
        out.urls.push(url_of(&stanzas[i]));
    }
    if let (Some(canary), Some(kernel)) = (&ctx.canary, kernel_re) {
        for meta in &canary.metapackages {
            if let Some(k) = canary_kernel(&stanzas, meta, kernel) {
                out.pointers.push((meta.clone(), suite.to_string(), k));
            }
        }
    }
    Ok(out)
}

/// Crawls one suite: its verified Release, then each component/architecture index.
/// `Ok(None)` if an optional suite does not exist.
async fn crawl_suite(
    repo: &AptRepo,
    ctx: &RepoCtx,
    root: &str,
    suite: &SuiteSpec,
    kernel_re: Option<&Regex>,
) -> Result<Option<IndexResult>> {
    let suite_name = &suite.name;
    let dists = format!("{root}dists/{suite_name}/");
    let Some(release) = release_text(ctx, &dists).await? else {
        if !suite.required {
            tracing::info!(
                "{}: suite {suite_name} not found, skipped",
                super::http::redact(root)
            );
            return Ok(None);
        }
        bail!(
            "{}: suite {suite_name} has neither InRelease nor Release",
            super::http::redact(root)
        );
    };
    let files = parse_release(&release)
        .with_context(|| super::http::redact(&format!("{dists}InRelease")))?;
    let by_hash = release_field(&release, "Acquire-By-Hash") == Some("yes");
    let mut out = IndexResult::default();
    for component in &repo.components {
        for arch in &repo.architectures {
            let base = format!("{component}/binary-{arch}/Packages");
            let Some((path, expected)) = [".xz", ".gz", ""]
                .iter()
                .map(|ext| format!("{base}{ext}"))
                .find_map(|p| files.get(&p).map(|f| (p, f)))
            else {
                bail!(
                    "{}: Release of {suite_name} lists no {base} index",
                    super::http::redact(root)
                );
            };
            let url = format!("{dists}{path}");
            let fetch = if by_hash {
                format!(
                    "{dists}{component}/binary-{arch}/by-hash/SHA256/{}",
                    expected.sha256
                )
            } else {
                url.clone()
            };
            let data = ctx
                .http
                .get_checked(
                    &url,
                    &fetch,
                    "sha256",
                    &expected.sha256,
                    Some(expected.size),
                    &ctx.auth,
                )
                .await?;
            // What was selected from an index depends only on its bytes (the digest signed in
            // the Release) and the selection: an unchanged index is not even parsed again.
            let memo_key = format!(
                "apt-index-v1\n{}\n{root}\n{suite_name}\n{:?}\n{:?}\n{:?}",
                expected.sha256,
                ctx.matcher,
                ctx.canary,
                kernel_re.map(Regex::as_str)
            );
            let memo = ctx.http.memo_get(&memo_key).await;
            let part = match memo.and_then(|m| serde_json::from_slice::<IndexResult>(&m).ok()) {
                Some(part) => part,
                None => {
                    let what = super::http::redact(&url);
                    let (c, r, sn) = (ctx.clone(), root.to_string(), suite_name.clone());
                    let kernel_re = kernel_re.cloned();
                    let part = tokio::task::spawn_blocking(move || {
                        read_index(&path, &data, &what, &r, &sn, &c, kernel_re.as_ref())
                    })
                    .await
                    .map_err(|e| anyhow!("index task failed: {e}"))??;
                    if let Ok(bytes) = serde_json::to_vec(&part) {
                        ctx.http.memo_put(&memo_key, bytes).await;
                    }
                    part
                }
            };
            out.urls.extend(part.urls);
            out.names.extend(part.names);
            out.pointers.extend(part.pointers);
        }
    }
    Ok(Some(out))
}

/// Crawls one apt repository and returns the selected package URLs.
///
/// Suites are crawled concurrently (requests stay bounded per host by the client). Indexes
/// are fetched through [`crate::crawl::http::Http::get_checked`] with the digest the
/// verified Release names (by their `by-hash` path when the Release says
/// `Acquire-By-Hash: yes`), so an unchanged index is never downloaded twice. With a canary,
/// the kernel each configured metapackage depends on must be selected in every suite that
/// publishes it, else the repository fails with `rules are stale: ...`.
pub async fn crawl(repo: &AptRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let root = dir_url(&repo.url);
    ctx.matcher()?;
    let kernel_re = ctx.canary.as_ref().map(|c| c.kernel_regex()).transpose()?;
    let specs = suites(repo, ctx, &root).await?;
    let mut set = tokio::task::JoinSet::new();
    for (i, suite) in specs.into_iter().enumerate() {
        let (repo, ctx, root, kernel_re) =
            (repo.clone(), ctx.clone(), root.clone(), kernel_re.clone());
        set.spawn(async move {
            (
                i,
                crawl_suite(&repo, &ctx, &root, &suite, kernel_re.as_ref()).await,
            )
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        results.push(joined.map_err(|e| anyhow!("suite task failed: {e}"))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut urls = Vec::new();
    let mut pointers: Vec<Pointer> = Vec::new();
    let mut selected_names = std::collections::HashSet::new();
    for (_, r) in results {
        let Some(part) = r? else { continue };
        urls.extend(part.urls);
        selected_names.extend(part.names);
        pointers.extend(part.pointers);
    }
    ctx.published
        .lock()
        .expect("canary set poisoned")
        .extend(pointers.iter().map(|(m, _, _)| m.clone()));
    check_canary(&pointers, &selected_names).with_context(|| super::http::redact(&root))?;
    Ok(urls)
}

/// The apt canary verdict of one repository: the kernel every metapackage found points at
/// was selected. (That each metapackage is published at all is checked per source.)
pub fn check_canary(
    pointers: &[Pointer],
    selected: &std::collections::HashSet<String>,
) -> Result<()> {
    let mut stale = Vec::new();
    for (meta, suite, kernel) in pointers {
        match kernel {
            Ok(k) if selected.contains(k) => {}
            Ok(k) => stale.push(format!(
                "{meta} ({suite}) depends on {k}, which was not selected"
            )),
            Err(e) => stale.push(format!("{e} ({suite})")),
        }
    }
    if !stale.is_empty() {
        bail!("rules are stale: {}", stale.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_sha256_section() {
        let text = "Origin: Debian\nMD5Sum:\n 00 1 main/binary-amd64/Packages\nSHA256:\n abcd 12 main/binary-amd64/Packages.xz\n ef01 34 main/binary-amd64/Packages.gz\n";
        let files = parse_release(text).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files["main/binary-amd64/Packages.gz"],
            ReleaseFile {
                sha256: "ef01".into(),
                size: 34
            }
        );
        assert!(parse_release("Origin: x\n").is_err());
    }

    #[test]
    fn packages_stanzas() {
        let text = "Package: linux-headers-6.1.0-21-amd64\nSource: linux\nVersion: 6.1.90-1\nArchitecture: amd64\nDescription: Header files\n for Linux\nFilename: pool/updates/main/l/linux/linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb\n\nPackage: b\nVersion: 1\nArchitecture: all\nFilename: pool/b.deb\n";
        let s = parse_packages(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].version, "6.1.90-1");
        assert_eq!(s[1].filename, "pool/b.deb");
        assert!(parse_packages("Package: a\nVersion: 1\n\n").is_err());
        assert!(parse_packages("garbage line\n").is_err());
    }
    const INDEX: &str = "\
Package: linux-headers-6.12.57+deb13-amd64
Source: linux
Version: 6.12.57-1
Architecture: amd64
Depends: linux-headers-6.12.57+deb13-common (= 6.12.57-1), linux-kbuild-6.12.57+deb13, gcc-14
Filename: pool/main/l/linux/linux-headers-6.12.57+deb13-amd64_6.12.57-1_amd64.deb

Package: linux-headers-6.12.57+deb13-common
Source: linux
Version: 6.12.57-1
Architecture: all
Filename: pool/main/l/linux/linux-headers-6.12.57+deb13-common_6.12.57-1_all.deb

Package: linux-headers-6.12.57+deb13-common
Source: linux
Version: 6.12.50-1
Architecture: all
Filename: pool/main/l/linux/linux-headers-6.12.57+deb13-common_6.12.50-1_all.deb

Package: linux-kbuild-6.12.57+deb13
Source: linux
Version: 6.12.57-1
Architecture: amd64
Depends: libc6 (>= 2.38), libelf1t64 (>= 0.144)
Filename: pool/main/l/linux/linux-kbuild-6.12.57+deb13_6.12.57-1_amd64.deb

Package: linux-headers-amd64
Source: linux-signed-amd64 (6.12.57+1)
Version: 6.12.57-1
Architecture: amd64
Depends: linux-headers-6.12.57+deb13-amd64 (= 6.12.57-1)
Filename: pool/main/l/linux-signed-amd64/linux-headers-amd64_6.12.57-1_amd64.deb

Package: linux-headers-6.12-amd64
Source: linux-signed-amd64 (6.12.57+1)
Version: 6.12.57-1
Architecture: amd64
Depends: linux-headers-6.12.57+deb13-amd64 (= 6.12.57-1)
Filename: pool/main/l/linux-signed-amd64/linux-headers-6.12-amd64_6.12.57-1_amd64.deb

Package: linux-headers-cloud-amd64
Source: linux-signed-amd64 (6.12.57+1)
Version: 6.12.57-1
Architecture: amd64
Depends: linux-headers-6.12.57+deb13-cloud-amd64 (= 6.12.57-1)
Filename: pool/main/l/linux-signed-amd64/linux-headers-cloud-amd64_6.12.57-1_amd64.deb
";

    fn debian_matcher() -> Matcher {
        Matcher::new(&crate::crawl::config::Select {
            names: vec!["^linux-headers-".into()],
            depends: vec!["^linux-kbuild-".into()],
            follow_depends: vec![
                "^linux-headers-.+-common(-[a-z0-9]+)?$".into(),
                "^linux-kbuild-".into(),
            ],
            architectures: vec!["amd64".into(), "all".into()],
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn relations() {
        let r = parse_relations("a (>= 1.0), b:any | c (= 2), d");
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(r[0].op.as_deref(), Some(">="));
        assert_eq!(r[2].version.as_deref(), Some("2"));
        assert_eq!(r[3].op, None);
    }

    #[test]
    fn real_headers_from_metadata_never_metapackages() {
        let stanzas = parse_packages(INDEX).unwrap();
        assert_eq!(stanzas[0].source, "linux");
        let picked: Vec<String> = select(&stanzas, &debian_matcher(), |s| s.filename.to_string())
            .into_iter()
            .map(|i| format!("{}_{}", stanzas[i].package, stanzas[i].version))
            .collect();
        // The arch header, its exact common version (not the older one) and its kbuild.
        assert_eq!(
            picked,
            [
                "linux-headers-6.12.57+deb13-amd64_6.12.57-1",
                "linux-headers-6.12.57+deb13-common_6.12.57-1",
                "linux-kbuild-6.12.57+deb13_6.12.57-1"
            ]
        );
    }

    #[test]
    fn canary_names_the_stale_kernel() {
        let stanzas = parse_packages(INDEX).unwrap();
        let kernel = Regex::new("^linux-headers-").unwrap();
        assert_eq!(
            canary_kernel(&stanzas, "linux-headers-amd64", &kernel),
            Some(Ok("linux-headers-6.12.57+deb13-amd64".into()))
        );
        assert_eq!(
            canary_kernel(&stanzas, "linux-headers-rt-amd64", &kernel),
            None
        );
        let metas = [
            "linux-headers-amd64".to_string(),
            "linux-headers-cloud-amd64".to_string(),
        ];
        let pointers: Vec<_> = metas
            .iter()
            .map(|m| {
                let k = canary_kernel(&stanzas, m, &kernel).unwrap();
                (m.clone(), "trixie".to_string(), k)
            })
            .collect();
        let selected: std::collections::HashSet<String> =
            ["linux-headers-6.12.57+deb13-amd64".to_string()].into();
        let err = check_canary(&pointers, &selected).unwrap_err().to_string();
        assert_eq!(
            err,
            "rules are stale: linux-headers-cloud-amd64 (trixie) depends on linux-headers-6.12.57+deb13-cloud-amd64, which was not selected"
        );
    }

    #[test]
    fn supported_releases_of_a_meta_release() {
        let text = "Dist: xenial\nName: Xenial Xerus\nVersion: 16.04.7 LTS\nSupported: 0\n\n\
                    Dist: jammy\nName: Jammy Jellyfish\nVersion: 22.04.5 LTS\nSupported: 1\n\n\
                    Dist: noble\nVersion: 24.04.3 LTS\nSupported: 1\nRelease-File: x\n\n\
                    Dist: ../x\nSupported: 1\n";
        assert_eq!(supported_releases(text), ["jammy", "noble"]);
        assert!(supported_releases("").is_empty());
    }

    #[test]
    fn release_fields() {
        let text = "Origin: Debian\nSuite: stable\nCodename: trixie\nAcquire-By-Hash: yes\n";
        assert_eq!(release_field(text, "Codename"), Some("trixie"));
        assert_eq!(release_field(text, "Acquire-By-Hash"), Some("yes"));
        assert_eq!(release_field(text, "Label"), None);
    }
}
