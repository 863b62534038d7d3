//! Shared helpers for the integration tests: the real Debian header packages, fixture builders
//! (.deb with any compression, RPM), and the module-build check.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use crate::repo_root;

/// Runs a download script of the repository (`tests/fetch-*.sh`, cached and locked for
/// concurrent callers) and returns the path it prints. Panics with the script's output on failure.
pub fn fetch(script: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join(script))
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The three real Debian packages (arch headers, common headers, kbuild), downloaded once by
/// `tests/fetch-debian-packages.sh`. Panics with the script's output when they cannot be had.
pub fn debian_packages() -> Vec<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    debs_in(DIR.get_or_init(|| fetch("tests/fetch-debian-packages.sh")))
}

/// The three real Debian bookworm **arm64** packages of the same kind (arch headers, common
/// headers, kbuild), downloaded once by `tests/fetch-debian-arm64-packages.sh` (needs
/// `scripts/setup.d/70-arm64.sh`).
pub fn debian_arm64_packages() -> Vec<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    debs_in(DIR.get_or_init(|| fetch("tests/fetch-debian-arm64-packages.sh")))
}

/// The header set a `tests/fetch-debian-*.sh` script downloaded into `dir`: its three `.deb`s
/// (arch headers, common headers, kbuild), sorted. Panics unless there are exactly three.
pub fn debs_in(dir: &Path) -> Vec<PathBuf> {
    let mut debs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    assert_eq!(
        debs.len(),
        3,
        "expected 3 Debian packages in {}",
        dir.display()
    );
    debs
}

/// The uname of a Debian header set, read from its `linux-headers-<uname>_<version>_<arch>.deb`
/// whose uname ends with `flavour` (e.g. `-amd64`).
pub fn header_uname(packages: &[PathBuf], flavour: &str) -> String {
    packages
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.strip_prefix("linux-headers-"))
        .filter_map(|n| n.split('_').next())
        .find(|uname| uname.ends_with(flavour))
        .unwrap_or_else(|| panic!("no linux-headers-*{flavour} package in {packages:?}"))
        .to_string()
}

/// The Debian packages unpacked with `dpkg-deb -x` (an independent reader) into one tree.
pub struct DebianTree {
    pub root: PathBuf,
    /// `6.1.0-56`
    pub abi: String,
    /// `6.1.0-56-amd64`
    pub uname: String,
    /// `usr/src/linux-headers-<uname>`
    pub arch_dir: PathBuf,
    /// `usr/src/linux-headers-<abi>-common`
    pub common_dir: PathBuf,
    /// `usr/lib/linux-kbuild-<x.y>`
    pub kbuild_dir: PathBuf,
    _keep: tempfile::TempDir,
}

pub fn debian_tree() -> DebianTree {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("root");
    fs::create_dir(&root).unwrap();
    for deb in debian_packages() {
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    }
    let src = root.join("usr/src");
    let mut arch = None;
    let mut common = None;
    for entry in fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("linux-headers-") && name.ends_with("-common") {
            common = Some(name);
        } else if name.starts_with("linux-headers-") {
            arch = Some(name);
        }
    }
    let arch = arch.expect("arch headers");
    let common = common.expect("common headers");
    let uname = arch.trim_start_matches("linux-headers-").to_string();
    let abi = common
        .trim_start_matches("linux-headers-")
        .trim_end_matches("-common")
        .to_string();
    let kbuild = fs::read_dir(root.join("usr/lib"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("linux-kbuild-"))
        .expect("kbuild");
    DebianTree {
        arch_dir: PathBuf::from("usr/src").join(&arch),
        common_dir: PathBuf::from("usr/src").join(&common),
        kbuild_dir: PathBuf::from("usr/lib").join(kbuild),
        root,
        abi,
        uname,
        _keep: temp,
    }
}

impl DebianTree {
    /// A self-contained kernel tree (common + kbuild scripts/tools + arch files, arch winning, the
    /// common Makefile kept) as a redhat-style `kernel-devel` would ship it. Returns its path.
    pub fn merged_kernel_tree(&self, dest: &Path) -> PathBuf {
        fs::create_dir_all(dest).unwrap();
        copy_tree(&self.root.join(&self.common_dir), dest);
        for sub in ["scripts", "tools"] {
            let _ = fs::remove_file(dest.join(sub));
            copy_tree(&self.root.join(&self.kbuild_dir).join(sub), &dest.join(sub));
        }
        let arch = self.root.join(&self.arch_dir);
        for entry in fs::read_dir(&arch).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "Makefile" || name == "scripts" || name == "tools" {
                continue;
            }
            copy_tree(&entry.path(), &dest.join(&name));
        }
        dest.to_path_buf()
    }
}

/// Copies a file or tree (symlinks copied as links), merging into existing directories.
pub fn copy_tree(from: &Path, to: &Path) {
    let meta = fs::symlink_metadata(from).unwrap();
    if meta.file_type().is_symlink() {
        let _ = fs::remove_file(to);
        std::os::unix::fs::symlink(fs::read_link(from).unwrap(), to).unwrap();
    } else if meta.is_dir() {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        if fs::symlink_metadata(to).is_ok() {
            fs::remove_file(to).unwrap();
        }
        fs::copy(from, to).unwrap();
    }
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compression of a fixture .deb's data member.
#[derive(Clone, Copy, Debug)]
pub enum DebCompression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

/// Writes a tar of `root`'s content (entries `./...`, links kept as links) into `out`.
pub fn tar_dir<W: Write>(root: &Path, out: W) -> W {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    tar.append_dir_all(".", root).unwrap();
    tar.into_inner().unwrap()
}

/// Builds a .deb (debian-binary, control.tar.xz, data.tar.<compression>) of the tree at `root`.
pub fn build_deb(
    root: &Path,
    package: &str,
    version: &str,
    out: &Path,
    compression: DebCompression,
) {
    deb_from_data_tar(
        tar_dir(root, Vec::new()),
        package,
        version,
        out,
        compression,
    );
}

/// Builds a .deb around an already made (possibly hostile) uncompressed data tar.
pub fn deb_from_data_tar(
    data_tar: Vec<u8>,
    package: &str,
    version: &str,
    out: &Path,
    compression: DebCompression,
) {
    let (data_name, data) = compress(data_tar, compression);
    let control_dir = tempfile::tempdir().unwrap();
    fs::write(
        control_dir.path().join("control"),
        format!("Package: {package}\nVersion: {version}\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: fixture\n"),
    )
    .unwrap();
    let (control_name, control) =
        compress(tar_dir(control_dir.path(), Vec::new()), DebCompression::Xz);
    let file = fs::File::create(out).unwrap();
    let mut builder = ar::Builder::new(file);
    for (name, bytes) in [
        ("debian-binary".to_string(), b"2.0\n".to_vec()),
        (control_name.replace("data", "control"), control),
        (data_name, data),
    ] {
        let header = ar::Header::new(name.into_bytes(), bytes.len() as u64);
        builder.append(&header, &bytes[..]).unwrap();
    }
}

/// One raw tar entry for hostile archives: the name and link bytes are written as given,
/// bypassing the tar crate's path validation.
pub struct RawEntry<'a> {
    pub name: &'a [u8],
    pub kind: tar::EntryType,
    pub link: &'a [u8],
    pub data: &'a [u8],
}

/// Writes raw entries as an uncompressed tar stream.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        {
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..entry.name.len()].copy_from_slice(entry.name);
            gnu.linkname[..entry.link.len()].copy_from_slice(entry.link);
        }
        header.set_entry_type(entry.kind);
        header.set_mode(if entry.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_size(entry.data.len() as u64);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, entry.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn compress(data: Vec<u8>, compression: DebCompression) -> (String, Vec<u8>) {
    match compression {
        DebCompression::None => ("data.tar".into(), data),
        DebCompression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            ("data.tar.gz".into(), e.finish().unwrap())
        }
        DebCompression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(&data).unwrap();
            ("data.tar.xz".into(), e.finish().unwrap())
        }
        DebCompression::Zstd => (
            "data.tar.zst".into(),
            zstd::encode_all(&data[..], 3).unwrap(),
        ),
        DebCompression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&data).unwrap();
            ("data.tar.bz2".into(), e.finish().unwrap())
        }
    }
}

/// Builds an RPM whose payload installs the tree at `tree` under `install_dir` (absolute).
pub fn build_rpm(
    tree: &Path,
    install_dir: &str,
    nvra: (&str, &str, &str, &str),
    compression: rpm::CompressionWithLevel,
    out: &Path,
) {
    let (name, version, release, arch) = nvra;
    let mut builder =
        rpm::PackageBuilder::new(name, version, "GPL-2.0", arch, "fixture kernel devel");
    builder.release(release);
    builder.using_config(rpm::BuildConfig::default().compression(compression));
    add_rpm_tree(&mut builder, tree, install_dir);
    let package = builder.build().unwrap();
    package.write_file(out).unwrap();
}

fn add_rpm_tree(builder: &mut rpm::PackageBuilder, dir: &Path, dest: &str) {
    builder.with_dir_entry(rpm::FileOptions::dir(dest)).unwrap();
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let target = format!("{dest}/{}", entry.file_name().to_string_lossy());
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            let link = fs::read_link(&path).unwrap();
            builder
                .with_symlink(rpm::FileOptions::symlink(
                    target,
                    link.to_string_lossy().to_string(),
                ))
                .unwrap();
        } else if meta.is_dir() {
            add_rpm_tree(builder, &path, &target);
        } else {
            let mode = (meta.permissions().mode() & 0o777) as u16;
            builder
                .with_file(&path, rpm::FileOptions::new(target).permissions(mode))
                .unwrap();
        }
    }
}

/// Unpacks a bundle with the system `tar` (an independent consumer) into `dest`, then asserts it
/// is relocatable ([`assert_relocatable`]).
pub fn unpack_bundle(bundle: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(bundle)
        .arg("-C")
        .arg(dest));
    assert_relocatable(dest);
}

/// Unpacks the bundle file `bundle` into a temporary dir and asserts it is relocatable.
pub fn assert_bundle_relocatable(bundle: &Path) {
    let dir = tempfile::tempdir().unwrap();
    unpack_bundle(bundle, dir.path());
}

/// The kernel's own install paths a relocatable bundle must not name.
const INSTALL_PATHS: [&str; 4] = [
    "/usr/src",
    "/lib/modules",
    "/usr/lib/modules",
    "/usr/lib/linux-kbuild",
];

/// Absolute references to the kernel's install paths in one make-syntax line (text before the
/// first `#`): an occurrence at a word start (line start, after a blank or one of `="'(,;:`, or
/// right after `-I`/`-L`). After `)` or a name it is a path under a variable or a relative path
/// (`$(INSTALL_MOD_PATH)/lib/modules`); `/lib/modules/$(shell uname -r)` names the host's kernel.
/// Deliberately simpler and stricter than the packer's own scan: any other occurrence counts,
/// whether it resolves or not.
pub fn absolute_install_references(line: &str) -> Vec<String> {
    let code = line.split('#').next().unwrap_or("");
    let mut found = Vec::new();
    for prefix in INSTALL_PATHS {
        for (at, _) in code.match_indices(prefix) {
            let before = &code[..at];
            let word_start = match before.chars().last() {
                None => true,
                Some(c) => c.is_whitespace() || "=\"'(,;:".contains(c),
            };
            let flag = before.ends_with("-I") || before.ends_with("-L");
            let host = code[at + prefix.len()..].starts_with("/$");
            if (word_start || flag) && !host {
                let word = code[at..].split_whitespace().next().unwrap_or("");
                found.push(word.to_string());
            }
        }
    }
    found
}

/// Asserts an unpacked bundle is relocatable: every symlink is relative and stays inside, and no
/// file make reads in a module build (`Makefile*`, `Kbuild*`, `*.mk`, `.kernelvariables`,
/// `auto.conf`; other architectures' `arch/<name>/` aside) names the kernel's install paths
/// (`/usr/src/...`, `/lib/modules/...`, `/usr/lib/modules/...`, `/usr/lib/linux-kbuild-...`)
/// absolutely ([`absolute_install_references`]). Every test that makes a bundle calls this
/// (through [`unpack_bundle`] or [`assert_bundle_relocatable`]).
pub fn assert_relocatable(dir: &Path) {
    assert_links_stay_inside(dir);
    let mut files = Vec::new();
    let mut arches = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                // arch/<name>/include/generated: an architecture the kernel was built for.
                if path.ends_with("include/generated") {
                    let arch_dir = path.parent().and_then(Path::parent).unwrap();
                    if arch_dir.parent().is_some_and(|p| p.ends_with("arch")) {
                        arches.insert(arch_dir.file_name().unwrap().to_os_string());
                    }
                }
                stack.push(path);
            } else if meta.is_file() {
                files.push(path);
            }
        }
    }
    let mut problems = Vec::new();
    for path in files {
        let rel = path.strip_prefix(dir).unwrap();
        let parts: Vec<_> = rel.iter().collect();
        let other_arch = !arches.is_empty()
            && parts
                .windows(3)
                .any(|w| w[0] == "arch" && !arches.contains(w[1]));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let kbuild = name == "Makefile"
            || name.starts_with("Makefile.")
            || name.starts_with("Makefile_")
            || name.starts_with("Kbuild")
            || name.ends_with(".mk")
            || name == ".kernelvariables"
            || name == "auto.conf";
        if !kbuild || other_arch {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
        for (n, line) in text.lines().enumerate() {
            for reference in absolute_install_references(line) {
                problems.push(format!("{}:{}: {reference}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "absolute references remain in {}:\n{}",
        dir.display(),
        problems.join("\n")
    );
}

/// A bundle meta file's value (must have no trailing newline).
pub fn meta(bundle_dir: &Path, name: &str) -> String {
    let value =
        fs::read_to_string(bundle_dir.join(name)).unwrap_or_else(|_| panic!("{name} missing"));
    assert!(!value.ends_with('\n'), "{name} ends with a newline");
    value
}

/// Builds a hello-world module against an unpacked bundle as its consumers do
/// (`make -C "$dir/$(cat $dir/BUNDLE_BUILD_DIR)" M=$PWD modules`) and returns the `.ko`'s vermagic.
pub fn build_module(bundle_dir: &Path) -> String {
    let module = tempfile::tempdir().unwrap();
    fs::write(
        module.path().join("hello.c"),
        "#include <linux/module.h>\n#include <linux/init.h>\nMODULE_LICENSE(\"GPL\");\n\
         static int __init hello_init(void) { pr_info(\"hello\\n\"); return 0; }\n\
         static void __exit hello_exit(void) { }\nmodule_init(hello_init);\nmodule_exit(hello_exit);\n",
    )
    .unwrap();
    fs::write(module.path().join("Makefile"), "obj-m += hello.o\n").unwrap();
    let build_dir = bundle_dir.join(meta(bundle_dir, "BUNDLE_BUILD_DIR"));
    run(Command::new("make")
        .arg("-C")
        .arg(&build_dir)
        .arg(format!("M={}", module.path().display()))
        .arg("modules")
        .current_dir(module.path()));
    let ko = module.path().join("hello.ko");
    assert!(ko.exists(), "no hello.ko built");
    run(Command::new("modinfo").arg("-F").arg("vermagic").arg(&ko))
        .trim()
        .to_string()
}

/// Packs `packages` into `out` with the default options; panics when packing fails.
pub fn pack_ok(
    kind: kernel_packer::pack::PackerKind,
    packages: &[PathBuf],
    out: &Path,
) -> kernel_packer::pack::PackedBundle {
    kernel_packer::pack::pack_packages(
        kind,
        packages,
        out,
        &kernel_packer::pack::PackOptions::default(),
    )
    .unwrap_or_else(|e| panic!("pack {packages:?}: {e:#}"))
}

/// [`build_module`], timed (printed as `<what>: module build took …`); asserts the module's
/// vermagic is `uname`'s.
pub fn assert_module_builds(bundle_dir: &Path, uname: &str, what: &str) {
    let started = std::time::Instant::now();
    let vermagic = build_module(bundle_dir);
    eprintln!("{what}: module build took {:?}", started.elapsed());
    assert!(
        vermagic.starts_with(&format!("{uname} ")),
        "vermagic {vermagic:?} does not start with {uname}"
    );
}

/// Packs into a fresh temporary dir, expecting failure; returns the one-line error text and checks
/// nothing was left in the output dir.
pub fn pack_error(kind: kernel_packer::pack::PackerKind, packages: &[PathBuf]) -> String {
    pack_error_with(kind, packages, &kernel_packer::pack::PackOptions::default())
}

/// [`pack_error`] with packing options.
pub fn pack_error_with(
    kind: kernel_packer::pack::PackerKind,
    packages: &[PathBuf],
    options: &kernel_packer::pack::PackOptions,
) -> String {
    let out = tempfile::tempdir().unwrap();
    let err = kernel_packer::pack::pack_packages(kind, packages, out.path(), options)
        .expect_err("pack unexpectedly succeeded");
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "a failed pack left files behind"
    );
    format!("{err:#}")
}

/// Asserts every symlink under `dir` is relative and resolves inside `dir`.
pub fn assert_links_stay_inside(dir: &Path) {
    let root = fs::canonicalize(dir).unwrap();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                assert!(
                    fs::read_link(&path).unwrap().is_relative(),
                    "{} is absolute",
                    path.display()
                );
                let real = fs::canonicalize(&path)
                    .unwrap_or_else(|_| panic!("dangling {}", path.display()));
                assert!(
                    real.starts_with(&root),
                    "{} leaves the bundle",
                    path.display()
                );
            } else if meta.is_dir() {
                stack.push(path);
            }
        }
    }
}

/// The kernel version (`VERSION.PATCHLEVEL.SUBLEVEL`) of the Debian source tarball's Makefile
/// (`tests/fetch-debian-source.sh`), read with the system `tar` and `xz`.
pub fn source_version(tarball: &Path) -> String {
    let makefile = run(Command::new("tar")
        .arg("-xJOf")
        .arg(tarball)
        .arg("linux-source-6.1/Makefile"));
    let get = |key: &str| {
        makefile
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    format!(
        "{}.{}.{}",
        get("VERSION"),
        get("PATCHLEVEL"),
        get("SUBLEVEL")
    )
}

/// The committed manifest (`kernel-package-lists/manifest.yml`, as `kernel-packer manifest` writes
/// it) and the Debian list (`kernel-package-lists/debian.txt`) of a repository whose lists hold
/// `urls`, each package a set of its own: the files a merge of crawled lists commits.
pub fn repo_lists(urls: &[&str]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use kernel_packer::names::{manifest_id, simplify};
    let mut manifest = String::from("# Generated by `kernel-packer manifest`. DO NOT EDIT.\n");
    let mut entries: Vec<(String, String)> = urls
        .iter()
        .map(|u| {
            let name = simplify(u);
            (manifest_id(std::slice::from_ref(&name)), name)
        })
        .collect();
    entries.sort();
    for (id, name) in entries {
        manifest.push_str(&format!("{id}:\n  type: debian\n  packages:\n  - {name}\n"));
    }
    let list: String = urls.iter().map(|u| format!("{u}\n")).collect();
    std::collections::BTreeMap::from([
        (
            "kernel-package-lists/manifest.yml".to_string(),
            manifest.into_bytes(),
        ),
        (
            "kernel-package-lists/debian.txt".to_string(),
            list.into_bytes(),
        ),
    ])
}

/// The body of GitHub's `push` webhook delivery for `refs/heads/main` of `repo` (its default
/// branch), from `before` to `after`, pushed at `pushed_at` (Unix seconds).
pub fn push_body(before: &str, after: &str, pushed_at: i64, repo: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/main", "before": before, "after": after,
        "repository": {"full_name": repo, "default_branch": "main", "pushed_at": pushed_at},
        "pusher": {"name": "github-actions[bot]"}
    }))
    .unwrap()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The real Debian set with `include/generated/autoconf.h` removed from the arch package.
pub fn packages_without_autoconf(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for deb in debian_packages() {
        let name = deb.file_name().unwrap().to_str().unwrap().to_string();
        let dest = dir.join(&name);
        if name.contains("-amd64_") && name.starts_with("linux-headers-") {
            let root = dir.join("arch-root");
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
            let uname = name
                .trim_start_matches("linux-headers-")
                .split('_')
                .next()
                .unwrap();
            let autoconf = root
                .join("usr/src")
                .join(format!("linux-headers-{uname}"))
                .join("include/generated/autoconf.h");
            fs::remove_file(&autoconf).unwrap();
            let version = name.split('_').nth(1).unwrap();
            build_deb(
                &root,
                &format!("linux-headers-{uname}"),
                version,
                &dest,
                DebCompression::Xz,
            );
        } else {
            fs::copy(&deb, &dest).unwrap();
        }
        out.push(dest);
    }
    out
}
