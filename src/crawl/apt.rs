//! apt repositories: `dists/<suite>/InRelease` (or `Release` + `Release.gpg`), the SHA256 list
//! in it, `Packages.{xz,gz}` checked against that list, and `Filename` → package URL.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};

use super::config::AptRepo;
use super::content::{check_digest, decompress, dir_url};
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

/// The fields of one `Packages` stanza that crawling needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub architecture: String,
    /// `Filename` (relative to the archive root).
    pub filename: String,
}

/// Parses a `Packages` index (RFC 822-style stanzas separated by blank lines). A stanza
/// without `Package` or `Filename` is an error.
pub fn parse_packages(text: &str) -> Result<Vec<Stanza>> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    let mut has_fields = false;
    let mut finish = |cur: &mut Stanza, has_fields: &mut bool, line_no: usize| -> Result<()> {
        if *has_fields {
            if cur.package.is_empty() || cur.filename.is_empty() {
                bail!("Packages stanza ending at line {line_no} lacks Package or Filename");
            }
            out.push(std::mem::take(cur));
        }
        *has_fields = false;
        Ok(())
    };
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        n = i + 1;
        if line.trim().is_empty() {
            finish(&mut cur, &mut has_fields, n)?;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue; // continuation of a multi-line field
        }
        let Some((key, value)) = line.split_once(':') else {
            bail!("malformed Packages line {n}: {line:?}");
        };
        has_fields = true;
        let value = value.trim().to_string();
        match key {
            "Package" => cur.package = value,
            "Version" => cur.version = value,
            "Architecture" => cur.architecture = value,
            "Filename" => cur.filename = value,
            _ => {}
        }
    }
    finish(&mut cur, &mut has_fields, n)?;
    Ok(out)
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

/// Crawls one apt repository and returns the selected package URLs.
pub async fn crawl(repo: &AptRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let root = dir_url(&repo.url);
    let matcher = ctx.matcher()?;
    let mut urls = Vec::new();
    let mut suites = repo.suites.clone();
    if let Some(gh) = &repo.suites_from_github {
        let found = super::github::crawl(gh, ctx)
            .await
            .context("discovering suites")?;
        for s in found {
            if !suites.contains(&s) {
                suites.push(s);
            }
        }
    }
    for suite in &suites {
        let dists = format!("{root}dists/{suite}/");
        let Some(release) = release_text(ctx, &dists).await? else {
            if repo.optional_suites {
                tracing::info!(
                    "{}: suite {suite} not found, skipped",
                    super::http::redact(&root)
                );
                continue;
            }
            bail!(
                "{}: suite {suite} has neither InRelease nor Release",
                super::http::redact(&root)
            );
        };
        let files = parse_release(&release)
            .with_context(|| super::http::redact(&format!("{dists}InRelease")))?;
        for component in &repo.components {
            for arch in &repo.architectures {
                let base = format!("{component}/binary-{arch}/Packages");
                let Some((path, expected)) = [".xz", ".gz", ""]
                    .iter()
                    .map(|ext| format!("{base}{ext}"))
                    .find_map(|p| files.get(&p).map(|f| (p, f)))
                else {
                    bail!(
                        "{}: Release of {suite} lists no {base} index",
                        super::http::redact(&root)
                    );
                };
                let url = format!("{dists}{path}");
                let what = super::http::redact(&url);
                let data = ctx.http.get(&url, &ctx.auth).await?;
                check_digest(&data, "sha256", &expected.sha256, &what)?;
                if data.len() as u64 != expected.size {
                    bail!(
                        "{what}: size mismatch (Release says {}, got {})",
                        expected.size,
                        data.len()
                    );
                }
                let text = decompress(&path, &data, &what)?;
                let text = String::from_utf8(text).map_err(|_| anyhow!("{what}: not UTF-8"))?;
                // An empty index is legitimate here (e.g. a fresh `-updates` suite): its
                // checksum was checked against the Release file.
                let stanzas = parse_packages(&text).with_context(|| what.clone())?;
                for s in stanzas {
                    let url = format!("{root}{}", s.filename.trim_start_matches('/'));
                    if matcher.matches(&s.package, Some(&s.version), Some(&s.architecture), &url) {
                        urls.push(url);
                    }
                }
            }
        }
    }
    Ok(urls)
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
}
