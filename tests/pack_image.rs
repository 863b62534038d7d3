//! The disk-image packer (`coreos`) against developer-container images built here from the real
//! Debian header tree: `mkfs.ext4 -d` for the file system, `sfdisk` for the partition table,
//! `bzip2` for the compression (all independent tools), then pack → unpack → a module builds.

mod support;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kernel_packer::archive::extract::Limits;
use kernel_packer::pack::{PackOptions, PackerKind};
use support::*;

const MIB: u64 = 1 << 20;

/// Size in MiB of an ext4 file system comfortably holding `root`.
fn fs_size_mib(root: &Path) -> u64 {
    let out = run(Command::new("du").arg("-s").arg("-B1M").arg(root));
    let used: u64 = out.split_whitespace().next().unwrap().parse().unwrap();
    used * 3 / 2 + 32
}

/// Partition table kind of a fixture image.
#[derive(Clone, Copy)]
enum Label {
    Gpt,
    Dos,
}

/// Builds a disk image at `out` with one partition at 1 MiB holding `content` (a file system
/// image, or None for an empty partition), compresses it with `bzip2 -1` and returns the `.bz2`.
fn disk_image(out: &Path, label: Label, part_mib: u64, content: Option<&Path>) -> PathBuf {
    let disk_len = (part_mib + 2) * MIB;
    let disk = fs::File::create(out).unwrap();
    disk.set_len(disk_len).unwrap();
    drop(disk);
    let script = match label {
        Label::Gpt => format!(
            "label: gpt\nstart=2048, size={}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=ROOT\n",
            part_mib * 2048
        ),
        Label::Dos => format!("label: dos\nstart=2048, size={}, type=83\n", part_mib * 2048),
    };
    let mut child = Command::new("sfdisk")
        .arg("--quiet")
        .arg("--no-reread")
        .arg("--no-tell-kernel")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sfdisk (fdisk package) must be installed: scripts/setup.d/40-kernel-source.sh");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk failed");
    if let Some(fs_image) = content {
        let disk = fs::OpenOptions::new().write(true).open(out).unwrap();
        let mut input = fs::File::open(fs_image).unwrap();
        let mut buf = vec![0u8; MIB as usize];
        let mut at = MIB;
        loop {
            use std::io::Read;
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                disk.write_all_at(&buf[..n], at).unwrap();
            }
            at += n as u64;
        }
        assert!(
            at - MIB <= part_mib * MIB,
            "file system larger than the partition"
        );
    }
    run(Command::new("bzip2").arg("-1").arg("-f").arg(out));
    let mut bz = out.as_os_str().to_owned();
    bz.push(".bz2");
    PathBuf::from(bz)
}

/// `mkfs.ext4 -d root` into `out` (size in MiB).
fn mkfs(root: &Path, out: &Path, mib: u64) {
    run(Command::new("mkfs.ext4")
        .arg("-q")
        .arg("-F")
        .arg("-b")
        .arg("4096")
        .arg("-L")
        .arg("ROOT")
        .arg("-d")
        .arg(root)
        .arg(out)
        .arg(format!("{mib}M")));
}

fn pack_and_build(image: &Path, uname: &str, name: &str) {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_ok(PackerKind::Coreos, &[image.to_path_buf()], out.path());
    eprintln!(
        "{name}: coreos pack took {:?} ({} bytes)",
        started.elapsed(),
        packed.size
    );
    assert_eq!(packed.uname, uname);
    assert_eq!(packed.file_name, format!("bundle-{uname}.tgz"));
    let dir = out.path().join("unpacked");
    unpack_bundle(&packed.path, &dir);
    assert_eq!(meta(&dir, "BUNDLE_UNAME"), uname);
    assert_eq!(meta(&dir, "BUNDLE_DISTRO"), "coreos");
    assert_eq!(
        meta(&dir, "BUNDLE_BUILD_DIR"),
        format!("./lib/modules/{uname}/build")
    );
    let build = dir.join(meta(&dir, "BUNDLE_BUILD_DIR"));
    let makefile = fs::read_to_string(build.join("Makefile")).unwrap();
    assert!(
        !makefile.contains("include /"),
        "Makefile not relocated:\n{makefile}"
    );
    assert_module_builds(&dir, uname, name);
}

#[test]
fn gpt_developer_container_with_the_debian_tree_builds_a_module() {
    let debian = debian_tree();
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let size = fs_size_mib(&debian.root);
    let fs_image = work.path().join("root.ext4");
    mkfs(&debian.root, &fs_image, size);
    let image = disk_image(
        &work.path().join(
            "https---stable.release.example-amd64-usr-3510.2.0-flatcar_developer_container.bin",
        ),
        Label::Gpt,
        size,
        Some(&fs_image),
    );
    eprintln!("gpt: fixture image built in {:?}", started.elapsed());
    pack_and_build(&image, &debian.uname, "gpt");
}

#[test]
fn mbr_image_with_merged_usr_builds_a_module() {
    // Flatcar style: /lib is a link to usr/lib, the modules live in /usr/lib/modules.
    let debian = debian_tree();
    let root = &debian.root;
    fs::rename(root.join("lib/modules"), root.join("usr/lib/modules")).unwrap();
    fs::remove_dir(root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let size = fs_size_mib(root);
    let fs_image = work.path().join("root.ext4");
    mkfs(root, &fs_image, size);
    let image = disk_image(
        &work.path().join("coreos_developer_container.bin"),
        Label::Dos,
        size,
        Some(&fs_image),
    );
    pack_and_build(&image, &debian.uname, "mbr");
}

fn pack_err(image: &Path, opts: &PackOptions) -> String {
    pack_error_with(PackerKind::Coreos, &[image.to_path_buf()], opts)
}

#[test]
fn broken_images_fail_with_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    // A small real file system without any kernel.
    let empty_root = work.path().join("empty-root");
    fs::create_dir_all(empty_root.join("usr/share")).unwrap();
    fs::write(empty_root.join("usr/share/hello"), "hi").unwrap();
    let small_fs = work.path().join("small.ext4");
    mkfs(&empty_root, &small_fs, 8);

    // Partition without a file system.
    let blank = disk_image(&work.path().join("blank.bin"), Label::Gpt, 8, None);
    let err = pack_err(&blank, &PackOptions::default());
    assert!(err.contains("blank.bin.bz2"), "{err}");
    assert!(
        err.contains("no partition holds an ext4 file system") && err.contains("not ext2/3/4"),
        "{err}"
    );

    // ext4, but no lib/modules/<ver>/build.
    let no_kernel = disk_image(
        &work.path().join("nokernel.bin"),
        Label::Gpt,
        8,
        Some(&small_fs),
    );
    let err = pack_err(&no_kernel, &PackOptions::default());
    assert!(err.contains("no lib/modules/<version>/build"), "{err}");

    // No partition table at all.
    let raw = work.path().join("raw.bin");
    fs::write(&raw, vec![7u8; 1 << 16]).unwrap();
    run(Command::new("bzip2").arg("-f").arg(&raw));
    let err = pack_err(&work.path().join("raw.bin.bz2"), &PackOptions::default());
    assert!(err.contains("no partition table"), "{err}");

    // Corrupt GPT: one byte of the header changed.
    let plain = work.path().join("gpt.bin");
    let bz = disk_image(&plain, Label::Gpt, 8, Some(&small_fs));
    run(Command::new("bzip2").arg("-d").arg("-f").arg(&bz));
    let disk = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&plain)
        .unwrap();
    disk.write_all_at(&[0xff], 512 + 40).unwrap();
    drop(disk);
    run(Command::new("bzip2").arg("-1").arg("-f").arg(&plain));
    let err = pack_err(&bz, &PackOptions::default());
    assert!(err.contains("checksum mismatch"), "{err}");

    // Corrupt and truncated compressed streams.
    let bytes = fs::read(&no_kernel).unwrap();
    let truncated = work.path().join("truncated.bin.bz2");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = pack_err(&truncated, &PackOptions::default());
    assert!(
        err.contains("truncated.bin.bz2") && err.contains("corrupt or truncated"),
        "{err}"
    );
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    for b in &mut flipped[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let corrupt = work.path().join("corrupt.bin.bz2");
    fs::write(&corrupt, &flipped).unwrap();
    let err = pack_err(&corrupt, &PackOptions::default());
    assert!(err.contains("corrupt or truncated"), "{err}");

    // Decompression bomb: the image limit is four times the unpack limit.
    let opts = PackOptions {
        limits: Some(Limits {
            max_total_bytes: MIB,
            ..Limits::default()
        }),
        ..PackOptions::default()
    };
    let err = pack_err(&no_kernel, &opts);
    assert!(err.contains("decompression bomb"), "{err}");

    // Two images in one set.
    let err = pack_error(PackerKind::Coreos, &[no_kernel.clone(), blank.clone()]);
    assert!(err.contains("exactly one"), "{err}");
}

#[test]
fn links_in_the_image_stay_inside_the_kernel_trees() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let build = root.join("usr/src/linux-5.15.1-flatcar");
    fs::create_dir_all(&build).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/secret"), "do not bundle").unwrap();
    fs::write(build.join("Makefile"), "all:\n\t@true\n").unwrap();
    fs::write(build.join(".config"), "CONFIG_X86_64=y\nCONFIG_MODULES=y\n").unwrap();
    // An absolute link out of the kernel trees: re-rooted in the image, not pulled in, dropped.
    std::os::unix::fs::symlink("/etc/secret", build.join("secret")).unwrap();
    let modules = root.join("lib/modules/5.15.1-flatcar");
    fs::create_dir_all(&modules).unwrap();
    std::os::unix::fs::symlink("/usr/src/linux-5.15.1-flatcar", modules.join("build")).unwrap();
    let fs_image = work.path().join("fs.ext4");
    mkfs(&root, &fs_image, 8);
    let image = disk_image(&work.path().join("ok.bin"), Label::Gpt, 8, Some(&fs_image));
    let out = tempfile::tempdir().unwrap();
    let packed = pack_ok(PackerKind::Coreos, &[image], out.path());
    assert_eq!(packed.uname, "5.15.1-flatcar");
    support::assert_bundle_relocatable(&packed.path);
    let listing = run(Command::new("tar").arg("-tzf").arg(&packed.path));
    assert!(!listing.contains("secret"), "{listing}");
    assert!(
        listing.contains("lib/modules/5.15.1-flatcar/build\n"),
        "{listing}"
    );

    // A relative link climbing out of the image's root is refused, naming the link.
    std::os::unix::fs::symlink("../../../../../../x", build.join("up")).unwrap();
    mkfs(&root, &fs_image, 8);
    let image = disk_image(&work.path().join("bad.bin"), Label::Gpt, 8, Some(&fs_image));
    let err = pack_err(&image, &PackOptions::default());
    assert!(
        err.contains("bad.bin.bz2") && err.contains("/usr/src/linux-5.15.1-flatcar/up"),
        "{err}"
    );
}
