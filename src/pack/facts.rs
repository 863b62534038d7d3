//! What a module build against a bundle needs: the kernel's compiler and the host requirements of
//! the bundle's tools. Pure functions over the kernel's `.config` and the packages' own metadata.

use std::collections::BTreeSet;

use regex::Regex;

use crate::archive::PackageInfo;

/// The build facts written as `BUNDLE_COMPILER`, `BUNDLE_COMPILER_VERSION` and
/// `BUNDLE_HOST_REQUIREMENTS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildFacts {
    /// Compiler family and major version the kernel was built with (`gcc-14`, `clang-19`);
    /// empty when the kernel does not say.
    pub compiler: String,
    /// The compiler's full version text (`CONFIG_CC_VERSION_TEXT`, else `LINUX_COMPILER` up to the
    /// linker): `x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0`; empty when unknown.
    pub compiler_version: String,
    /// What the host must have installed, sorted: the packages' own requirements (Debian
    /// relations such as `libelf1t64 (>= 0.144)`, alternatives `a | b`) minus the set's own
    /// packages and the spec's exclusions, plus `pahole` when BTF for modules is built against a
    /// shipped `vmlinux`.
    pub host_requirements: Vec<String>,
}

/// `gcc-14` from `x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0`, `gcc-8` from
/// `gcc (GCC) 8.5.0 20210514 (Red Hat 8.5.0-4)`, `clang-19` from `Debian clang version 19.1.7`:
/// the family-and-major command among [`crate::verify::compiler::candidates`].
pub fn compiler_name(version_text: &str) -> Option<String> {
    crate::verify::compiler::candidates(version_text)
        .into_iter()
        .find(|c| {
            ["gcc-", "clang-"].iter().any(|family| {
                c.strip_prefix(family).is_some_and(|major| {
                    !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())
                })
            })
        })
}

/// The compiler version text of a kernel: `CONFIG_CC_VERSION_TEXT` of its `.config`, else the
/// compiler part of `LINUX_COMPILER` in `include/generated/compile.h`.
pub fn compiler_version_text(config: Option<&str>, compile_h: Option<&str>) -> Option<String> {
    if let Some(value) =
        config.and_then(|c| super::layout::config_value(c, "CONFIG_CC_VERSION_TEXT"))
    {
        if !value.trim().is_empty() {
            return Some(value.trim().to_string());
        }
    }
    let line = compile_h?
        .lines()
        .find(|l| l.trim_start().starts_with("#define LINUX_COMPILER"))?;
    let value = line.split_once('"')?.1.rsplit_once('"')?.0;
    let compiler = value.split(", GNU ld").next().unwrap_or(value).trim();
    (!compiler.is_empty()).then(|| compiler.to_string())
}

/// The host requirements of a package set (see [`BuildFacts::host_requirements`]). `exclude`
/// matches package names (any alternative) that are not host tools (`linux-image-*`, ...).
pub fn host_requirements(
    packages: &[PackageInfo],
    exclude: &[Regex],
    btf_with_vmlinux: bool,
) -> Vec<String> {
    let own: BTreeSet<&str> = packages.iter().filter_map(|p| p.name.as_deref()).collect();
    let mut requirements: BTreeSet<String> = BTreeSet::new();
    for relation in packages.iter().flat_map(|p| &p.depends) {
        let names: Vec<&str> = relation
            .split('|')
            .filter_map(|alternative| alternative.split_whitespace().next())
            .map(|name| name.split(':').next().unwrap_or(name))
            .collect();
        let dropped = names
            .iter()
            .any(|name| own.contains(name) || exclude.iter().any(|re| re.is_match(name)));
        if !dropped && !names.is_empty() {
            requirements.insert(relation.clone());
        }
    }
    let names_pahole = requirements.iter().any(|r| {
        r.split('|')
            .any(|a| a.split_whitespace().next() == Some("pahole"))
    });
    if btf_with_vmlinux && !names_pahole {
        requirements.insert("pahole".to_string());
    }
    requirements.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::PackageFormat;

    #[test]
    fn compiler_names() {
        for (text, name) in [
            ("gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0", "gcc-12"),
            (
                "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0",
                "gcc-14",
            ),
            ("x86_64-linux-gnu-gcc-16 (Debian 16.2.0-4) 16.2.0", "gcc-16"),
            ("gcc (GCC) 8.5.0 20210514 (Red Hat 8.5.0-4)", "gcc-8"),
            ("gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0", "gcc-11"),
            ("gcc (SUSE Linux) 7.5.0", "gcc-7"),
            (
                "gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC)",
                "gcc-4",
            ),
            ("Debian clang version 19.1.7 (3)", "clang-19"),
            ("clang version 17.0.6", "clang-17"),
        ] {
            assert_eq!(compiler_name(text).as_deref(), Some(name), "{text}");
        }
        assert_eq!(compiler_name("icc 2021"), None);
        assert_eq!(compiler_name(""), None);
    }

    #[test]
    fn version_text_from_config_or_compile_h() {
        let config = "CONFIG_CC_VERSION_TEXT=\"gcc-14 (Debian 14.2.0-19) 14.2.0\"\nCONFIG_A=y\n";
        assert_eq!(
            compiler_version_text(Some(config), None).as_deref(),
            Some("gcc-14 (Debian 14.2.0-19) 14.2.0")
        );
        let compile_h =
            "#define UTS_MACHINE \"x86_64\"\n#define LINUX_COMPILER \"gcc version 4.8.5 \
                         (GCC) , GNU ld version 2.27\"\n";
        assert_eq!(
            compiler_version_text(Some("CONFIG_A=y\n"), Some(compile_h)).as_deref(),
            Some("gcc version 4.8.5 (GCC)")
        );
        assert_eq!(compiler_version_text(None, None), None);
    }

    #[test]
    fn requirements_drop_the_set_and_exclusions_and_add_pahole_for_btf() {
        let package = |name: &str, depends: &[&str]| PackageInfo {
            format: PackageFormat::Deb,
            name: Some(name.to_string()),
            depends: depends.iter().map(|d| d.to_string()).collect(),
        };
        let set = [
            package(
                "linux-headers-6.12.57+deb13-amd64",
                &[
                    "linux-base (>= 4.12~)",
                    "linux-headers-6.12.57+deb13-common (= 6.12.57-1)",
                    "linux-image-6.12.57+deb13-amd64 (= 6.12.57-1) | linux-image-6.12.57+deb13-amd64-unsigned (= 6.12.57-1)",
                    "linux-kbuild-6.12.57+deb13",
                    "gcc-14",
                ],
            ),
            package("linux-headers-6.12.57+deb13-common", &[]),
            package(
                "linux-kbuild-6.12.57+deb13",
                &["libc6 (>= 2.38)", "libelf1t64 (>= 0.144)", "gcc-14"],
            ),
        ];
        let exclude = [Regex::new("^linux-(base|image)(-|$)").unwrap()];
        assert_eq!(
            host_requirements(&set, &exclude, true),
            [
                "gcc-14",
                "libc6 (>= 2.38)",
                "libelf1t64 (>= 0.144)",
                "pahole"
            ]
        );
        assert_eq!(
            host_requirements(&set, &exclude, false),
            ["gcc-14", "libc6 (>= 2.38)", "libelf1t64 (>= 0.144)"]
        );
        let with_pahole = [package("k", &["pahole"])];
        assert_eq!(host_requirements(&with_pahole, &[], true), ["pahole"]);
    }
}
