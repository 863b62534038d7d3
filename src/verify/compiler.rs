//! Which C compiler builds against a bundle: the kernel's own when it is installed.
//!
//! Sources, first match wins: the `BUNDLE_COMPILER_VERSION` or `BUNDLE_COMPILER` meta file at the
//! bundle root (a compiler version text or a command name), then `CONFIG_CC_VERSION_TEXT` in the
//! build dir's `.config` (kernels since 4.18), then the caller's fallback (`--cc`). Parsing is pure; [`find_in_path`] is the only
//! file system probe.

use std::path::{Path, PathBuf};

/// Where the compiler choice came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompilerSource {
    /// The bundle's `BUNDLE_COMPILER_VERSION` or `BUNDLE_COMPILER` meta file.
    MetaFile,
    /// `CONFIG_CC_VERSION_TEXT` in `.config`.
    Config,
    /// The caller's fallback (`--cc`).
    Fallback,
}

/// Compiler commands a kernel's compiler text names, most specific first:
/// `gcc-12 (Debian 12.2.0-14) 12.2.0` → `[gcc-12]`; `x86_64-linux-gnu-gcc-12 (Ubuntu ...)` →
/// `[x86_64-linux-gnu-gcc-12, gcc-12]`; `gcc (GCC) 11.4.1 ...` → `[gcc-11, gcc]`;
/// `Ubuntu clang version 14.0.0-1` → `[clang-14, clang]`. Empty for an empty text.
pub fn candidates(text: &str) -> Vec<String> {
    let text = text.trim().trim_matches('"').trim();
    let mut out: Vec<String> = Vec::new();
    if let Some(pos) = text.find("clang version ") {
        let version = &text[pos + "clang version ".len()..];
        if let Some(major) = leading_number(version) {
            out.push(format!("clang-{major}"));
        }
        out.push("clang".into());
        return out;
    }
    let Some(first) = text.split_whitespace().next() else {
        return out;
    };
    if first.chars().any(|c| c == '/' || c.is_control()) {
        return out;
    }
    out.push(first.to_string());
    // A triplet prefix (`x86_64-linux-gnu-gcc-12`) also names the plain command.
    if let Some(pos) = first.rfind("-gcc") {
        out.push(first[pos + 1..].to_string());
    }
    // A bare `gcc` with a version later in the text: prefer the versioned command.
    if first == "gcc" {
        let version = text
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'));
        if let Some(major) = version.and_then(leading_number) {
            out.insert(0, format!("gcc-{major}"));
        }
    }
    out.dedup();
    out
}

fn leading_number(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// `CONFIG_CC_VERSION_TEXT` from the text of a `.config`.
pub fn config_cc_text(config: &str) -> Option<String> {
    config.lines().find_map(|line| {
        line.strip_prefix("CONFIG_CC_VERSION_TEXT=")
            .map(|v| v.trim().trim_matches('"').to_string())
    })
}

/// The kernel's compiler as recorded in the bundle: (text, source). `bundle_root` holds the meta
/// files; `build_dir` the `.config`.
pub fn kernel_compiler_text(
    bundle_root: &Path,
    build_dir: &Path,
) -> Option<(String, CompilerSource)> {
    // The full version text names the most specific command (`x86_64-linux-gnu-gcc-14`).
    for name in ["BUNDLE_COMPILER_VERSION", "BUNDLE_COMPILER"] {
        if let Ok(text) = std::fs::read_to_string(bundle_root.join(name)) {
            if !text.trim().is_empty() {
                return Some((text.trim().to_string(), CompilerSource::MetaFile));
            }
        }
    }
    let config = std::fs::read_to_string(build_dir.join(".config")).ok()?;
    config_cc_text(&config).map(|t| (t, CompilerSource::Config))
}

/// The first executable named `command` on `PATH` (or `command` itself when it holds a `/`).
pub fn find_in_path(command: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if command.contains('/') {
        let p = PathBuf::from(command);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|p| is_exec(p))
}

/// The chosen compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Command passed to kbuild as `CC=`.
    pub command: String,
    /// The kernel's compiler text, when the bundle records one.
    pub kernel_text: Option<String>,
    pub source: CompilerSource,
}

/// Chooses the compiler: the kernel's own when installed, else `fallback`. `Err` names what is
/// missing (the kernel's compiler, and that no fallback was given or it is not installed either).
pub fn choose(
    kernel: Option<(String, CompilerSource)>,
    fallback: Option<&str>,
    installed: &dyn Fn(&str) -> bool,
) -> Result<Choice, String> {
    choose_for(kernel, fallback, installed, &|c| c)
}

/// [`choose`] with the kernel's candidate commands rewritten by `commands` first (a cross build's
/// prefixed compilers, [`super::target::Target::compilers`]).
pub fn choose_for(
    kernel: Option<(String, CompilerSource)>,
    fallback: Option<&str>,
    installed: &dyn Fn(&str) -> bool,
    commands: &dyn Fn(Vec<String>) -> Vec<String>,
) -> Result<Choice, String> {
    if let Some((text, source)) = &kernel {
        if let Some(command) = commands(candidates(text))
            .into_iter()
            .find(|c| installed(c))
        {
            return Ok(Choice {
                command,
                kernel_text: Some(text.clone()),
                source: *source,
            });
        }
    }
    let kernel_text = kernel.as_ref().map(|(t, _)| t.clone());
    match fallback {
        Some(cc) if installed(cc) => Ok(Choice {
            command: cc.to_string(),
            kernel_text,
            source: CompilerSource::Fallback,
        }),
        Some(cc) => Err(format!("compiler {cc} (--cc) is not installed")),
        None => Err(match kernel_text {
            Some(t) => {
                format!("the kernel's compiler ({t}) is not installed and no --cc was given")
            }
            None => "the bundle records no compiler and no --cc was given".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_from_distribution_texts() {
        assert_eq!(
            candidates("gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"),
            ["gcc-12"]
        );
        assert_eq!(
            candidates("x86_64-linux-gnu-gcc-12 (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0"),
            ["x86_64-linux-gnu-gcc-12", "gcc-12"]
        );
        assert_eq!(
            candidates("gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)"),
            ["gcc-11", "gcc"]
        );
        assert_eq!(
            candidates("Ubuntu clang version 14.0.0-1ubuntu1.1"),
            ["clang-14", "clang"]
        );
        assert!(candidates("").is_empty());
        assert!(candidates("/tmp/evil --x").is_empty());
    }

    #[test]
    fn config_text_is_read() {
        let config =
            "# c\nCONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14) 12.2.0\"\nCONFIG_X=y\n";
        assert_eq!(
            config_cc_text(config).as_deref(),
            Some("gcc-12 (Debian 12.2.0-14) 12.2.0")
        );
        assert_eq!(config_cc_text("CONFIG_X=y\n"), None);
    }

    #[test]
    fn kernel_compiler_wins_when_installed_else_fallback() {
        let kernel = Some((
            "gcc-14 (Debian 14.2.0) 14.2.0".to_string(),
            CompilerSource::Config,
        ));
        let only_12 = |c: &str| c == "gcc-12";
        let c = choose(kernel.clone(), Some("gcc-12"), &only_12).unwrap();
        assert_eq!(c.command, "gcc-12");
        assert_eq!(c.source, CompilerSource::Fallback);
        let all = |_: &str| true;
        let c = choose(kernel.clone(), Some("gcc-12"), &all).unwrap();
        assert_eq!(
            (c.command.as_str(), c.source),
            ("gcc-14", CompilerSource::Config)
        );
        let err = choose(kernel, None, &only_12).unwrap_err();
        assert!(err.contains("gcc-14") && err.contains("--cc"), "{err}");
        assert!(choose(None, Some("cc-x"), &only_12)
            .unwrap_err()
            .contains("cc-x"));
    }
}
