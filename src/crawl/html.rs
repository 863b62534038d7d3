//! HTML directory indexes (Apache, nginx, Koji): descend one directory level per `descend`
//! regex, then select files on the last level. A page with no entries at all fails the source
//! (an empty or broken index must not empty a list).

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use tokio::task::JoinSet;

use super::canary::{check_newest, Seen};
use super::config::HtmlRepo;
use super::content::{dir_url, index_entries, IndexEntry};
use super::http::redact;
use super::RepoCtx;

/// Fetches one index page. A start page must list something; a deeper page may be an empty
/// directory, but only if it still looks like an index (a title or heading `Index of`), so an
/// empty or truncated response never passes for "no packages".
async fn fetch_index(ctx: &RepoCtx, url: &str, start: bool) -> Result<Vec<IndexEntry>> {
    let body = ctx.http.get(url, &ctx.auth).await?;
    let html = String::from_utf8_lossy(&body);
    let entries = index_entries(url, &html)?;
    if entries.is_empty() && (start || !html.contains("Index of")) {
        bail!("{}: empty or unparseable directory index", redact(url));
    }
    Ok(entries)
}

/// Crawls an HTML index tree and returns the selected file URLs.
pub async fn crawl(repo: &HtmlRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let levels: Vec<Regex> = repo
        .descend
        .iter()
        .map(|d| Regex::new(d))
        .collect::<Result<_, _>>()?;
    let matcher = ctx.matcher()?;
    // (page URL, path below the start URL)
    let mut pages: Vec<(String, String)> = repo
        .urls
        .iter()
        .map(|u| (dir_url(u), String::new()))
        .collect();
    let ctx = Arc::new(ctx.clone());
    let mut urls = Vec::new();
    let mut seen = Vec::new();
    for depth in 0..=levels.len() {
        let mut set = JoinSet::new();
        for (i, (page, rel)) in pages.iter().enumerate() {
            let ctx = ctx.clone();
            let page = page.clone();
            let rel = rel.clone();
            let start = depth == 0;
            set.spawn(async move { (i, rel, fetch_index(&ctx, &page, start).await) });
        }
        let mut results = Vec::with_capacity(pages.len());
        while let Some(joined) = set.join_next().await {
            let (i, rel, entries) = joined.map_err(|e| anyhow!("index task failed: {e}"))?;
            results.push((i, rel, entries?));
        }
        results.sort_by_key(|(i, _, _)| *i);
        let mut next = Vec::new();
        for (_, rel, entries) in results {
            for e in entries {
                if depth < levels.len() {
                    if e.is_dir && levels[depth].is_match(&e.name) {
                        next.push((e.url, format!("{rel}{}/", e.name)));
                    }
                } else if !e.is_dir {
                    let selected = matcher.matches(&e.name, Some(&rel), None, &e.url);
                    seen.push(Seen {
                        key: format!("{rel}{}", e.name),
                        name: e.name,
                        selected,
                    });
                    if selected {
                        urls.push(e.url);
                    }
                }
            }
        }
        pages = next;
        if pages.is_empty() && depth < levels.len() {
            break;
        }
    }
    if let Some(re) = ctx.newest_canary()? {
        let place: Vec<String> = repo.urls.iter().map(|u| redact(u)).collect();
        check_newest(&re, &seen, &place.join(", "))?;
    }
    Ok(urls)
}
