//! A Docker Hub-shaped registry for `docker/for-desktop-kernel` on the fixture [`Mirror`]
//! (Registry HTTP API v2 as Docker Hub answers it): the anonymous token endpoint, `tags/list`
//! in pages chained by `Link: <...>; rel="next"`, one schema-2 manifest per tag and the layer
//! blobs, every registry path behind the bearer token.

use std::collections::BTreeSet;

use super::mirror::Mirror;

/// The registry repository root, as `sources.yml` names it (mapped onto the mirror).
pub const REGISTRY: &str = "https://registry-1.docker.io/v2/docker/for-desktop-kernel/";
/// The token endpoint `sources.yml` names, `{repository}` filled in.
pub const TOKEN_URL: &str = "https://auth.docker.io/token?service=registry.docker.io&scope=repository:docker/for-desktop-kernel:pull";
/// The token the fixture hands out (must never appear in a log or report).
pub const TOKEN: &str = "fixture-registry-token-4f1d";
/// The empty gzipped tar layer some images carry.
pub const EMPTY_LAYER: &str =
    "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46a4";

/// One tag: its name and its kernel layer (the blob's bytes), if it has one.
pub struct Tag<'a> {
    pub name: &'a str,
    pub layer: Option<&'a [u8]>,
}

/// `sha256:<hex>` of a blob.
pub fn digest(blob: &[u8]) -> String {
    format!("sha256:{}", kernel_packer::names::sha256_hex(blob))
}

/// The first `tags/list` page URL the crawler asks for.
pub fn tags_url() -> String {
    format!("{REGISTRY}tags/list?n=100")
}

/// Serves `tags` (in this order, `per_page` per page) and returns the blob URLs of the
/// amd64 tags with a kernel layer (what the crawl must list). Each tag's manifest also lists
/// the empty layer, which is no package.
pub fn serve(mirror: &Mirror, tags: &[Tag], per_page: usize) -> BTreeSet<String> {
    mirror.put(
        TOKEN_URL,
        format!(r#"{{"token":"{TOKEN}","access_token":"{TOKEN}","expires_in":300,"issued_at":"2026-11-30T00:00:00Z"}}"#)
            .into_bytes(),
    );
    let bearer = format!("Bearer {TOKEN}");
    let path = reqwest::Url::parse(REGISTRY).unwrap().path().to_string();
    let pages: Vec<&[Tag]> = tags.chunks(per_page.max(1)).collect();
    let mut url = tags_url();
    for (i, page) in pages.iter().enumerate() {
        let names: Vec<String> = page.iter().map(|t| format!("\"{}\"", t.name)).collect();
        mirror.put(
            &url,
            format!(
                r#"{{"name":"docker/for-desktop-kernel","tags":[{}]}}"#,
                names.join(",")
            )
            .into_bytes(),
        );
        mirror.require_auth(&url, &bearer);
        if i + 1 < pages.len() {
            let last = page.last().unwrap().name;
            let next = format!("{path}tags/list?last={last}&n=100");
            mirror.header(&url, &format!("Link: <{next}>; rel=\"next\""));
            url = format!("{REGISTRY}tags/list?last={last}&n=100");
        } else {
            mirror.header(&url, "");
        }
    }
    let mut blobs = BTreeSet::new();
    for tag in tags {
        let empty = format!(
            r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"{EMPTY_LAYER}"}}"#
        );
        let layers = match tag.layer {
            Some(blob) => {
                let d = digest(blob);
                let url = format!("{REGISTRY}blobs/{d}");
                mirror.put(&url, blob.to_vec());
                mirror.require_auth(&url, &bearer);
                if tag.name.ends_with("-amd64") {
                    blobs.insert(url);
                }
                format!(
                    r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"{d}"}},{empty}"#,
                    blob.len()
                )
            }
            None => empty,
        };
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"{}"}},"layers":[{layers}]}}"#,
            digest(format!("config {}", tag.name).as_bytes())
        );
        let url = format!("{REGISTRY}manifests/{}", tag.name);
        mirror.put(&url, manifest.into_bytes());
        mirror.require_auth(&url, &bearer);
    }
    blobs
}
