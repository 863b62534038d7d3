//! `fetch` of the real Debian bundle for a Debian host (os-release + uname fixture) from a
//! directory store, a moto S3 store and a local HTTPS server (`openssl s_server -WWW` with a CA
//! made at run time); the fetched bundle builds the canary module. A tampered bundle, a tampered
//! `SHA256SUMS` and a wrong signing key are each refused with exit code 4 and nothing unpacked; an
//! unknown kernel exits 3 and names the newest Debian bundle. In a store holding the real amd64
//! and arm64 Debian bundles of one release, an arm64 host (`--arch arm64`) gets the arm64 bundle
//! (its `.ko` cross-built and AArch64), and asking for a kernel that exists only for the other
//! architecture exits 3 naming it.

mod harness;
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{s3_store, Moto};
use kernel_packer::names::{manifest_id, simplify};
use kernel_packer::ondemand::{self, ManifestSet, PackContext};
use kernel_packer::store::{DirStore, Store};
use kernel_packer::sums;
use kernel_packer::verify::{verify_bundle, CheckStatus, VerifyOptions};

struct Published {
    store: PathBuf,
    public_key: PathBuf,
    uname: String,
    uname_v: String,
    _dir: tempfile::TempDir,
}

/// Packs the real Debian set into a directory store and signs it with a fresh key.
fn publish() -> Published {
    publish_sets(&[support::debian_packages()])
}

/// Packs each set of real Debian packages into one directory store and signs it; the first set
/// names the host (its uname and package version).
fn publish_sets(sets: &[Vec<PathBuf>]) -> Published {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (uname, version) = rt.block_on(async {
        let packages: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().join("packages")));
        let bundles: Arc<dyn Store> = Arc::new(DirStore::new(store_dir.clone()));
        let ctx = PackContext {
            packages: packages.clone(),
            bundles: bundles.clone(),
            work_dir: Some(dir.path().join("w")),
            verify: None,
        };
        let mut first = None;
        for debs in sets {
            // Debian names the architecture in each arch-specific package file name.
            let arch = if debs
                .iter()
                .any(|d| d.to_string_lossy().ends_with("_arm64.deb"))
            {
                "arm64"
            } else {
                "amd64"
            };
            let mut names = Vec::new();
            let mut version = String::new();
            for deb in debs {
                let file = deb.file_name().unwrap().to_str().unwrap().to_string();
                if file.starts_with("linux-headers-") && !file.contains("-common_") {
                    version = file.split('_').nth(1).unwrap().to_string();
                }
                let name = simplify(&format!("http://deb.test/pool/main/l/linux/{file}"));
                packages.put_file(&name, deb, None).await.unwrap();
                names.push(name);
            }
            let id = manifest_id(&names);
            let set = ManifestSet {
                kind: "debian".into(),
                packages: names,
                arch: Some(arch.to_string()),
            };
            let out = ondemand::pack_id(&ctx, &id, &set).await.unwrap();
            first.get_or_insert((out.kernel, version));
        }
        let (pk, sk) = sums::generate_keypair().unwrap();
        fs::write(dir.path().join("bundles.pub"), pk).unwrap();
        let signer = sums::Signer::from_key_text(&sk, None).unwrap();
        assert_eq!(sums::publish(bundles, &signer).await.unwrap(), sets.len());
        first.unwrap()
    });
    Published {
        store: store_dir,
        public_key: dir.path().join("bundles.pub"),
        uname_v: format!("#1 SMP PREEMPT_DYNAMIC Debian {version} (2026-11-01)"),
        uname,
        _dir: dir,
    }
}

fn fetch(p: &Published, from: &str, to: &Path, extra: &[&str], env: &[(String, String)]) -> Output {
    let out = support::kernel_packer()
        .arg("fetch")
        .arg("--os-release")
        .arg(support::repo_root().join("tests/fixtures/os-release/debian-12"))
        .args(["--uname-r", &p.uname, "--uname-v", &p.uname_v])
        .args([
            "--manifest",
            "/nonexistent/manifest.yml",
            "--from",
            from,
            "--json",
        ])
        .arg("--to")
        .arg(to)
        .arg("--public-key")
        .arg(&p.public_key)
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    eprintln!(
        "fetch {from}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Checks a successful fetch and returns (bytes, seconds) from its report.
fn fetched(out: &Output, to: &Path) -> (PathBuf, u64, f64) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let build = PathBuf::from(json["build_dir"].as_str().unwrap());
    let bundle = PathBuf::from(json["bundle_dir"].as_str().unwrap());
    assert!(build.starts_with(to), "{}", build.display());
    assert!(build.join("Makefile").is_file());
    assert!(bundle.join("BUNDLE_UNAME").is_file());
    let names: Vec<_> = fs::read_dir(to)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "only the bundle is left in {}: {names:?}",
        to.display()
    );
    (
        bundle,
        json["bytes"].as_u64().unwrap(),
        json["download_seconds"].as_f64().unwrap(),
    )
}

fn refused(out: &Output, to: &Path, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(4),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("verification failed, nothing unpacked"),
        "{what}: {stderr}"
    );
    let left = fs::read_dir(to).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "{what}: something was left in {}", to.display());
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue; // the directory store's own metadata
        }
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            files(root, &r, out);
        } else {
            out.push(r);
        }
    }
}

#[test]
fn fetches_the_signed_debian_bundle_from_each_store_kind_and_refuses_tampering() {
    let p = publish();
    let work = tempfile::tempdir().unwrap();
    let mut measured = BTreeMap::new();

    // Directory store; the fetched bundle builds the canary module.
    let to = work.path().join("dir");
    let (bundle, bytes, secs) = fetched(&fetch(&p, p.store.to_str().unwrap(), &to, &[], &[]), &to);
    measured.insert("dir", (bytes, secs));
    let report = verify_bundle(
        &bundle,
        &VerifyOptions {
            ebpf: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.module.status, CheckStatus::Passed, "{report:#?}");

    // moto S3.
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = s3_store(&moto.endpoint(), "bundles", "v1/", None).await;
        let mut keys = Vec::new();
        files(&p.store, Path::new(""), &mut keys);
        for key in keys {
            s3.put_file(key.to_str().unwrap(), &p.store.join(&key), None)
                .await
                .unwrap();
        }
    });
    let to = work.path().join("s3");
    let (_, bytes, secs) = fetched(&fetch(&p, "s3://bundles/v1", &to, &[], &moto.env()), &to);
    measured.insert("s3", (bytes, secs));

    // HTTPS with a private CA.
    let certs = work.path().join("certs");
    fs::create_dir(&certs).unwrap();
    make_server_cert(&certs);
    let port = harness::free_port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
        .arg(certs.join("server.pem"))
        .arg("-key")
        .arg(certs.join("server.key"))
        .args(["-WWW", "-quiet"])
        .current_dir(&p.store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server (scripts/setup.d/50-crawl-signed-apt-metadata.sh)");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let to = work.path().join("https");
    let ca = certs.join("ca.pem");
    let url = format!("https://127.0.0.1:{port}");
    let out = fetch(&p, &url, &to, &["--ca-cert", ca.to_str().unwrap()], &[]);
    let _ = server.kill();
    let _ = server.wait();
    let (_, bytes, secs) = fetched(&out, &to);
    measured.insert("https", (bytes, secs));
    eprintln!("fetch bytes/seconds per store kind: {measured:?}");

    // A tampered bundle: sha256 differs from the signed list.
    let t = work.path().join("tampered-bundle");
    copy_dir(&p.store, &t);
    let name = format!("bundle-{}.tgz", p.uname);
    let mut bytes = fs::read(t.join(&name)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(t.join(&name), bytes).unwrap();
    let to = work.path().join("out-1");
    refused(
        &fetch(&p, t.to_str().unwrap(), &to, &[], &[]),
        &to,
        "tampered bundle",
    );

    // A tampered SHA256SUMS (and a bundle + index that agree with it): the signature fails.
    let t = work.path().join("tampered-sums");
    copy_dir(&p.store, &t);
    let sums_text = fs::read_to_string(t.join("SHA256SUMS")).unwrap();
    fs::write(
        t.join("SHA256SUMS"),
        sums_text.replace(&p.uname, "6.1.0-1-amd64"),
    )
    .unwrap();
    let to = work.path().join("out-2");
    refused(
        &fetch(&p, t.to_str().unwrap(), &to, &[], &[]),
        &to,
        "tampered SHA256SUMS",
    );

    // A signature by another key.
    let (other, _) = sums::generate_keypair().unwrap();
    let other_key = work.path().join("other.pub");
    fs::write(&other_key, other).unwrap();
    let to = work.path().join("out-3");
    let out = support::kernel_packer()
        .arg("fetch")
        .arg("--os-release")
        .arg(support::repo_root().join("tests/fixtures/os-release/debian-12"))
        .args(["--uname-r", &p.uname, "--uname-v", &p.uname_v])
        .args(["--manifest", "/nonexistent/manifest.yml", "--from"])
        .arg(&p.store)
        .arg("--to")
        .arg(&to)
        .arg("--public-key")
        .arg(&other_key)
        .output()
        .unwrap();
    refused(&out, &to, "wrong key");

    // No bundle for this kernel yet: exit 3, the newest Debian bundle is named.
    let to = work.path().join("out-4");
    let out = support::kernel_packer()
        .arg("fetch")
        .arg("--os-release")
        .arg(support::repo_root().join("tests/fixtures/os-release/debian-12"))
        .args([
            "--uname-r",
            "6.1.0-999-amd64",
            "--uname-v",
            "#1 SMP Debian 6.1.999-1",
        ])
        .args(["--manifest", "/nonexistent/manifest.yml", "--from"])
        .arg(&p.store)
        .arg("--to")
        .arg(&to)
        .arg("--public-key")
        .arg(&p.public_key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("bundle-{}.tgz", p.uname)),
        "{stderr}"
    );
    assert!(!to.exists() || fs::read_dir(&to).unwrap().count() == 0);
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/setup.d/50-crawl-signed-apt-metadata.sh)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for 127.0.0.1 in `dir` (ca.pem, server.pem, server.key).
fn make_server_cert(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=fetch-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=fetch-server",
    ]);
    openssl(dir, &req);
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

#[test]
fn an_arm64_host_fetches_the_arm64_bundle_among_amd64_ones() {
    // The arm64 set first: it names the host.
    let p = publish_sets(&[support::debian_arm64_packages(), support::debian_packages()]);
    assert!(p.uname.ends_with("-arm64"), "{}", p.uname);
    let work = tempfile::tempdir().unwrap();
    let to = work.path().join("arm64");
    let out = fetch(
        &p,
        p.store.to_str().unwrap(),
        &to,
        &["--arch", "aarch64"],
        &[],
    );
    let (bundle, _, _) = fetched(&out, &to);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["resolution"]["arch"], "arm64", "{json}");
    assert_eq!(
        json["resolution"]["bundle"],
        format!("bundle-{}.tgz", p.uname)
    );
    assert_eq!(
        fs::read_to_string(bundle.join("BUNDLE_ARCH"))
            .unwrap()
            .trim(),
        "arm64"
    );
    // The fetched arm64 bundle builds the canary module (cross, host tools under qemu-user).
    let report = verify_bundle(
        &bundle,
        &VerifyOptions {
            ebpf: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.module.status, CheckStatus::Passed, "{report:#?}");
    assert!(report.module.detail.contains("arm64 ELF"), "{report:#?}");

    // The same arm64 kernel asked for by an amd64 host: exit 3, the arm64 bundle is named as
    // existing, nothing is unpacked.
    let to = work.path().join("amd64");
    let out = fetch(
        &p,
        p.store.to_str().unwrap(),
        &to,
        &["--arch", "amd64"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no amd64 bundle for debian kernel {}; arm64 exists",
            p.uname
        )),
        "{stderr}"
    );
    assert!(!to.exists() || fs::read_dir(&to).unwrap().count() == 0);
}
