//! GitHub releases or tags (REST `GET {api}/releases|tags?per_page=100&page=N`), turned into
//! package URLs by templates, optionally after probing a file per tag for values (e.g. the
//! kernel version in minikube's kernel config).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::Deserialize;

use super::canary::{check_newest, Seen};
use super::config::GithubRepo;
use super::http::redact;
use super::RepoCtx;

#[derive(Debug, Deserialize)]
struct Release {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

#[derive(Debug, Deserialize)]
struct Tag {
    name: String,
}

/// Parses one page of the releases (`what = releases`) or tags API into usable tag names.
pub fn parse_page(json: &[u8], what: &str, prereleases: bool) -> Result<Vec<String>> {
    if what == "tags" {
        let tags: Vec<Tag> = serde_json::from_slice(json)?;
        return Ok(tags.into_iter().map(|t| t.name).collect());
    }
    let releases: Vec<Release> = serde_json::from_slice(json)?;
    Ok(releases
        .into_iter()
        .filter(|r| !r.draft && (prereleases || !r.prerelease))
        .map(|r| r.tag_name)
        .collect())
}

/// Fills `{var}` placeholders; an unknown placeholder is an error.
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let re = Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("static regex");
    let mut missing = None;
    let out = re.replace_all(template, |c: &regex::Captures<'_>| match vars.get(&c[1]) {
        Some(v) => v.clone(),
        None => {
            missing = Some(c[1].to_string());
            String::new()
        }
    });
    if let Some(m) = missing {
        bail!("template {template:?} uses unknown variable {{{m}}}");
    }
    Ok(out.into_owned())
}

/// Lists tags and emits the templated URLs.
pub async fn crawl(repo: &GithubRepo, ctx: &RepoCtx) -> Result<Vec<String>> {
    let api = repo.api.trim_end_matches('/');
    let include: Vec<Regex> = repo
        .tags
        .iter()
        .map(|t| Regex::new(t))
        .collect::<Result<_, _>>()?;
    let exclude: Vec<Regex> = repo
        .exclude_tags
        .iter()
        .map(|t| Regex::new(t))
        .collect::<Result<_, _>>()?;
    let mut tags = Vec::new();
    let mut complete = false;
    for page in 1..=repo.max_pages {
        let url = format!("{api}/{}?per_page=100&page={page}", repo.what);
        let body = ctx.http.get(&url, &ctx.auth).await?;
        let raw: serde_json::Value =
            serde_json::from_slice(&body).with_context(|| format!("{}: not JSON", redact(&url)))?;
        let n = raw
            .as_array()
            .map(Vec::len)
            .ok_or_else(|| anyhow!("{}: not a JSON array", redact(&url)))?;
        if page == 1 && n == 0 {
            bail!("{}: no {} at all", redact(&url), repo.what);
        }
        tags.extend(parse_page(&body, &repo.what, repo.prereleases).with_context(|| redact(&url))?);
        if n < 100 {
            complete = true;
            break;
        }
    }
    if !complete {
        bail!("{api}: more than {} pages of {}", repo.max_pages, repo.what);
    }
    let probe_res: Vec<Regex> = repo
        .probes
        .iter()
        .map(|p| Regex::new(&p.pattern))
        .collect::<Result<_, _>>()?;
    let mut urls = Vec::new();
    // API order is newest first: the ordering key counts down.
    let mut seen = Vec::new();
    let count = tags.len();
    for (i, tag) in tags.into_iter().enumerate() {
        if !include.iter().any(|r| r.is_match(&tag)) || exclude.iter().any(|r| r.is_match(&tag)) {
            continue;
        }
        seen.push(Seen {
            name: tag.clone(),
            key: (count - i).to_string(),
            selected: false,
        });
        let mut vars = BTreeMap::new();
        vars.insert("tag".to_string(), tag.clone());
        vars.insert(
            "version".to_string(),
            tag.trim_start_matches('v').to_string(),
        );
        let mut skip = false;
        for (probe, re) in repo.probes.iter().zip(&probe_res) {
            let mut found = false;
            for t in &probe.urls {
                let url = fill(t, &vars)?;
                let Some(body) = ctx.http.get_optional(&url, &ctx.auth).await? else {
                    continue;
                };
                let text = String::from_utf8_lossy(&body);
                if let Some(c) = re.captures(&text) {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = c.name(name) {
                            vars.insert(name.to_string(), m.as_str().to_string());
                        }
                    }
                    if let Some(v) = &probe.url_var {
                        vars.insert(v.clone(), url);
                    }
                    found = true;
                    break;
                }
            }
            if !found {
                tracing::info!("{api}: tag {tag}: probe found nothing, skipped");
                skip = true;
                break;
            }
        }
        if skip {
            continue;
        }
        for t in &repo.emit {
            urls.push(fill(t, &vars)?);
        }
        if let Some(last) = seen.last_mut() {
            last.selected = true;
        }
    }
    if let Some(re) = ctx.newest_canary()? {
        check_newest(&re, &seen, &redact(api))?;
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_skip_drafts_and_prereleases() {
        let json = br#"[{"tag_name":"v1.2.0","draft":false,"prerelease":false},{"tag_name":"v1.3.0-beta.0","draft":false,"prerelease":true},{"tag_name":"v9","draft":true,"prerelease":false}]"#;
        assert_eq!(parse_page(json, "releases", false).unwrap(), vec!["v1.2.0"]);
        assert_eq!(
            parse_page(json, "releases", true).unwrap(),
            vec!["v1.2.0", "v1.3.0-beta.0"]
        );
        assert_eq!(
            parse_page(br#"[{"name":"1443.3"}]"#, "tags", false).unwrap(),
            vec!["1443.3"]
        );
    }

    #[test]
    fn templates() {
        let mut v = BTreeMap::new();
        v.insert("tag".to_string(), "v1.24.0".to_string());
        v.insert("kernel".to_string(), "4.19.202".to_string());
        assert_eq!(
            fill("x/{tag}/c?kernel={kernel}", &v).unwrap(),
            "x/v1.24.0/c?kernel=4.19.202"
        );
        assert!(fill("{nope}", &v).is_err());
    }
}
