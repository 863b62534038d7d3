//! Minimal URL helpers for grouping: scheme + host, directory and file name.
//!
//! The grouping rules only need these parts, so a full URL parser is not pulled in; a URL
//! is accepted when it has the shape `scheme://host[/path][?query]` with no whitespace.

/// Returns `scheme://host` of `url` (host includes any port), or why the URL is malformed.
pub fn origin(url: &str) -> Result<&str, String> {
    if url.chars().any(char::is_whitespace) {
        return Err("malformed URL: contains whitespace".into());
    }
    let Some(sep) = url.find("://") else {
        return Err("malformed URL: no `scheme://`".into());
    };
    let scheme = &url[..sep];
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    if !scheme_ok {
        return Err(format!("malformed URL: bad scheme {scheme:?}"));
    }
    let rest = &url[sep + 3..];
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if host_len == 0 {
        return Err("malformed URL: empty host".into());
    }
    Ok(&url[..sep + 3 + host_len])
}

/// Whether a list line is an already simplified package name (no `scheme://`, only
/// `[A-Za-z0-9_.-]`), as older lists of the seed's format hold; such a line is taken as it is.
pub fn is_simplified_name(line: &str) -> bool {
    !line.is_empty()
        && !line.contains("://")
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The URL without its query: `https://h/a/b?x=1` → `https://h/a/b`.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The last path segment (file name) of the URL, query excluded. For an already simplified
/// name (see [`is_simplified_name`]), where `/` became `-`, the package file name is taken to
/// start after the last `-linux-` (the pool directory `.../l/linux/` or `.../l/linux-aws/`
/// precedes it), else the whole name.
pub fn file_name(url: &str) -> &str {
    if is_simplified_name(url) {
        return url.rfind("-linux-").map_or(url, |i| &url[i + 1..]);
    }
    let path = without_query(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// The URL up to (not including) the last `/` of its path: the "directory".
pub fn directory(url: &str) -> &str {
    let path = without_query(url);
    path.rsplit_once('/').map_or(path, |(dir, _)| dir)
}

/// The value of query parameter `name`, if present.
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The binary architecture a package URL is built for, in Debian's names (`amd64`,
/// `arm64`), from its file name (`_amd64.deb`, `.x86_64.rpm`, `_arm64.deb`, `.aarch64.rpm`)
/// or else a path segment naming it (`x86_64/`, `arm64-usr/`, `aarch64/`; in a simplified name,
/// a `-`-separated token). `None`: no known
/// architecture is named (`_all.deb`, `.noarch.rpm`, source tarballs).
pub fn binary_arch(url: &str) -> Option<&'static str> {
    const NAMES: [(&str, &str); 4] = [
        ("amd64", "amd64"),
        ("x86_64", "amd64"),
        ("arm64", "arm64"),
        ("aarch64", "arm64"),
    ];
    let name = file_name(url);
    let tail = name
        .strip_suffix(".deb")
        .and_then(|s| s.rsplit_once('_'))
        .or_else(|| name.strip_suffix(".rpm").and_then(|s| s.rsplit_once('.')))
        .map(|(_, arch)| arch);
    if let Some(tail) = tail {
        return NAMES.iter().find(|(n, _)| *n == tail).map(|(_, a)| *a);
    }
    if is_simplified_name(url) {
        // `/` became `-`: a `-`-separated token naming an architecture (`-arm64-usr-`).
        return url
            .split('-')
            .find_map(|t| NAMES.iter().find(|(n, _)| *n == t).map(|(_, a)| *a));
    }
    let path = without_query(url);
    let path = path.split_once("://").map_or(path, |(_, p)| p);
    path.split('/').rev().skip(1).find_map(|seg| {
        let seg = seg.strip_suffix("-usr").unwrap_or(seg);
        NAMES.iter().find(|(n, _)| *n == seg).map(|(_, a)| *a)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_binary_architectures() {
        for (url, want) in [
            (
                "http://d/pool/linux-kbuild-6.1_6.1.90-1_arm64.deb",
                Some("arm64"),
            ),
            (
                "http://d/pool/linux-kbuild-6.1_6.1.90-1_amd64.deb",
                Some("amd64"),
            ),
            (
                "http://d/pool/linux-headers-6.1.0-21-common_6.1.90-1_all.deb",
                None,
            ),
            (
                "http://r/aarch64/kernel-devel-6.1.1-1.aarch64.rpm",
                Some("arm64"),
            ),
            (
                "http://r/x86_64/kernel-devel-6.1.1-1.x86_64.rpm",
                Some("amd64"),
            ),
            ("http://r/noarch/kernel-devel-6.1.1-1.noarch.rpm", None),
            (
                "https://s/arm64-usr/3815.2.0/flatcar_developer_container.bin.bz2",
                Some("arm64"),
            ),
            (
                "https://s/amd64-usr/3815.2.0/flatcar_developer_container.bin.bz2",
                Some("amd64"),
            ),
            ("https://k/pub/linux/kernel/v6.x/linux-6.1.1.tar.xz", None),
            (
                "http---d-pool-main-l-linux-linux-kbuild-6.1_6.1.90-1_arm64.deb",
                Some("arm64"),
            ),
        ] {
            assert_eq!(binary_arch(url), want, "{url}");
        }
    }

    #[test]
    fn splits_urls() {
        let u = "https://h.example:8080/a/b/file.deb?kernel=5.10.57";
        assert_eq!(origin(u).unwrap(), "https://h.example:8080");
        assert_eq!(file_name(u), "file.deb");
        assert_eq!(directory(u), "https://h.example:8080/a/b");
        assert_eq!(query_param(u, "kernel"), Some("5.10.57"));
        assert_eq!(query_param(u, "other"), None);
    }

    #[test]
    fn simplified_names_keep_their_package_file_name() {
        let n = "http---security.debian.org-pool-updates-main-l-linux-linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb";
        assert!(is_simplified_name(n));
        assert_eq!(
            file_name(n),
            "linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb"
        );
        let n = "http---u-pool-main-l-linux-aws-linux-aws-headers-4.4.0-1_4.4.0-1.2_all.deb";
        assert_eq!(file_name(n), "linux-aws-headers-4.4.0-1_4.4.0-1.2_all.deb");
        assert_eq!(
            file_name("https---h-kernel-devel-1.rpm"),
            "https---h-kernel-devel-1.rpm"
        );
        assert!(!is_simplified_name("http://h/a.deb"));
        assert!(!is_simplified_name("a b"));
    }

    #[test]
    fn rejects_malformed_urls() {
        assert!(origin("not a url").unwrap_err().contains("whitespace"));
        assert!(origin("/local/path.deb").unwrap_err().contains("scheme"));
        assert!(origin("http:///path").unwrap_err().contains("empty host"));
        assert!(origin("1http://h/p").unwrap_err().contains("bad scheme"));
    }
}
