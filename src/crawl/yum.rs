//! yum/dnf repositories: `repodata/repomd.xml` (optionally signed by `repomd.xml.asc`) → the
//! `primary` metadata file (checksum from repomd) → `<location href>` → package URL. Mirror
//! lists (one repository root per line) are supported.

use anyhow::{anyhow, bail, Context, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::canary::{check_newest, Seen};
use super::config::YumRepo;
use super::content::{decompress, dir_url, join};
use super::http::redact;
use super::RepoCtx;

/// The `primary` entry of `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryRef {
    /// `location href`, relative to the repository root.
    pub href: String,
    /// Checksum algorithm (`sha256`, ...).
    pub checksum_type: String,
    /// Hex digest of the (compressed) file.
    pub checksum: String,
    /// Size of the compressed file, if given.
    pub size: Option<u64>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>> {
    match e.try_get_attribute(name)? {
        Some(a) => Ok(Some(
            a.normalized_value(quick_xml::XmlVersion::default())?
                .into_owned(),
        )),
        None => Ok(None),
    }
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().into_inner().to_string()
}

/// Finds the `primary` data entry of a `repomd.xml` document.
pub fn parse_repomd(xml: &str) -> Result<PrimaryRef> {
    let mut reader = Reader::from_str(xml);
    let mut in_primary = false;
    let mut field = String::new();
    let (mut href, mut ctype, mut sum, mut size) = (None, None, None, None);
    let mut saw_root = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| anyhow!("malformed repomd.xml: {e}"))?
        {
            Event::Start(e) | Event::Empty(e) if local(&e) == "repomd" => saw_root = true,
            Event::Start(e) if local(&e) == "data" => {
                in_primary = attr(&e, "type")?.as_deref() == Some("primary");
            }
            Event::End(e) if in_primary && e.local_name().into_inner() == "data" => break,
            Event::Start(e) | Event::Empty(e) if in_primary => {
                let name = local(&e);
                if name == "location" {
                    href = attr(&e, "href")?;
                } else if name == "checksum" {
                    ctype = attr(&e, "type")?;
                }
                field = name;
            }
            Event::Text(t) if in_primary => {
                let text = t.xml10_content().trim().to_string();
                match field.as_str() {
                    "checksum" => sum = Some(text),
                    "size" => size = text.parse().ok(),
                    _ => {}
                }
            }
            Event::End(_) => field.clear(),
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        bail!("not a repomd.xml document");
    }
    match (href, ctype, sum) {
        (Some(href), Some(checksum_type), Some(checksum)) => Ok(PrimaryRef {
            href,
            checksum_type,
            checksum,
            size,
        }),
        _ => bail!("repomd.xml has no complete primary entry (location, checksum)"),
    }
}

/// One package of `primary.xml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmEntry {
    /// `name`.
    pub name: String,
    /// `arch`.
    pub arch: String,
    /// `ver-rel`.
    pub version: String,
    /// `location href`.
    pub href: String,
    /// `location xml:base`, if any.
    pub base: Option<String>,
}

/// Parses `primary.xml` into its packages.
pub fn parse_primary(xml: &str) -> Result<Vec<RpmEntry>> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut cur: Option<RpmEntry> = None;
    let mut field = String::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            anyhow!(
                "malformed primary.xml at byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = local(&e);
                match name.as_str() {
                    "metadata" => saw_root = true,
                    "package" => cur = Some(RpmEntry::default()),
                    "version" => {
                        if let Some(c) = cur.as_mut() {
                            let ver = attr(&e, "ver")?.unwrap_or_default();
                            let rel = attr(&e, "rel")?.unwrap_or_default();
                            c.version = format!("{ver}-{rel}");
                        }
                    }
                    "location" => {
                        if let Some(c) = cur.as_mut() {
                            c.href = attr(&e, "href")?.unwrap_or_default();
                            c.base = attr(&e, "xml:base")?;
                        }
                    }
                    _ => {}
                }
                field = name;
            }
            Event::Text(t) => {
                if let Some(c) = cur.as_mut() {
                    match field.as_str() {
                        "name" if c.name.is_empty() => {
                            c.name = t.xml10_content().trim().to_string()
                        }
                        "arch" if c.arch.is_empty() => {
                            c.arch = t.xml10_content().trim().to_string()
                        }
                        _ => {}
                    }
                }
            }
            Event::End(e) => {
                if e.local_name().into_inner() == "package" {
                    let c = cur.take().unwrap_or_default();
                    if c.name.is_empty() || c.href.is_empty() {
                        bail!("primary.xml package without name or location");
                    }
                    out.push(c);
                }
                field.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        bail!("not a primary.xml document");
    }
    Ok(out)
}

/// Parses a mirror list: one URL per line, `#` comments and blank lines ignored.
pub fn parse_mirrorlist(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Crawls one repository root; `Ok(None)` if it has no `repomd.xml`.
async fn crawl_root(root: &str, ctx: &RepoCtx) -> Result<Option<Vec<String>>> {
    let root = dir_url(root);
    let repomd_url = format!("{root}repodata/repomd.xml");
    let what = redact(&repomd_url);
    let Some(repomd) = ctx.http.get_optional(&repomd_url, &ctx.auth).await? else {
        return Ok(None);
    };
    if let Some(k) = &ctx.keyring {
        let sig = ctx
            .http
            .get(&format!("{repomd_url}.asc"), &ctx.auth)
            .await
            .with_context(|| format!("{what}: signature required by the source's key"))?;
        k.verify_detached(&repomd, &sig, &what)?;
    }
    let repomd = String::from_utf8(repomd).map_err(|_| anyhow!("{what}: not UTF-8"))?;
    let primary = parse_repomd(&repomd).with_context(|| what.clone())?;
    let primary_url = join(&root, &primary.href)?;
    let pwhat = redact(&primary_url);
    // An unchanged checksum in repomd.xml means the cached copy is reused, no request.
    let data = ctx
        .http
        .get_checked(
            &primary_url,
            &primary_url,
            &primary.checksum_type,
            &primary.checksum,
            primary.size,
            &ctx.auth,
        )
        .await?;
    let xml = decompress(&primary.href, &data, &pwhat)?;
    let xml = String::from_utf8(xml).map_err(|_| anyhow!("{pwhat}: not UTF-8"))?;
    let entries = parse_primary(&xml).with_context(|| pwhat.clone())?;
    let matcher = ctx.matcher()?;
    let mut urls = Vec::new();
    let mut seen = Vec::new();
    for e in entries {
        let base = e
            .base
            .as_deref()
            .map(dir_url)
            .unwrap_or_else(|| root.clone());
        let url = join(&base, &e.href)?;
        let selected = matcher.matches(&e.name, Some(&e.version), Some(&e.arch), &url);
        if selected {
            urls.push(url);
        }
        if matcher.arch_ok(&e.arch) {
            seen.push(Seen {
                name: e.name,
                key: e.version,
                selected,
            });
        }
    }
    if let Some(re) = ctx.newest_canary()? {
        check_newest(&re, &seen, &redact(&root))?;
    }
    Ok(Some(urls))
}

/// Crawls one yum repository entry (all its roots, or the first working mirror).
pub async fn crawl(repo: &YumRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let mut urls = Vec::new();
    for root in &repo.urls {
        match crawl_root(root, ctx).await? {
            Some(found) => urls.extend(found),
            None if repo.optional => tracing::info!("{}: no repomd.xml, skipped", redact(root)),
            None => bail!("{}: no repodata/repomd.xml", redact(root)),
        }
    }
    if let Some(list_url) = &repo.mirrorlist {
        let text = ctx.http.get(list_url, &ctx.auth).await?;
        let text =
            String::from_utf8(text).map_err(|_| anyhow!("{}: not UTF-8", redact(list_url)))?;
        let mirrors = parse_mirrorlist(&text);
        if mirrors.is_empty() {
            bail!("{}: empty mirror list", redact(list_url));
        }
        let mut errors = Vec::new();
        let mut done = false;
        for mirror in mirrors.iter().take(5) {
            match crawl_root(mirror, ctx).await {
                Ok(Some(found)) => {
                    urls.extend(found);
                    done = true;
                    break;
                }
                Ok(None) => errors.push(format!("{}: no repodata/repomd.xml", redact(mirror))),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !done {
            bail!(
                "{}: no mirror worked: {}",
                redact(list_url),
                errors.join("; ")
            );
        }
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPOMD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
 <revision>1718000000</revision>
 <data type="filelists">
  <checksum type="sha256">aaaa</checksum>
  <location href="repodata/aaaa-filelists.xml.gz"/>
 </data>
 <data type="primary">
  <checksum type="sha256">bbbb</checksum>
  <open-checksum type="sha256">cccc</open-checksum>
  <location href="repodata/bbbb-primary.xml.gz"/>
  <timestamp>1718000000</timestamp>
  <size>1234</size>
  <open-size>99999</open-size>
 </data>
</repomd>"#;

    #[test]
    fn repomd_primary() {
        let p = parse_repomd(REPOMD).unwrap();
        assert_eq!(p.href, "repodata/bbbb-primary.xml.gz");
        assert_eq!(p.checksum, "bbbb");
        assert_eq!(p.checksum_type, "sha256");
        assert_eq!(p.size, Some(1234));
        assert!(parse_repomd("<html></html>").is_err());
    }

    #[test]
    fn primary_packages() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>kernel-devel</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="3.10.0" rel="1160.el7"/>
  <checksum type="sha256" pkgid="YES">dd</checksum>
  <summary>Development package &amp; headers</summary>
  <location xml:base="http://mirror.example/centos/7/" href="Packages/kernel-devel-3.10.0-1160.el7.x86_64.rpm"/>
  <format><rpm:license>GPLv2</rpm:license><rpm:provides><rpm:entry name="kernel-devel-x86_64" flags="EQ" epoch="0" ver="3.10.0" rel="1160.el7"/></rpm:provides></format>
</package>
<package type="rpm">
  <name>bash</name><arch>x86_64</arch><version epoch="0" ver="4.2" rel="1"/>
  <location href="Packages/bash-4.2-1.x86_64.rpm"/>
</package>
</metadata>"#;
        let p = parse_primary(xml).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "kernel-devel");
        assert_eq!(p[0].version, "3.10.0-1160.el7");
        assert_eq!(
            p[0].base.as_deref(),
            Some("http://mirror.example/centos/7/")
        );
        assert_eq!(p[1].href, "Packages/bash-4.2-1.x86_64.rpm");
        assert!(parse_primary("<metadata><package><name>x</name></package></metadata>").is_err());
    }

    #[test]
    fn mirrorlist_lines() {
        assert_eq!(
            parse_mirrorlist("# c\n\nhttp://a/\n http://b/ \n"),
            vec!["http://a/", "http://b/"]
        );
    }
}
