//! Packer specifications: the distro knowledge of `packers.yml`, parsed into typed values.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::Deserialize;

/// The embedded packer table (`src/pack/packers.yml`).
pub const PACKERS_YAML: &str = include_str!("packers.yml");

/// Where the uname comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnameSource {
    /// The kernel tree's directory name, minus a prefix.
    DirName { strip_prefix: String },
    /// The trimmed content of a file inside the kernel tree.
    File(String),
}

/// Which tree the bundle is rooted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleRoot {
    /// The whole unpacked package set (Debian layout: `usr/src/...`, `lib/modules/...`).
    PackageRoot,
    /// The kernel tree itself; links out of it are resolved into the bundle.
    KernelDir,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NameSuffixFromConfig {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NameExtraFromFile {
    pub paths: Vec<String>,
    pub regex: String,
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinkRepair {
    pub path: String,
    pub target: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Companion {
    pub path: String,
    pub package: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    distro: String,
    kernel_dirs: String,
    kernel_marker: String,
    #[serde(default)]
    prefer_suffix: Option<String>,
    uname: String,
    #[serde(default)]
    uname_strip_prefix: Option<String>,
    bundle_root: BundleRoot,
    build_dir: String,
    #[serde(default)]
    overlay_base: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    keep: Vec<String>,
    #[serde(default)]
    host_requirements_exclude: Vec<String>,
    #[serde(default)]
    name_suffix_from_config: Option<NameSuffixFromConfig>,
    #[serde(default)]
    name_extra_from_file: Option<NameExtraFromFile>,
    #[serde(default)]
    repair_links: Vec<LinkRepair>,
    #[serde(default)]
    companions: Vec<Companion>,
}

/// One packer's rules, validated.
#[derive(Debug, Clone)]
pub struct PackerSpec {
    pub name: String,
    pub distro: String,
    pub kernel_dirs: String,
    pub kernel_marker: String,
    pub prefer_suffix: Option<String>,
    pub uname: UnameSource,
    pub bundle_root: BundleRoot,
    pub build_dir: String,
    pub overlay_base: Option<String>,
    pub exclude: Vec<Regex>,
    pub keep: Vec<Regex>,
    /// Package names (any alternative of a relation) that are not host tools of a module build.
    pub host_requirements_exclude: Vec<Regex>,
    pub name_suffix_from_config: Option<NameSuffixFromConfig>,
    pub name_extra_from_file: Option<(NameExtraFromFile, Regex)>,
    pub repair_links: Vec<LinkRepair>,
    pub companions: Vec<Companion>,
}

impl PackerSpec {
    /// Whether a bundle path (relative to the bundle root, `/`-separated) is left out.
    pub fn excludes(&self, bundle_path: &str) -> bool {
        self.exclude.iter().any(|r| r.is_match(bundle_path))
            && !self.keep.iter().any(|r| r.is_match(bundle_path))
    }
}

fn compile(name: &str, raw: RawSpec) -> Result<PackerSpec> {
    let regexes = |list: &[String]| -> Result<Vec<Regex>> {
        list.iter()
            .map(|r| Regex::new(r).with_context(|| format!("bad regex {r:?}")))
            .collect()
    };
    let uname = if raw.uname == "dir-name" {
        UnameSource::DirName {
            strip_prefix: raw.uname_strip_prefix.clone().unwrap_or_default(),
        }
    } else if let Some(path) = raw.uname.strip_prefix("file:") {
        UnameSource::File(path.to_string())
    } else {
        bail!(
            "uname must be `dir-name` or `file:<path>`, not {:?}",
            raw.uname
        );
    };
    let name_extra_from_file = match raw.name_extra_from_file {
        Some(extra) => {
            let re =
                Regex::new(&extra.regex).with_context(|| format!("bad regex {:?}", extra.regex))?;
            Some((extra, re))
        }
        None => None,
    };
    Ok(PackerSpec {
        name: name.to_string(),
        distro: raw.distro,
        kernel_dirs: raw.kernel_dirs,
        kernel_marker: raw.kernel_marker,
        prefer_suffix: raw.prefer_suffix,
        uname,
        bundle_root: raw.bundle_root,
        build_dir: raw.build_dir,
        overlay_base: raw.overlay_base,
        exclude: regexes(&raw.exclude)?,
        keep: regexes(&raw.keep)?,
        host_requirements_exclude: regexes(&raw.host_requirements_exclude)?,
        name_suffix_from_config: raw.name_suffix_from_config,
        name_extra_from_file,
        repair_links: raw.repair_links,
        companions: raw.companions,
    })
}

/// Parses a packer table in the `packers.yml` format.
pub fn parse_specs(yaml: &str) -> Result<BTreeMap<String, PackerSpec>> {
    let raw: BTreeMap<String, RawSpec> =
        serde_norway::from_str(yaml).context("invalid packer table")?;
    raw.into_iter()
        .map(|(name, spec)| {
            let compiled = compile(&name, spec).with_context(|| format!("packer {name}"))?;
            Ok((name, compiled))
        })
        .collect()
}

/// The built-in packer table.
pub fn builtin_specs() -> &'static BTreeMap<String, PackerSpec> {
    static SPECS: OnceLock<BTreeMap<String, PackerSpec>> = OnceLock::new();
    SPECS.get_or_init(|| parse_specs(PACKERS_YAML).expect("embedded packers.yml is valid"))
}

/// Looks a packer up by manifest type. `kops` is an alias of `debian`.
pub fn spec_for(kind: &str) -> Result<&'static PackerSpec> {
    let key = if kind == "kops" { "debian" } else { kind };
    builtin_specs().get(key).ok_or_else(|| {
        let known: Vec<_> = builtin_specs().keys().cloned().collect();
        anyhow!(
            "unknown packer type {kind:?} (known: {}, kops)",
            known.join(", ")
        )
    })
}

impl FromStr for super::PackerKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        use super::PackerKind::*;
        Ok(match s {
            "debian" | "kops" => Debian,
            "garden" => Garden,
            "ubuntu" => Ubuntu,
            "redhat" => Redhat,
            "oracle" => Oracle,
            "suse" => Suse,
            "photon" => Photon,
            "cos" => Cos,
            "minikube" => Minikube,
            "linuxkit" => Linuxkit,
            "dockerdesktop" => Dockerdesktop,
            "coreos" | "flatcar" => Coreos,
            other => bail!("unknown packer type {other:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_covers_every_kind() {
        for name in [
            "debian",
            "garden",
            "ubuntu",
            "redhat",
            "oracle",
            "suse",
            "photon",
            "kops",
            "cos",
            "minikube",
            "linuxkit",
            "dockerdesktop",
            "coreos",
            "flatcar",
        ] {
            let kind: super::super::PackerKind = name.parse().unwrap();
            spec_for(kind.as_str()).unwrap();
        }
        assert!(spec_for("nope").is_err());
    }

    #[test]
    fn oracle_drops_c_files_outside_scripts() {
        let oracle = spec_for("oracle").unwrap();
        assert!(oracle.excludes("kernel/bounds.c"));
        assert!(!oracle.excludes("scripts/mod/file2alias.c"));
        assert!(!oracle.excludes("include/linux/x.h"));
    }

    #[test]
    fn garden_version_regex_takes_the_whole_package_version() {
        let garden = spec_for("garden").unwrap();
        let (_, re) = garden.name_extra_from_file.as_ref().unwrap();
        let text = "#define UTS_VERSION \"#1 SMP Debian 5.15.114-0gardenlinux3 (2023-06-01)\"";
        assert_eq!(&re.captures(text).unwrap()[1], "5.15.114-0gardenlinux3");
    }
}
