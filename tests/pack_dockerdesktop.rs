//! Docker Desktop end to end: a kernel image layer built from real inputs, served by a fake
//! Docker Hub registry on 127.0.0.1 (token, `tags/list` in two pages chained by `Link`, a
//! manifest per tag, the blob) → crawl of the project's `dockerdesktop` source → list →
//! manifest (the project's `reformat.yml`: `single`, type `dockerdesktop`) → the blob fetched
//! with the registry token → pack → a module builds against the bundle, whose name carries the
//! kernel banner's date.
//!
//! The layer is laid out as Docker Desktop ships it: `kernel` (a bzImage-shaped file whose gzip
//! payload holds a real-format banner), `kernel-dev.tar` (the real Debian 6.1 arch header tree,
//! `.config` included, re-laid out as `usr/src/linux-headers-<X.Y.Z>-linuxkit`) and
//! `linux.tar.xz` (the real `linux-source-6.1` tarball, `tests/fetch-debian-source.sh`,
//! re-rooted under `linux/`). Building it recompresses ~1.4 GB, so it is cached under
//! `~/.cache/kernel-packer-tests/dockerdesktop/` keyed by the inputs' sha256 (written to a
//! temporary file and renamed: concurrent builders agree on the content).

mod support;

use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use kernel_packer_test_support::crawl::mirror::Mirror;
use kernel_packer_test_support::crawl::registry;
use support::*;

/// The banner date and what the bundle name must carry.
const BANNER_DATE: &str = "Mon Oct 16 13:43:07 UTC 2023";
const BUILD_TIME: &str = "2023-10-16-13-43-07";
/// Bumped when the layer's layout changes (part of the cache key).
const LAYER_FORMAT: &str = "dockerdesktop-layer-3";
/// The randstruct seed the header tree ships (copied into the source before `make`).
const SEED: &str = "3f0c5a1e9b7d2c4486a1f0e2d3c4b5a697887766554433221100ffeeddccbbaa\n";

fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut f = BufReader::new(fs::File::open(path).unwrap());
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

/// A bzImage-shaped file: a setup area (boot sector signature, `HdrS` header magic) and the
/// gzip-compressed "vmlinux" holding the kernel banner among other bytes.
fn bzimage(version: &str) -> Vec<u8> {
    let mut image = vec![0u8; 0x4000];
    image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    image[0x202..0x206].copy_from_slice(b"HdrS");
    let mut vmlinux = vec![0x90u8; 1 << 20];
    vmlinux.extend_from_slice(b"%s version %s (%s)\0");
    vmlinux.extend_from_slice(
        format!(
            "Linux version {version}-linuxkit (root@buildkitsandbox) (gcc (Alpine 12.2.1_git20220924-r10) 12.2.1 20220924, GNU ld (GNU Binutils) 2.40) #1 SMP PREEMPT_DYNAMIC {BANNER_DATE}\n\0"
        )
        .as_bytes(),
    );
    vmlinux.extend(vec![0xccu8; 1 << 19]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&vmlinux).unwrap();
    image.extend(gz.finish().unwrap());
    image.extend([0u8; 16]);
    image
}

/// `kernel-dev.tar`: the Debian arch header tree as `usr/src/linux-headers-<version>-linuxkit`
/// (without Debian's top-level links into its common header package, which a linuxkit tree
/// has as real directories), plus a randstruct seed as linuxkit's header trees carry one.
fn kernel_dev_tar(debian: &DebianTree, version: &str) -> Vec<u8> {
    let dir = format!("usr/src/linux-headers-{version}-linuxkit");
    let arch = debian.root.join(&debian.arch_dir);
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut entries: Vec<_> = fs::read_dir(&arch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = format!("{dir}/{}", path.file_name().unwrap().to_str().unwrap());
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            b.append_dir_all(&name, &path).unwrap();
        } else if meta.is_file() {
            b.append_path_with_name(&path, &name).unwrap();
        }
    }
    // The seed's directories, unless the header tree has them as real directories.
    let real_scripts = fs::symlink_metadata(arch.join("scripts")).is_ok_and(|m| m.is_dir())
        && fs::symlink_metadata(arch.join("scripts/basic")).is_ok_and(|m| m.is_dir());
    for d in ["scripts", "scripts/basic"] {
        if !real_scripts {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o755);
            b.append_data(&mut h, format!("{dir}/{d}"), &[][..])
                .unwrap();
        }
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(SEED.len() as u64);
    h.set_mode(0o644);
    b.append_data(
        &mut h,
        format!("{dir}/scripts/basic/randstruct.seed"),
        SEED.as_bytes(),
    )
    .unwrap();
    b.into_inner().unwrap()
}

/// `linux.tar.xz`: the source tarball with `linux-source-6.1/` renamed `linux/`.
fn rerooted_source(tarball: &Path, out: &Path) {
    let input = liblzma::read::XzDecoder::new(BufReader::new(fs::File::open(tarball).unwrap()));
    let mut archive = tar::Archive::new(input);
    let output = liblzma::write::XzEncoder::new(BufWriter::new(fs::File::create(out).unwrap()), 0);
    let mut builder = tar::Builder::new(output);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let path = entry.path().unwrap().into_owned();
        let rest: PathBuf = path.components().skip(1).collect();
        let new = Path::new("linux").join(rest);
        let mut header = entry.header().clone();
        if kind.is_symlink() {
            let target = entry.link_name().unwrap().unwrap().into_owned();
            builder.append_link(&mut header, &new, &target).unwrap();
        } else if kind.is_file() || kind.is_dir() {
            builder.append_data(&mut header, &new, &mut entry).unwrap();
        } else {
            panic!("{}: unexpected entry type {kind:?}", path.display());
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// The layer blob (cached; see the module docs) and the kernel version it holds.
fn layer(tarball: &Path, debian: &DebianTree) -> (PathBuf, String) {
    let version = source_version(tarball);
    let config = debian.root.join(&debian.arch_dir).join(".config");
    let key = kernel_packer::names::sha256_hex(
        format!(
            "{LAYER_FORMAT} {} {} {version}",
            sha256_file(tarball),
            sha256_file(&config)
        )
        .as_bytes(),
    );
    let home = std::env::var_os("HOME").expect("HOME");
    let dir = PathBuf::from(home).join(".cache/kernel-packer-tests/dockerdesktop");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{key}.layer.tar.gz"));
    if path.exists() {
        return (path, version);
    }
    let started = Instant::now();
    let work = tempfile::tempdir_in(&dir).unwrap();
    let source = work.path().join("linux.tar.xz");
    rerooted_source(tarball, &source);
    let tmp = work.path().join("layer.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        BufWriter::new(fs::File::create(&tmp).unwrap()),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_697_463_787);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("kernel", &bzimage(&version));
    add("kernel-dev.tar", &kernel_dev_tar(debian, &version));
    let mut h = tar::Header::new_gnu();
    h.set_size(fs::metadata(&source).unwrap().len());
    h.set_mode(0o644);
    h.set_mtime(1_697_463_787);
    b.append_data(&mut h, "linux.tar.xz", fs::File::open(&source).unwrap())
        .unwrap();
    b.into_inner().unwrap().finish().unwrap();
    fs::rename(&tmp, &path).unwrap();
    eprintln!("dockerdesktop: layer built in {:?}", started.elapsed());
    (path, version)
}

#[test]
fn docker_desktop_kernel_from_a_fake_registry_builds_a_module() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let tarball = fetch("tests/fetch-debian-source.sh");
    let debian = debian_tree();
    let (layer_path, version) = layer(&tarball, &debian);
    let blob = fs::read(&layer_path).unwrap();

    // The registry: an older kernel without a layer of its own, an arm64 tag, the kernel.
    let mirror = Mirror::start();
    let commit = "0c1b7ff3b54e1d4da1b3c8e4a3b0f96e7d2f8a11";
    let arm = format!("{version}-{commit}-arm64");
    let amd = format!("{version}-{commit}-amd64");
    let other = vec![7u8; 4096];
    let want = registry::serve(
        &mirror,
        &[
            registry::Tag {
                name: "5.15.49-5fee2a3a8ccff3d5cdfe4a3eec5fbd1dce2a7ae8-arm64",
                layer: Some(&other),
            },
            registry::Tag {
                name: &arm,
                layer: Some(&other),
            },
            registry::Tag {
                name: &amd,
                layer: Some(&blob),
            },
        ],
        2,
    );
    assert_eq!(want.len(), 1);
    let url = want.iter().next().unwrap().clone();

    // Crawl the project's source through the mirror.
    let config_path = repo_root().join("kernel-package-lists/sources.yml");
    let config = kernel_packer::crawl::config::Config::load(&config_path).unwrap();
    let hosts = [
        "https://registry-1.docker.io/".to_string(),
        "https://auth.docker.io/".to_string(),
    ];
    let mut http_config = kernel_packer::crawl::http_config(&config);
    http_config.overrides = mirror.overrides(&hosts);
    let http = kernel_packer::crawl::http::Http::new(http_config).unwrap();
    let lists = tempfile::tempdir().unwrap();
    for f in ["reformat.yml", "sources.yml"] {
        fs::copy(
            repo_root().join("kernel-package-lists").join(f),
            lists.path().join(f),
        )
        .unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt
        .block_on(kernel_packer::crawl::run(
            &config,
            &kernel_packer::lists::DirStore::new(lists.path()),
            &kernel_packer::crawl::Selection::Sources(vec!["dockerdesktop".into()]),
            &http,
        ))
        .unwrap();
    assert!(report.ok(), "{}", report.summary());
    let list = fs::read_to_string(lists.path().join("dockerdesktop.txt")).unwrap();
    assert_eq!(kernel_packer::lists::parse(&list).urls, want);

    // The manifest: one set of type dockerdesktop holding the blob.
    let generated = kernel_packer::manifest::generate_from_files(
        &lists.path().join("reformat.yml"),
        None,
        None,
    )
    .unwrap();
    let sets: Vec<_> = generated
        .manifest
        .entries
        .values()
        .filter(|e| e.kind == "dockerdesktop")
        .collect();
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(sets[0].packages, vec![kernel_packer::names::simplify(&url)]);
    eprintln!("dockerdesktop: 1 kernel, {} set on the fixture", sets.len());

    // Sync's download of the blob (at its place on the mirror): the registry answers 401 with
    // a bearer challenge, the token comes from the realm, the blob follows.
    mirror.set_challenge(&format!(
        r#"Bearer realm="{}/auth.docker.io/token",service="registry.docker.io",scope="repository:docker/for-desktop-kernel:pull""#,
        mirror.base()
    ));
    let token = mirror.get(registry::TOKEN_URL).unwrap();
    mirror.put(
        "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Adocker%2Ffor-desktop-kernel%3Apull",
        token,
    );
    let packages = tempfile::tempdir().unwrap();
    let package = packages.path().join(&sets[0].packages[0]);
    let client = kernel_packer::sync::http_client(&Default::default()).unwrap();
    let local = http.effective_url(&url);
    let got = rt
        .block_on(kernel_packer::sync::download(
            &client,
            &local,
            packages.path(),
            1,
            std::time::Duration::from_millis(10),
        ))
        .unwrap();
    assert_eq!(got.size, blob.len() as u64);
    assert_eq!(format!("sha256:{}", got.sha256), registry::digest(&blob));
    got.file.persist(&package).unwrap();
    drop(blob);

    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let packed = pack_packages(
        PackerKind::Dockerdesktop,
        std::slice::from_ref(&package),
        out.path(),
        &PackOptions::default(),
    )
    .unwrap();
    eprintln!(
        "dockerdesktop: pack took {:?} ({} bytes)",
        started.elapsed(),
        packed.size
    );
    let uname = format!("{version}-linuxkit");
    assert_eq!(packed.uname, uname);
    assert_eq!(
        packed.file_name,
        format!("bundle-{version}-dockerdesktop-{BUILD_TIME}.tgz")
    );
    let dir = tempfile::tempdir().unwrap();
    unpack_bundle(&packed.path, dir.path());
    assert_eq!(meta(dir.path(), "BUNDLE_UNAME"), uname);
    assert_eq!(meta(dir.path(), "BUNDLE_DISTRO"), "dockerdesktop");
    // The headers' .config configured the source: olddefconfig rewrites what the toolchain
    // decides (compiler version and capabilities), the rest survives (a defconfig would keep
    // only a fraction of Debian's options).
    let shipped = fs::read_to_string(debian.root.join(&debian.arch_dir).join(".config")).unwrap();
    let bundled: std::collections::HashSet<&str> = fs::read_to_string(dir.path().join(".config"))
        .unwrap()
        .leak()
        .lines()
        .collect();
    let options: Vec<&str> = shipped
        .lines()
        .filter(|l| l.starts_with("CONFIG_") && !l.starts_with("CONFIG_LOCALVERSION"))
        .collect();
    let kept = options.iter().filter(|l| bundled.contains(*l)).count();
    eprintln!(
        "dockerdesktop: {kept} of {} options of the headers' .config kept",
        options.len()
    );
    assert!(options.len() > 1000 && kept * 100 >= options.len() * 95);
    assert_eq!(
        fs::read_to_string(dir.path().join("scripts/basic/randstruct.seed")).unwrap(),
        SEED
    );
    assert!(!dir.path().join("kernel/fork.c").exists());
    assert!(dir.path().join("scripts/mod/file2alias.c").exists());
    let started = Instant::now();
    let vermagic = build_module(dir.path());
    eprintln!("dockerdesktop: module build took {:?}", started.elapsed());
    assert!(vermagic.starts_with(&format!("{uname} ")), "{vermagic}");
}

#[test]
fn broken_layers_fail_naming_the_package_and_member() {
    let work = tempfile::tempdir().unwrap();
    let name = format!(
        "https---registry-1.docker.io-v2-docker-for-desktop-kernel-blobs-sha256-{}",
        "c".repeat(64)
    );
    let write_layer = |members: &[(&str, Vec<u8>)]| -> PathBuf {
        let path = work.path().join(&name);
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (n, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, n, &data[..]).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        path
    };
    let dev = {
        let mut b = tar::Builder::new(Vec::new());
        let config = b"CONFIG_X86_64=y\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(config.len() as u64);
        h.set_mode(0o644);
        b.append_data(
            &mut h,
            "usr/src/linux-headers-6.1.55-linuxkit/.config",
            &config[..],
        )
        .unwrap();
        b.into_inner().unwrap()
    };
    // No bzImage payload.
    let p = write_layer(&[("kernel", vec![0u8; 8192]), ("kernel-dev.tar", dev.clone())]);
    let err = pack_error(PackerKind::Dockerdesktop, std::slice::from_ref(&p));
    assert!(
        err.contains(&name) && err.contains("kernel") && err.contains("no gzip"),
        "{err}"
    );
    // A payload without a banner date.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"Linux version 6.1.55-linuxkit (root@x) #1 SMP yesterday\n")
        .unwrap();
    let mut image = vec![0u8; 1024];
    image.extend(gz.finish().unwrap());
    let p = write_layer(&[("kernel", image.clone()), ("kernel-dev.tar", dev.clone())]);
    let err = pack_error(PackerKind::Dockerdesktop, std::slice::from_ref(&p));
    assert!(
        err.contains(&name) && err.contains("no build date"),
        "{err}"
    );
    // A banner but no source member.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        format!("Linux version 6.1.55-linuxkit (root@x) #1 SMP {BANNER_DATE}\n").as_bytes(),
    )
    .unwrap();
    let mut image = vec![0u8; 1024];
    image.extend(gz.finish().unwrap());
    let p = write_layer(&[("kernel", image.clone()), ("kernel-dev.tar", dev)]);
    let err = pack_error(PackerKind::Dockerdesktop, std::slice::from_ref(&p));
    assert!(
        err.contains(&name) && err.contains("no linux.tar.xz"),
        "{err}"
    );
    // A header tree without .config.
    let p = write_layer(&[
        ("kernel", image),
        ("kernel-dev.tar", {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            b.append_data(
                &mut h,
                "usr/src/linux-headers-6.1.55-linuxkit/Makefile",
                &b"x"[..],
            )
            .unwrap();
            b.into_inner().unwrap()
        }),
    ]);
    let err = pack_error(PackerKind::Dockerdesktop, std::slice::from_ref(&p));
    assert!(
        err.contains(&name) && err.contains("missing config"),
        "{err}"
    );
}
