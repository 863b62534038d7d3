//! Live: the newest kernel of Debian oldstable, stable and unstable, fetched from the real archive
//! (the mirror apt is configured with, read at run time), packed by the project, unpacked at
//! `/opt/k` (not `/usr/src`) inside a minimal debootstrap root of the kernel's own release that
//! holds exactly what the bundle's meta files say a build needs (plus `make`, `libc6-dev`,
//! `kmod`), and built against there with the kernel's own compiler: the project's canary module
//! (`canary/module/`: kprobe, tracepoint probe, netfilter hook, procfs, workqueue), whose vermagic
//! must be BUNDLE_UNAME. Downloads and roots are cached by content under
//! `~/.cache/kernel-packer-tests/debian-live/` (see `tests/debian-live.sh`); the three releases
//! run in parallel. Timings are printed (`--nocapture` to see them).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use kernel_packer::verify::canary;
use support::{meta, repo_root, run, unpack_bundle};

/// What `tests/debian-live.sh fetch` found.
struct Fetched {
    codename: String,
    release: String,
    /// The arch and kbuild packages' Depends relations, as apt states them.
    depends: Vec<String>,
    debs: Vec<PathBuf>,
}

/// One release's measurements.
struct Outcome {
    alias: &'static str,
    codename: String,
    uname: String,
    compiler: String,
    bundle_bytes: u64,
    package_bytes: u64,
    fetch: Duration,
    pack: Duration,
    root: Duration,
    root_created_seconds: String,
    /// Unpack at /opt/k plus build, in the root.
    unpack_and_build: Duration,
    build: Duration,
    /// Unpack elsewhere plus the relocatable check.
    check: Duration,
}

fn script() -> Command {
    let mut command = Command::new("bash");
    command.arg(repo_root().join("tests/debian-live.sh"));
    command
}

fn fetch(alias: &str) -> Fetched {
    let out = run(script().args(["fetch", alias]));
    let mut fields: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in out.lines() {
        let (key, value) = line.split_once('=').expect("key=value line");
        fields.entry(key).or_default().push(value.to_string());
    }
    let one = |key: &str| fields[key][0].clone();
    Fetched {
        codename: one("codename"),
        release: one("release"),
        depends: fields["depends"]
            .iter()
            .flat_map(|d| d.split(','))
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
        debs: fields["deb"].iter().map(PathBuf::from).collect(),
    }
}

/// Debian package names to install for a BUNDLE_HOST_REQUIREMENTS value: each line's first
/// alternative, without version or architecture.
fn package_names(requirements: &str) -> Vec<String> {
    requirements
        .lines()
        .filter_map(|line| line.split('|').next()?.split_whitespace().next())
        .map(|name| name.split(':').next().unwrap_or(name).to_string())
        .collect()
}

/// Run by `debian-live.sh with-root` (root in `KP_ROOT`) inside `unshare --mount`: unpacks
/// `bundle` at `/opt/k` and `module`'s files at `/opt/m` in the root, builds the module there in
/// `chroot` with a clean environment, prints `build_ms=` and `vermagic=` of `object`, and copies
/// `object` back into `module`. What it mounts (`/proc`, which objtool reads, and a tmpfs on `/opt`) lives
/// in the private mount namespace and disappears with it: the cached root is never written.
const BUILD_IN_ROOT: &str = r#"set -eu
root="$KP_ROOT" bundle="$1" module="$2" object="$3"
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/opt"
mkdir "$root/opt/k" "$root/opt/m"
tar -xzf "$bundle" -C "$root/opt/k"
cp "$module"/* "$root/opt/m/"
in_root() {
  chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LC_ALL=C sh -c "$1"
}
start=$(date +%s%N)
in_root 'make -C "/opt/k/$(cat /opt/k/BUNDLE_BUILD_DIR)" M=/opt/m modules' >&2
echo "build_ms=$(( ($(date +%s%N) - start) / 1000000 ))"
echo "vermagic=$(in_root "modinfo -F vermagic /opt/m/$object")"
cp "$root/opt/m/$object" "$module/"
"#;

/// The value of the first `<key><value>` line of `output`.
fn value(output: &str, key: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {output}"))
        .to_string()
}

fn check_release(alias: &'static str) -> Outcome {
    let started = Instant::now();
    let fetched = fetch(alias);
    let fetch_time = started.elapsed();
    let package_bytes = fetched
        .debs
        .iter()
        .map(|d| fs::metadata(d).unwrap().len())
        .sum();
    let arch_deb = fetched.debs[0].file_name().unwrap().to_string_lossy();
    let expected_uname = arch_deb
        .strip_prefix("linux-headers-")
        .and_then(|n| n.split('_').next())
        .expect("arch package file name")
        .to_string();

    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Debian,
        &fetched.debs,
        out.path(),
        &PackOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{alias}: pack failed: {e:#}"));
    let pack_time = started.elapsed();
    assert_eq!(packed.uname, expected_uname, "{alias}");

    // The meta files (read with the system tar) against the archive's own statements (apt, not
    // the packer's deb reader).
    let check = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&packed.path)
        .arg("-C")
        .arg(check.path())
        .args(["--wildcards", "BUNDLE_*"]));
    let uname = meta(check.path(), "BUNDLE_UNAME");
    let compiler = meta(check.path(), "BUNDLE_COMPILER");
    let compiler_version = meta(check.path(), "BUNDLE_COMPILER_VERSION");
    let requirements = meta(check.path(), "BUNDLE_HOST_REQUIREMENTS");
    let build_dir = meta(check.path(), "BUNDLE_BUILD_DIR");
    assert_eq!(uname, expected_uname, "{alias}");
    let major = compiler
        .strip_prefix("gcc-")
        .unwrap_or_else(|| panic!("{alias}: BUNDLE_COMPILER {compiler:?} is not gcc-N"));
    assert!(
        compiler_version.contains(&format!(" {major}.")),
        "{alias}: {compiler_version:?} is not {compiler}"
    );
    assert!(
        fetched
            .depends
            .iter()
            .any(|d| d.contains(&format!("gcc-{major}"))),
        "{alias}: the arch package's Depends name no {compiler}: {:?}",
        fetched.depends
    );
    let lines: Vec<&str> = requirements.lines().collect();
    for relation in &fetched.depends {
        let name = relation.split_whitespace().next().unwrap();
        let not_a_host_tool = [
            "linux-base",
            "linux-image-",
            "linux-headers-",
            "linux-kbuild-",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix));
        if !not_a_host_tool {
            assert!(
                lines.contains(&relation.as_str()),
                "{alias}: {relation:?} missing from BUNDLE_HOST_REQUIREMENTS:\n{requirements}"
            );
        }
    }
    drop(check);

    // The release's own userland with exactly what the meta files name.
    let mut packages = package_names(&requirements);
    packages.extend(["make", "libc6-dev", "kmod"].map(String::from));
    let scratch = tempfile::tempdir().unwrap();
    let module = scratch.path().join("module");
    canary::write(canary::MODULE, &module).unwrap();
    let started = Instant::now();
    let output = run(script()
        .args(["with-root", &fetched.codename, &fetched.release])
        .args(&packages)
        .arg("--")
        .args(["unshare", "--mount", "--propagation", "private"])
        .args(["sh", "-c", BUILD_IN_ROOT, "sh"])
        .arg(&packed.path)
        .arg(&module)
        .arg(canary::MODULE_OBJECT));
    let total = started.elapsed();
    let root = PathBuf::from(value(&output, "root="));
    let root_time = Duration::from_millis(value(&output, "root_ms=").parse().unwrap());
    let root_created_seconds = fs::read_to_string(root.join(".seconds"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let vermagic = value(&output, "vermagic=");
    assert_eq!(
        vermagic.split_whitespace().next(),
        Some(uname.as_str()),
        "{alias}: vermagic {vermagic:?}"
    );
    let build_time = Duration::from_millis(value(&output, "build_ms=").parse().unwrap());

    // The bundle, unpacked by the system tar elsewhere, is relocatable; BTF needs pahole.
    let started = Instant::now();
    let unpacked = tempfile::tempdir().unwrap();
    unpack_bundle(&packed.path, unpacked.path());
    let check_time = started.elapsed();
    let ships_vmlinux = unpacked.path().join(&build_dir).join("vmlinux").exists();
    if ships_vmlinux {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().next() == Some("pahole")),
            "{alias}: ships vmlinux, but BUNDLE_HOST_REQUIREMENTS has no pahole"
        );
        let sections = run(Command::new("readelf")
            .args(["-S", "--wide"])
            .arg(module.join(canary::MODULE_OBJECT)));
        assert!(
            sections.contains(" .BTF "),
            "{alias}: no .BTF section in the module although the bundle ships vmlinux:\n{sections}"
        );
    }

    Outcome {
        alias,
        codename: fetched.codename,
        uname,
        compiler,
        bundle_bytes: packed.size,
        package_bytes,
        fetch: fetch_time,
        pack: pack_time,
        root: root_time,
        root_created_seconds,
        unpack_and_build: total - root_time,
        build: build_time,
        check: check_time,
    }
}

#[test]
fn newest_debian_kernels_pack_and_build_a_module_in_their_own_userland() {
    let started = Instant::now();
    let handles: Vec<_> = ["oldstable", "stable", "unstable"]
        .into_iter()
        .map(|alias| (alias, std::thread::spawn(move || check_release(alias))))
        .collect();
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for (alias, handle) in handles {
        match handle.join() {
            Ok(outcome) => outcomes.push(outcome),
            Err(panic) => failures.push(format!(
                "{alias}: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        }
    }
    eprintln!(
        "{:<10} {:<9} {:<24} {:<7} {:>9} {:>9} {:>7} {:>7} {:>13} {:>14} {:>7} {:>7}",
        "release",
        "codename",
        "uname",
        "cc",
        "debs MB",
        "bundle MB",
        "fetch s",
        "pack s",
        "root s (made)",
        "unpack+build s",
        "build s",
        "check s"
    );
    for o in &outcomes {
        eprintln!(
            "{:<10} {:<9} {:<24} {:<7} {:>9.1} {:>9.1} {:>7.1} {:>7.1} {:>13} {:>14.1} {:>7.1} {:>7.1}",
            o.alias,
            o.codename,
            o.uname,
            o.compiler,
            o.package_bytes as f64 / 1e6,
            o.bundle_bytes as f64 / 1e6,
            o.fetch.as_secs_f64(),
            o.pack.as_secs_f64(),
            format!("{:.1} ({})", o.root.as_secs_f64(), o.root_created_seconds),
            o.unpack_and_build.as_secs_f64(),
            o.build.as_secs_f64(),
            o.check.as_secs_f64()
        );
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
