//! `lookup`: the bundle for a running host, from its `/etc/os-release` and `uname -r`/`-v`.
//!
//! `uname -r` alone is a trap: Debian's release is an ABI shared by several package versions (the
//! package version is in `uname -v`), Ubuntu flavours and HWE backports share ABIs (`uname -v`
//! carries `~20.04.1`), RHEL, CentOS and Amazon publish the same kernel release, and COS and
//! Flatcar name kernels by an os-release field. The rules are data (`hosts.yml`); [`resolve`] is a
//! pure function over the manifest and the bundle index.
//!
//! Steps: family from os-release `ID` (then `ID_LIKE`) → candidates (manifest ids whose packages
//! match the kernel, plus index entries whose `kernel` is `uname -r`, of the family's types) →
//! narrowed by the package version from `uname -v`, then by the family's publisher URLs, keeping a
//! step only when it leaves something → ids that have a bundle first, then by id.
//!
//! Architecture: the host's ([`Host::arch`], from `uname -m`) must be the candidate's — the index
//! entry's `arch` (`BUNDLE_ARCH`) when the id is bundled, else the manifest set's `arch` (absent:
//! amd64). Ubuntu's
//! `-generic`, COS and Flatcar name the same kernel on amd64 and arm64, so the filter comes before
//! the narrowing; a kernel known only for other architectures is [`Miss::OtherArch`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::index::IndexEntry;
use crate::manifest::Manifest;
use crate::names::simplify;
use crate::pack::arch::Arch;

/// A host as lookup sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// `/etc/os-release` fields.
    pub os_release: BTreeMap<String, String>,
    /// `uname -r`.
    pub uname_r: String,
    /// `uname -v`.
    pub uname_v: String,
    /// The machine (`uname -m`: `x86_64` → amd64, `aarch64` → arm64); bundles of this
    /// architecture only.
    pub arch: Arch,
}

/// Parses `/etc/os-release` text (`KEY=value`, optionally quoted; comments and blanks skipped).
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.replace("\\\"", "\""))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct Rules {
    families: BTreeMap<String, Family>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Family {
    ids: Vec<String>,
    kinds: Vec<String>,
    #[serde(default)]
    key: Option<KeyRule>,
    #[serde(default)]
    uname_v: Option<String>,
    #[serde(default)]
    package_version: Option<String>,
    #[serde(default)]
    prefer_urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRule {
    field: String,
    package: String,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        serde_norway::from_str(include_str!("hosts.yml")).expect("src/lookup/hosts.yml is valid")
    })
}

/// What [`resolve`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Family name from `hosts.yml`.
    pub family: String,
    /// The chosen manifest id.
    pub id: String,
    /// Its packer type.
    pub kind: String,
    /// Its bundle key, when the index has it.
    pub bundle: Option<String>,
    /// The bundle's sha256, when the index has it.
    pub sha256: Option<String>,
    /// Other ids that matched as well (after narrowing).
    pub alternatives: Vec<String>,
    /// The architecture looked up (the host's).
    pub arch: String,
}

/// Lookup failures a caller branches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The os-release ID is not a known family.
    UnknownDistribution(String),
    /// No manifest id or index entry matches this kernel; `newest` is the newest bundled kernel of
    /// the family, if any.
    NoKernel {
        family: String,
        newest: Option<Box<IndexEntry>>,
    },
    /// The kernel is known, but only for other architectures than the host's.
    OtherArch {
        family: String,
        kernel: String,
        wanted: Arch,
        /// The architectures it exists for (sorted).
        available: Vec<Arch>,
    },
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::UnknownDistribution(id) => {
                write!(f, "unknown distribution {id:?} (os-release ID)")
            }
            Miss::NoKernel { family, newest } => {
                write!(f, "no bundle for this {family} kernel yet")?;
                if let Some(e) = newest {
                    write!(f, "; newest {family} bundle: {} ({})", e.kernel, e.bundle)?;
                }
                Ok(())
            }
            Miss::OtherArch {
                family,
                kernel,
                wanted,
                available,
            } => {
                let names: Vec<&str> = available.iter().map(|a| a.as_str()).collect();
                write!(
                    f,
                    "no {wanted} bundle for {family} kernel {kernel}; {} exists (pass --arch to \
                     choose another architecture)",
                    names.join(", ")
                )
            }
        }
    }
}

/// The family of a host: `ID`, then each `ID_LIKE` word.
fn family_of(os: &BTreeMap<String, String>) -> Option<(&'static str, &'static Family)> {
    let id = os.get("ID").map(String::as_str).unwrap_or("");
    let like = os.get("ID_LIKE").map(String::as_str).unwrap_or("");
    std::iter::once(id)
        .chain(like.split_whitespace())
        .find_map(|want| {
            rules()
                .families
                .iter()
                .find(|(_, f)| f.ids.iter().any(|i| i == want))
                .map(|(n, f)| (n.as_str(), f))
        })
}

/// The package version a host's `uname -v` names, spelled as in simplified package names.
fn package_version(family: &Family, host: &Host) -> Option<String> {
    let re = regex::Regex::new(family.uname_v.as_ref()?).ok()?;
    let version = re.captures(&host.uname_v)?.name("version")?.as_str();
    let abi: String = host
        .uname_r
        .splitn(3, '-')
        .take(2)
        .collect::<Vec<_>>()
        .join("-");
    let template = family.package_version.as_deref().unwrap_or("{version}");
    Some(simplify(
        &template
            .replace("{abi}", &abi)
            .replace("{version}", version),
    ))
}

/// Resolves `host` against `manifest` and the bundle `index` (id → entry; may be empty).
pub fn resolve(
    manifest: &Manifest,
    index: &BTreeMap<String, IndexEntry>,
    host: &Host,
) -> std::result::Result<Resolution, Miss> {
    let Some((family_name, family)) = family_of(&host.os_release) else {
        return Err(Miss::UnknownDistribution(
            host.os_release.get("ID").cloned().unwrap_or_default(),
        ));
    };
    let kind_ok = |k: &str| family.kinds.iter().any(|f| f == k);
    // id → packages of every candidate.
    let mut candidates: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    if let Some(key) = &family.key {
        if let Some(value) = host.os_release.get(&key.field) {
            let fragment = simplify(&key.package.replace("{value}", value));
            for (id, e) in &manifest.entries {
                if kind_ok(&e.kind) && e.packages.iter().any(|p| p.contains(&fragment)) {
                    candidates.insert(id.clone(), (e.kind.clone(), e.packages.clone()));
                }
            }
        }
    } else {
        for id in manifest.find_by_kernel(&host.uname_r) {
            let e = &manifest.entries[id];
            if kind_ok(&e.kind) {
                candidates.insert(id.clone(), (e.kind.clone(), e.packages.clone()));
            }
        }
        for (id, e) in index {
            if e.kernel == host.uname_r.trim() && kind_ok(&e.kind) {
                candidates.insert(id.clone(), (e.kind.clone(), e.packages.clone()));
            }
        }
    }
    // Only the host's architecture: the index's BUNDLE_ARCH when bundled, else the set's `arch`.
    let arch_of = |id: &str| match index.get(id) {
        Some(e) => Arch::parse(&e.arch),
        None => manifest.entries.get(id).and_then(|e| Arch::parse(e.arch())),
    };
    let (mut ids, others): (Vec<String>, Vec<String>) = candidates
        .keys()
        .cloned()
        .partition(|id| arch_of(id) == Some(host.arch));
    if ids.is_empty() && !others.is_empty() {
        let mut available: Vec<Arch> = others.iter().filter_map(|id| arch_of(id)).collect();
        available.sort();
        available.dedup();
        return Err(Miss::OtherArch {
            family: family_name.to_string(),
            kernel: host.uname_r.trim().to_string(),
            wanted: host.arch,
            available,
        });
    }
    let narrow = |ids: &mut Vec<String>, keep: &dyn Fn(&[String]) -> bool| {
        let kept: Vec<String> = ids
            .iter()
            .filter(|id| keep(&candidates[*id].1))
            .cloned()
            .collect();
        if !kept.is_empty() {
            *ids = kept;
        }
    };
    if let Some(version) = package_version(family, host) {
        let marker = format!("_{version}_");
        narrow(&mut ids, &|pkgs| pkgs.iter().any(|p| p.contains(&marker)));
    }
    if !family.prefer_urls.is_empty() {
        narrow(&mut ids, &|pkgs| {
            pkgs.iter()
                .any(|p| family.prefer_urls.iter().any(|u| p.contains(&simplify(u))))
        });
    }
    // Bundled ids first, then by id.
    ids.sort_by_key(|id| (!index.contains_key(id), id.clone()));
    let Some(id) = ids.first().cloned() else {
        return Err(Miss::NoKernel {
            family: family_name.to_string(),
            newest: newest_for(index, family, host.arch),
        });
    };
    let entry = index.get(&id);
    Ok(Resolution {
        family: family_name.to_string(),
        kind: candidates[&id].0.clone(),
        bundle: entry.map(|e| e.bundle.clone()),
        sha256: entry.map(|e| e.sha256.clone()),
        alternatives: ids[1..].to_vec(),
        arch: host.arch.as_str().to_string(),
        id,
    })
}

/// The newest bundled kernel of `family` for `arch` (by kernel version, then name).
fn newest_for(
    index: &BTreeMap<String, IndexEntry>,
    family: &Family,
    arch: Arch,
) -> Option<Box<IndexEntry>> {
    index
        .values()
        .filter(|e| family.kinds.contains(&e.kind) && Arch::parse(&e.arch) == Some(arch))
        .filter(|e| {
            family.prefer_urls.is_empty()
                || e.packages
                    .iter()
                    .any(|p| family.prefer_urls.iter().any(|u| p.contains(&simplify(u))))
        })
        .max_by_key(|e| natural_key(&e.kernel))
        .map(|e| Box::new(e.clone()))
}

/// Sort key comparing digit runs as numbers: `6.1.0-21` > `6.1.0-9`.
fn natural_key(s: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            key.push((rest[..digits].parse().unwrap_or(u64::MAX), String::new()));
            rest = &rest[digits..];
        } else {
            let text = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            key.push((0, rest[..text].to_string()));
            rest = &rest[text..];
        }
    }
    key
}

/// This machine's `uname -m` (the `machine` field of `uname(2)`).
pub fn machine() -> Result<String> {
    // SAFETY: `uname` fills the zeroed struct; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        bail!("uname: {}", std::io::Error::last_os_error());
    }
    let m = unsafe { std::ffi::CStr::from_ptr(u.machine.as_ptr()) };
    Ok(m.to_string_lossy().into_owned())
}

/// An architecture named as `uname -m`, `RUNNER_ARCH` or Debian does (`x86_64`, `X64`, `amd64`;
/// `aarch64`, `ARM64`, `arm64`); the error names the value and what is accepted.
pub fn parse_arch(name: &str) -> Result<Arch> {
    let lower = name.trim().to_ascii_lowercase();
    let lower = match lower.as_str() {
        "x64" => "amd64",
        other => other,
    };
    Arch::parse(lower).with_context(|| {
        format!("unsupported architecture {name:?} (amd64/x86_64 or arm64/aarch64)")
    })
}

/// This machine's host description: `/etc/os-release` (or `os_release_path`), `uname -r`/`-v`
/// from `/proc/sys/kernel/{osrelease,version}`, the architecture from `uname -m`, each
/// overridable.
pub fn this_host(
    os_release_path: Option<&std::path::Path>,
    uname_r: Option<String>,
    uname_v: Option<String>,
    arch: Option<&str>,
) -> Result<Host> {
    let path = os_release_path.unwrap_or(std::path::Path::new("/etc/os-release"));
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let proc = |name: &str| -> Result<String> {
        let p = format!("/proc/sys/kernel/{name}");
        Ok(std::fs::read_to_string(&p)
            .with_context(|| format!("read {p}"))?
            .trim()
            .to_string())
    };
    let uname_r = match uname_r {
        Some(r) => r,
        None => proc("osrelease")?,
    };
    let uname_v = match uname_v {
        Some(v) => v,
        None => proc("version")?,
    };
    if uname_r.trim().is_empty() {
        bail!("empty kernel release");
    }
    let arch = match arch {
        Some(a) => parse_arch(a)?,
        None => parse_arch(&machine()?).context("this machine (uname -m); pass --arch")?,
    };
    Ok(Host {
        arch,
        os_release: parse_os_release(&text),
        uname_r: uname_r.trim().to_string(),
        uname_v: uname_v.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_spellings_of_uname_runner_and_debian() {
        for (name, want) in [
            ("x86_64", Arch::Amd64),
            ("X64", Arch::Amd64),
            ("amd64", Arch::Amd64),
            ("aarch64", Arch::Arm64),
            ("ARM64", Arch::Arm64),
            (" arm64\n", Arch::Arm64),
        ] {
            assert_eq!(parse_arch(name).unwrap(), want, "{name:?}");
        }
        let err = parse_arch("riscv64").unwrap_err().to_string();
        assert!(err.contains("riscv64") && err.contains("arm64"), "{err}");
        // This machine's uname -m is one we know (the test machines are amd64 or arm64).
        assert!(parse_arch(&machine().unwrap()).is_ok());
    }
}
