//! Finding the kernel tree in an unpacked package set and preparing it for bundling:
//! uname, bundle name, base-tree overlay, link repairs, companion checks. (Absolute references
//! in kbuild files are made relocatable later, on the bundle's view: [`super::relocate`].)

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::spec::{BundleRoot, PackerSpec, UnameSource};
use crate::archive::extract::relative_path;
use crate::vfs::{Node, NodeKind, Resolved, Tree};

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

/// Finds the single kernel tree of `tree` as `spec` describes it.
pub fn find_kernel_dir(tree: &Tree, spec: &PackerSpec) -> Result<PathBuf> {
    let mut candidates = Vec::new();
    for dir in tree.find_dirs(&spec.kernel_dirs) {
        if matches!(
            tree.resolve(&dir.join(&spec.kernel_marker))?,
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
pub fn read_uname(tree: &Tree, kernel_dir: &Path, spec: &PackerSpec) -> Result<String> {
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
            let file = read_text(tree, &kernel_dir.join(path))?
                .ok_or_else(|| anyhow!("{} is missing", kernel_dir.join(path).display()))?;
            file.trim().to_string()
        }
    };
    if uname.is_empty() || uname.contains(['/', '\n', ' ']) {
        bail!("invalid kernel release {uname:?}");
    }
    Ok(uname)
}

/// Reads a text file through links; `None` when missing or dangling.
pub fn read_text(tree: &Tree, rel: &Path) -> Result<Option<String>> {
    Ok(tree
        .read_resolved(rel)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// Computes the layout (uname, names, build dir) of the prepared tree.
pub fn plan(tree: &Tree, spec: &PackerSpec) -> Result<KernelLayout> {
    let kernel_dir = find_kernel_dir(tree, spec)?;
    let uname = read_uname(tree, &kernel_dir, spec)?;
    let mut bundle_name = uname.clone();
    if let Some(rule) = &spec.name_suffix_from_config {
        if let Some(config) = read_text(tree, &kernel_dir.join(".config"))? {
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
            if let Some(text) = read_text(tree, &kernel_dir.join(path))? {
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

/// Applies the tree transformations of `spec`, in place: base-tree overlay, link repairs; then
/// checks the companions are present.
pub fn prepare(tree: &mut Tree, spec: &PackerSpec) -> Result<()> {
    let kernel_dir = find_kernel_dir(tree, spec)?;
    if let Some(base_pattern) = &spec.overlay_base {
        overlay_base(tree, &kernel_dir, base_pattern)?;
    }
    for repair in &spec.repair_links {
        repair_link(tree, &kernel_dir, &repair.path, &repair.target)?;
    }
    for companion in &spec.companions {
        if tree.resolve(&kernel_dir.join(&companion.path))? == Resolved::Dangling {
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
fn overlay_base(tree: &mut Tree, kernel_dir: &Path, pattern: &str) -> Result<()> {
    let obj_base = kernel_dir
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|c| c.strip_suffix("-obj"))
        .ok_or_else(|| anyhow!("{} has no *-obj component", kernel_dir.display()))?;
    let base = PathBuf::from(pattern.replace("{obj_base}", obj_base));
    if !tree.is_dir(&base) || base.as_os_str().is_empty() {
        bail!(
            "missing companion package: the base tree {} for {} is not provided by any package",
            base.display(),
            kernel_dir.display()
        );
    }
    let makefile = kernel_dir.join("Makefile");
    if let Some(Node {
        kind: NodeKind::File { .. },
        ..
    }) = tree.get(&makefile)
    {
        if makefile_only_delegates(&String::from_utf8_lossy(&tree.read(&makefile)?)) {
            tree.remove(&makefile);
        }
    }
    let moves: Vec<(PathBuf, Node)> = tree
        .subtree(&base)
        .filter(|(path, _)| path.as_path() != base)
        .map(|(path, node)| {
            (
                kernel_dir.join(path.strip_prefix(&base).expect("in subtree")),
                node.clone(),
            )
        })
        .collect();
    for (path, node) in moves {
        let parent_is_dir = path.parent().is_none_or(|p| tree.is_dir(p));
        if tree.get(&path).is_none() && parent_is_dir {
            tree.insert(path, node)?;
        }
    }
    Ok(())
}

/// True when a Makefile does nothing but include another Makefile (an out-of-tree object
/// directory's wrapper), so the base tree's real Makefile must take its place.
fn makefile_only_delegates(text: &str) -> bool {
    let mut includes = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if line.starts_with("include ") && line.ends_with("/Makefile") {
            includes += 1;
        } else if !(line.starts_with("export KBUILD_OUTPUT") || line.starts_with("MAKEARGS")) {
            return false;
        }
    }
    includes == 1
}

fn repair_link(tree: &mut Tree, kernel_dir: &Path, path: &str, target: &str) -> Result<()> {
    let link = kernel_dir.join(path);
    let Some(Node {
        kind: NodeKind::Symlink(_),
        origin,
    }) = tree.get(&link).cloned()
    else {
        return Ok(());
    };
    if tree.resolve(&link)? != Resolved::Dangling {
        return Ok(());
    }
    let destination = kernel_dir.join(target);
    if !matches!(tree.resolve(&destination)?, Resolved::Inside(_)) {
        return Ok(());
    }
    let relative = relative_path(link.parent().unwrap_or(Path::new("")), &destination);
    tree.insert(
        link,
        Node {
            kind: NodeKind::Symlink(relative),
            origin,
        },
    )
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
        assert!(makefile_only_delegates(
            "# generated\nexport KBUILD_OUTPUT = /x\ninclude ../../../linux-5.14/Makefile\n"
        ));
        assert!(!makefile_only_delegates(
            "obj-m += x.o\ninclude ../Makefile\n"
        ));
    }
}
