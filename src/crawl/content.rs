//! Pure helpers over fetched bytes: checksums, decompression by file name, URL joining and
//! HTML link extraction.

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use sha2::Digest;

use crate::limits::{read_to_end_bounded, BudgetExceeded, Limits, Resource};

/// Checks `data` against an expected hex digest of the named algorithm (`sha256`, `sha512`,
/// `sha384`, `sha224`; yum's `sha` means sha1 and is refused as too weak).
pub fn check_digest(data: &[u8], algorithm: &str, expected_hex: &str, what: &str) -> Result<()> {
    let actual = match algorithm.to_ascii_lowercase().as_str() {
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        other => bail!("{what}: unsupported checksum type {other:?}"),
    };
    if !actual.eq_ignore_ascii_case(expected_hex.trim()) {
        bail!("{what}: checksum mismatch ({algorithm} expected {expected_hex}, got {actual})");
    }
    Ok(())
}

/// Decompresses by the file name's extension (`.gz`, `.xz`, `.zst`, `.bz2`; anything else is
/// returned as is). Truncated or corrupt data is an error naming `what`; so is output past the
/// index budget ([`crate::limits::Resource::Index`], from the environment).
pub fn decompress(name: &str, data: &[u8], what: &str) -> Result<Vec<u8>> {
    decompress_with(name, data, what, &Limits::from_env())
}

/// [`decompress`] under explicit `limits`.
pub fn decompress_with(name: &str, data: &[u8], what: &str, limits: &Limits) -> Result<Vec<u8>> {
    let path = name.split('?').next().unwrap_or(name);
    let mut reader: Box<dyn Read + '_> = if path.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(data))
    } else if path.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(data))
    } else if path.ends_with(".zst") {
        Box::new(
            zstd::stream::read::Decoder::new(data)
                .map_err(|e| anyhow!("{what}: corrupt or truncated compressed data: {e}"))?,
        )
    } else if path.ends_with(".bz2") {
        Box::new(bzip2::read::MultiBzDecoder::new(data))
    } else {
        return Ok(data.to_vec());
    };
    read_to_end_bounded(
        &mut reader,
        limits,
        Resource::Index,
        "the decompressed index",
    )
    .map_err(|e| {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<BudgetExceeded>())
        {
            Some(exceeded) => anyhow!("{what}: {exceeded}"),
            None => anyhow!("{what}: corrupt or truncated compressed data: {e}"),
        }
    })
}

/// Resolves `href` against `base` (RFC 3986, `..` segments included).
pub fn join(base: &str, href: &str) -> Result<String> {
    let base = reqwest::Url::parse(base).with_context(|| format!("invalid base URL {base}"))?;
    Ok(base
        .join(href)
        .with_context(|| format!("cannot resolve {href:?} against {base}"))?
        .to_string())
}

/// `url` with exactly one trailing `/`.
pub fn dir_url(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

/// One entry of a directory index page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Absolute URL.
    pub url: String,
    /// Last path segment, percent-decoded, without a trailing `/`.
    pub name: String,
    /// Whether it is a subdirectory (link ends in `/`).
    pub is_dir: bool,
}

/// Extracts the direct children of `page_url` from an HTML directory index (Apache, nginx,
/// Koji): links that resolve to `page_url` + one path segment. Sort links (`?C=N;O=D`), parent
/// links and links elsewhere are ignored.
pub fn index_entries(page_url: &str, html: &str) -> Result<Vec<IndexEntry>> {
    let page = dir_url(page_url);
    let base = reqwest::Url::parse(&page).with_context(|| format!("invalid URL {page}"))?;
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("a[href]").expect("static selector");
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for a in doc.select(&selector) {
        let href = a.value().attr("href").unwrap_or_default();
        if href.starts_with('?') || href.starts_with('#') {
            continue;
        }
        let Ok(mut url) = base.join(href) else {
            continue;
        };
        url.set_fragment(None);
        if url.query().is_some() {
            continue;
        }
        let s = url.to_string();
        let Some(rest) = s.strip_prefix(&page) else {
            continue;
        };
        let (seg, is_dir) = match rest.strip_suffix('/') {
            Some(seg) => (seg, true),
            None => (rest, false),
        };
        if seg.is_empty() || seg.contains('/') {
            continue;
        }
        let name = percent_decode(seg);
        if name == "." || name == ".." || name.contains('/') {
            continue;
        }
        // Canonical form: only what must be escaped in a path segment is escaped, so the same
        // file gets the same URL whatever escaping the server used (`~`, `+`, ...).
        let url = format!(
            "{page}{}{}",
            escape_segment(&name),
            if is_dir { "/" } else { "" }
        );
        if !seen.insert(url.clone()) {
            continue;
        }
        out.push(IndexEntry { url, name, is_dir });
    }
    Ok(out)
}

/// Escapes a path segment minimally: controls, space, `"#%<>?\\^`{|}` and non-ASCII.
pub fn escape_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f || b"\"#%<>?\\^`{|}".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hexpair = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hexpair, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_mismatch_is_reported() {
        let sha = hex::encode(sha2::Sha256::digest(b"abc"));
        check_digest(b"abc", "sha256", &sha, "x").unwrap();
        let err = check_digest(b"abd", "sha256", &sha, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
        assert!(check_digest(b"abc", "md5", &sha, "x").is_err());
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &[b'x'; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decompress("a.gz", &gz, "a").unwrap().len(), 10_000);
        let err = decompress("a.gz", &gz[..gz.len() / 2], "a")
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn decompressed_index_is_capped() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &[0u8; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        let limits = Limits {
            max_index_bytes: 50_000,
            ..Limits::default()
        };
        let err = decompress_with("Packages.gz", &gz, "Packages.gz", &limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Packages.gz: the decompressed index exceeds the pack budget of 50000")
                && err.contains("KERNEL_PACKER_MAX_INDEX_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn joins_dot_dot() {
        assert_eq!(
            join(
                "http://h/2/core/2.0/x86_64/abc/",
                "../../../../../blobstore/x/k.rpm"
            )
            .unwrap(),
            "http://h/blobstore/x/k.rpm"
        );
    }

    #[test]
    fn nginx_index_children() {
        let html = "<html>\r\n<head><title>Index of /amd64-usr/</title></head>\r\n<body>\r\n<h1>Index of /amd64-usr/</h1><hr><pre><a href=\"../\">../</a>\r\n<a href=\"3815.2.5/\">3815.2.5/</a>                                          17-Jul-2024 12:00       -\r\n<a href=\"current/\">current/</a>   17-Jul-2024 12:00       -\r\n<a href=\"version.txt\">version.txt</a>  17-Jul-2024 12:00     123\r\n</pre><hr></body>\r\n</html>\r\n";
        let e = index_entries("https://h/amd64-usr/", html).unwrap();
        let names: Vec<_> = e.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
        assert_eq!(
            names,
            vec![
                ("3815.2.5", true),
                ("current", true),
                ("version.txt", false)
            ]
        );
        assert!(index_entries("https://h/x/", "").unwrap().is_empty());
    }

    #[test]
    fn apache_index_children() {
        let html = r#"<html><body><h1>Index of /packages/kernel</h1><table>
<tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/packages/">Parent Directory</a></td></tr>
<tr><td><a href="6.9.1/">6.9.1/</a></td></tr>
<tr><td><a href="k%2Bv%7E1.rpm">k+v~1.rpm</a></td></tr>
<tr><td><a href="a%20b.rpm">a b.rpm</a></td></tr>
<tr><td><a href="http://elsewhere/x/">x</a></td></tr>
</table></body></html>"#;
        let e = index_entries("http://h/packages/kernel", html).unwrap();
        assert_eq!(
            e,
            vec![
                IndexEntry {
                    url: "http://h/packages/kernel/6.9.1/".into(),
                    name: "6.9.1".into(),
                    is_dir: true
                },
                IndexEntry {
                    url: "http://h/packages/kernel/k+v~1.rpm".into(),
                    name: "k+v~1.rpm".into(),
                    is_dir: false
                },
                IndexEntry {
                    url: "http://h/packages/kernel/a%20b.rpm".into(),
                    name: "a b.rpm".into(),
                    is_dir: false
                },
            ]
        );
    }
}
