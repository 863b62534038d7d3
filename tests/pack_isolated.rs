//! Defence in depth: the `kernel-packer` binary packs each kernel in a child process of itself
//! under OS limits (`pack::isolated`), so what no validation foresaw kills one pack, never the
//! run: a memory balloon (a real input, with the validation that stops it lifted by the
//! environment) meets `RLIMIT_AS`, an abort (the child's test hook, standing in for a failed
//! allocation in a dependency) ends only the child, a runaway meets `RLIMIT_CPU`. `--missing`
//! reports those kernels as failed and packs the others.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use kernel_packer::names::{manifest_id, simplify};

const BIN: &str = env!("CARGO_BIN_EXE_kernel-packer");

/// A tar.zst whose first record is a GNU long name of `size` bytes: the tar reader holds long
/// names in memory, so with the header budget lifted it allocates `size` bytes.
fn long_name_bomb(path: &Path, size: u64) {
    let mut out = zstd::Encoder::new(fs::File::create(path).unwrap(), 1).unwrap();
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    out.write_all(header.as_bytes()).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    out.write_all(&[0u8; 1024]).unwrap();
    out.finish().unwrap();
}

fn store_with(dir: &Path, files: &[(&str, &Path)]) -> Vec<String> {
    fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(url, file)| {
            let name = simplify(url);
            fs::copy(file, dir.join(&name)).unwrap();
            name
        })
        .collect()
}

fn manifest_entry(kind: &str, names: &[String]) -> String {
    let mut text = format!("{}:\n  type: {kind}\n  packages:\n", manifest_id(names));
    for name in names {
        text.push_str(&format!("  - {name}\n"));
    }
    text
}

#[test]
fn an_abort_in_a_parser_fails_one_kernel_and_the_others_pack() {
    let base = tempfile::tempdir().unwrap();
    let store = base.path().join("packages");
    let bundles = base.path().join("bundles");
    let debs = support::debian_packages();
    let good_files: Vec<(String, PathBuf)> = debs
        .iter()
        .map(|d| {
            (
                format!(
                    "http://mirror.test/pool/main/l/linux/{}",
                    d.file_name().unwrap().to_string_lossy()
                ),
                d.clone(),
            )
        })
        .collect();
    let good_refs: Vec<(&str, &Path)> = good_files
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_path()))
        .collect();
    let good = store_with(&store, &good_refs);
    let bomb = base.path().join("bomb.deb");
    long_name_bomb(&bomb, 3 << 30);
    let bad = store_with(
        &store,
        &[(
            "http://mirror.test/pool/linux-headers-9.9.9-1-amd64_9.9.9-1_amd64.deb",
            &bomb,
        )],
    );
    // A package whose pack aborts the process (the child's test hook), as a failed allocation
    // in a dependency does.
    let aborting = store_with(
        &store,
        &[(
            "http://mirror.test/pool/linux-headers-9.9.8-1-amd64_9.9.8-1_amd64.deb",
            &debs[0],
        )],
    );
    let manifest = base.path().join("manifest.yml");
    fs::write(
        &manifest,
        manifest_entry("debian", &good)
            + &manifest_entry("debian", &bad)
            + &manifest_entry("debian", &aborting),
    )
    .unwrap();

    let out = Command::new(BIN)
        .args(["pack", "--missing", "--json", "--jobs", "2", "--manifest"])
        .arg(&manifest)
        .arg("--packages")
        .arg(&store)
        .arg("--bundles")
        .arg(&bundles)
        // Lift the validation that stops the bomb, so the child really tries to hold 3 GiB and
        // hits its address-space limit.
        .env("KERNEL_PACKER_MAX_TAR_HEADER_BYTES", "8G")
        .env("KERNEL_PACKER_PACK_MEMORY_BYTES", "1536M")
        .env("KERNEL_PACKER_TEST_CHILD_ABORT_ON", "linux-headers-9.9.8-1")
        .env_remove("KERNEL_PACKER_ISOLATE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed kernel must fail the run");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bad_id = manifest_id(&bad);
    let good_id = manifest_id(&good);
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}: {stdout}\n{stderr}"))
    };
    // The balloon: the allocation fails under RLIMIT_AS (3 GiB asked, 1.5 GiB allowed).
    let error = by_id(&bad_id)["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("out of memory") && error.contains(&bad[0]),
        "{error}\n{stderr}"
    );
    // The abort: the child dies, the run goes on.
    let aborting_id = manifest_id(&aborting);
    let error = by_id(&aborting_id)["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("killed by signal 6")
            && error.contains("KERNEL_PACKER_PACK_MEMORY_BYTES")
            && error.contains(&aborting[0])
            && error.contains(&aborting_id),
        "{error}\n{stderr}"
    );
    let packed = by_id(&good_id);
    let bundle = packed["bundle"]
        .as_str()
        .unwrap_or_else(|| panic!("{packed}"));
    assert!(bundles.join(bundle).is_file());
    assert!(bundles.join(format!("index/{good_id}.json")).is_file());
    assert!(!bundles.join(format!("index/{bad_id}.json")).exists());
    assert!(!bundles.join(format!("index/{aborting_id}.json")).exists());

    // Without the relaxation, validation refuses the same package in process, naming the bound.
    let out = Command::new(BIN)
        .args(["pack", "--type", "debian", "--out"])
        .arg(base.path().join("out"))
        .arg(&bomb)
        .env("KERNEL_PACKER_ISOLATE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("bomb.deb")
            && stderr.contains("KERNEL_PACKER_MAX_TAR_HEADER_BYTES to raise"),
        "{stderr}"
    );
}

#[test]
fn a_runaway_pack_is_stopped_by_the_cpu_limit() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions/read_package/tbz2_trailing_20GB.tar.bz2");
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["pack", "--type", "debian", "--out"])
        .arg(out_dir.path())
        .arg(&input)
        // Lift the trailing-data bounds: 20 GB of bzip2 would take minutes of CPU.
        .env("KERNEL_PACKER_MAX_TRAILING_BYTES", "100G")
        .env("KERNEL_PACKER_MAX_DECOMPRESSED_BYTES", "100G")
        .env("KERNEL_PACKER_PACK_CPU_SECONDS", "2")
        .env_remove("KERNEL_PACKER_ISOLATE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("killed by signal")
            && stderr.contains("KERNEL_PACKER_PACK_CPU_SECONDS")
            && stderr.contains("tbz2_trailing_20GB.tar.bz2"),
        "{stderr}"
    );
    assert_eq!(fs::read_dir(out_dir.path()).unwrap().count(), 0);
}
