//! Making a bundle's kbuild files relocatable, whatever they say.
//!
//! Contract: every file make reads during a module build ([`is_kbuild_file`]: `Makefile*`,
//! `Kbuild*`, `*.mk`, `.kernelvariables`, `auto.conf`; not under `arch/<name>` of another
//! architecture than the kernel's) is scanned for absolute references to the kernel's own
//! install paths ([`find_references`]: `/usr/src/...`, `/lib/modules/...`,
//! `/usr/lib/modules/...`, `/usr/lib/linux-kbuild-...` at the start of a word, outside comments;
//! not `/lib/modules/$(...)`, which names whatever kernel make is told about, the host's).
//! Each reference that leads (through the package set's links) to a path the bundle holds is
//! rewritten relative to the file's own location, found at make time:
//!
//! ```make
//! kernel_packer_dir_<hash> := $(patsubst %/,%,$(dir $(realpath $(lastword $(MAKEFILE_LIST)))))
//! KBUILD_OUTPUT=$(kernel_packer_dir_<hash>)
//! include $(kernel_packer_dir_<hash>)/../linux-headers-6.1.0-5-common/Makefile
//! ```
//!
//! (one immediately expanded variable per file, set on its first line, so later includes cannot
//! change it). Any other reference fails the pack with the file and line: one that no package
//! provides ("missing companion package"), one built from variables, one the bundle leaves out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Result};
use regex::Regex;

use super::spec::PackerSpec;
use super::view::{View, ViewKind};
use crate::archive::extract::relative_path;
use crate::vfs::{Resolved, Tree};

/// One absolute reference found in a file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// 1-based line number.
    pub line: usize,
    /// Byte range of the path in the text.
    pub start: usize,
    pub end: usize,
    /// The path as written (`/usr/src/linux-headers-6.1.0-5-common/Makefile`).
    pub path: String,
    /// The path continues with a variable (`/usr/src/linux-headers-$(VERSION)`).
    pub variable: bool,
}

/// What relocation did to a bundle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelocateStats {
    pub scanned_files: u64,
    pub rewritten_files: u64,
    pub references: u64,
}

/// Whether a bundle path names a file make reads during a module build.
pub fn is_kbuild_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == "Makefile"
        || name.starts_with("Makefile.")
        || name.starts_with("Makefile_")
        || name == "Kbuild"
        || name.starts_with("Kbuild.")
        || name.ends_with(".mk")
        || name == ".kernelvariables"
        || name == "auto.conf"
}

fn reference_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?:^|[\s="'(,;:]|-[IL])(/(?:usr/src|usr/lib/modules|lib/modules)(?:/[^\s"'(),;:#$]*)?|/usr/lib/linux-kbuild-[^\s"'(),;:#$]*)"#,
        )
        .expect("valid regex")
    })
}

/// The install directories whose own subdirectories hold a kernel's files.
const INSTALL_DIRS: [&str; 3] = ["/usr/src", "/lib/modules", "/usr/lib/modules"];

/// Whether `c` continues a path word (so `/usr/srcx` is not `/usr/src`).
fn continues_path(c: char) -> bool {
    !(c.is_whitespace() || "\"'(),;:#$".contains(c))
}

/// Absolute references to the kernel's install paths in make-syntax `text`, outside comments
/// (from the first `#` not escaped with `\`).
pub fn find_references(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let code = &line[..comment_start(line)];
        for caps in reference_regex().captures_iter(code) {
            let path = caps.get(1).expect("group 1");
            let next = code[path.end()..].chars().next();
            if next.is_some_and(|c| c != '$' && continues_path(c)) {
                continue;
            }
            let variable = next == Some('$');
            if variable && INSTALL_DIRS.contains(&path.as_str().trim_end_matches('/')) {
                // `/lib/modules/$(shell uname -r)/...`: whichever kernel make is told about (the
                // host's), never this bundle's own files.
                continue;
            }
            found.push(Reference {
                line: index + 1,
                start: line_start + path.start(),
                end: line_start + path.end(),
                path: path.as_str().to_string(),
                variable,
            });
        }
        line_start += line.len();
    }
    found
}

fn comment_start(line: &str) -> usize {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1] != b'\\'))
        .unwrap_or(bytes.len())
}

/// The make variable holding the directory of the bundle file `path`.
fn dir_variable(path: &Path) -> String {
    let hash = crate::names::sha256_hex(path.to_string_lossy().as_bytes());
    format!("kernel_packer_dir_{}", &hash[..12])
}

/// Rewrites every kbuild file of `view` (see the module contract); rewritten contents are spilled
/// into `tree` and the view entries repointed. Errors name the bundle file and line.
pub fn relocate_view(tree: &mut Tree, view: &mut View, spec: &PackerSpec) -> Result<RelocateStats> {
    let mut stats = RelocateStats::default();
    let arches = own_arches(view);
    for index in 0..view.entries.len() {
        let entry = &view.entries[index];
        let ViewKind::File {
            blob,
            offset,
            len,
            executable,
        } = entry.kind
        else {
            continue;
        };
        if !is_kbuild_file(&entry.path) || other_arch(&entry.path, &arches) {
            continue;
        }
        stats.scanned_files += 1;
        let mut bytes = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut tree.open(blob, offset, len), &mut bytes)?;
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let references = find_references(&text);
        if references.is_empty() {
            continue;
        }
        let file = entry.path.clone();
        let variable = dir_variable(&file);
        let file_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut out = format!(
            "{variable} := $(patsubst %/,%,$(dir $(realpath $(lastword $(MAKEFILE_LIST)))))\n"
        );
        let mut copied = 0;
        for reference in &references {
            let at = locate_reference(tree, view, spec, &file, reference)?;
            out.push_str(&text[copied..reference.start]);
            out.push_str(&format!("$({variable})"));
            let relative = relative_path(&file_dir, &at);
            if relative != Path::new(".") {
                out.push('/');
                out.push_str(&relative.to_string_lossy());
            }
            if reference.path.ends_with('/') {
                out.push('/');
            }
            copied = reference.end;
        }
        out.push_str(&text[copied..]);
        let (blob, offset, len) = tree.spill(out.as_bytes())?;
        view.entries[index].kind = ViewKind::File {
            blob,
            offset,
            len,
            executable,
        };
        stats.rewritten_files += 1;
        stats.references += references.len() as u64;
    }
    Ok(stats)
}

/// The architectures the kernel was built for: `arch/<name>` directories of the bundle holding
/// generated headers (`arch/x86/include/generated`). Empty when none does.
fn own_arches(view: &View) -> BTreeSet<String> {
    view.entries
        .iter()
        .filter_map(|entry| {
            let parts: Vec<&str> = entry.path.iter().filter_map(|c| c.to_str()).collect();
            parts
                .windows(4)
                .find(|w| w[0] == "arch" && w[2] == "include" && w[3] == "generated")
                .map(|w| w[1].to_string())
        })
        .collect()
}

/// Whether `path` lies under `arch/<name>` of another architecture than `arches` (files a module
/// build for this kernel never reads: sparc's boot Makefile in a full source tree).
fn other_arch(path: &Path, arches: &BTreeSet<String>) -> bool {
    if arches.is_empty() {
        return false;
    }
    let parts: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    parts
        .windows(3)
        .any(|w| w[0] == "arch" && !arches.contains(w[1]))
}

/// The bundle path `reference` leads to, or the one-line reason it cannot be relocated.
fn locate_reference(
    tree: &Tree,
    view: &View,
    spec: &PackerSpec,
    file: &Path,
    reference: &Reference,
) -> Result<PathBuf> {
    let place = format!("{} line {}", file.display(), reference.line);
    if reference.variable {
        bail!(
            "{place}: absolute reference {}$... is built from a variable and cannot be made relocatable",
            reference.path
        );
    }
    let target = Path::new(reference.path.trim_start_matches('/'));
    let resolved = tree
        .resolve(target)
        .map_err(|e| anyhow::anyhow!("{place}: absolute reference {}: {e}", reference.path))?;
    let Resolved::Inside(destination) = resolved else {
        bail!(
            "missing companion package: {place} refers to {}, which no package provides",
            reference.path
        );
    };
    match view.locate(&destination) {
        Some(at) if !spec.excludes(&at.to_string_lossy()) => Ok(at),
        _ => bail!(
            "{place}: absolute reference {} leads to {}, which the bundle leaves out",
            reference.path,
            destination.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<(usize, String, bool)> {
        find_references(text)
            .into_iter()
            .map(|r| (r.line, r.path, r.variable))
            .collect()
    }

    #[test]
    fn finds_references_at_word_starts_outside_comments() {
        let text = "KBUILD_OUTPUT=/usr/src/linux-headers-7.2.13+deb14-amd64\n\
                    include /usr/src/linux-headers-7.2.13+deb14-common/Makefile\n\
                    MODLIB = $(INSTALL_MOD_PATH)/lib/modules/$(KERNELRELEASE)\n\
                    # /usr/src/packages/SRPMS is only a comment\n\
                    \tcc -I/usr/lib/linux-kbuild-7.2/include x.c # /lib/modules too\n\
                    X := $(wildcard /lib/modules/$(KERNELRELEASE)/build)\n\
                    Y = \"/usr/src\" /usr/srcx /usr/lib/modules/6.1/\n";
        assert_eq!(
            paths(text),
            [
                (1, "/usr/src/linux-headers-7.2.13+deb14-amd64".into(), false),
                (
                    2,
                    "/usr/src/linux-headers-7.2.13+deb14-common/Makefile".into(),
                    false
                ),
                (5, "/usr/lib/linux-kbuild-7.2/include".into(), false),
                (7, "/usr/src".into(), false),
                (7, "/usr/lib/modules/6.1/".into(), false),
            ]
        );
        assert!(find_references("A = \\#/usr/src/x\n").is_empty());
        assert_eq!(
            paths("X = /usr/src/linux-headers-$(V)/Makefile /usr/lib/linux-kbuild-$(V)\n"),
            [
                (1, "/usr/src/linux-headers-".into(), true),
                (1, "/usr/lib/linux-kbuild-".into(), true)
            ]
        );
    }

    #[test]
    fn kbuild_file_names() {
        for yes in [
            "Makefile",
            "scripts/Makefile.modfinal",
            "arch/x86/Makefile_32.cpu",
            "Kbuild",
            "scripts/Kbuild.include",
            "tools/scripts/x.mk",
            ".kernelvariables",
            "include/config/auto.conf",
        ] {
            assert!(is_kbuild_file(Path::new(yes)), "{yes}");
        }
        for no in [
            "scripts/patch-kernel",
            "Kconfig",
            "include/linux/kernel.h",
            ".config",
        ] {
            assert!(!is_kbuild_file(Path::new(no)), "{no}");
        }
    }
}
