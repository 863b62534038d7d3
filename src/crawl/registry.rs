//! OCI/Docker registries (Registry HTTP API v2), as Docker Desktop publishes its kernels
//! (`docker/for-desktop-kernel:<X.Y.Z>-<commit>-amd64`): an anonymous bearer token from the
//! token endpoint (a [`Secret`], never logged), `GET /v2/<repo>/tags/list`, then per matching
//! tag its manifest, whose non-empty layer blobs (`/v2/<repo>/blobs/<digest>`) are the package
//! URLs. The `newest` canary counts tags: the newest matching one must yield a URL.

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::Deserialize;

use super::canary::{check_newest, Seen};
use super::config::RegistryRepo;
use super::credentials::{Auth, Secret};
use super::http::redact;
use super::RepoCtx;
use crate::manifest::version;

/// What manifests are asked for: Docker schema 2 and OCI image manifests.
pub const MANIFEST_ACCEPT: &str =
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// The digest of the empty gzipped tar layer (32 bytes) some images carry.
const EMPTY_LAYER: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46a4";

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    digest: String,
    #[serde(default)]
    size: u64,
}

/// The token of a token-endpoint answer (`token`, else `access_token`).
pub fn parse_token(json: &[u8]) -> Result<Secret> {
    let t: Token = serde_json::from_slice(json).map_err(|_| anyhow!("not a token answer"))?;
    t.token
        .or(t.access_token)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| anyhow!("the answer holds no token"))
}

/// The tag names of a `tags/list` answer.
pub fn parse_tags(json: &[u8]) -> Result<Vec<String>> {
    let t: Tags = serde_json::from_slice(json)?;
    Ok(t.tags.unwrap_or_default())
}

/// The digests of a manifest's non-empty layers, in manifest order.
pub fn parse_layers(json: &[u8]) -> Result<Vec<String>> {
    let m: Manifest = serde_json::from_slice(json)?;
    Ok(m.layers
        .into_iter()
        .filter(|l| l.digest != EMPTY_LAYER && l.size > 32)
        .map(|l| l.digest)
        .collect())
}

/// Most `tags/list` pages followed (100 tags each): a registry whose `Link` never ends fails.
pub const MAX_TAG_PAGES: usize = 100;

/// Tags asked for per `tags/list` page.
const PAGE_SIZE: u32 = 100;

/// The target of the `rel="next"` entry of a `Link` header (`<url>; rel="next"`, possibly
/// among other comma-separated entries), as written (usually a path relative to the registry).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            p.trim()
                .split_once('=')
                .is_some_and(|(k, v)| k.trim() == "rel" && v.trim().trim_matches('"') == "next")
        });
        next.then(|| target.to_string())
    })
}

/// Every tag of the repository: `tags/list` and the pages its `Link: <...>; rel="next"`
/// headers name (same registry only, at most [`MAX_TAG_PAGES`], no page twice).
async fn list_tags(ctx: &RepoCtx, root: &str, name: &str, auth: &Auth) -> Result<Vec<String>> {
    let base = reqwest::Url::parse(root).with_context(|| format!("bad registry URL {root:?}"))?;
    let mut url = format!("{root}/v2/{name}/tags/list?n={PAGE_SIZE}");
    let mut seen = std::collections::BTreeSet::new();
    let mut tags = Vec::new();
    loop {
        if !seen.insert(url.clone()) {
            bail!("{}: the tag pages loop", redact(&url));
        }
        if seen.len() > MAX_TAG_PAGES {
            bail!(
                "{}: more than {MAX_TAG_PAGES} tag pages",
                redact(&format!("{root}/v2/{name}/tags/list"))
            );
        }
        let (body, link) = ctx.http.get_with_link(&url, auth, None).await?;
        tags.extend(parse_tags(&body).with_context(|| redact(&url))?);
        let Some(next) = link.as_deref().and_then(next_link) else {
            return Ok(tags);
        };
        let page = reqwest::Url::parse(&url)
            .and_then(|u| u.join(&next))
            .map_err(|_| anyhow!("{}: bad Link target {next:?}", redact(&url)))?;
        if page.origin() != base.origin() {
            bail!(
                "{}: the next tag page {} is on another host",
                redact(&url),
                redact(page.as_str())
            );
        }
        url = page.to_string();
    }
}

/// Crawls one registry repository.
pub async fn crawl(repo: &RegistryRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let root = repo.url.trim_end_matches('/');
    let name = &repo.repository;
    let auth = match &repo.token {
        Some(t) => {
            let url = t.replace("{repository}", name);
            let body = ctx
                .http
                .get(&url, &Auth::None)
                .await
                .context("fetching the registry token")?;
            let token = parse_token(&body).with_context(|| redact(&url))?;
            Auth::Bearer(token)
        }
        None => ctx.auth.clone(),
    };
    let res: Vec<Regex> = repo
        .tags
        .iter()
        .map(|t| Regex::new(t))
        .collect::<Result<_, _>>()?;
    let (mut tags, other): (Vec<String>, Vec<String>) = list_tags(ctx, root, name, &auth)
        .await?
        .into_iter()
        .partition(|t| res.iter().any(|r| r.is_match(t)));
    tags.sort_by(|a, b| version::compare(b, a));
    let mut urls = Vec::new();
    // Tags the rules skip still count for the canary (a new tag format must not go unseen).
    let mut seen: Vec<Seen> = other
        .into_iter()
        .map(|t| Seen {
            name: t.clone(),
            key: t,
            selected: false,
        })
        .collect();
    for tag in &tags {
        let url = format!("{root}/v2/{name}/manifests/{tag}");
        let body = ctx
            .http
            .get_accept(&url, &auth, Some(MANIFEST_ACCEPT))
            .await?;
        let layers = parse_layers(&body).with_context(|| redact(&url))?;
        seen.push(Seen {
            name: tag.clone(),
            key: tag.clone(),
            selected: !layers.is_empty(),
        });
        urls.extend(
            layers
                .into_iter()
                .map(|d| format!("{root}/v2/{name}/blobs/{d}")),
        );
    }
    if let Some(re) = ctx.newest_canary()? {
        check_newest(&re, &seen, &format!("{root}/v2/{name}"))?;
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_tags_and_layers() {
        let t = parse_token(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.expose(), "abc");
        assert_eq!(format!("{t:?}"), "<redacted>");
        assert!(parse_token(b"{}").is_err());
        assert_eq!(
            parse_tags(br#"{"name":"docker/for-desktop-kernel","tags":["a","b"]}"#).unwrap(),
            ["a", "b"]
        );
        let m = format!(
            r#"{{"schemaVersion":2,"layers":[{{"digest":"sha256:{}","size":123456}},{{"digest":"{EMPTY_LAYER}","size":32}}]}}"#,
            "1".repeat(64)
        );
        assert_eq!(
            parse_layers(m.as_bytes()).unwrap(),
            [format!("sha256:{}", "1".repeat(64))]
        );
    }

    #[test]
    fn link_pagination() {
        assert_eq!(
            next_link(
                r#"</v2/docker/for-desktop-kernel/tags/list?last=6.1.1-a-amd64&n=100>; rel="next""#
            )
            .as_deref(),
            Some("/v2/docker/for-desktop-kernel/tags/list?last=6.1.1-a-amd64&n=100")
        );
        assert_eq!(
            next_link(
                r#"<https://a.example/first>; rel="prev", <https://a.example/x?n=2>; rel=next"#
            )
            .as_deref(),
            Some("https://a.example/x?n=2")
        );
        assert_eq!(next_link(r#"<https://a.example/first>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(parse_tags(b"<html>").is_err());
        assert!(parse_layers(b"{\"layers\": 3}").is_err());
        assert!(parse_token(b"not json").is_err());
    }
}
