//! TLS client certificates (RHEL entitlement style): a yum repository behind
//! `openssl s_server -Verify 1` on 127.0.0.1, with a CA, server and client certificates made
//! by the `openssl` CLI at run time (installed by scripts/setup.d/50-crawl-signed-apt-metadata.sh).

mod crawl_support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crawl_support::fixtures;
use crawl_support::mirror::Mirror;
use kernel_packer::crawl::config::Config;
use kernel_packer::crawl::http::Http;
use kernel_packer::crawl::{self, Outcome, Selection};
use kernel_packer::lists::DirStore;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("openssl: {e} (run scripts/setup.d/50-crawl-signed-apt-metadata.sh)")
        });
    assert!(status.success(), "openssl {args:?} failed");
}

fn make_certs(dir: &Path) {
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
        "/CN=fixture-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    for (who, eku) in [("server", "serverAuth"), ("client", "clientAuth")] {
        let mut req = vec!["req"];
        req.extend(ec);
        let (key, csr, subj) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("/CN=fixture-{who}"),
        );
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &req);
        let ext = format!("{who}.ext");
        std::fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={eku}\nsubjectAltName=IP:127.0.0.1\n"),
        )
        .unwrap();
        let cert = format!("{who}.pem");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
    let identity = [
        std::fs::read(dir.join("client.pem")).unwrap(),
        std::fs::read(dir.join("client.key")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("identity.pem"), identity).unwrap();
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn client_certificate_opens_the_repository_and_its_absence_fails_the_source() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    // The repository files, generated in the real yum format, written under www/.
    let upstream = "https://cdn.redhat.com/content/dist/rhel8/8/x86_64/baseos/os/";
    let gen = Mirror::start();
    let rpm = fixtures::Rpm::from_file(
        "kernel-devel-4.18.0-553.5.1.el8_10.x86_64.rpm",
        "Packages/k/kernel-devel-4.18.0-553.5.1.el8_10.x86_64.rpm",
    );
    fixtures::yum_repo(&gen, None, upstream, &[rpm], "xz");
    let www = dir.path().join("www");
    let repomd = gen.get(&format!("{upstream}repodata/repomd.xml")).unwrap();
    let href = String::from_utf8_lossy(&repomd)
        .split("<location href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    for (rel, body) in [
        ("repodata/repomd.xml".to_string(), repomd.clone()),
        (href.clone(), gen.get(&format!("{upstream}{href}")).unwrap()),
    ] {
        let path = www.join("content/dist/rhel8/8/x86_64/baseos/os").join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }

    let port = free_port();
    let _server = Server(
        Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(dir.path().join("server.pem"))
            .arg("-key")
            .arg(dir.path().join("server.key"))
            .arg("-CAfile")
            .arg(dir.path().join("ca.pem"))
            .args(["-Verify", "1", "-WWW", "-quiet"])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let yaml = format!(
        "defaults: {{retries: 0, request_timeout_secs: 5}}\nsources:\n  - list: rhel8.txt\n    credential: {{kind: client_cert, file: {id}}}\n    select: {{names: ['^kernel-devel$'], architectures: [x86_64]}}\n    repositories:\n      - {{kind: yum, urls: ['{upstream}']}}\n  - list: rhel84-eus.txt\n    select: {{names: ['^kernel-devel$']}}\n    repositories:\n      - {{kind: yum, urls: ['{upstream}']}}\n  - list: rhel7.txt\n    credential: {{kind: client_cert, file: {bad}}}\n    select: {{names: ['^kernel-devel$']}}\n    repositories:\n      - {{kind: yum, urls: ['{upstream}']}}\n",
        id = dir.path().join("identity.pem").display(),
        bad = dir.path().join("ca.key.missing").display(),
    );
    std::fs::write(dir.path().join("ca.key.missing"), "not a certificate").unwrap();
    let config = Config::parse(&yaml, "test").unwrap();
    let mut c = crawl::http_config(&config);
    c.overrides = vec![(
        "https://cdn.redhat.com/".into(),
        format!("https://127.0.0.1:{port}/"),
    )];
    c.extra_root_certs = vec![std::fs::read(dir.path().join("ca.pem")).unwrap()];
    let http = Http::new(c).unwrap();
    let lists = tempfile::tempdir().unwrap();
    let store = DirStore::new(lists.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(crawl::run(&config, &store, &Selection::All, &http))
        .unwrap();
    eprintln!("{}", r.summary());
    let by = |n: &str| {
        r.sources
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .outcome
            .clone()
    };
    assert!(
        matches!(by("rhel8"), Outcome::Updated { .. }),
        "{:?}",
        by("rhel8")
    );
    assert_eq!(
        std::fs::read_to_string(lists.path().join("rhel8.txt")).unwrap(),
        format!("{upstream}Packages/k/kernel-devel-4.18.0-553.5.1.el8_10.x86_64.rpm\n")
    );
    assert!(
        matches!(by("rhel84-eus"), Outcome::Failed { .. }),
        "no certificate must fail: {:?}",
        by("rhel84-eus")
    );
    match by("rhel7") {
        Outcome::Failed { reason } => {
            assert!(reason.contains("not a PEM certificate and key"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !lists.path().join("rhel84-eus.txt").exists() && !lists.path().join("rhel7.txt").exists()
    );
}
