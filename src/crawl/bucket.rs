//! S3/GCS-style XML bucket listings (`ListBucketResult`), paginated with `marker`
//! (`NextMarker` when the server sends it, else the last key) while `IsTruncated` is true.

use anyhow::{anyhow, bail, Context, Result};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::canary::{check_newest, Seen};
use super::config::BucketRepo;
use super::http::redact;
use super::RepoCtx;

/// One page of a bucket listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Object keys on this page.
    pub keys: Vec<String>,
    /// Whether more pages follow.
    pub truncated: bool,
    /// The marker for the next page, when the server gives one.
    pub next_marker: Option<String>,
}

/// Parses one `ListBucketResult` page.
pub fn parse_list_page(xml: &str) -> Result<ListPage> {
    let mut reader = Reader::from_str(xml);
    let mut page = ListPage::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut saw_root = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| anyhow!("malformed bucket listing: {e}"))?
        {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_string();
                if name == "ListBucketResult" {
                    saw_root = true;
                }
                path.push(name);
                text.clear();
            }
            Event::End(_) => {
                let parent = path.get(path.len().wrapping_sub(2)).map(String::as_str);
                match (parent, path.last().map(String::as_str)) {
                    (Some("Contents"), Some("Key")) => page.keys.push(text.clone()),
                    (Some("ListBucketResult"), Some("IsTruncated")) => {
                        page.truncated = text.trim() == "true"
                    }
                    (Some("ListBucketResult"), Some("NextMarker")) => {
                        page.next_marker = Some(text.clone())
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let s = match r.into_inner().as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => bail!("unsupported entity &{other}; in bucket listing"),
                };
                text.push_str(s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        bail!("not a ListBucketResult document");
    }
    Ok(page)
}

/// Lists a bucket and returns the selected object URLs.
pub async fn crawl(repo: &BucketRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let matcher = ctx.matcher()?;
    let base = repo.url.trim_end_matches('/').to_string();
    let mut marker: Option<String> = None;
    let mut urls = Vec::new();
    let mut seen = Vec::new();
    let mut total_keys = 0usize;
    for page_no in 0..repo.max_pages {
        let mut url =
            reqwest::Url::parse(&base).with_context(|| format!("invalid bucket URL {base}"))?;
        let pairs: Vec<(&str, &str)> = [
            ("prefix", repo.prefix.as_deref()),
            ("marker", marker.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        let url = url.to_string();
        let body = ctx.http.get(&url, &ctx.auth).await?;
        let xml = String::from_utf8(body).map_err(|_| anyhow!("{}: not UTF-8", redact(&url)))?;
        let page = parse_list_page(&xml).with_context(|| redact(&url))?;
        total_keys += page.keys.len();
        for key in &page.keys {
            let (dir, name) = key
                .rsplit_once('/')
                .map(|(d, n)| (format!("{d}/"), n))
                .unwrap_or((String::new(), key));
            let url = format!("{base}/{key}");
            let selected = matcher.matches(name, Some(&dir), None, &url);
            seen.push(Seen {
                name: name.to_string(),
                key: key.clone(),
                selected,
            });
            if selected {
                urls.push(url);
            }
        }
        if !page.truncated {
            if total_keys == 0 {
                bail!("{}: empty bucket listing", redact(&base));
            }
            if let Some(re) = ctx.newest_canary()? {
                check_newest(&re, &seen, &redact(&base))?;
            }
            return Ok(urls);
        }
        let next = page.next_marker.or_else(|| page.keys.last().cloned());
        if next.is_none() || next == marker {
            bail!(
                "{}: listing page {page_no} is truncated but gives no new marker",
                redact(&base)
            );
        }
        marker = next;
    }
    bail!(
        "{}: more than {} listing pages",
        redact(&base),
        repo.max_pages
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcs_page() {
        let xml = r#"<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>cos-tools</Name><Prefix></Prefix><Marker></Marker><NextMarker>17400.0.0/kernel-src.tar.gz</NextMarker><IsTruncated>true</IsTruncated><Contents><Key>17400.0.0/kernel-headers.tgz</Key><Generation>1</Generation><Size>10</Size></Contents><Contents><Key>17400.0.0/kernel-src.tar.gz</Key></Contents><Contents><Key>a&amp;b</Key><Size>20</Size></Contents></ListBucketResult>"#;
        let p = parse_list_page(xml).unwrap();
        assert_eq!(
            p.keys,
            vec![
                "17400.0.0/kernel-headers.tgz",
                "17400.0.0/kernel-src.tar.gz",
                "a&b"
            ]
        );
        assert!(p.truncated);
        assert_eq!(
            p.next_marker.as_deref(),
            Some("17400.0.0/kernel-src.tar.gz")
        );
        assert!(parse_list_page("<Error><Code>AccessDenied</Code></Error>").is_err());
    }
}
