//! `minikube`: every kernel config URL carrying `?kernel=X.Y.Z` is paired with the source
//! tarball of that version (config option `tarball_url`, default [`DEFAULT_TARBALL_URL`],
//! kernel.org). Tarball URLs may also appear in the list; they are accepted when some
//! config of the list needs them.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{GroupError, Set};
use crate::manifest::urls;

/// Kernel source tarball URL template: `{major}` and `{version}` are substituted.
pub const DEFAULT_TARBALL_URL: &str =
    "https://cdn.kernel.org/pub/linux/kernel/v{major}.x/linux-{version}.tar.xz";

static KERNEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\.\d+(?:\.\d+)?$").expect("valid regex"));

/// The tarball URL of `version` (`X.Y[.Z]`) from `template`, or `None` if it is not a
/// kernel version.
pub fn tarball_url(template: &str, version: &str) -> Option<String> {
    let major = KERNEL.captures(version)?.get(1)?.as_str();
    Some(
        template
            .replace("{major}", major)
            .replace("{version}", version),
    )
}

/// Pairs each config URL with its kernel tarball built from `template`.
pub fn group(urls: &[String], template: &str) -> Result<Vec<Set>, GroupError> {
    let mut sets = Vec::new();
    let mut others = Vec::new();
    for url in urls {
        match urls::query_param(url, "kernel") {
            Some(version) => {
                let tarball = tarball_url(template, version).ok_or_else(|| {
                    GroupError::at(
                        url,
                        format!("kernel={version:?} is not a kernel version X.Y[.Z]"),
                    )
                })?;
                sets.push(vec![url.clone(), tarball]);
            }
            None => others.push(url),
        }
    }
    let needed: HashSet<&str> = sets.iter().map(|s| s[1].as_str()).collect();
    if let Some(stray) = others.into_iter().find(|u| !needed.contains(u.as_str())) {
        return Err(GroupError::at(
            stray,
            "neither a minikube config URL with ?kernel=X.Y.Z nor the kernel tarball of one",
        ));
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::super::strings;
    use super::*;

    #[test]
    fn config_paired_with_tarball() {
        let urls = strings(&[
            "https://raw.example/minikube/v1.26.0/linux_x86_64_defconfig?kernel=5.10.57",
            "https://cdn.kernel.org/pub/linux/kernel/v5.x/linux-5.10.57.tar.xz",
        ]);
        let got = group(&urls, DEFAULT_TARBALL_URL).unwrap();
        assert_eq!(got, vec![vec![urls[0].clone(), urls[1].clone()]]);
    }

    #[test]
    fn tarball_template_is_configurable() {
        let urls = strings(&["https://r/defconfig?kernel=6.1", "https://m/k/6.1.tgz"]);
        let got = group(&urls, "https://m/k/{version}.tgz").unwrap();
        assert_eq!(got, vec![vec![urls[0].clone(), urls[1].clone()]]);
        assert_eq!(
            tarball_url("x/v{major}/{version}", "4.19.202").unwrap(),
            "x/v4/4.19.202"
        );
    }

    #[test]
    fn bad_version_and_stray_urls_are_errors() {
        let err = group(
            &strings(&["https://r/defconfig?kernel=latest"]),
            DEFAULT_TARBALL_URL,
        )
        .unwrap_err();
        assert!(err.reason.contains("not a kernel version"), "{err}");
        let urls = strings(&[
            "https://r/defconfig?kernel=4.19.202",
            "https://cdn.kernel.org/pub/linux/kernel/v5.x/linux-5.10.57.tar.xz",
        ]);
        let err = group(&urls, DEFAULT_TARBALL_URL).unwrap_err();
        assert!(err.url.unwrap().contains("5.10.57"));
    }
}
