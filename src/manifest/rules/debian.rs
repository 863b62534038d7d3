//! `debian` (Debian, Garden Linux): one set per arch header package:
//! `[linux-kbuild, linux-headers-<kernel>-<flavour>, linux-headers-<kernel>-common?]`.
//!
//! Within one host pool:
//! - `linux-kbuild-<series>_<pkgver>_<arch>.deb` are kbuild packages; two kbuilds with the
//!   same package version are an error.
//! - `linux-headers-<rest>_<pkgver>_<arch>.deb` are headers; duplicate file names keep the
//!   copy from the preferred pool (a URL containing the `preferred_host` option, default
//!   [`DEFAULT_PREFERRED_HOST`]), else the last one. (Lists are split by host first, so this
//!   only matters for copies on one host.)
//! - A common header names the kernel: `<kernel>-common`. An arch header belongs to the
//!   longest such kernel that prefixes its `<rest>`; without one, the kernel is the leading
//!   `X.Y[.Z][-ABI]` of `<rest>`.
//! - Per kernel only the newest package version's headers are kept (older ones are
//!   skipped); more than one common header is an error; a kernel with only a common header
//!   is skipped.
//! - The kbuild is the one with the headers' package version, else the newest kbuild whose
//!   series is the longest prefix of the kernel version cut at `-`/`.`
//!   (`5.10.0-28` → `5.10.0`, `5.10`, `5`); no kbuild at all is an error.
//! - Any other file name is an error.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{GroupError, Grouped, Skipped};
use crate::manifest::{urls, version};

/// Host marker of the pool preferred for duplicate header files unless configured.
pub const DEFAULT_PREFERRED_HOST: &str = "security.debian.org";

static KBUILD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^linux-kbuild-(\d+(?:\.\d+)*)_([^_]+)(?:_[^_]*)?\.deb$").expect("valid regex")
});
static HEADERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^linux-headers-([^_]+)_([^_]+)(?:_[^_]*)?\.deb$").expect("valid regex")
});
static KERNEL_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+(?:\.\d+)+(?:-\d+)?)-.").expect("valid regex"));

struct Kbuild<'a> {
    series: &'a str,
    pkgver: &'a str,
    url: &'a str,
}

struct Header<'a> {
    rest: &'a str,
    pkgver: &'a str,
    url: &'a str,
}

const COMMON: &str = "-common";

/// Groups one host's Debian-style kbuild and header URLs.
pub fn group(urls: &[String], preferred_host: &str) -> Result<Grouped, GroupError> {
    let mut kbuilds: Vec<Kbuild> = Vec::new();
    // File name → header (sorted by file name, for determinism).
    let mut headers: BTreeMap<&str, Header> = BTreeMap::new();
    let mut duplicates: Vec<Skipped> = Vec::new();
    for url in urls {
        let name = urls::file_name(url);
        if let Some(c) = KBUILD.captures(name) {
            let (series, pkgver) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
            if let Some(other) = kbuilds.iter().find(|k| k.pkgver == pkgver) {
                return Err(GroupError::at(
                    url,
                    format!(
                        "two kbuild packages for package version {pkgver}: also {}",
                        other.url
                    ),
                ));
            }
            kbuilds.push(Kbuild {
                series,
                pkgver,
                url,
            });
        } else if let Some(c) = HEADERS.captures(name) {
            let header = Header {
                rest: c.get(1).unwrap().as_str(),
                pkgver: c.get(2).unwrap().as_str(),
                url,
            };
            let keep_existing = headers
                .get(name)
                .is_some_and(|existing| existing.url.contains(preferred_host));
            let dropped = if keep_existing {
                Some(url.as_str())
            } else {
                headers.insert(name, header).map(|old| old.url)
            };
            if let Some(dropped) = dropped {
                duplicates.push(Skipped {
                    url: dropped.to_string(),
                    reason: format!("duplicate of {name}, kept the other copy"),
                });
            }
        } else {
            return Err(GroupError::at(
                url,
                "not a Debian `linux-headers-*_<version>_<arch>.deb` or `linux-kbuild-*` package",
            ));
        }
    }

    let common_kernels: Vec<&str> = headers
        .values()
        .filter_map(|h| h.rest.strip_suffix(COMMON))
        .collect();

    // Kernel version → headers of that kernel.
    let mut by_kernel: BTreeMap<&str, Vec<&Header>> = BTreeMap::new();
    for header in headers.values() {
        let kernel = match header.rest.strip_suffix(COMMON) {
            Some(kernel) => kernel,
            None => kernel_of_arch_header(header.rest, &common_kernels).ok_or_else(|| {
                GroupError::at(
                    header.url,
                    format!(
                        "cannot tell the kernel version of header package {:?}",
                        header.rest
                    ),
                )
            })?,
        };
        by_kernel.entry(kernel).or_default().push(header);
    }

    let mut out = Grouped {
        sets: Vec::new(),
        skipped: duplicates,
    };
    for (kernel, mut hs) in by_kernel {
        hs.sort_by(|a, b| version::compare(b.pkgver, a.pkgver).then(a.url.cmp(b.url)));
        let newest = hs[0].pkgver;
        let (current, older): (Vec<&Header>, Vec<&Header>) = hs
            .into_iter()
            .partition(|h| version::compare(h.pkgver, newest).is_eq());
        out.skipped.extend(older.iter().map(|h| Skipped {
            url: h.url.to_string(),
            reason: format!("kernel {kernel} also has the newer package version {newest}"),
        }));
        let (commons, archs): (Vec<&Header>, Vec<&Header>) =
            current.into_iter().partition(|h| h.rest.ends_with(COMMON));
        if commons.len() > 1 {
            return Err(GroupError::at(
                commons[1].url,
                format!(
                    "two common header packages for kernel {kernel} ({newest}): also {}",
                    commons[0].url
                ),
            ));
        }
        let common = commons.first();
        if archs.is_empty() {
            if let Some(common) = common {
                out.skipped.push(Skipped {
                    url: common.url.to_string(),
                    reason: format!("common header of kernel {kernel} has no arch header"),
                });
            }
            continue;
        }
        let kbuild = pick_kbuild(&kbuilds, kernel, newest).ok_or_else(|| {
            let known: Vec<String> =
                kbuilds.iter().map(|k| format!("{}_{}", k.series, k.pkgver)).collect();
            GroupError::at(
                archs[0].url,
                format!(
                    "missing kbuild package for kernel {kernel} ({newest}); kbuilds in this pool: [{}]",
                    known.join(", ")
                ),
            )
        })?;
        for arch in archs {
            let mut set = vec![kbuild.to_string(), arch.url.to_string()];
            if let Some(common) = common {
                set.push(common.url.to_string());
            }
            out.sets.push(set);
        }
    }
    Ok(out)
}

fn kernel_of_arch_header<'a>(rest: &'a str, common_kernels: &[&str]) -> Option<&'a str> {
    let by_common = common_kernels
        .iter()
        .filter(|k| {
            rest.len() > k.len() + 1 && rest.starts_with(**k) && rest.as_bytes()[k.len()] == b'-'
        })
        .map(|k| k.len())
        .max();
    match by_common {
        Some(len) => Some(&rest[..len]),
        None => KERNEL_PREFIX
            .captures(rest)
            .map(|c| c.get(1).unwrap().as_str()),
    }
}

fn pick_kbuild<'a>(kbuilds: &[Kbuild<'a>], kernel: &str, pkgver: &str) -> Option<&'a str> {
    if let Some(k) = kbuilds.iter().find(|k| k.pkgver == pkgver) {
        return Some(k.url);
    }
    let mut prefix = kernel;
    loop {
        let newest = kbuilds
            .iter()
            .filter(|k| k.series == prefix)
            .max_by(|a, b| version::compare(a.pkgver, b.pkgver).then(b.url.cmp(a.url)));
        if let Some(k) = newest {
            return Some(k.url);
        }
        let cut = prefix.rfind(['-', '.'])?;
        prefix = &prefix[..cut];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "http://deb.example/debian/pool/main/l/linux/";

    fn u(name: &str) -> String {
        format!("{P}{name}")
    }

    fn run(names: &[&str]) -> Result<Grouped, GroupError> {
        group(
            &names.iter().map(|n| u(n)).collect::<Vec<_>>(),
            DEFAULT_PREFERRED_HOST,
        )
    }

    #[test]
    fn arch_header_with_common_and_same_version_kbuild() {
        let got = run(&[
            "linux-kbuild-6.1_6.1.90-1_amd64.deb",
            "linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb",
            "linux-headers-6.1.0-21-cloud-amd64_6.1.90-1_amd64.deb",
            "linux-headers-6.1.0-21-common_6.1.90-1_all.deb",
        ])
        .unwrap();
        let k = u("linux-kbuild-6.1_6.1.90-1_amd64.deb");
        let c = u("linux-headers-6.1.0-21-common_6.1.90-1_all.deb");
        assert_eq!(
            got.sets,
            vec![
                vec![
                    k.clone(),
                    u("linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb"),
                    c.clone()
                ],
                vec![
                    k,
                    u("linux-headers-6.1.0-21-cloud-amd64_6.1.90-1_amd64.deb"),
                    c
                ],
            ]
        );
        assert!(got.skipped.is_empty());
    }

    #[test]
    fn kbuild_falls_back_to_newest_of_longest_series_prefix() {
        let got = run(&[
            "linux-kbuild-6.1_6.1.67-1_amd64.deb",
            "linux-kbuild-6.1_6.1.94-1_amd64.deb",
            "linux-kbuild-5.10_5.10.218-1_amd64.deb",
            "linux-headers-6.1.0-18-amd64_6.1.76-1_amd64.deb",
            "linux-headers-6.1.0-18-common_6.1.76-1_all.deb",
        ])
        .unwrap();
        assert_eq!(got.sets.len(), 1);
        assert_eq!(got.sets[0][0], u("linux-kbuild-6.1_6.1.94-1_amd64.deb"));
    }

    #[test]
    fn garden_linux_kernel_names_come_from_the_common_header() {
        let got = run(&[
            "linux-headers-5.15.114-gardenlinux-common_5.15.114-0gardenlinux3_all.deb",
            "linux-headers-5.15.114-gardenlinux-cloud-amd64_5.15.114-0gardenlinux3_amd64.deb",
            "linux-kbuild-5.15_5.15.114-0gardenlinux3_amd64.deb",
            "linux-headers-5.10.0-garden-common_5.10.93-0gardenlinux1_all.deb",
            "linux-headers-5.10.0-garden-amd64_5.10.93-0gardenlinux1_amd64.deb",
            "linux-kbuild-5.10_5.10.93-0gardenlinux1_amd64.deb",
        ])
        .unwrap();
        assert_eq!(got.sets.len(), 2);
        for set in &got.sets {
            assert_eq!(set.len(), 3, "{set:?}");
        }
    }

    #[test]
    fn common_header_alone_is_skipped_and_older_versions_dropped() {
        let got = run(&[
            "linux-kbuild-5.4_5.4.68-1_amd64.deb",
            "linux-headers-5.4.0-5-common_5.4.68-1_all.deb",
            "linux-headers-5.4.0-6-cloud-amd64_5.4.70-1_amd64.deb",
            "linux-headers-5.4.0-6-cloud-amd64_5.4.69-1_amd64.deb",
        ])
        .unwrap();
        assert_eq!(got.sets.len(), 1);
        assert_eq!(
            got.sets[0][1],
            u("linux-headers-5.4.0-6-cloud-amd64_5.4.70-1_amd64.deb")
        );
        let reasons: Vec<&str> = got.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(got.skipped.len(), 2, "{reasons:?}");
    }

    #[test]
    fn duplicate_header_file_prefers_the_preferred_host() {
        let kbuild = "http://h/pool/linux-kbuild-5.10_5.10.218-1_amd64.deb".to_string();
        let name = "linux-headers-5.10.0-30-amd64_5.10.218-1_amd64.deb";
        let pool = format!("http://h/security/{name}");
        let mirror = format!("http://h/mirror/{name}");
        // Same file name twice: the copy whose URL contains the preferred marker wins,
        // whatever the order; without a preferred copy the last one wins.
        for urls in [
            vec![kbuild.clone(), pool.clone(), mirror.clone()],
            vec![kbuild.clone(), mirror.clone(), pool.clone()],
        ] {
            let got = group(&urls, "h/security/").unwrap();
            assert_eq!(got.sets, vec![vec![kbuild.clone(), pool.clone()]]);
            assert_eq!(got.skipped.len(), 1);
            assert_eq!(got.skipped[0].url, mirror);
        }
        let urls = [kbuild.clone(), pool.clone(), mirror.clone()];
        let got = group(&urls, DEFAULT_PREFERRED_HOST).unwrap();
        assert_eq!(got.sets, vec![vec![kbuild.clone(), mirror.clone()]]);
    }

    #[test]
    fn two_common_headers_are_an_error() {
        let err = run(&[
            "linux-kbuild-5.10_5.10.218-1_amd64.deb",
            "linux-headers-5.10.0-30-common_5.10.218-1_all.deb",
            "linux-headers-5.10.0-30-common_5.10.218-1_amd64.deb",
            "linux-headers-5.10.0-30-amd64_5.10.218-1_amd64.deb",
        ])
        .unwrap_err();
        assert!(err.reason.contains("two common header packages"), "{err}");
        assert!(err.url.is_some());
    }

    #[test]
    fn missing_kbuild_is_an_error() {
        let err = run(&[
            "linux-kbuild-4.19_4.19.316-1_amd64.deb",
            "linux-headers-5.10.0-30-amd64_5.10.218-1_amd64.deb",
            "linux-headers-5.10.0-30-common_5.10.218-1_all.deb",
        ])
        .unwrap_err();
        assert!(
            err.reason
                .contains("missing kbuild package for kernel 5.10.0-30"),
            "{err}"
        );
        assert_eq!(
            err.url,
            Some(u("linux-headers-5.10.0-30-amd64_5.10.218-1_amd64.deb"))
        );
    }

    #[test]
    fn kbuild_clash_and_foreign_files_are_errors() {
        let urls = [
            u("linux-kbuild-5.10_5.10.218-1_amd64.deb"),
            format!("{P}x/linux-kbuild-5.10_5.10.218-1_amd64.deb"),
        ];
        let err = group(&urls, DEFAULT_PREFERRED_HOST).unwrap_err();
        assert!(err.reason.contains("two kbuild packages"), "{err}");
        let err = run(&["linux-image-5.10.0-30-amd64_5.10.218-1_amd64.deb"]).unwrap_err();
        assert!(err.reason.contains("not a Debian"), "{err}");
    }
}
