//! Hostile and broken inputs: each is refused with a one-line error naming the package file and
//! the reason; nothing is written outside the work dir; no bundle (or temporary file) is left.

mod support;

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use kernel_packer::archive::extract::Limits;
use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use support::*;
use tar::EntryType::{Block, Char, Directory, Fifo, Link, Regular, Symlink};

struct Case {
    _temp: tempfile::TempDir,
    base: PathBuf,
}

impl Case {
    fn new() -> Case {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path().join("a/b/c");
        fs::create_dir_all(&base).unwrap();
        Case { _temp: temp, base }
    }

    /// Packs `packages` with a work dir and out dir under `base`, expects failure, checks the
    /// message and that nothing escaped. Returns the error text.
    fn refuse(
        &self,
        kind: PackerKind,
        packages: &[PathBuf],
        limits: Option<Limits>,
        expect: &str,
    ) -> String {
        let out = self.base.join("out");
        let work = self.base.join("work");
        let options = PackOptions {
            work_dir: Some(work.clone()),
            limits,
            ..PackOptions::default()
        };
        let err =
            pack_packages(kind, packages, &out, &options).expect_err("hostile input was accepted");
        let text = format!("{err:#}");
        assert!(
            text.contains(expect),
            "error {text:?} does not say {expect:?}"
        );
        let named = packages
            .iter()
            .any(|p| text.contains(&p.display().to_string()));
        assert!(named, "error {text:?} does not name the package file");
        assert!(!text.contains('\n'), "error is not one line: {text:?}");
        if out.exists() {
            assert_eq!(
                fs::read_dir(&out).unwrap().count(),
                0,
                "a failed pack left files in the output dir"
            );
        }
        assert_eq!(
            fs::read_dir(&work).unwrap().count(),
            0,
            "the work dir was not cleaned up"
        );
        let root = self._temp.path();
        for evil in ["evil", "a/evil", "a/b/evil", "a/b/c/evil", "etc/evil"] {
            assert!(
                fs::symlink_metadata(root.join(evil)).is_err(),
                "{evil} was written outside the work dir"
            );
        }
        text
    }

    /// [`Case::refuse`] of the one Debian package `name` made of `entries`.
    fn refuse_deb(&self, name: &str, entries: &[RawEntry<'_>], expect: &str) -> String {
        let deb = self.deb(name, entries);
        self.refuse(PackerKind::Debian, &[deb], None, expect)
    }

    fn deb(&self, name: &str, entries: &[RawEntry<'_>]) -> PathBuf {
        let path = self.base.join(name);
        deb_from_data_tar(raw_tar(entries), "evil", "1", &path, DebCompression::Xz);
        path
    }
}

fn file<'a>(name: &'a [u8], data: &'a [u8]) -> RawEntry<'a> {
    RawEntry {
        name,
        kind: Regular,
        link: b"",
        data,
    }
}

fn entry<'a>(name: &'a [u8], kind: tar::EntryType, link: &'a [u8]) -> RawEntry<'a> {
    RawEntry {
        name,
        kind,
        link,
        data: b"",
    }
}

#[test]
fn dot_dot_path_is_refused() {
    let case = Case::new();
    case.refuse_deb("dotdot.deb", &[file(b"./usr/../../evil", b"x")], "'..'");
}

#[test]
fn absolute_path_is_refused() {
    let case = Case::new();
    case.refuse_deb("absolute.deb", &[file(b"/etc/evil", b"x")], "absolute path");
}

#[test]
fn symlink_escaping_the_tree_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "escape-link.deb",
        &[entry(b"./usr/src/x", Symlink, b"../../../../../evil")],
        "points outside the package tree",
    );
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "through-link.deb",
        &[
            entry(b"./usr/src/up", Symlink, b"../.."),
            file(b"./usr/src/up/evil", b"x"),
        ],
        "goes through symlink",
    );
}

#[test]
fn absolute_symlink_then_write_through_it_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "abs-link.deb",
        &[entry(b"./etc", Symlink, b"/"), file(b"./etc/evil", b"x")],
        "goes through symlink",
    );
}

#[test]
fn hardlink_to_outside_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "hardlink-out.deb",
        &[entry(b"./usr/x", Link, b"../../../../etc/passwd")],
        "'..'",
    );
}

#[test]
fn hardlink_to_a_missing_entry_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "hardlink-missing.deb",
        &[entry(b"./usr/x", Link, b"./usr/not-there")],
        "not an earlier file of this archive",
    );
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    let case = Case::new();
    let chr = case.deb("char.deb", &[entry(b"./dev/null", Char, b"")]);
    case.refuse(
        PackerKind::Debian,
        &[chr],
        None,
        "character device entries are not allowed",
    );
    let blk = case.deb("block.deb", &[entry(b"./dev/sda", Block, b"")]);
    case.refuse(
        PackerKind::Debian,
        &[blk],
        None,
        "block device entries are not allowed",
    );
    let fifo = case.deb("fifo.deb", &[entry(b"./tmp/fifo", Fifo, b"")]);
    case.refuse(
        PackerKind::Debian,
        &[fifo],
        None,
        "fifo entries are not allowed",
    );
}

#[test]
fn truncated_package_is_refused() {
    let case = Case::new();
    let real = debian_packages()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("common"))
        .unwrap();
    let bytes = fs::read(&real).unwrap();
    let cut = case.base.join("linux-headers-truncated-common_all.deb");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    case.refuse(PackerKind::Debian, &[cut], None, "truncated");
}

#[test]
fn corrupt_compressed_data_is_refused() {
    let case = Case::new();
    let real = debian_packages()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("kbuild"))
        .unwrap();
    let mut bytes = fs::read(&real).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let bad = case.base.join("linux-kbuild-corrupt.deb");
    fs::write(&bad, &bytes).unwrap();
    case.refuse(PackerKind::Debian, &[bad], None, "corrupt");
}

#[test]
fn decompression_bomb_is_stopped_at_the_size_limit() {
    let case = Case::new();
    // 64 MiB of zeros: ~64 KiB gzipped, past a 16 MiB limit.
    let zeros = vec![0u8; 64 << 20];
    let tar = raw_tar(&[file(b"./usr/src/bomb", &zeros)]);
    let bomb = case.base.join("bomb.deb");
    deb_from_data_tar(tar, "bomb", "1", &bomb, DebCompression::Gzip);
    assert!(fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let limits = Limits {
        max_total_bytes: 16 << 20,
        ..Limits::default()
    };
    case.refuse(PackerKind::Debian, &[bomb], Some(limits), "size limit");
}

#[test]
fn entry_flood_is_stopped_at_the_entry_limit() {
    let case = Case::new();
    let names: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("./usr/src/f{i}").into_bytes())
        .collect();
    let entries: Vec<RawEntry<'_>> = names.iter().map(|n| file(n, b"")).collect();
    let flood = case.deb("flood.deb", &entries);
    let limits = Limits {
        max_entries: 100,
        ..Limits::default()
    };
    case.refuse(PackerKind::Debian, &[flood], Some(limits), "entry flood");
}

#[test]
fn entry_larger_than_declared_limit_bytes_in_hardlinks_counted() {
    // Hard links copy content: they count against the size limit too.
    let case = Case::new();
    let data = vec![1u8; 6 << 20];
    let deb = case.deb(
        "hardlink-bomb.deb",
        &[
            file(b"./usr/a", &data),
            entry(b"./usr/b", Link, b"./usr/a"),
            entry(b"./usr/c", Link, b"./usr/a"),
        ],
    );
    let limits = Limits {
        max_total_bytes: 16 << 20,
        ..Limits::default()
    };
    case.refuse(PackerKind::Debian, &[deb], Some(limits), "size limit");
}

#[test]
fn not_a_package_is_refused() {
    let case = Case::new();
    let junk = case.base.join("junk.deb");
    fs::write(&junk, b"this is not a package at all").unwrap();
    case.refuse(
        PackerKind::Debian,
        &[junk],
        None,
        "not a .deb, .rpm or tar archive",
    );
    let empty = case.base.join("empty.rpm");
    fs::write(&empty, b"").unwrap();
    case.refuse(
        PackerKind::Redhat,
        &[empty],
        None,
        "not a .deb, .rpm or tar archive",
    );
}

#[test]
fn truncated_rpm_is_refused() {
    let case = Case::new();
    let tree = tempfile::tempdir().unwrap();
    fs::write(tree.path().join(".config"), "CONFIG_X=y\n").unwrap();
    let mut big = fs::File::create(tree.path().join("Module.symvers")).unwrap();
    for i in 0..200_000 {
        writeln!(big, "0x{i:08x}\tsymbol_{i}\tvmlinux\tEXPORT_SYMBOL").unwrap();
    }
    drop(big);
    let rpm_path = case.base.join("kernel-devel-9.9.9.rpm");
    build_rpm(
        tree.path(),
        "/usr/src/kernels/9.9.9",
        ("kernel-devel", "9.9.9", "1", "x86_64"),
        rpm::CompressionWithLevel::Gzip(1),
        &rpm_path,
    );
    let bytes = fs::read(&rpm_path).unwrap();
    fs::write(&rpm_path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    case.refuse(PackerKind::Redhat, &[rpm_path], None, "truncated");
}

#[test]
fn a_set_without_a_kernel_tree_is_refused() {
    let case = Case::new();
    case.refuse_deb(
        "docs-only.deb",
        &[
            entry(b"./usr/share/doc/x", Directory, b""),
            file(b"./usr/share/doc/x/README", b"hi"),
        ],
        "no kernel tree",
    );
}

#[test]
fn a_set_with_two_kernel_trees_is_refused() {
    let case = Case::new();
    let one = case.deb(
        "linux-headers-1.0.0-1-amd64.deb",
        &[file(b"./usr/src/linux-headers-1.0.0-1-amd64/.config", b"")],
    );
    let two = case.deb(
        "linux-headers-2.0.0-1-amd64.deb",
        &[file(b"./usr/src/linux-headers-2.0.0-1-amd64/.config", b"")],
    );
    case.refuse(PackerKind::Debian, &[one, two], None, "two kernel trees");
}

#[test]
fn conflicting_files_across_packages_name_both() {
    let case = Case::new();
    let one = case.deb("first.deb", &[file(b"./usr/src/same", b"1")]);
    let two = case.deb("second.deb", &[file(b"./usr/src/same", b"2")]);
    let text = case.refuse(
        PackerKind::Debian,
        &[one, two],
        None,
        "both contain usr/src/same",
    );
    assert!(
        text.contains("first.deb") && text.contains("second.deb"),
        "{text}"
    );
}

#[test]
fn a_symlink_loop_is_refused() {
    let case = Case::new();
    let deb = case.deb(
        "loop.deb",
        &[
            file(b"./usr/src/linux-headers-1.0.0-1-amd64/.config", b""),
            entry(b"./usr/src/linux-headers-1.0.0-1-amd64/a", Symlink, b"b"),
            entry(b"./usr/src/linux-headers-1.0.0-1-amd64/b", Symlink, b"a"),
        ],
    );
    // The loop is met when the companion check resolves the tree (scripts missing) or when bundling.
    let err = case.refuse(PackerKind::Debian, &[deb], None, "");
    assert!(
        err.contains("loop") || err.contains("missing companion"),
        "{err}"
    );
}
