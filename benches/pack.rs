//! Pack benchmark: the real Debian header set, packed by kernel-packer and, in the same run, the
//! plain shell way (`dpkg -x` ×3, relative build/source links,
//! `tar --dereference --hard-dereference | pigz -9`). Prints wall times, sizes, ratios and the peak
//! RSS of the in-process pack. Run: `cargo bench --bench pack` (fetches the packages first).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kernel_packer::pack::PackerKind;

#[path = "../tests/support/mod.rs"]
mod support;

const ROUNDS: usize = 3;

fn main() {
    let packages = support::debian_packages();
    let input: u64 = packages
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "input: {} packages, {:.1} MB",
        packages.len(),
        input as f64 / 1e6
    );

    let mut ours = Vec::new();
    let mut our_size = 0;
    for _ in 0..ROUNDS {
        let out = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let packed = support::pack_ok(PackerKind::Debian, &packages, out.path());
        ours.push(started.elapsed());
        our_size = packed.size;
    }
    let peak_rss_kb = peak_rss_kb();

    let mut shell = Vec::new();
    let mut shell_size = 0;
    for _ in 0..ROUNDS {
        let (elapsed, size) = shell_way(&packages);
        shell.push(elapsed);
        shell_size = size;
    }
    let ours_best = *ours.iter().min().unwrap();
    let shell_best = *shell.iter().min().unwrap();
    println!(
        "kernel-packer: best {:.2}s of {ROUNDS} ({}), bundle {:.1} MB, peak RSS {:.0} MB",
        ours_best.as_secs_f64(),
        fmt_all(&ours),
        our_size as f64 / 1e6,
        peak_rss_kb as f64 / 1024.0
    );
    println!(
        "shell way:     best {:.2}s of {ROUNDS} ({}), bundle {:.1} MB",
        shell_best.as_secs_f64(),
        fmt_all(&shell),
        shell_size as f64 / 1e6
    );
    println!(
        "ratios (kernel-packer / shell): wall {:.3}x, size {:.3}x",
        ours_best.as_secs_f64() / shell_best.as_secs_f64(),
        our_size as f64 / shell_size as f64
    );
}

fn fmt_all(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| format!("{:.2}s", t.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plain shell way the seed used; returns (wall time, bundle size).
fn shell_way(packages: &[PathBuf]) -> (Duration, u64) {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    fs::create_dir(&tree).unwrap();
    let bundle = work.path().join("bundle.tgz");
    let debs: Vec<String> = packages.iter().map(|p| shell_quote(p)).collect();
    let script = format!(
        r#"set -e
cd {tree}
for deb in {debs}; do dpkg -x "$deb" .; done
for link in lib/modules/*/build lib/modules/*/source; do ln -sfnr ".$(readlink "$link")" "$link"; done
tar --dereference --hard-dereference -cf - . | pigz -9 > {bundle}
"#,
        tree = shell_quote(&tree),
        debs = debs.join(" "),
        bundle = shell_quote(&bundle),
    );
    let started = Instant::now();
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "shell way failed");
    (elapsed, fs::metadata(&bundle).unwrap().len())
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Peak resident set size of this process (VmHWM), in kB.
fn peak_rss_kb() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
