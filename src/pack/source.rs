//! Source-based packers (`cos`, `minikube`, `linuxkit`, `dockerdesktop`): a kernel source tarball
//! plus a config become a `modules_prepare`d kernel tree. `dockerdesktop`'s one package is an image
//! layer holding the bzImage, a header tree (`.config`, randstruct seeds) and the source
//! ([`LayerRule`]); its bundle is named by the bzImage banner's date ([`super::banner`]).
//!
//! Flow: find the package roles by file name (`sources.yml`) → read the source tarball through the
//! safe extractor into a [`Tree`] → find the kernel tree in it (top level or one directory down) →
//! write it into `<work>/src` ([`materialize::write_tree`]) → write `.config` (from the config
//! package, or a shipped fragment over `make defconfig`) with CONFIG_LOCALVERSION cleared →
//! `make olddefconfig` and `make modules_prepare` with `LOCALVERSION=<packer's suffix>` as plain
//! subprocesses (no root, no network) → check `include/config/kernel.release` is the expected uname
//! → load the tree back under `usr/src/<name>` ([`materialize::load_dir`]), leaving out what the
//! packer spec excludes (`*.c` outside `scripts/`) → the caller writes the bundle as for any tree.
//! Toolchain: make, gcc, bc, bison, flex, perl, libelf-dev, libssl-dev
//! (`scripts/setup.d/40-kernel-source.sh`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::Deserialize;
use tracing::{debug, info};

use super::materialize;
use super::spec::PackerSpec;
use super::PackerKind;
use crate::archive::extract::{Limits, SafeExtractor};
use crate::archive::read_package;
use crate::vfs::{NodeKind, Tree};

/// The embedded source-packer table (`src/pack/sources.yml`).
pub const SOURCES_YAML: &str = include_str!("sources.yml");

/// Longest one `make` step may run.
const MAKE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// PATH for `make` when the packer has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Largest config file accepted.
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Config fragments shipped with the project (`kernel-package-lists/configs/`), by file name.
const SHIPPED_CONFIGS: &[(&str, &str)] = &[
    (
        "cos-default.config",
        include_str!("../../kernel-package-lists/configs/cos-default.config"),
    ),
    (
        "linuxkit.config",
        include_str!("../../kernel-package-lists/configs/linuxkit.config"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfigRule {
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    shipped: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Source,
    Config,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    role: Role,
    regex: String,
}

/// An image layer holding the kernel, a header tree and the source (Docker Desktop): the one
/// package is a (gzipped) tar whose members are archives themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerRule {
    /// The bzImage member; its banner's date is `{build_time}`.
    pub kernel: String,
    /// The header tree member (a tar).
    pub headers: String,
    /// Regex of the header tree's directory inside `headers`; group 1 is the kernel version,
    /// which must be the source's.
    pub headers_dir: String,
    /// The source member (a compressed tar).
    pub source: String,
    /// Files of the header tree copied to the same place in the source tree before `make`
    /// when present (the randstruct seeds, so modules match the shipped kernel).
    #[serde(default)]
    pub seeds: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourceSpec {
    source: String,
    #[serde(default)]
    layer: Option<LayerRule>,
    config: RawConfigRule,
    localversion: String,
    bundle_name: String,
    #[serde(default)]
    captures: BTreeMap<String, RawCapture>,
}

/// One source packer's rules, validated.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub source: Regex,
    /// With a layer, the source package is an image layer and `.config` comes from its header
    /// tree ([`LayerRule`]).
    pub layer: Option<(LayerRule, Regex)>,
    pub config_package: Option<Regex>,
    pub config_member: Option<String>,
    pub shipped_config: Option<&'static str>,
    pub localversion: String,
    pub bundle_name: String,
    pub captures: Vec<(String, Role, Regex)>,
}

/// Parses a table in the `sources.yml` format.
pub fn parse_source_specs(yaml: &str) -> Result<BTreeMap<String, SourceSpec>> {
    let raw: BTreeMap<String, RawSourceSpec> =
        serde_norway::from_str(yaml).context("invalid source packer table")?;
    let re = |r: &str| Regex::new(r).with_context(|| format!("bad regex {r:?}"));
    raw.into_iter()
        .map(|(name, raw)| {
            let compiled = (|| -> Result<SourceSpec> {
                let shipped_config = match &raw.config.shipped {
                    Some(file) => Some(
                        SHIPPED_CONFIGS
                            .iter()
                            .find(|(n, _)| n == file)
                            .map(|(_, text)| *text)
                            .ok_or_else(|| anyhow!("no shipped config {file:?}"))?,
                    ),
                    None => None,
                };
                if raw.config.package.is_none() && shipped_config.is_none() && raw.layer.is_none() {
                    bail!("config needs a package regex, a shipped config or a layer");
                }
                let layer = match &raw.layer {
                    Some(l) => Some((l.clone(), re(&l.headers_dir)?)),
                    None => None,
                };
                Ok(SourceSpec {
                    source: re(&raw.source)?,
                    layer,
                    config_package: raw.config.package.as_deref().map(re).transpose()?,
                    config_member: raw.config.member.clone(),
                    shipped_config,
                    localversion: raw.localversion.clone(),
                    bundle_name: raw.bundle_name.clone(),
                    captures: raw
                        .captures
                        .iter()
                        .map(|(k, c)| Ok((k.clone(), c.role, re(&c.regex)?)))
                        .collect::<Result<_>>()?,
                })
            })()
            .with_context(|| format!("source packer {name}"))?;
            Ok((name, compiled))
        })
        .collect()
}

/// The built-in source-packer rules for `kind`.
pub fn source_spec(kind: PackerKind) -> Result<&'static SourceSpec> {
    static SPECS: OnceLock<BTreeMap<String, SourceSpec>> = OnceLock::new();
    let specs = SPECS
        .get_or_init(|| parse_source_specs(SOURCES_YAML).expect("embedded sources.yml is valid"));
    specs
        .get(kind.as_str())
        .ok_or_else(|| anyhow!("{} is not a source-based packer", kind.as_str()))
}

/// Which package plays which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRoles {
    pub source: PathBuf,
    pub config: Option<PathBuf>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Assigns every package a role by its file name. Exactly one source tarball; at most one config
/// package (required when no config is shipped); nothing else.
pub fn classify(spec: &SourceSpec, packages: &[PathBuf]) -> Result<SourceRoles> {
    let mut sources = Vec::new();
    let mut configs = Vec::new();
    for package in packages {
        let name = file_name(package);
        if spec
            .config_package
            .as_ref()
            .is_some_and(|r| r.is_match(&name))
        {
            configs.push(package.clone());
        } else if spec.source.is_match(&name) {
            sources.push(package.clone());
        } else {
            bail!(
                "{}: neither a kernel source tarball (/{}/) nor a config package{}",
                package.display(),
                spec.source,
                spec.config_package
                    .as_ref()
                    .map(|r| format!(" (/{r}/)"))
                    .unwrap_or_default()
            );
        }
    }
    let source = match sources.len() {
        1 => sources.remove(0),
        0 => bail!(
            "no kernel source tarball (a package named like /{}/)",
            spec.source
        ),
        _ => bail!(
            "several kernel source tarballs: {}",
            sources
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if configs.len() > 1 {
        bail!(
            "several config packages: {}",
            configs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let config = configs.pop();
    if config.is_none() && spec.shipped_config.is_none() && spec.layer.is_none() {
        bail!(
            "missing config: no package named like /{}/ and no shipped config",
            spec.config_package
                .as_ref()
                .map(|r| r.as_str())
                .unwrap_or("")
        );
    }
    Ok(SourceRoles { source, config })
}

/// The kernel version of a top-level kernel Makefile: `VERSION.PATCHLEVEL.SUBLEVEL` plus
/// EXTRAVERSION (`6.1.192`, `6.2.0-rc1`).
pub fn makefile_version(makefile: &str) -> Result<String> {
    let value = |key: &str| -> Option<String> {
        makefile.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.trim_start();
            let rest = rest.strip_prefix('=')?;
            Some(rest.trim().to_string())
        })
    };
    let number = |key: &str| -> Result<String> {
        let v = value(key).ok_or_else(|| anyhow!("Makefile has no {key}"))?;
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
            bail!("Makefile {key} is not a number: {v:?}");
        }
        Ok(v)
    };
    let extra = value("EXTRAVERSION").unwrap_or_default();
    if extra.contains(|c: char| c.is_whitespace() || c == '/' || c == '$') {
        bail!("Makefile EXTRAVERSION is not a plain suffix: {extra:?}");
    }
    Ok(format!(
        "{}.{}.{}{}",
        number("VERSION")?,
        number("PATCHLEVEL")?,
        number("SUBLEVEL")?,
        extra
    ))
}

/// Fills the `bundle_name` template.
pub fn bundle_name(
    spec: &SourceSpec,
    roles: &SourceRoles,
    version: &str,
    uname: &str,
    build_time: Option<&str>,
) -> Result<String> {
    let mut name = spec
        .bundle_name
        .replace("{version}", version)
        .replace("{uname}", uname);
    if let Some(t) = build_time {
        name = name.replace("{build_time}", t);
    }
    for (key, role, regex) in &spec.captures {
        let package = match role {
            Role::Source => Some(&roles.source),
            Role::Config => roles.config.as_ref(),
        }
        .ok_or_else(|| anyhow!("bundle name needs {key} from a config package, none given"))?;
        let package_name = file_name(package);
        let value = regex
            .captures(&package_name)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
            .ok_or_else(|| {
                anyhow!(
                    "{}: cannot read {key} from the file name (expected /{regex}/)",
                    package.display()
                )
            })?;
        name = name.replace(&format!("{{{key}}}"), &value);
    }
    if name.contains(['{', '}', '/']) || name.is_empty() {
        bail!(
            "invalid bundle name {name:?} (template {:?})",
            spec.bundle_name
        );
    }
    Ok(name)
}

/// The kernel tree of an unpacked source tarball: the root or one top-level directory holding
/// `Makefile`, `Kconfig` and `scripts/`.
pub fn find_source_root(tree: &Tree) -> Result<PathBuf> {
    let is_kernel = |dir: &Path| {
        matches!(
            tree.get(&dir.join("Makefile")).map(|n| &n.kind),
            Some(NodeKind::File { .. })
        ) && matches!(
            tree.get(&dir.join("Kconfig")).map(|n| &n.kind),
            Some(NodeKind::File { .. })
        ) && tree.is_dir(&dir.join("scripts"))
    };
    if is_kernel(Path::new("")) {
        return Ok(PathBuf::new());
    }
    let found: Vec<PathBuf> = tree
        .children(Path::new(""))
        .filter(|(_, n)| n.kind == NodeKind::Dir)
        .map(|(p, _)| p.clone())
        .filter(|p| is_kernel(p))
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => bail!("no kernel source tree (Makefile, Kconfig and scripts/ at the top or one directory down)"),
        _ => bail!("several kernel source trees in one tarball"),
    }
}

/// Reads the config text: the config package itself, or its member named `member` (the single one;
/// the shallowest when several copies are identical).
pub fn read_config_package(
    package: &Path,
    member: Option<&str>,
    work: &Path,
    limits: Limits,
) -> Result<String> {
    let bytes = match member {
        None => {
            let mut file = fs::File::open(package)
                .with_context(|| format!("{}: cannot open config", package.display()))?;
            let mut bytes = Vec::new();
            file.by_ref()
                .take(MAX_CONFIG_BYTES + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("{}: cannot read config", package.display()))?;
            if bytes.len() as u64 > MAX_CONFIG_BYTES {
                bail!(
                    "{}: config larger than {MAX_CONFIG_BYTES} bytes",
                    package.display()
                );
            }
            // A compressed config (e.g. a `.config.gz`) is accepted too.
            if crate::archive::compression::Compression::sniff(&bytes)
                != crate::archive::compression::Compression::None
            {
                let (_, reader) = crate::archive::compression::decompress(&bytes[..])?;
                let mut out = Vec::new();
                reader
                    .take(MAX_CONFIG_BYTES + 1)
                    .read_to_end(&mut out)
                    .with_context(|| format!("{}: corrupt compressed config", package.display()))?;
                out
            } else {
                bytes
            }
        }
        Some(member) => {
            let mut extractor = SafeExtractor::new(work, 0, limits)?;
            read_package(package, &mut extractor)
                .map_err(|e| anyhow!("{}: {e:#}", package.display()))?;
            let tree = extractor.finish()?;
            let mut found: Vec<(usize, Vec<u8>)> = Vec::new();
            for (path, node) in tree.subtree(Path::new("")) {
                if path.file_name().is_some_and(|n| n == member)
                    && matches!(node.kind, NodeKind::File { .. })
                {
                    found.push((path.components().count(), tree.read(path)?));
                }
            }
            found.sort_by_key(|(depth, _)| *depth);
            found.dedup_by(|a, b| a.1 == b.1);
            match found.len() {
                0 => bail!(
                    "{}: missing config: no {member} in the package",
                    package.display()
                ),
                1 => found.remove(0).1,
                _ => bail!("{}: several different {member} files", package.display()),
            }
        }
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{}: config is not text", package.display()))?;
    if !text.lines().any(|l| l.starts_with("CONFIG_")) {
        bail!("{}: config has no CONFIG_ lines", package.display());
    }
    Ok(text)
}

/// A kernel tree built from sources, and the bundle's name.
pub struct BuiltTree {
    pub tree: Tree,
    pub bundle_name: String,
    pub uname: String,
}

/// Builds the prepared kernel tree of a source package set (see the module docs).
pub fn build_tree(
    kind: PackerKind,
    pack_spec: &PackerSpec,
    packages: &[PathBuf],
    work: &Path,
    limits: Limits,
) -> Result<BuiltTree> {
    let spec = source_spec(kind)?;
    let roles = classify(spec, packages)?;
    let started = Instant::now();

    let source = &roles.source;
    let fail = |e: anyhow::Error| anyhow!("{}: {e:#}", source.display());
    let (tree, config, layer) = match &spec.layer {
        Some((rule, dir_re)) => {
            let l = read_layer(rule, dir_re, source, work, limits).map_err(fail)?;
            (
                l.source,
                Some(l.config),
                Some((l.seeds, l.version, l.banner)),
            )
        }
        None => {
            let config = match &roles.config {
                Some(package) => Some(read_config_package(
                    package,
                    spec.config_member.as_deref(),
                    work,
                    limits,
                )?),
                None => None,
            };
            let mut extractor = SafeExtractor::new(work, 0, limits)?;
            read_package(source, &mut extractor).map_err(fail)?;
            (extractor.finish()?, config, None)
        }
    };
    let root = find_source_root(&tree).map_err(fail)?;
    let makefile = tree.read(&root.join("Makefile")).map_err(fail)?;
    let version = makefile_version(&String::from_utf8_lossy(&makefile))
        .map_err(|e| fail(e.context("top-level Makefile")))?;
    let uname = format!("{version}{}", spec.localversion);
    let build_time = match &layer {
        Some((_, headers_version, banner)) => {
            check_layer_versions(headers_version, banner, &version, &uname).map_err(fail)?;
            Some(banner.build_time.as_str())
        }
        None => None,
    };
    let name = bundle_name(spec, &roles, &version, &uname, build_time)?;
    let src = work.join("src");
    let stats = materialize::write_tree(&tree, &root, &src)?;
    drop(tree);
    if let Some((seeds, _, _)) = &layer {
        restore_seeds(&src, seeds)?;
    }
    info!(
        files = stats.files,
        bytes = stats.bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source tree written"
    );

    configure(&src, spec, config.as_deref())?;
    if let Some((seeds, _, _)) = &layer {
        // `make` regenerates a randstruct seed it has no command record for (`if_changed`):
        // put the shipped seeds back and prepare again (now the record exists and the seeds
        // are newer than their generator, so they stay; plugins built from them are rebuilt).
        if restore_seeds(&src, seeds)? {
            modules_prepare(&src, spec)?;
            if restore_seeds(&src, seeds)? {
                bail!(
                    "{}: make replaces the shipped randstruct seed files",
                    source.display()
                );
            }
        }
    }
    let release_path = src.join("include/config/kernel.release");
    let release = fs::read_to_string(&release_path)
        .with_context(|| format!("make did not write {}", release_path.display()))?;
    if release.trim() != uname {
        bail!(
            "{}: the configured kernel release is {:?}, expected {uname:?}",
            source.display(),
            release.trim()
        );
    }
    info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "modules_prepare done"
    );

    let tree_dir = PathBuf::from("usr/src").join(format!("linux-{uname}"));
    let (tree, stats) = materialize::load_dir(&src, &tree_dir, work, 0, limits, &|rel, _| {
        !pack_spec.excludes(&rel.to_string_lossy())
    })?;
    debug!(?stats, "prepared tree loaded");
    if let Err(e) = fs::remove_dir_all(&src) {
        debug!(error = %e, "cannot remove the materialised source tree");
    }
    Ok(BuiltTree {
        tree,
        bundle_name: name,
        uname,
    })
}

/// What an image layer holds for the source packer (see [`LayerRule`]).
struct LayerInputs {
    /// The source member's tree.
    source: Tree,
    /// The header tree's `.config`.
    config: String,
    /// Seed files present in the header tree: path relative to the kernel tree, content.
    seeds: Vec<(PathBuf, Vec<u8>)>,
    /// The kernel version the header tree's directory names.
    version: String,
    /// The bzImage's banner.
    banner: super::banner::Banner,
}

/// The `(blob, offset, len)` of a regular file member of a tree.
fn member(tree: &Tree, name: &str) -> Result<(u32, u64, u64)> {
    match tree.get(Path::new(name)).map(|n| &n.kind) {
        Some(NodeKind::File {
            blob, offset, len, ..
        }) => Ok((*blob, *offset, *len)),
        Some(_) => bail!("{name} in the layer is not a regular file"),
        None => bail!("the layer has no {name}"),
    }
}

/// Reads a (possibly compressed) tar member of `outer` through a fresh safe extractor.
fn read_member_tar(
    outer: &Tree,
    name: &str,
    work: &Path,
    budget: &crate::limits::Budget,
) -> Result<Tree> {
    let (blob, offset, len) = member(outer, name)?;
    let dir = work.join(format!("member-{}", crate::names::simplify(name)));
    fs::create_dir_all(&dir)?;
    let mut extractor = SafeExtractor::with_budget(&dir, 0, budget.clone())?;
    let reader = std::io::BufReader::with_capacity(1 << 16, outer.open(blob, offset, len));
    crate::archive::tarball::read_compressed_tar(reader, &mut extractor, budget)
        .with_context(|| format!("layer member {name}"))?;
    extractor.finish()
}

/// Reads an image layer: the banner of its bzImage, the `.config` and seed files of its header
/// tree, and the tree of its source member (one pack budget for all of it).
fn read_layer(
    rule: &LayerRule,
    dir_re: &Regex,
    package: &Path,
    work: &Path,
    limits: Limits,
) -> Result<LayerInputs> {
    let budget = crate::limits::Budget::new(limits);
    let mut extractor = SafeExtractor::with_budget(work, 0, budget.clone())?;
    crate::archive::read_package_with(package, &mut extractor, &budget)?;
    let outer = extractor.finish()?;

    member(&outer, &rule.kernel)?;
    let image = outer.read(Path::new(&rule.kernel))?;
    let banner = super::banner::kernel_banner(&image, &budget)
        .with_context(|| format!("layer member {}", rule.kernel))?;
    drop(image);

    let headers = read_member_tar(&outer, &rule.headers, work, &budget)?;
    let dirs: Vec<(PathBuf, String)> = headers
        .subtree(Path::new(""))
        .filter(|(_, n)| n.kind == NodeKind::Dir)
        .filter_map(|(p, _)| {
            let text = p.to_str()?;
            let version = dir_re.captures(text)?.get(1)?.as_str().to_string();
            Some((p.clone(), version))
        })
        .collect();
    let (dir, version) = match <[_; 1]>::try_from(dirs) {
        Ok([one]) => one,
        Err(dirs) if dirs.is_empty() => bail!(
            "layer member {}: no header tree (a directory like /{}/)",
            rule.headers,
            dir_re
        ),
        Err(dirs) => bail!(
            "layer member {}: several header trees: {}",
            rule.headers,
            dirs.iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let config_path = dir.join(".config");
    let config = match headers.get(&config_path).map(|n| &n.kind) {
        Some(NodeKind::File { len, .. }) if *len <= MAX_CONFIG_BYTES => {
            String::from_utf8(headers.read(&config_path)?)
                .map_err(|_| anyhow!("layer member {}: .config is not text", rule.headers))?
        }
        Some(NodeKind::File { .. }) => bail!(
            "layer member {}: .config larger than {MAX_CONFIG_BYTES} bytes",
            rule.headers
        ),
        _ => bail!(
            "layer member {}: missing config: no {}",
            rule.headers,
            config_path.display()
        ),
    };
    if !config.lines().any(|l| l.starts_with("CONFIG_")) {
        bail!(
            "layer member {}: .config has no CONFIG_ lines",
            rule.headers
        );
    }
    let mut seeds = Vec::new();
    for seed in &rule.seeds {
        let path = dir.join(seed);
        if let Some(NodeKind::File { .. }) = headers.get(&path).map(|n| &n.kind) {
            seeds.push((PathBuf::from(seed), headers.read(&path)?));
        }
    }
    drop(headers);
    let source = read_member_tar(&outer, &rule.source, work, &budget)?;
    Ok(LayerInputs {
        source,
        config,
        seeds,
        version,
        banner,
    })
}

/// The layer's three kernels must agree: the header tree's version and the banner's release
/// are the source's.
fn check_layer_versions(
    headers_version: &str,
    banner: &super::banner::Banner,
    version: &str,
    uname: &str,
) -> Result<()> {
    if headers_version != version {
        bail!("the header tree is for {headers_version}, the source is {version}");
    }
    if banner.release != uname {
        bail!(
            "the kernel banner names {}, the source builds {uname}",
            banner.release
        );
    }
    Ok(())
}

/// Writes `.config` and runs `make olddefconfig` and `make modules_prepare` in `src`.
fn configure(src: &Path, spec: &SourceSpec, config: Option<&str>) -> Result<()> {
    let localversion = format!("LOCALVERSION={}", spec.localversion);
    let mut text = match config {
        Some(config) => config.to_string(),
        None => {
            let fragment = spec
                .shipped_config
                .ok_or_else(|| anyhow!("missing config and no shipped config"))?;
            run_make(src, &["defconfig", &localversion])?;
            let base = fs::read_to_string(src.join(".config"))
                .context("make defconfig wrote no .config")?;
            format!("{base}\n{fragment}")
        }
    };
    // The uname is the Makefile version plus LOCALVERSION, nothing else.
    text.push_str("\nCONFIG_LOCALVERSION=\"\"\n# CONFIG_LOCALVERSION_AUTO is not set\n");
    fs::write(src.join(".config"), text).context("cannot write .config")?;
    run_make(src, &["olddefconfig", &localversion])?;
    modules_prepare(src, spec)
}

/// `make modules_prepare` on all cores.
fn modules_prepare(src: &Path, spec: &SourceSpec) -> Result<()> {
    let localversion = format!("LOCALVERSION={}", spec.localversion);
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    run_make(src, &[&jobs, "modules_prepare", &localversion])
}

/// Writes each seed file whose content in `src` differs from the shipped one; whether any did.
fn restore_seeds(src: &Path, seeds: &[(PathBuf, Vec<u8>)]) -> Result<bool> {
    let mut changed = false;
    for (rel, content) in seeds {
        let path = src.join(rel);
        if fs::read(&path).ok().as_deref() != Some(content.as_slice()) {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Runs `make -C src <args>` without a terminal, in a clean environment (PATH, LC_ALL=C, HOME and
/// TMPDIR in the work dir: no credentials reach the tarball's Makefiles); output goes to a log file
/// in the work dir whose tail is quoted when make fails; killed after [`MAKE_TIMEOUT`].
fn run_make(src: &Path, args: &[&str]) -> Result<()> {
    let log_path = src.with_extension("make.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let started = Instant::now();
    let mut child = Command::new("make")
        .arg("-C")
        .arg(src)
        .args(args)
        // The tarball's Makefiles run code: they get a clean environment (no credentials, no
        // inherited make or kbuild flags), only a PATH, a locale and a home inside the work dir.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()))
        .env("LC_ALL", "C")
        .env("HOME", src)
        .env("TMPDIR", src.parent().unwrap_or(src))
        .env("KBUILD_BUILD_USER", "kernel-packer")
        .env("KBUILD_BUILD_HOST", "kernel-packer")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot run make (is the kernel build toolchain installed? see scripts/setup.d/40-kernel-source.sh)")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > MAKE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("make {} timed out after {:?}", args.join(" "), MAKE_TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    debug!(step = %args.join(" "), elapsed_ms = started.elapsed().as_millis() as u64, "make");
    if !status.success() {
        let output = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "make {} failed ({status}):\n{}",
            args.join(" "),
            tail.join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn builtin_table_parses() {
        for kind in [
            PackerKind::Cos,
            PackerKind::Minikube,
            PackerKind::Linuxkit,
            PackerKind::Dockerdesktop,
        ] {
            source_spec(kind).unwrap();
        }
        assert!(source_spec(PackerKind::Debian).is_err());
    }

    #[test]
    fn makefile_versions() {
        let mk =
            "# SPDX\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\nNAME = Curry\n";
        assert_eq!(makefile_version(mk).unwrap(), "6.1.192");
        let rc = "VERSION = 6\nPATCHLEVEL = 2\nSUBLEVEL = 0\nEXTRAVERSION = -rc1\n";
        assert_eq!(makefile_version(rc).unwrap(), "6.2.0-rc1");
        assert!(makefile_version("VERSION = 6\n").is_err());
        assert!(makefile_version("VERSION = x\nPATCHLEVEL = 1\nSUBLEVEL = 0\n").is_err());
    }

    #[test]
    fn cos_names_from_the_corpus() {
        let spec = source_spec(PackerKind::Cos).unwrap();
        let roles = classify(
            spec,
            &paths(&[
                "https---storage.googleapis.com-cos-tools-17800.218.69-kernel-src.tar.gz",
                "https---storage.googleapis.com-cos-tools-17800.218.69-kernel-headers.tgz",
            ]),
        )
        .unwrap();
        assert!(roles.config.is_some());
        assert_eq!(
            bundle_name(spec, &roles, "6.1.100", "6.1.100+", None).unwrap(),
            "6.1.100-17800.218.69-cos"
        );
        // The headers are optional for cos (a shipped default config is used).
        let alone = classify(
            spec,
            &paths(&["https---storage.googleapis.com-cos-tools-12001.0.0-kernel-src.tar.gz"]),
        )
        .unwrap();
        assert_eq!(alone.config, None);
        assert!(classify(spec, &paths(&["x-kernel-headers.tgz"])).is_err());
        assert!(classify(
            spec,
            &paths(&["a-kernel-src.tar.gz", "b-kernel-src.tar.gz"])
        )
        .is_err());
        assert!(classify(spec, &paths(&["a-kernel-src.tar.gz", "random.deb"])).is_err());
    }

    #[test]
    fn minikube_names_from_the_corpus() {
        let spec = source_spec(PackerKind::Minikube).unwrap();
        let set = paths(&[
            "https---raw.githubusercontent.com-kubernetes-minikube-v1.29.0-deploy-iso-minikube-iso-board-minikube-x86_64-linux_x86_64_defconfig-kernel-5.10.57",
            "https---cdn.kernel.org-pub-linux-kernel-v5.x-linux-5.10.57.tar.xz",
        ]);
        let roles = classify(spec, &set).unwrap();
        assert_eq!(roles.source, set[1]);
        assert_eq!(
            bundle_name(spec, &roles, "5.10.57", "5.10.57", None).unwrap(),
            "5.10.57-minikube-v1.29.0"
        );
        let err = classify(spec, &set[1..]).unwrap_err();
        assert!(format!("{err:#}").contains("missing config"), "{err:#}");
    }

    #[test]
    fn linuxkit_names_from_the_corpus() {
        let spec = source_spec(PackerKind::Linuxkit).unwrap();
        for name in [
            "https---cdn.kernel.org-pub-linux-kernel-v4.x-linux-4.19.76.tar.gz",
            "https---github.com-linuxkit-linux-archive-v4.9.125.tar.gz",
        ] {
            let roles = classify(spec, &paths(&[name])).unwrap();
            assert_eq!(roles.config, None);
        }
        let roles = classify(spec, &paths(&["linux-4.19.76.tar.gz"])).unwrap();
        assert_eq!(
            bundle_name(spec, &roles, "4.19.76", "4.19.76-linuxkit", None).unwrap(),
            "4.19.76-linuxkit"
        );
    }

    #[test]
    fn dockerdesktop_layer_names() {
        let spec = source_spec(PackerKind::Dockerdesktop).unwrap();
        let blob = format!(
            "https---registry-1.docker.io-v2-docker-for-desktop-kernel-blobs-sha256-{}",
            "ab".repeat(32)
        );
        let roles = classify(spec, &paths(&[&blob])).unwrap();
        assert_eq!(roles.config, None);
        assert_eq!(
            bundle_name(
                spec,
                &roles,
                "6.1.55",
                "6.1.55-linuxkit",
                Some("2023-10-16-13-43-07")
            )
            .unwrap(),
            "6.1.55-dockerdesktop-2023-10-16-13-43-07"
        );
        // Without a banner date the template stays unfilled: an error, not a bad name.
        assert!(bundle_name(spec, &roles, "6.1.55", "6.1.55-linuxkit", None).is_err());
        let (_, dir) = spec.layer.as_ref().unwrap();
        let m = dir
            .captures("usr/src/linux-headers-6.1.55-linuxkit")
            .unwrap();
        assert_eq!(&m[1], "6.1.55");
        assert!(classify(spec, &paths(&["linux-6.1.55.tar.xz"])).is_err());
    }

    #[test]
    fn seeds_are_restored_when_changed() {
        let src = tempfile::tempdir().unwrap();
        let seeds = vec![(
            PathBuf::from("scripts/basic/randstruct.seed"),
            b"shipped".to_vec(),
        )];
        assert!(restore_seeds(src.path(), &seeds).unwrap());
        assert!(!restore_seeds(src.path(), &seeds).unwrap());
        fs::write(
            src.path().join("scripts/basic/randstruct.seed"),
            "regenerated",
        )
        .unwrap();
        assert!(restore_seeds(src.path(), &seeds).unwrap());
        assert_eq!(
            fs::read(src.path().join("scripts/basic/randstruct.seed")).unwrap(),
            b"shipped"
        );
    }

    #[test]
    fn make_runs_in_a_clean_environment_and_failures_quote_its_output() {
        let work = tempfile::tempdir().unwrap();
        let src = work.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(
            src.join("Makefile"),
            "env:\n\tenv > env.txt\nbroken:\n\t@echo the compiler said no\n\t@false\n",
        )
        .unwrap();
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        run_make(&src, &["env"]).unwrap();
        let env = fs::read_to_string(src.join("env.txt")).unwrap();
        assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
        assert!(!env.contains("CARGO_MANIFEST_DIR"), "{env}");
        let err = run_make(&src, &["broken"]).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("make broken failed") && text.contains("the compiler said no"),
            "{text}"
        );
    }
}
