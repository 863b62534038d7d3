//! Packing one kernel in a child process under OS limits: defence in depth.
//!
//! [`crate::limits`] bounds everything this project foresees. What nobody foresaw (an allocation
//! abort, a stack overflow or a runaway loop in a dependency) would still kill the process that
//! packs, and with it `pack --missing`, the pack Lambda and the Action. So, once a binary opts in
//! ([`enable`]), [`pack`] runs [`pack_packages`] in a child process of the same executable with
//! `RLIMIT_AS`, `RLIMIT_CPU` and `RLIMIT_CORE=0` set ([`ProcessLimits`]) and a wall-clock timeout;
//! whatever ends the child is an error for that one kernel, and the caller goes on with the others.
//!
//! Protocol: the parent runs its own executable with [`CHILD_ENV`] set, writes one JSON request on
//! the child's stdin and reads one JSON reply from its stdout; the child's stderr (its logs) is
//! passed through. A binary that enables isolation must call [`child_main_if_requested`] at the
//! start of `main`, after setting up logging and before anything else. `KERNEL_PACKER_ISOLATE=0`
//! turns isolation off (packs run in process).

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::{pack_packages, PackOptions, PackedBundle, PackerKind};
use crate::limits::{Limits, ProcessLimits};

/// Set (to `1`) on the child process: it packs one request and exits.
pub const CHILD_ENV: &str = "KERNEL_PACKER_PACK_CHILD";
/// `0` disables isolation for the binaries that enable it by default.
pub const ISOLATE_ENV: &str = "KERNEL_PACKER_ISOLATE";
/// Test hook: a child whose packages' paths contain this variable's value aborts.
pub const TEST_ABORT_ENV: &str = "KERNEL_PACKER_TEST_CHILD_ABORT_ON";
/// Largest reply read from a child.
const MAX_REPLY_BYTES: u64 = 1 << 20;

static EXE: OnceLock<PathBuf> = OnceLock::new();

/// What the parent asks the child to pack.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Request {
    kind: String,
    packages: Vec<PathBuf>,
    out_dir: PathBuf,
    checksum: Option<String>,
    work_dir: Option<PathBuf>,
    limits: Option<Limits>,
    gzip: Option<(u32, usize)>,
}

/// The child's answer.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Reply {
    Packed(Box<PackedBundle>),
    Failed(String),
}

/// Makes [`pack`] run packs in children of `exe` (an executable that calls
/// [`child_main_if_requested`]). The first call wins.
pub fn enable(exe: PathBuf) {
    let _ = EXE.set(exe);
}

/// [`enable`] with this process's own executable, unless `KERNEL_PACKER_ISOLATE=0`.
pub fn enable_current_exe() {
    if std::env::var(ISOLATE_ENV).is_ok_and(|v| v == "0") {
        return;
    }
    match std::env::current_exe() {
        Ok(exe) => enable(exe),
        Err(e) => tracing::warn!(error = %e, "cannot find the own executable: packing in process"),
    }
}

/// In a child started by [`pack`]: packs the request read from stdin, writes the reply to
/// stdout and exits. Otherwise returns at once.
pub fn child_main_if_requested() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let code = match run_child() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: pack child: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run_child() -> Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_REPLY_BYTES)
        .read_to_string(&mut input)
        .context("reading the request")?;
    let request: Request = serde_json::from_str(&input).context("parsing the request")?;
    let kind: PackerKind = request.kind.parse()?;
    // Test hook (tests/pack_isolated.rs): abort like a dependency's failed allocation would, when
    // a package path contains the given text. Only a child ever reads it.
    if let Ok(text) = std::env::var(TEST_ABORT_ENV) {
        if !text.is_empty()
            && request
                .packages
                .iter()
                .any(|p| p.to_string_lossy().contains(&text))
        {
            std::process::abort();
        }
    }
    let opts = PackOptions {
        checksum: request.checksum,
        work_dir: request.work_dir,
        limits: request.limits,
        gzip: request
            .gzip
            .map(|(level, threads)| super::bundle::GzipSettings { level, threads }),
    };
    let reply = match pack_packages(kind, &request.packages, &request.out_dir, &opts) {
        Ok(bundle) => Reply::Packed(Box::new(bundle)),
        Err(e) => Reply::Failed(format!("{e:#}")),
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &reply)?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    Ok(())
}

/// [`pack_packages`], in a child process under [`ProcessLimits::from_env`] when isolation is
/// enabled, else in process.
pub fn pack(
    kind: PackerKind,
    packages: &[PathBuf],
    out_dir: &Path,
    opts: &PackOptions,
) -> Result<PackedBundle> {
    match EXE.get() {
        Some(exe) => pack_in_child(
            exe,
            kind,
            packages,
            out_dir,
            opts,
            ProcessLimits::from_env(),
        ),
        None => pack_packages(kind, packages, out_dir, opts),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type RlimitResource = libc::c_int;

/// Sets one resource limit (soft and hard); async-signal-safe (runs between fork and exec).
fn set_limit(resource: RlimitResource, soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs [`pack_packages`] in a child of `exe` under `limits` (module docs).
pub fn pack_in_child(
    exe: &Path,
    kind: PackerKind,
    packages: &[PathBuf],
    out_dir: &Path,
    opts: &PackOptions,
    limits: ProcessLimits,
) -> Result<PackedBundle> {
    let names = || {
        packages
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let request = Request {
        kind: kind.as_str().to_string(),
        packages: packages.to_vec(),
        out_dir: out_dir.to_path_buf(),
        checksum: opts.checksum.clone(),
        work_dir: opts.work_dir.clone(),
        limits: Some(opts.limits.unwrap_or_else(Limits::from_env)),
        gzip: opts.gzip.map(|g| (g.level, g.threads)),
    };
    let mut command = Command::new(exe);
    command
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let ProcessLimits {
        memory_bytes,
        cpu_seconds,
        ..
    } = limits;
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            set_limit(libc::RLIMIT_AS, memory_bytes, memory_bytes)?;
            set_limit(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds.saturating_add(5))?;
            set_limit(libc::RLIMIT_CORE, 0, 0)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start the pack process {}", exe.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut reply = Vec::new();
        let _ = (&mut stdout).take(MAX_REPLY_BYTES).read_to_end(&mut reply);
        // Drain the rest so the child never blocks on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        reply
    });
    // A child that died early closes its stdin: the write error is reported through its status.
    let _ = serde_json::to_writer(&mut stdin, &request);
    drop(stdin);
    let started = Instant::now();
    let deadline = Duration::from_secs(limits.wall_seconds);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            bail!(
                "packing {} took longer than {} s and was stopped ({} to raise)",
                names(),
                limits.wall_seconds,
                ProcessLimits::WALL_ENV
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let reply = reader.join().unwrap_or_default();
    if let Some(signal) = status.signal() {
        let why = match signal {
            libc::SIGXCPU | libc::SIGKILL => format!(
                "CPU limit of {cpu_seconds} s reached? ({} to raise)",
                ProcessLimits::CPU_ENV
            ),
            libc::SIGABRT | libc::SIGSEGV | libc::SIGBUS => format!(
                "an allocation past its memory limit of {memory_bytes} bytes ({} to raise), \
                 or a crash in a parser",
                ProcessLimits::MEMORY_ENV
            ),
            _ => "unexpected signal".to_string(),
        };
        bail!(
            "packing {}: the pack process was killed by signal {signal} ({why})",
            names()
        );
    }
    let text = String::from_utf8_lossy(&reply);
    match serde_json::from_str::<Reply>(text.trim()) {
        Ok(Reply::Packed(bundle)) => Ok(*bundle),
        Ok(Reply::Failed(message)) => Err(anyhow!(message)),
        Err(_) => bail!(
            "packing {}: the pack process exited with {status} without a result",
            names()
        ),
    }
}
