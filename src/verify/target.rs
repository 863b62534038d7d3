//! The machine a bundle is for, and how kbuild builds for it here: natively when `BUNDLE_ARCH` is
//! this machine's, else cross (an arm64 bundle on amd64).
//!
//! A cross build needs two things: the cross compiler for the kernel's compiler version
//! (`aarch64-linux-gnu-gcc-12` for `gcc-12 (Debian ...)`, from `gcc-aarch64-linux-gnu`), passed
//! with `ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-`; and a way to run the bundle's host tools
//! (`fixdep`, `modpost` are aarch64 binaries, as an arm64 host needs them): qemu-user registered
//! with binfmt_misc, with `QEMU_LD_PREFIX` naming the cross libc (`/usr/aarch64-linux-gnu`).
//! [`Target::host_tools_run`] probes the latter by running the bundle's own `fixdep`. Without
//! either, the module check is skipped with the reason (the entry is `unverified`), never failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::pack::arch::Arch;

/// ELF `e_machine` of x86-64 objects.
pub const EM_X86_64: u16 = 62;
/// ELF `e_machine` of AArch64 objects.
pub const EM_AARCH64: u16 = 183;

/// How to build for one bundle's architecture on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `BUNDLE_ARCH`.
    pub arch: Arch,
    /// Set when `arch` is not this machine's.
    pub cross: Option<Cross>,
}

/// A cross build's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cross {
    /// kbuild's `ARCH=`.
    pub kbuild_arch: &'static str,
    /// `CROSS_COMPILE=` and the compiler command prefix.
    pub prefix: &'static str,
    /// `QEMU_LD_PREFIX`: the target's libc root, for dynamically linked host tools.
    pub ld_prefix: PathBuf,
}

impl Target {
    /// The target for a bundle of `arch` built on `host` (`None`: an unknown machine, treated as
    /// foreign to every bundle).
    pub fn new(arch: Arch, host: Option<Arch>) -> Target {
        let cross = (host != Some(arch)).then(|| match arch {
            Arch::Arm64 => Cross {
                kbuild_arch: "arm64",
                prefix: "aarch64-linux-gnu-",
                ld_prefix: PathBuf::from("/usr/aarch64-linux-gnu"),
            },
            Arch::Amd64 => Cross {
                kbuild_arch: "x86_64",
                prefix: "x86_64-linux-gnu-",
                ld_prefix: PathBuf::from("/usr/x86_64-linux-gnu"),
            },
        });
        Target { arch, cross }
    }

    /// The ELF machine the module must have.
    pub fn elf_machine(&self) -> u16 {
        match self.arch {
            Arch::Amd64 => EM_X86_64,
            Arch::Arm64 => EM_AARCH64,
        }
    }

    /// Compiler commands for the kernel's `candidates` (most specific first): unchanged natively;
    /// cross, gcc commands get the target prefix (any other triplet replaced) and clang stays (kbuild
    /// derives clang's `--target` from `CROSS_COMPILE`).
    pub fn compilers(&self, candidates: Vec<String>) -> Vec<String> {
        let Some(cross) = &self.cross else {
            return candidates;
        };
        let mut out: Vec<String> = Vec::new();
        for c in candidates {
            let c = if c.starts_with("clang") {
                c
            } else {
                let bare = c.rsplit_once("-linux-gnu-").map_or(c.as_str(), |(_, b)| b);
                format!("{}{bare}", cross.prefix)
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The clang command for the eBPF canary's IR step: cross, with `--target=` the bundle's triplet
    /// (the arch headers' inline assembly must parse for their machine; llc then lowers to BPF).
    pub fn clang(&self, clang: &str) -> String {
        match &self.cross {
            Some(c) => format!("{clang} --target={}", c.prefix.trim_end_matches('-')),
            None => clang.to_string(),
        }
    }

    /// Extra `make` arguments.
    pub fn make_args(&self) -> Vec<String> {
        match &self.cross {
            Some(c) => vec![
                format!("ARCH={}", c.kbuild_arch),
                format!("CROSS_COMPILE={}", c.prefix),
            ],
            None => Vec::new(),
        }
    }

    /// Extra environment for `make`.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        match &self.cross {
            Some(c) => vec![("QEMU_LD_PREFIX", c.ld_prefix.clone())],
            None => Vec::new(),
        }
    }

    /// Whether the bundle's host tools run here: always natively; cross, `fixdep` (in `build_dir`)
    /// is started through binfmt_misc. `Err` says what is missing.
    pub fn host_tools_run(&self, build_dir: &Path) -> Result<(), String> {
        let Some(cross) = &self.cross else {
            return Ok(());
        };
        let needs = format!(
            "needs the {} cross toolchain: the bundle's {} host tools must run here through \
             qemu-user registered with binfmt_misc (scripts/setup.d/70-arm64.sh)",
            self.arch, self.arch
        );
        if !cross.ld_prefix.is_dir() {
            return Err(format!(
                "{needs}; {} (the cross libc) is missing",
                cross.ld_prefix.display()
            ));
        }
        let fixdep = build_dir.join("scripts/basic/fixdep");
        // fixdep without arguments prints its usage and exits 1: started is all that counts.
        match Command::new(&fixdep)
            .env_clear()
            .env("QEMU_LD_PREFIX", &cross.ld_prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(status) if status.code().is_some() => Ok(()),
            Ok(status) => Err(format!("{needs}; {} ended by {status}", fixdep.display())),
            Err(e) => Err(format!("{needs}; cannot run {}: {e}", fixdep.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_targets_change_nothing() {
        let t = Target::new(Arch::Amd64, Some(Arch::Amd64));
        assert_eq!(t.cross, None);
        assert_eq!(t.compilers(vec!["gcc-12".into()]), ["gcc-12"]);
        assert!(t.make_args().is_empty() && t.env().is_empty());
        assert_eq!(t.elf_machine(), EM_X86_64);
        assert_eq!(t.host_tools_run(Path::new("/nonexistent")), Ok(()));
    }

    #[test]
    fn arm64_on_amd64_is_a_cross_build() {
        let t = Target::new(Arch::Arm64, Some(Arch::Amd64));
        assert_eq!(
            t.compilers(vec![
                "x86_64-linux-gnu-gcc-12".into(),
                "gcc-12".into(),
                "clang-14".into()
            ]),
            ["aarch64-linux-gnu-gcc-12", "clang-14"]
        );
        assert_eq!(
            t.make_args(),
            ["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"]
        );
        assert_eq!(t.elf_machine(), EM_AARCH64);
        assert_eq!(t.clang("clang"), "clang --target=aarch64-linux-gnu");
        let err = t
            .host_tools_run(Path::new("/nonexistent/build"))
            .unwrap_err();
        assert!(err.contains("needs the arm64 cross toolchain"), "{err}");
    }
}
