//! Every input that once crashed, hung or ballooned a run (`tests/fuzz-regressions/<target>/`,
//! found by fuzzing) goes through the entry point it was found in and must fail with a clear
//! error naming the file, within a time bound, with the process alive (the test binary is that
//! process: an abort or an unbounded allocation kills it). A new finding is added by dropping the
//! file into the directory of its target.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kernel_packer::archive::extract::SafeExtractor;
use kernel_packer::archive::read_package;
use kernel_packer::crawl::content;
use kernel_packer::limits::Limits;
use kernel_packer::pack::{image, pack_packages, PackOptions, PackerKind};

/// Wall-time bound per input (debug build, shared 2-core machine): the findings cost minutes to
/// hours or an abort before the fixes; bounded, each takes well under a second.
const BOUND: Duration = Duration::from_secs(20);

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

/// Runs `f`, asserts it errs within [`BOUND`] and returns the one-line message.
fn refused<T>(what: &Path, f: impl FnOnce() -> anyhow::Result<T>) -> String {
    let started = Instant::now();
    let result = f();
    let elapsed = started.elapsed();
    let message = match result {
        Ok(_) => panic!("{} was accepted", what.display()),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        elapsed < BOUND,
        "{}: took {elapsed:?} (bound {BOUND:?})",
        what.display()
    );
    assert!(!message.contains('\n'), "not one line: {message}");
    eprintln!("{}: {elapsed:?}: {message}", what.display());
    message
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The packer a `pack` target input selects with its first byte.
fn packer(byte: u8) -> PackerKind {
    PackerKind::HEADER_PACKERS[byte as usize % PackerKind::HEADER_PACKERS.len()]
}

/// Packs `package` alone; returns the bundle's size.
fn pack(kind: PackerKind, package: &Path, limits: Option<Limits>) -> anyhow::Result<u64> {
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let opts = PackOptions {
        work_dir: Some(work.path().to_path_buf()),
        limits,
        ..PackOptions::default()
    };
    let packed = pack_packages(kind, &[package.to_path_buf()], out.path(), &opts)?;
    let size = packed.size;
    // Success is only acceptable as a small, bounded bundle.
    assert!(size < 64 << 20, "{}: {size}-byte bundle", package.display());
    Ok(size)
}

#[test]
fn read_package_findings_are_refused_naming_the_file() {
    for input in inputs("read_package") {
        let work = tempfile::tempdir().unwrap();
        refused(&input, || {
            let mut sink = SafeExtractor::new(work.path(), 0, Limits::default())?;
            read_package(&input, &mut sink)
        });
        // Through the packer the message names the package file.
        let message = refused(&input, || pack(PackerKind::Redhat, &input, None));
        assert!(message.contains(&file_name(&input)), "{message}");
    }
}

#[test]
fn rpm_header_lies_are_named_as_such() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/read_package");
    for (name, expect) in [
        ("rpm-int64-count-0xFFFFFFFE-alloc-abort.rpm", "do not fit"),
        ("rpm-string-array-count-alloc-abort.rpm", "cannot fit"),
        ("rpm-header-entry-offset-oob-panic.rpm", "corrupt RPM"),
    ] {
        let input = dir.join(name);
        let message = refused(&input, || pack(PackerKind::Redhat, &input, None));
        assert!(message.contains(expect), "{name}: {message}");
    }
}

#[test]
fn trailing_data_after_a_tar_is_bounded_by_the_budget() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions/read_package/tbz2_trailing_20GB.tar.bz2");
    let message = refused(&input, || pack(PackerKind::Debian, &input, None));
    assert!(
        message.contains("data after the end of the tar archive exceeds the pack budget of")
            && message.contains("KERNEL_PACKER_MAX_TRAILING_BYTES to raise"),
        "{message}"
    );
    // With the trailer allowed, the decompression budget still bounds the drain.
    let limits = Limits {
        max_trailing_bytes: u64::MAX,
        max_decompressed_bytes: 64 << 20,
        ..Limits::default()
    };
    let message = refused(&input, || pack(PackerKind::Debian, &input, Some(limits)));
    assert!(
        message.contains("exceeds the pack budget of 67108864 bytes decompressed"),
        "{message}"
    );
}

#[test]
fn pack_findings_are_refused_or_bounded() {
    for input in inputs("pack") {
        let bytes = fs::read(&input).unwrap();
        if input.extension().is_some_and(|e| e == "bin") {
            // First byte: packer; the rest: the package.
            let dir = tempfile::tempdir().unwrap();
            let package = dir.path().join(format!("{}.rpm", file_name(&input)));
            fs::write(&package, &bytes[1..]).unwrap();
            let message = refused(&package, || pack(packer(bytes[0]), &package, None));
            assert!(message.contains(&file_name(&package)), "{message}");
        }
    }
}

#[test]
fn links_out_of_the_bundle_root_are_inlined_once_within_a_budget() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions/pack/redhat-400-symlinks-to-outside-8MiB-file.tar.xz");
    // 400 links to one 8 MiB file outside the bundle root: one copy, 399 links to it.
    let limits = Limits {
        max_inlined_bytes: 16 << 20,
        ..Limits::default()
    };
    let started = Instant::now();
    let result = pack(PackerKind::Redhat, &input, Some(limits));
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    match result {
        Ok(size) => assert!(size < 16 << 20, "{size}-byte bundle"),
        Err(e) => {
            let message = format!("{e:#}");
            assert!(message.contains(&file_name(&input)), "{message}");
        }
    }
    // Below one copy, the budget refuses it, naming the bound.
    let limits = Limits {
        max_inlined_bytes: 1 << 20,
        ..Limits::default()
    };
    // (Since packs check the kernel's architecture first, this input, whose .config names none,
    // may be refused before its links are looked at: either way, refused naming the file.)
    let message = refused(&input, || pack(PackerKind::Redhat, &input, Some(limits)));
    assert!(
        (message.contains("exceeds the pack budget of 1048576 bytes inlined through links")
            || message.contains("cannot tell the architecture"))
            && message.contains(&file_name(&input)),
        "{message}"
    );
}

#[test]
fn image_findings_are_refused_naming_the_file() {
    for input in inputs("image") {
        let work = tempfile::tempdir().unwrap();
        let message = refused(&input, || {
            image::load_image(std::slice::from_ref(&input), work.path(), Limits::default())
        });
        assert!(message.contains(&file_name(&input)), "{message}");
        let message = refused(&input, || pack(PackerKind::Coreos, &input, None));
        assert!(message.contains(&file_name(&input)), "{message}");
    }
}

#[test]
fn index_decompression_findings_are_capped() {
    for input in inputs("content_decompress") {
        let bytes = fs::read(&input).unwrap();
        // First byte: the compression (by file-name extension); the rest: the data.
        let ext = ["gz", "xz", "zst", "bz2"][bytes[0] as usize % 4];
        let name = format!("{}.{ext}", file_name(&input));
        let limits = Limits {
            max_index_bytes: 64 << 20,
            ..Limits::default()
        };
        let message = refused(&input, || {
            content::decompress_with(&name, &bytes[1..], &name, &limits)
        });
        assert!(
            message.starts_with(&name) && message.contains("KERNEL_PACKER_MAX_INDEX_BYTES"),
            "{message}"
        );
    }
}
