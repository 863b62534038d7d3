//! `verify`: proves a bundle builds what consumers build before it is published.
//!
//! [`verify_bundle`] takes a bundle (`.tgz`, unpacked safely into a scratch dir through the
//! project's extractor, or an already unpacked directory), then builds the embedded canaries
//! ([`canary`]) against it with kbuild, in parallel:
//! - the module with the kernel's own compiler when it is installed (the `BUNDLE_COMPILER_VERSION` meta
//!   file, else `CONFIG_CC_VERSION_TEXT`), else the caller's fallback (`--cc`); its `vermagic` must
//!   start with `BUNDLE_UNAME`;
//! - the eBPF object with clang + llc, include paths and CPP flags taken from kbuild itself; the
//!   result must be an eBPF ELF object.
//!
//! Both target the bundle's `BUNDLE_ARCH` ([`target`]): an arm64 bundle on amd64 is a cross build
//! (`ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-`, the kernel's gcc version's cross compiler, the
//! bundle's aarch64 host tools through qemu-user binfmt), and the `.ko` must be an ELF object of
//! the bundle's machine.
//!
//! A check that cannot run (no compiler, no clang, host tools that cannot run here) is `skipped`
//! with the reason; a build that runs
//! and fails is `failed` with the first compiler error. [`VerifyReport::outcome`] sums this up as
//! verified / unverified / failed, and [`VerifyReport::index_record`] is what the index stores.
//! The make subprocesses run with a cleared environment (PATH and a C locale only) in the scratch
//! dir; nothing is written outside it (or, for a directory input, outside the canary build dirs).

pub mod canary;
pub mod compiler;
pub mod objects;
pub mod target;

use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use compiler::CompilerSource;

use crate::index::Verification;
use crate::pack::arch::Arch;
use target::Target;

/// Knobs of one verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Compiler used when the kernel's own is not installed (`--cc`).
    pub cc: Option<String>,
    /// clang command for the eBPF object.
    pub clang: String,
    /// llc command for the eBPF object.
    pub llc: String,
    /// Build the eBPF object too.
    pub ebpf: bool,
    /// Parent of the scratch dir (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Keep the scratch dir (its path is in the report).
    pub keep: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            cc: None,
            clang: "clang".into(),
            llc: "llc".into(),
            ebpf: true,
            work_dir: None,
            keep: false,
        }
    }
}

/// State of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Could not run here (no toolchain); `detail` says why.
    Skipped,
}

/// One canary build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub status: CheckStatus,
    /// Wall time of the build in seconds.
    pub seconds: f64,
    /// Passed: what was checked (the vermagic, the object); failed: the first error; skipped: why.
    pub detail: String,
}

impl Check {
    fn skipped(reason: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Skipped,
            seconds: 0.0,
            detail: reason.into(),
        }
    }
}

/// What [`verify_bundle`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The bundle as given.
    pub bundle: String,
    /// BUNDLE_UNAME.
    pub uname: String,
    /// Compiler command used for the module (`CC=`), when one was found.
    pub compiler: Option<String>,
    /// Where that choice came from.
    pub compiler_source: Option<CompilerSource>,
    /// The kernel's own compiler text, when the bundle records it.
    pub kernel_compiler: Option<String>,
    /// Seconds spent unpacking (0 for a directory).
    pub unpack_seconds: f64,
    pub module: Check,
    pub ebpf: Check,
    /// Scratch dir, when kept.
    pub scratch: Option<PathBuf>,
}

/// The sum of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The module built (and the eBPF object, unless it was skipped).
    Verified,
    /// Nothing failed, but the module could not be built here.
    Unverified(String),
    /// A build failed: the first error, prefixed with the check (`module: ...`).
    Failed(String),
}

impl VerifyReport {
    /// Verified, unverified (with the reason) or failed (with the first error).
    pub fn outcome(&self) -> Outcome {
        for (name, check) in [("module", &self.module), ("ebpf", &self.ebpf)] {
            if check.status == CheckStatus::Failed {
                return Outcome::Failed(format!("{name}: {}", check.detail));
            }
        }
        match self.module.status {
            CheckStatus::Passed => Outcome::Verified,
            _ => Outcome::Unverified(format!("module: {}", self.module.detail)),
        }
    }

    /// What the index records for this report (`None` when it failed: nothing is published).
    pub fn index_record(&self) -> Option<Verification> {
        match self.outcome() {
            Outcome::Verified => Some(Verification::Verified {
                module: true,
                ebpf: self.ebpf.status == CheckStatus::Passed,
                compiler: self.compiler.clone().unwrap_or_default(),
            }),
            Outcome::Unverified(reason) => Some(Verification::Unverified { reason }),
            Outcome::Failed(_) => None,
        }
    }
}

/// Verifies the bundle at `path` (a `.tgz` or an unpacked bundle directory). `Err` only when the
/// bundle cannot be read (not a bundle, unsafe archive, missing meta files); build failures are in
/// the report.
pub fn verify_bundle(path: &Path, opts: &VerifyOptions) -> Result<VerifyReport> {
    let parent = opts.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent).with_context(|| format!("create {}", parent.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("kernel-packer-verify-")
        .tempdir_in(&parent)
        .with_context(|| format!("create a scratch dir in {}", parent.display()))?;
    let started = Instant::now();
    let root = if path.is_dir() {
        path.to_path_buf()
    } else {
        let root = scratch.path().join("bundle");
        crate::pack::materialize::unpack_to_dir(path, &root, scratch.path())?;
        root
    };
    let unpack_seconds = if path.is_dir() {
        0.0
    } else {
        started.elapsed().as_secs_f64()
    };
    let uname = read_meta(&root, "BUNDLE_UNAME")?;
    let build_dir = build_dir(&root)?;
    let arch = match read_meta(&root, "BUNDLE_ARCH") {
        Ok(a) => Arch::parse(&a)
            .with_context(|| format!("{}: unknown BUNDLE_ARCH {a:?}", root.display()))?,
        // Bundles from before architectures were recorded are amd64.
        Err(_) => Arch::Amd64,
    };
    let target = Target::new(arch, Arch::host());

    let kernel = compiler::kernel_compiler_text(&root, &build_dir);
    let installed = |c: &str| compiler::find_in_path(c).is_some();
    let choice = if !installed("make") {
        Err("make is not installed".to_string())
    } else if let Err(reason) = target.host_tools_run(&build_dir) {
        Err(reason)
    } else {
        compiler::choose_for(kernel.clone(), opts.cc.as_deref(), &installed, &|c| {
            target.compilers(c)
        })
        .map_err(|e| match &target.cross {
            Some(_) => format!("needs the {arch} cross toolchain: {e}"),
            None => e,
        })
    };

    let (module, ebpf) = std::thread::scope(|s| {
        let module = s.spawn(|| match &choice {
            Ok(c) => build_module(
                &build_dir,
                &scratch.path().join("module"),
                &c.command,
                &uname,
                &target,
            ),
            Err(reason) => Check::skipped(reason.clone()),
        });
        let ebpf = s.spawn(|| {
            if !opts.ebpf {
                return Check::skipped("not requested");
            }
            for tool in ["make", &opts.clang, &opts.llc] {
                if !installed(tool) {
                    return Check::skipped(format!("{tool} is not installed"));
                }
            }
            if let Err(reason) = target.host_tools_run(&build_dir) {
                return Check::skipped(reason);
            }
            let cc = choice.as_ref().map(|c| c.command.as_str()).ok();
            build_ebpf(&build_dir, &scratch.path().join("ebpf"), cc, opts, &target)
        });
        (
            module.join().expect("module build thread panicked"),
            ebpf.join().expect("eBPF build thread panicked"),
        )
    });

    let (compiler, compiler_source) = match &choice {
        Ok(c) => (Some(c.command.clone()), Some(c.source)),
        Err(_) => (None, None),
    };
    let scratch_path = if opts.keep {
        Some(scratch.keep())
    } else {
        None
    };
    Ok(VerifyReport {
        bundle: path.display().to_string(),
        uname,
        compiler,
        compiler_source,
        kernel_compiler: kernel.map(|(t, _)| t),
        unpack_seconds,
        module,
        ebpf,
        scratch: scratch_path,
    })
}

/// A `BUNDLE_*` meta file's value.
fn read_meta(root: &Path, name: &str) -> Result<String> {
    let path = root.join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: not a bundle (no {name})", root.display()))?;
    Ok(text.trim().to_string())
}

/// `<root>/<BUNDLE_BUILD_DIR>`, refusing a value that leaves the bundle.
fn build_dir(root: &Path) -> Result<PathBuf> {
    let rel = read_meta(root, "BUNDLE_BUILD_DIR")?;
    let rel_path = Path::new(&rel);
    if rel_path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        bail!("BUNDLE_BUILD_DIR {rel:?} leaves the bundle");
    }
    let dir = root.join(rel_path);
    let real = dir
        .canonicalize()
        .with_context(|| format!("build dir {} does not exist", dir.display()))?;
    let real_root = root.canonicalize()?;
    if !real.starts_with(&real_root) {
        bail!("BUNDLE_BUILD_DIR {rel:?} resolves outside the bundle");
    }
    Ok(dir)
}

/// Runs `make -C build_dir M=src_dir <target args> <args>` with a cleared environment (plus the
/// target's); (success, log).
fn run_make(
    build_dir: &Path,
    src_dir: &Path,
    target: &Target,
    args: &[String],
) -> Result<(bool, String)> {
    let output = Command::new("make")
        .arg("-C")
        .arg(build_dir)
        .arg(format!("M={}", src_dir.display()))
        .args(target.make_args())
        .args(args)
        .current_dir(src_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C")
        .env("HOME", src_dir)
        .envs(target.env())
        .output()
        .context("cannot run make")?;
    let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), log))
}

fn build_module(build_dir: &Path, dir: &Path, cc: &str, uname: &str, target: &Target) -> Check {
    let started = Instant::now();
    let result = (|| -> Result<std::result::Result<String, String>> {
        canary::write(canary::MODULE, dir)?;
        let (ok, log) = run_make(
            build_dir,
            dir,
            target,
            &[format!("CC={cc}"), "modules".into()],
        )?;
        if !ok {
            return Ok(Err(objects::first_error(&log)));
        }
        let ko = dir.join(canary::MODULE_OBJECT);
        let bytes = match std::fs::read(&ko) {
            Ok(b) => b,
            Err(_) => {
                return Ok(Err(format!(
                    "make succeeded but built no {}",
                    canary::MODULE_OBJECT
                )))
            }
        };
        let Some(vermagic) = objects::vermagic(&bytes) else {
            return Ok(Err(format!("{} has no vermagic", canary::MODULE_OBJECT)));
        };
        if vermagic.split_whitespace().next() != Some(uname) {
            return Ok(Err(format!(
                "vermagic {vermagic:?} does not match BUNDLE_UNAME {uname}"
            )));
        }
        let machine = objects::elf_machine(&bytes);
        if machine != Some(target.elf_machine()) {
            return Ok(Err(format!(
                "{} is not an {} object (ELF machine {machine:?})",
                canary::MODULE_OBJECT,
                target.arch
            )));
        }
        Ok(Ok(format!(
            "vermagic {}, {} ELF",
            vermagic.trim(),
            target.arch
        )))
    })();
    finish(started, result)
}

fn build_ebpf(
    build_dir: &Path,
    dir: &Path,
    cc: Option<&str>,
    opts: &VerifyOptions,
    target: &Target,
) -> Check {
    let started = Instant::now();
    let result = (|| -> Result<std::result::Result<String, String>> {
        canary::write(canary::EBPF, dir)?;
        let mut args = vec![
            format!("CLANG={}", target.clang(&opts.clang)),
            format!("LLC={}", opts.llc),
        ];
        if let Some(cc) = cc {
            args.push(format!("CC={cc}"));
        }
        let (ok, log) = run_make(build_dir, dir, target, &args)?;
        if !ok {
            return Ok(Err(objects::first_error(&log)));
        }
        let obj = dir.join(canary::EBPF_OBJECT);
        let bytes = match std::fs::read(&obj) {
            Ok(b) => b,
            Err(_) => {
                return Ok(Err(format!(
                    "make succeeded but built no {}",
                    canary::EBPF_OBJECT
                )))
            }
        };
        match objects::elf_machine(&bytes) {
            Some(objects::EM_BPF) => Ok(Ok(format!(
                "{} is an eBPF ELF object ({} bytes)",
                canary::EBPF_OBJECT,
                bytes.len()
            ))),
            other => Ok(Err(format!(
                "{} is not an eBPF object (ELF machine {other:?})",
                canary::EBPF_OBJECT
            ))),
        }
    })();
    finish(started, result)
}

fn finish(started: Instant, result: Result<std::result::Result<String, String>>) -> Check {
    let (status, detail) = match result {
        Ok(Ok(detail)) => (CheckStatus::Passed, detail),
        Ok(Err(error)) => (CheckStatus::Failed, error),
        Err(error) => (CheckStatus::Failed, format!("{error:#}")),
    };
    Check {
        status,
        seconds: started.elapsed().as_secs_f64(),
        detail,
    }
}
