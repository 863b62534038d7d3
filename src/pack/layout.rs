//! Finding the kernel tree in an unpacked package set and preparing it for bundling:
//! uname, bundle name, Makefile relocation, base-tree overlay, link repairs, companion checks.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;

use super::spec::{BundleRoot, PackerSpec, UnameSource};
use super::tree::{find_dirs, resolve_in_root, Resolved};
use crate::archive::extract::relative_path;

/// The kernel tree found in a package set, and what the bundle will be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLayout {
    /// Root-relative path of the kernel tree (`usr/src/linux-headers-6.1.0-5-amd64`).
    pub kernel_dir: PathBuf,
    /// BUNDLE_UNAME.
    pub uname: String,
    /// `<name>` in `bundle-<name>.tgz`.
    pub bundle_name: String,
    /// BUNDLE_BUILD_DIR.
    pub build_dir: String,
    /// Root-relative directory the bundle is rooted at (empty = the whole tree).
    pub bundle_root: PathBuf,
}

/// Finds the single kernel tree of `root` as `spec` describes it.
pub fn find_kernel_dir(root: &Path, spec: &PackerSpec) -> Result<PathBuf> {
    let mut candidates = Vec::new();
    for dir in find_dirs(root, &spec.kernel_dirs)? {
        if matches!(
            resolve_in_root(root, &dir.join(&spec.kernel_marker))?,
            Resolved::Inside(_)
        ) {
            candidates.push(dir);
        }
    }
    if candidates.len() > 1 {
        if let Some(suffix) = &spec.prefer_suffix {
            let preferred: Vec<_> = candidates
                .iter()
                .filter(|d| {
                    d.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(suffix.as_str()))
                })
                .cloned()
                .collect();
            if preferred.len() == 1 {
                candidates = preferred;
            }
        }
    }
    match candidates.len() {
        0 => bail!(
            "no kernel tree: no package holds a {} directory with {}",
            spec.kernel_dirs,
            spec.kernel_marker
        ),
        1 => Ok(candidates.remove(0)),
        _ => bail!(
            "two kernel trees in one package set: {}",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads the uname as `spec` says.
pub fn read_uname(root: &Path, kernel_dir: &Path, spec: &PackerSpec) -> Result<String> {
    let uname = match &spec.uname {
        UnameSource::DirName { strip_prefix } => {
            let name = kernel_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.strip_prefix(strip_prefix.as_str())
                .unwrap_or(name)
                .to_string()
        }
        UnameSource::File(path) => {
            let file = read_in_tree(root, &kernel_dir.join(path))?
                .ok_or_else(|| anyhow!("{} is missing", kernel_dir.join(path).display()))?;
            file.trim().to_string()
        }
    };
    if uname.is_empty() || uname.contains(['/', '\n', ' ']) {
        bail!("invalid kernel release {uname:?}");
    }
    Ok(uname)
}

/// Reads a file through links, confined to `root`; `None` when missing or dangling.
pub fn read_in_tree(root: &Path, rel: &Path) -> Result<Option<String>> {
    match resolve_in_root(root, rel)? {
        Resolved::Inside(path) => {
            let bytes = fs::read(root.join(&path))
                .with_context(|| format!("cannot read {}", rel.display()))?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Resolved::Dangling => Ok(None),
    }
}

/// Computes the layout (uname, names, build dir) of the prepared tree.
pub fn plan(root: &Path, spec: &PackerSpec) -> Result<KernelLayout> {
    let kernel_dir = find_kernel_dir(root, spec)?;
    let uname = read_uname(root, &kernel_dir, spec)?;
    let mut bundle_name = uname.clone();
    if let Some(rule) = &spec.name_suffix_from_config {
        if let Some(config) = read_in_tree(root, &kernel_dir.join(".config"))? {
            if let Some(value) = config_value(&config, &rule.key) {
                if let Some(suffix) = rule.values.iter().find(|v| value.contains(v.as_str())) {
                    bundle_name.push_str(suffix);
                }
            }
        }
    }
    if let Some((rule, regex)) = &spec.name_extra_from_file {
        let mut found = None;
        for path in &rule.paths {
            if let Some(text) = read_in_tree(root, &kernel_dir.join(path))? {
                if let Some(capture) = regex.captures(&text).and_then(|c| c.get(1)) {
                    found = Some(capture.as_str().to_string());
                    break;
                }
            }
        }
        let capture = found.ok_or_else(|| {
            anyhow!(
                "none of {} in {} matches {}",
                rule.paths.join(", "),
                kernel_dir.display(),
                rule.regex
            )
        })?;
        bundle_name.push_str(&rule.format.replace("{}", &capture));
    }
    let kernel_dir_str = kernel_dir.to_string_lossy().to_string();
    let build_dir = spec.build_dir.replace("{kernel_dir}", &kernel_dir_str);
    let bundle_root = match spec.bundle_root {
        BundleRoot::PackageRoot => PathBuf::new(),
        BundleRoot::KernelDir => kernel_dir.clone(),
    };
    Ok(KernelLayout {
        kernel_dir,
        uname,
        bundle_name,
        build_dir,
        bundle_root,
    })
}

/// The value of `key` in a kernel `.config` (quotes removed), if set.
pub fn config_value<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    config.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(rest.trim_matches('"'))
    })
}

/// Applies the tree transformations of `spec` to the unpacked `root`, in place:
/// base-tree overlay, Makefile relocation, link repairs; then checks the companions are present.
pub fn prepare(root: &Path, spec: &PackerSpec) -> Result<()> {
    let kernel_dir = find_kernel_dir(root, spec)?;
    if let Some(base_pattern) = &spec.overlay_base {
        overlay_base(root, &kernel_dir, base_pattern)?;
    }
    if spec.relocate_makefiles {
        relocate_makefiles(root)?;
    }
    for repair in &spec.repair_links {
        repair_link(root, &kernel_dir, &repair.path, &repair.target)?;
    }
    for companion in &spec.companions {
        if resolve_in_root(root, &kernel_dir.join(&companion.path))? == Resolved::Dangling {
            bail!(
                "missing companion package {}: {} is not provided by any package",
                companion.package,
                kernel_dir.join(&companion.path).display()
            );
        }
    }
    Ok(())
}

/// `{obj_base}`: the kernel dir's ancestor component ending in `-obj`, without that suffix.
fn overlay_base(root: &Path, kernel_dir: &Path, pattern: &str) -> Result<()> {
    let obj_base = kernel_dir
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|c| c.strip_suffix("-obj"))
        .ok_or_else(|| anyhow!("{} has no *-obj component", kernel_dir.display()))?;
    let base = PathBuf::from(pattern.replace("{obj_base}", obj_base));
    let base_meta = fs::symlink_metadata(root.join(&base));
    if !base_meta.map(|m| m.is_dir()).unwrap_or(false) {
        bail!(
            "missing companion package: the base tree {} for {} is not provided by any package",
            base.display(),
            kernel_dir.display()
        );
    }
    let kernel_makefile = root.join(kernel_dir).join("Makefile");
    if makefile_only_delegates(&kernel_makefile)? {
        fs::remove_file(&kernel_makefile)?;
    }
    merge_missing(&root.join(&base), &root.join(kernel_dir))?;
    Ok(())
}

/// True when a Makefile does nothing but include another Makefile (an out-of-tree object
/// directory's wrapper), so the base tree's real Makefile must take its place.
fn makefile_only_delegates(path: &Path) -> Result<bool> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(false);
    };
    let mut includes = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if line.starts_with("include ") && line.ends_with("/Makefile") {
            includes += 1;
        } else if !(line.starts_with("export KBUILD_OUTPUT") || line.starts_with("MAKEARGS")) {
            return Ok(false);
        }
    }
    Ok(includes == 1)
}

/// Moves every entry of `from` that `to` lacks into `to` (recursing into directories both have).
pub fn merge_missing(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        match fs::symlink_metadata(&dest) {
            Err(_) => fs::rename(entry.path(), &dest)?,
            Ok(meta) if meta.is_dir() && entry.file_type()?.is_dir() => {
                merge_missing(&entry.path(), &dest)?
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Rewrites `include /abs/path` lines of the top-level Makefiles under `usr/src` (up to the depth of
/// an object tree, `usr/src/x-obj/arch/flavor/Makefile`) into includes relative to the Makefile's own
/// location, so the tree works wherever it is unpacked.
pub fn relocate_makefiles(root: &Path) -> Result<()> {
    let include = Regex::new(r"^(\s*-?include\s+)(/\S+)\s*$").expect("valid regex");
    let mut makefiles = Vec::new();
    for pattern in ["usr/src/*", "usr/src/*/*/*"] {
        for dir in find_dirs(root, pattern)? {
            let makefile = dir.join("Makefile");
            if fs::symlink_metadata(root.join(&makefile))
                .map(|m| m.is_file())
                .unwrap_or(false)
            {
                makefiles.push(makefile);
            }
        }
    }
    for makefile in makefiles {
        let text = fs::read_to_string(root.join(&makefile))
            .with_context(|| format!("cannot read {}", makefile.display()))?;
        let mut changed = false;
        let mut out = String::with_capacity(text.len() + 64);
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches('\n');
            if let Some(caps) = include.captures(body) {
                let target = PathBuf::from(caps[2].trim_start_matches('/'));
                let resolved = resolve_in_root(root, &target)?;
                if resolved == Resolved::Dangling {
                    bail!(
                        "missing companion package: {} includes {}, which no package provides",
                        makefile.display(),
                        &caps[2]
                    );
                }
                let from_dir = makefile.parent().unwrap_or(Path::new(""));
                let relative = relative_path(from_dir, &target);
                out.push_str(&caps[1]);
                out.push_str("$(dir $(realpath $(lastword $(MAKEFILE_LIST))))");
                out.push_str(&relative.to_string_lossy());
                out.push_str(&line[body.len()..]);
                changed = true;
            } else {
                out.push_str(line);
            }
        }
        if changed {
            let full = root.join(&makefile);
            let tmp = full.with_extension("kp-tmp");
            fs::write(&tmp, out)?;
            fs::rename(&tmp, &full)?;
        }
    }
    Ok(())
}

fn repair_link(root: &Path, kernel_dir: &Path, path: &str, target: &str) -> Result<()> {
    let link = kernel_dir.join(path);
    let full = root.join(&link);
    let is_link = fs::symlink_metadata(&full)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    if !is_link || resolve_in_root(root, &link)? != Resolved::Dangling {
        return Ok(());
    }
    let destination = kernel_dir.join(target);
    if !matches!(resolve_in_root(root, &destination)?, Resolved::Inside(_)) {
        return Ok(());
    }
    fs::remove_file(&full)?;
    let relative = relative_path(link.parent().unwrap_or(Path::new("")), &destination);
    std::os::unix::fs::symlink(relative, &full)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values() {
        let config =
            "CONFIG_A=y\nCONFIG_VERSION_SIGNATURE=\"Ubuntu 4.15.0-147.151~16.04.1-generic\"\n";
        assert_eq!(config_value(config, "CONFIG_A"), Some("y"));
        assert!(config_value(config, "CONFIG_VERSION_SIGNATURE")
            .unwrap()
            .contains("~16.04"));
        assert_eq!(config_value(config, "CONFIG_B"), None);
    }

    #[test]
    fn delegating_makefile_detection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Makefile");
        fs::write(
            &path,
            "# generated\nexport KBUILD_OUTPUT = /x\ninclude ../../../linux-5.14/Makefile\n",
        )
        .unwrap();
        assert!(makefile_only_delegates(&path).unwrap());
        fs::write(&path, "obj-m += x.o\ninclude ../Makefile\n").unwrap();
        assert!(!makefile_only_delegates(&path).unwrap());
    }
}
