//! `debian` (Debian, Garden Linux): one set per arch header package:
//! `[linux-kbuild, linux-headers-<kernel>-<flavour>, linux-headers-<kernel>-common[-<featureset>]?]`.
//!
//! Within one host pool:
//! - `linux-kbuild-<series>_<pkgver>_<arch>.deb` are kbuild packages (series `6.1` or, since
//!   2025, the ABI itself: `6.12.57+deb13`); two kbuilds with the same package version: the
//!   second is rejected.
//! - `linux-headers-<rest>_<pkgver>_<arch>.deb` are headers; duplicate file names keep the
//!   copy from the preferred pool (a URL containing the `preferred_host` option, default
//!   [`DEFAULT_PREFERRED_HOST`]), else the last one. (Lists are split by host first, so this
//!   only matters for copies on one host.)
//! - A common header names the kernel: `<kernel>-common` or `<kernel>-common-<featureset>`
//!   (`-common-rt`). An arch header belongs to the longest such kernel that prefixes its
//!   `<rest>`; without one, the kernel is the leading ABI of `<rest>` in any of Debian's
//!   styles (`6.1.0-57`, `6.1.0-0.deb11.41`, `6.12.57+deb13`, `7.2.13+deb14`).
//! - Per kernel only the newest package version's headers are kept (older ones are
//!   skipped); two common headers of one featureset reject the kernel; a kernel with only
//!   common headers is skipped.
//! - An arch header `<kernel>-<featureset>-<arch>` takes `<kernel>-common-<featureset>` when
//!   the kernel has it (Debian 6.x `rt-amd64` → `-common-rt`), else `<kernel>-common` (Debian
//!   7.x builds rt against `-common`; `cloud-amd64` always uses `-common`).
//! - The kbuild is the one with the headers' package version, else the newest kbuild whose
//!   series is the longest prefix of the kernel version cut at `-`/`.`
//!   (`5.10.0-28` → `5.10.0`, `5.10`, `5`); no kbuild at all rejects the kernel's headers.
//! - Any other file name is rejected.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{GroupError, Grouped, Skipped};
use crate::manifest::{urls, version};

/// Host marker of the pool preferred for duplicate header files unless configured.
pub const DEFAULT_PREFERRED_HOST: &str = "security.debian.org";

static KBUILD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^linux-kbuild-(\d+(?:\.\d+)*(?:\+[a-z0-9.]+)?)_([^_]+)(?:_[^_]*)?\.deb$")
        .expect("valid regex")
});
static HEADERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^linux-headers-([^_]+)_([^_]+)(?:_[^_]*)?\.deb$").expect("valid regex")
});
static COMMON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)-common(?:-([a-z0-9]+))?$").expect("valid regex"));
static KERNEL_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d+(?:\.\d+)+(?:-0\.deb\d+\.\d+|-\d+|\+deb\d+(?:\.\d+)*)?)-.")
        .expect("valid regex")
});

struct Kbuild<'a> {
    series: &'a str,
    pkgver: &'a str,
    url: &'a str,
    /// Binary architecture from the file name (`None`: not named).
    arch: Option<&'static str>,
}

/// Whether packages of architectures `a` and `b` may share a set (an unnamed one fits any).
fn same_arch(a: Option<&str>, b: Option<&str>) -> bool {
    a.is_none() || b.is_none() || a == b
}

struct Header<'a> {
    rest: &'a str,
    pkgver: &'a str,
    url: &'a str,
}

/// `(kernel, featureset)` of a common header's `<rest>`; `None` for an arch header.
fn common_of(rest: &str) -> Option<(&str, Option<&str>)> {
    COMMON
        .captures(rest)
        .map(|c| (c.get(1).unwrap().as_str(), c.get(2).map(|m| m.as_str())))
}

/// Groups one host's Debian-style kbuild and header URLs.
pub fn group(urls: &[String], preferred_host: &str) -> Result<Grouped, GroupError> {
    let mut out = Grouped::default();
    let mut kbuilds: Vec<Kbuild> = Vec::new();
    // File name → header (sorted by file name, for determinism).
    let mut headers: BTreeMap<&str, Header> = BTreeMap::new();
    let reject = |out: &mut Grouped, url: &str, reason: String| {
        out.rejected.push(Skipped {
            url: url.to_string(),
            reason,
        })
    };
    for url in urls {
        let name = urls::file_name(url);
        if let Some(c) = KBUILD.captures(name) {
            let (series, pkgver) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
            let arch = urls::binary_arch(url);
            if let Some(other) = kbuilds
                .iter()
                .find(|k| k.pkgver == pkgver && same_arch(k.arch, arch))
            {
                let why = format!(
                    "two kbuild packages for package version {pkgver}: also {}",
                    other.url
                );
                reject(&mut out, url, why);
                continue;
            }
            kbuilds.push(Kbuild {
                series,
                pkgver,
                url,
                arch,
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
                out.skipped.push(Skipped {
                    url: dropped.to_string(),
                    reason: format!("duplicate of {name}, kept the other copy"),
                });
            }
        } else {
            reject(
                &mut out,
                url,
                "not a Debian `linux-headers-*_<version>_<arch>.deb` or `linux-kbuild-*` package"
                    .into(),
            );
        }
    }

    let common_kernels: Vec<&str> = headers
        .values()
        .filter_map(|h| common_of(h.rest).map(|(k, _)| k))
        .collect();

    // Kernel version → headers of that kernel.
    let mut by_kernel: BTreeMap<&str, Vec<&Header>> = BTreeMap::new();
    for header in headers.values() {
        let kernel = match common_of(header.rest) {
            Some((kernel, _)) => kernel,
            None => match kernel_of_arch_header(header.rest, &common_kernels) {
                Some(k) => k,
                None => {
                    let why = format!(
                        "cannot tell the kernel version of header package {:?}",
                        header.rest
                    );
                    reject(&mut out, header.url, why);
                    continue;
                }
            },
        };
        by_kernel.entry(kernel).or_default().push(header);
    }

    'kernels: for (kernel, mut hs) in by_kernel {
        hs.sort_by(|a, b| version::compare(b.pkgver, a.pkgver).then(a.url.cmp(b.url)));
        let newest = hs[0].pkgver;
        let (current, older): (Vec<&Header>, Vec<&Header>) = hs
            .into_iter()
            .partition(|h| version::compare(h.pkgver, newest).is_eq());
        out.skipped.extend(older.iter().map(|h| Skipped {
            url: h.url.to_string(),
            reason: format!("kernel {kernel} also has the newer package version {newest}"),
        }));
        let (commons, archs): (Vec<&Header>, Vec<&Header>) = current
            .into_iter()
            .partition(|h| common_of(h.rest).is_some());
        // Featureset (None: plain `-common`) → common header.
        let mut by_featureset: BTreeMap<Option<&str>, &Header> = BTreeMap::new();
        for c in &commons {
            let fs = common_of(c.rest).and_then(|(_, fs)| fs);
            if let Some(other) = by_featureset.insert(fs, c) {
                let why = format!(
                    "two common header packages for kernel {kernel} ({newest}): also {}",
                    other.url
                );
                for h in commons.iter().chain(&archs) {
                    reject(&mut out, h.url, why.clone());
                }
                continue 'kernels;
            }
        }
        if archs.is_empty() {
            for c in &commons {
                out.skipped.push(Skipped {
                    url: c.url.to_string(),
                    reason: format!("common header of kernel {kernel} has no arch header"),
                });
            }
            continue;
        }
        // The kbuild of each arch header's architecture (kbuilds are built per architecture).
        let missing = |arch: Option<&str>| {
            let known: Vec<String> = kbuilds
                .iter()
                .map(|k| format!("{}_{}", k.series, k.pkgver))
                .collect();
            format!(
                "missing kbuild package for kernel {kernel} ({newest}); kbuilds in this pool: [{}]{}",
                known.join(", "),
                arch.map(|a| format!(", none built for {a}"))
                    .unwrap_or_default()
            )
        };
        let picked: Vec<Option<&str>> = archs
            .iter()
            .map(|h| pick_kbuild(&kbuilds, kernel, newest, urls::binary_arch(h.url)))
            .collect();
        if picked.iter().all(Option::is_none) {
            let why = missing(archs.first().and_then(|h| urls::binary_arch(h.url)));
            for h in archs.iter().chain(&commons) {
                reject(&mut out, h.url, why.clone());
            }
            continue;
        }
        for (arch, kbuild) in archs.into_iter().zip(picked) {
            let Some(kbuild) = kbuild else {
                reject(&mut out, arch.url, missing(urls::binary_arch(arch.url)));
                continue;
            };
            let flavour = &arch.rest[kernel.len() + 1..];
            let featureset = flavour.split_once('-').map(|(fs, _)| fs);
            let common = featureset
                .and_then(|fs| by_featureset.get(&Some(fs)))
                .or_else(|| by_featureset.get(&None));
            let mut set = vec![kbuild.to_string(), arch.url.to_string()];
            if let Some(common) = common {
                set.push(common.url.to_string());
            }
            out.sets.push(set);
        }
    }
    Ok(out)
}

/// The shape of a `debian` set: exactly one kbuild, exactly one arch header, at most one
/// common header, of the arch header's kernel and, if it has a featureset (`-common-rt`),
/// the arch header's flavour must start with it.
pub fn check_set(set: &[String]) -> Result<(), String> {
    let (mut kbuilds, mut archs, mut commons) = (Vec::new(), Vec::new(), Vec::new());
    for url in set {
        let name = urls::file_name(url);
        if KBUILD.is_match(name) {
            kbuilds.push(name);
        } else if let Some(c) = HEADERS.captures(name) {
            let rest = c.get(1).unwrap().as_str();
            match common_of(rest) {
                Some(kf) => commons.push(kf),
                None => archs.push(rest),
            }
        } else {
            return Err(format!("{name} is neither a kbuild nor a header package"));
        }
    }
    if kbuilds.len() != 1 || archs.len() != 1 || commons.len() > 1 {
        return Err(format!(
            "{} kbuild, {} arch header and {} common header package(s) instead of 1, 1 and at most 1",
            kbuilds.len(),
            archs.len(),
            commons.len()
        ));
    }
    let arch_of = |wanted: &dyn Fn(&str) -> bool| {
        set.iter()
            .find(|u| wanted(urls::file_name(u)))
            .and_then(|u| urls::binary_arch(u))
    };
    let kbuild_arch = arch_of(&|n| KBUILD.is_match(n));
    let header_arch = arch_of(&|n| {
        HEADERS
            .captures(n)
            .is_some_and(|c| common_of(c.get(1).unwrap().as_str()).is_none())
    });
    if !same_arch(kbuild_arch, header_arch) {
        return Err(format!(
            "kbuild built for {} paired with an arch header built for {}",
            kbuild_arch.unwrap_or("?"),
            header_arch.unwrap_or("?")
        ));
    }
    if let Some((kernel, featureset)) = commons.first() {
        let flavour = archs[0]
            .strip_prefix(kernel)
            .and_then(|r| r.strip_prefix('-'))
            .ok_or_else(|| format!("arch header {} is not of kernel {kernel}", archs[0]))?;
        if let Some(fs) = featureset {
            if !flavour.starts_with(&format!("{fs}-")) {
                return Err(format!(
                    "flavour {flavour} paired with the common header of featureset {fs}"
                ));
            }
        }
    }
    Ok(())
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

fn pick_kbuild<'a>(
    kbuilds: &[Kbuild<'a>],
    kernel: &str,
    pkgver: &str,
    arch: Option<&str>,
) -> Option<&'a str> {
    let fits = |k: &&Kbuild| same_arch(k.arch, arch);
    if let Some(k) = kbuilds.iter().filter(fits).find(|k| k.pkgver == pkgver) {
        return Some(k.url);
    }
    let mut prefix = kernel;
    loop {
        let newest = kbuilds
            .iter()
            .filter(fits)
            .filter(|k| k.series == prefix)
            .max_by(|a, b| version::compare(a.pkgver, b.pkgver).then(b.url.cmp(a.url)));
        if let Some(k) = newest {
            return Some(k.url);
        }
        let cut = prefix.rfind(['-', '.', '+'])?;
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
        let g = group(
            &names.iter().map(|n| u(n)).collect::<Vec<_>>(),
            DEFAULT_PREFERRED_HOST,
        )?;
        match g.rejected.first() {
            Some(r) => Err(GroupError::at(&r.url, r.reason.clone())),
            None => Ok(g),
        }
    }

    #[test]
    fn each_arch_header_takes_the_kbuild_of_its_architecture() {
        let got = run(&[
            "linux-kbuild-6.1_6.1.90-1_amd64.deb",
            "linux-kbuild-6.1_6.1.90-1_arm64.deb",
            "linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb",
            "linux-headers-6.1.0-21-arm64_6.1.90-1_arm64.deb",
            "linux-headers-6.1.0-21-common_6.1.90-1_all.deb",
        ])
        .unwrap();
        assert_eq!(got.sets.len(), 2, "{got:?}");
        for set in &got.sets {
            let arch = urls::binary_arch(&set[1]);
            assert_eq!(urls::binary_arch(&set[0]), arch, "{set:?}");
            assert!(check_set(set).is_ok(), "{set:?}");
        }
        // Without an arm64 kbuild, the arm64 header is rejected, never paired with amd64's.
        let g = group(
            &[
                u("linux-kbuild-6.1_6.1.90-1_amd64.deb"),
                u("linux-headers-6.1.0-21-amd64_6.1.90-1_amd64.deb"),
                u("linux-headers-6.1.0-21-arm64_6.1.90-1_arm64.deb"),
                u("linux-headers-6.1.0-21-common_6.1.90-1_all.deb"),
            ],
            DEFAULT_PREFERRED_HOST,
        )
        .unwrap();
        assert_eq!(g.sets.len(), 1);
        assert!(g.rejected[0].url.ends_with("_arm64.deb"), "{g:?}");
        assert!(
            g.rejected[0].reason.contains("none built for arm64"),
            "{g:?}"
        );
        let mixed = [
            u("linux-kbuild-6.1_6.1.90-1_amd64.deb"),
            u("linux-headers-6.1.0-21-arm64_6.1.90-1_arm64.deb"),
        ];
        assert!(check_set(&mixed).unwrap_err().contains("built for amd64"));
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
        let got = group(&urls, DEFAULT_PREFERRED_HOST).unwrap();
        assert!(
            got.rejected[0].reason.contains("two kbuild packages"),
            "{got:?}"
        );
        let err = run(&["linux-image-5.10.0-30-amd64_5.10.218-1_amd64.deb"]).unwrap_err();
        assert!(err.reason.contains("not a Debian"), "{err}");
    }
    #[test]
    fn every_abi_style_with_rt_and_common_rt() {
        let got = run(&[
            // 6.1 LTS backport to bullseye; rt takes -common-rt.
            "linux-kbuild-6.1_6.1.158-1~deb11u1_amd64.deb",
            "linux-headers-6.1.0-0.deb11.41-amd64_6.1.158-1~deb11u1_amd64.deb",
            "linux-headers-6.1.0-0.deb11.41-rt-amd64_6.1.158-1~deb11u1_amd64.deb",
            "linux-headers-6.1.0-0.deb11.41-common_6.1.158-1~deb11u1_all.deb",
            "linux-headers-6.1.0-0.deb11.41-common-rt_6.1.158-1~deb11u1_all.deb",
            // trixie: the kbuild is named after the ABI.
            "linux-kbuild-6.12.57+deb13_6.12.57-1_amd64.deb",
            "linux-headers-6.12.57+deb13-cloud-amd64_6.12.57-1_amd64.deb",
            "linux-headers-6.12.57+deb13-rt-amd64_6.12.57-1_amd64.deb",
            "linux-headers-6.12.57+deb13-common_6.12.57-1_all.deb",
            "linux-headers-6.12.57+deb13-common-rt_6.12.57-1_all.deb",
            // sid: no -common-rt, rt is built against -common.
            "linux-kbuild-7.2.13+deb14_7.2.13-1_amd64.deb",
            "linux-headers-7.2.13+deb14-rt-amd64_7.2.13-1_amd64.deb",
            "linux-headers-7.2.13+deb14-common_7.2.13-1_all.deb",
        ])
        .unwrap();
        let sets: Vec<Vec<&str>> = got
            .sets
            .iter()
            .map(|s| s.iter().map(|u| urls::file_name(u)).collect())
            .collect();
        assert_eq!(
            sets,
            vec![
                vec![
                    "linux-kbuild-6.1_6.1.158-1~deb11u1_amd64.deb",
                    "linux-headers-6.1.0-0.deb11.41-amd64_6.1.158-1~deb11u1_amd64.deb",
                    "linux-headers-6.1.0-0.deb11.41-common_6.1.158-1~deb11u1_all.deb",
                ],
                vec![
                    "linux-kbuild-6.1_6.1.158-1~deb11u1_amd64.deb",
                    "linux-headers-6.1.0-0.deb11.41-rt-amd64_6.1.158-1~deb11u1_amd64.deb",
                    "linux-headers-6.1.0-0.deb11.41-common-rt_6.1.158-1~deb11u1_all.deb",
                ],
                vec![
                    "linux-kbuild-6.12.57+deb13_6.12.57-1_amd64.deb",
                    "linux-headers-6.12.57+deb13-cloud-amd64_6.12.57-1_amd64.deb",
                    "linux-headers-6.12.57+deb13-common_6.12.57-1_all.deb",
                ],
                vec![
                    "linux-kbuild-6.12.57+deb13_6.12.57-1_amd64.deb",
                    "linux-headers-6.12.57+deb13-rt-amd64_6.12.57-1_amd64.deb",
                    "linux-headers-6.12.57+deb13-common-rt_6.12.57-1_all.deb",
                ],
                vec![
                    "linux-kbuild-7.2.13+deb14_7.2.13-1_amd64.deb",
                    "linux-headers-7.2.13+deb14-rt-amd64_7.2.13-1_amd64.deb",
                    "linux-headers-7.2.13+deb14-common_7.2.13-1_all.deb",
                ],
            ]
        );
        for set in &got.sets {
            check_set(set).unwrap();
        }
    }

    #[test]
    fn abi_without_common_header_and_set_checks() {
        // No common header in the list: the ABI comes from the name, in any style.
        let got = run(&[
            "linux-kbuild-6.12.57+deb13_6.12.57-1_amd64.deb",
            "linux-headers-6.12.57+deb13-amd64_6.12.57-1_amd64.deb",
            "linux-kbuild-6.1_6.1.158-1~deb11u1_amd64.deb",
            "linux-headers-6.1.0-0.deb11.41-cloud-amd64_6.1.158-1~deb11u1_amd64.deb",
        ])
        .unwrap();
        assert_eq!(got.sets.len(), 2);
        // Malformed sets are refused by the check.
        let k = u("linux-kbuild-6.1_6.1.90-1_amd64.deb");
        let a = u("linux-headers-6.1.0-21-rt-amd64_6.1.90-1_amd64.deb");
        let c = u("linux-headers-6.1.0-21-common_6.1.90-1_all.deb");
        let crt = u("linux-headers-6.1.0-21-common-rt_6.1.90-1_all.deb");
        let cloud = u("linux-headers-6.1.0-21-cloud-amd64_6.1.90-1_amd64.deb");
        check_set(&[k.clone(), a.clone(), crt.clone()]).unwrap();
        assert!(check_set(&[k.clone(), c.clone(), crt.clone()]).is_err());
        assert!(check_set(&[k.clone(), cloud.clone(), crt]).is_err());
        assert!(check_set(&[a.clone(), c.clone()]).is_err());
        assert!(check_set(&[k, a, cloud, c]).is_err());
    }
}
