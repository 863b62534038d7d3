//! The fixture world: the project's real `sources.yml`, a mirror on 127.0.0.1 serving every
//! source kind with package URLs taken from the seed corpus, and the list files the crawl must
//! produce.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use kernel_packer::crawl::config::Config;
use kernel_packer::crawl::http::{Http, HttpConfig};

use super::fixtures::{self, Deb, Rpm, Signer};
use super::mirror::Mirror;

/// The sources the fixture world serves (one or more per source kind).
pub const SOURCES: &[&str] = &[
    "debian",
    "ubuntu-standard",
    "centos",
    "amazon",
    "fedora-coreos",
    "cos",
    "minikube",
    "gardenlinux",
    "linuxkit",
    "flatcar",
    "kops",
];

/// Seed corpus directory (`tests/corpus/stackrox-2024-07`, committed with the repository).
pub fn corpus_dir() -> PathBuf {
    crate::repo_root().join("tests/corpus/stackrox-2024-07")
}

/// URLs of a corpus list.
pub fn corpus(name: &str) -> Vec<String> {
    let path = corpus_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("corpus {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Everything a scenario needs.
pub struct World {
    pub mirror: Mirror,
    pub signer: Signer,
    pub config: Config,
    pub keys: tempfile::TempDir,
    pub lists: tempfile::TempDir,
    pub cache: tempfile::TempDir,
    /// Expected content of each list after a successful crawl.
    pub expected: BTreeMap<String, BTreeSet<String>>,
    /// Expected content of each uncrawled list after a successful crawl.
    pub expected_uncrawled: BTreeMap<String, BTreeSet<String>>,
    /// A URL added upstream per source (new in the list), where the fixture adds one.
    pub added: BTreeMap<String, String>,
    /// Upstream `scheme://host/` roots served by the mirror.
    pub hosts: Vec<String>,
    /// Expected content of the arm64 lists the world serves (Debian's main and security
    /// archives publish binary-arm64 beside binary-amd64); not crawled by the amd64 scenarios.
    pub arm64: BTreeMap<String, BTreeSet<String>>,
}

fn set(v: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

impl World {
    /// Builds the mirror and the lists directory (a copy of the corpus lists of [`SOURCES`]
    /// and their uncrawled companions).
    pub fn build() -> World {
        let mirror = Mirror::start();
        let signer =
            Signer::new("Fixture Archive Automatic Signing Key <ftpmaster@fixture.invalid>");
        let config_path = crate::repo_root().join("kernel-package-lists/sources.yml");
        let mut config = Config::load(&config_path).unwrap();
        let keys = tempfile::tempdir().unwrap();
        // Every key file sources.yml names is replaced by the fixture key.
        for s in &config.sources {
            for k in s.key.iter() {
                std::fs::write(keys.path().join(k), &signer.public).unwrap();
            }
        }
        config.keys_dir = Some(keys.path().to_path_buf());
        config.defaults.request_timeout_secs = 4.0;
        config.defaults.source_timeout_secs = 60.0;
        config.defaults.retries = 2;
        config.defaults.backoff_ms = 10;
        config.defaults.per_host_concurrency = 8;
        let lists = tempfile::tempdir().unwrap();
        let mut w = World {
            mirror,
            signer,
            config,
            keys,
            lists,
            cache: tempfile::tempdir().unwrap(),
            expected: BTreeMap::new(),
            expected_uncrawled: BTreeMap::new(),
            added: BTreeMap::new(),
            hosts: Vec::new(),
            arm64: BTreeMap::new(),
        };
        w.debian();
        w.ubuntu_standard();
        w.centos();
        w.amazon();
        w.fedora_coreos();
        w.cos();
        w.minikube();
        w.gardenlinux();
        w.linuxkit();
        w.flatcar();
        w.kops();
        // Seed the lists directory from the corpus.
        for s in SOURCES {
            let src = w.config.source(s).unwrap();
            for name in [src.list.clone(), src.uncrawled_list()] {
                let from = corpus_dir().join(&name);
                if from.exists() {
                    std::fs::copy(&from, w.lists.path().join(&name)).unwrap();
                }
            }
        }
        // Every host that any served URL lives on.
        let mut hosts = BTreeSet::new();
        let url_re = regex::Regex::new(r#"https?://[^/"\\ ]+"#).unwrap();
        for s in &w.config.sources {
            for r in &s.repositories {
                let text = format!("{r:?}");
                for m in url_re.find_iter(&text) {
                    hosts.insert(format!("{}/", m.as_str()));
                }
            }
        }
        w.hosts = hosts.into_iter().collect();
        w
    }

    /// An HTTP client pointed at the mirror, with the conditional cache in `self.cache`.
    pub fn http(&self) -> Http {
        let mut c: HttpConfig = kernel_packer::crawl::http_config(&self.config);
        c.overrides = self.mirror.overrides(&self.hosts);
        c.cache_dir = Some(self.cache.path().to_path_buf());
        Http::new(c).unwrap()
    }

    /// The list file of a source, as text.
    pub fn list_text(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.lists.path().join(file)).ok()
    }

    /// The URLs of a list file.
    pub fn list(&self, file: &str) -> BTreeSet<String> {
        kernel_packer::lists::parse(&self.list_text(file).unwrap_or_default()).urls
    }

    fn expect(
        &mut self,
        source: &str,
        list: BTreeSet<String>,
        moved: BTreeSet<String>,
        back: &BTreeSet<String>,
    ) {
        let src = self.config.source(source).unwrap();
        let (l, u) = (src.list.clone(), src.uncrawled_list());
        let mut unc = set(corpus_uncrawled(&u));
        unc.extend(moved);
        unc.retain(|x| !back.contains(x) && !list.contains(x));
        self.expected.insert(l, list);
        self.expected_uncrawled.insert(u, unc);
    }

    fn debian(&mut self) {
        let urls = corpus("debian.txt");
        let csail = "http://debian.csail.mit.edu/debian/";
        let security = "http://security.debian.org/";
        let mut suites: BTreeMap<(&str, &str), Vec<Deb>> = BTreeMap::new();
        let mut gone = BTreeSet::new();
        let mut kept = BTreeSet::new();
        for u in set(urls) {
            let root = if u.starts_with(csail) {
                csail
            } else {
                security
            };
            let d = Deb::from_url(root, &u);
            let sec = root == security;
            let suite = match &d.version {
                v if v.starts_with("5.10") => {
                    if sec {
                        "bullseye-security"
                    } else {
                        "bullseye"
                    }
                }
                v if v.starts_with("6.1.") => {
                    if sec {
                        "bookworm-security"
                    } else {
                        "bookworm"
                    }
                }
                v if v.starts_with("6.8") => "trixie",
                v if v.starts_with("6.9") => "sid",
                _ => {
                    gone.insert(u.clone()); // buster: not a configured suite any more
                    continue;
                }
            };
            suites.entry((root, suite)).or_default().push(d);
            kept.insert(u);
        }
        let new = format!(
            "{security}pool/updates/main/l/linux/linux-headers-6.1.0-23-amd64_6.1.99-1_amd64.deb"
        );
        suites
            .entry((security, "bookworm-security"))
            .or_default()
            .push(Deb::from_url(security, &new));
        kept.insert(new.clone());
        self.added.insert("debian".into(), new);
        // The upstream canary: each metapackage points at a kernel the rules select.
        let signed = "pool/main/l/linux-signed-amd64/";
        for (root, suite, meta, version, kernel) in [
            (
                security,
                "bookworm-security",
                "linux-headers-amd64",
                "6.1.99-1",
                "linux-headers-6.1.0-23-amd64",
            ),
            (
                security,
                "bookworm-security",
                "linux-headers-cloud-amd64",
                "6.1.90-1",
                "linux-headers-6.1.0-21-cloud-amd64",
            ),
            (
                csail,
                "bookworm",
                "linux-headers-amd64",
                "6.1.94-1",
                "linux-headers-6.1.0-22-amd64",
            ),
            (
                csail,
                "bookworm",
                "linux-headers-cloud-amd64",
                "6.1.94-1",
                "linux-headers-6.1.0-22-cloud-amd64",
            ),
            (
                csail,
                "sid",
                "linux-headers-rt-amd64",
                "6.9.7-1",
                "linux-headers-6.9.7-rt-amd64",
            ),
            (
                csail,
                "sid",
                "linux-headers-6.9-amd64",
                "6.9.7-1",
                "linux-headers-6.9.7-cloud-amd64",
            ),
        ] {
            suites
                .entry((root, suite))
                .or_default()
                .push(fixtures::metapackage(meta, version, kernel, signed));
        }
        // Release aliases name the suites; `testing` (forky) publishes no kernel, and only
        // some companions (`-updates`, `-security`) exist.
        let all = [
            (
                csail,
                [
                    "bullseye",
                    "bullseye-updates",
                    "bookworm",
                    "bookworm-updates",
                    "trixie",
                    "forky",
                    "sid",
                ]
                .as_slice(),
            ),
            (
                security,
                ["bullseye-security", "bookworm-security"].as_slice(),
            ),
        ];
        let mut arm64 = BTreeSet::new();
        for (root, names) in all {
            for suite in names {
                let mut debs = suites.remove(&(root, *suite)).unwrap_or_default();
                debs.extend(debian_fillers(root));
                // Every suite publishes binary-arm64 too (empty where no kernel is served).
                let arm = debian_arm64(suite);
                arm64.extend(
                    arm.iter()
                        .filter(|d| {
                            !d.filename.contains("linux-signed-")
                                && !d.package.starts_with("linux-image-")
                        })
                        .map(|d| format!("{root}{}", d.filename)),
                );
                let arches = vec![
                    ("amd64", vec![("main", debs)]),
                    ("arm64", vec![("main", arm)]),
                ];
                fixtures::apt_suite_arches(&self.mirror, &self.signer, root, suite, &arches);
            }
        }
        self.arm64.insert("debian-arm64.txt".into(), arm64);
        for (alias, codename) in [
            ("oldoldstable", "bullseye"),
            ("oldstable", "bookworm"),
            ("stable", "trixie"),
            ("testing", "forky"),
            ("unstable", "sid"),
        ] {
            fixtures::apt_alias(&self.mirror, csail, alias, codename);
        }
        assert!(suites.is_empty(), "unserved suites: {:?}", suites.keys());
        self.expect("debian", kept, gone, &BTreeSet::new());
    }

    fn ubuntu_standard(&mut self) {
        let root = "http://security.ubuntu.com/ubuntu/";
        // The release list the Ubuntu sources follow (supported releases' suites).
        self.mirror.put(
            "https://changelogs.ubuntu.com/meta-release",
            fixtures::meta_release(fixtures::UBUNTU_RELEASES),
        );
        let pool = format!("{root}pool/main/l/");
        let mut urls = set(corpus("ubuntu-standard.txt"));
        let vanished = urls.iter().next().unwrap().clone();
        urls.remove(&vanished);
        let mut files: Vec<String> = urls.iter().cloned().collect();
        // Not wanted: other architectures, images, other source packages.
        files.push(format!(
            "{pool}linux/linux-headers-5.15.0-90-generic_5.15.0-90.100_arm64.deb"
        ));
        files.push(format!(
            "{pool}linux/linux-image-5.15.0-90-generic_5.15.0-90.100_amd64.deb"
        ));
        files.push(format!(
            "{pool}linux-aws/linux-headers-5.15.0-1050-aws_5.15.0-1050.55_amd64.deb"
        ));
        fixtures::html_tree(&self.mirror, &pool, &files);
        // The jammy-security index lists the 5.15 kernels (already in the pool listing).
        let debs: Vec<Deb> = urls
            .iter()
            .filter(|u| u.contains("_5.15.0-"))
            .map(|u| Deb::from_url(root, u))
            .chain(std::iter::once(Deb {
                depends: String::new(),
                package: "linux-headers-5.15.0-1050-aws".into(),
                version: "5.15.0-1050.55".into(),
                arch: "amd64".into(),
                filename:
                    "pool/main/l/linux-aws/linux-headers-5.15.0-1050-aws_5.15.0-1050.55_amd64.deb"
                        .into(),
            }))
            .chain(std::iter::once(fixtures::metapackage(
                "linux-headers-generic",
                "5.15.0.115.115",
                "linux-headers-5.15.0-115-generic",
                "pool/main/l/linux-meta/",
            )))
            .collect();
        fixtures::apt_suite(
            &self.mirror,
            &self.signer,
            root,
            "jammy-security",
            &[("main", debs), ("universe", debian_fillers(root))],
            "amd64",
        );
        self.expect("ubuntu-standard", urls, set([vanished]), &BTreeSet::new());
    }

    fn centos(&mut self) {
        let urls = set(corpus("centos.txt"));
        let mut by_root: BTreeMap<String, Vec<Rpm>> = BTreeMap::new();
        let mut kept = BTreeSet::new();
        let mut xen = Vec::new();
        let mut gone = BTreeSet::new();
        for u in &urls {
            if u.starts_with("http://vault.centos.org/") {
                let (root, file) = u.split_once("Packages/").unwrap();
                by_root
                    .entry(root.to_string())
                    .or_default()
                    .push(Rpm::from_file(file, &format!("Packages/{file}")));
                kept.insert(u.clone());
            } else if u.starts_with("https://buildlogs.centos.org/centos/7/virt/x86_64/xen/") {
                xen.push(u.clone());
                kept.insert(u.clone());
            } else {
                gone.insert(u.clone());
            }
        }
        for (i, (root, mut rpms)) in by_root.into_iter().enumerate() {
            rpms.push(Rpm::from_file(
                "kernel-headers-3.10.0-1160.el7.x86_64.rpm",
                "Packages/kernel-headers-3.10.0-1160.el7.x86_64.rpm",
            ));
            rpms.push(Rpm::from_file(
                "kernel-devel-3.10.0-1160.el7.i686.rpm",
                "Packages/kernel-devel-3.10.0-1160.el7.i686.rpm",
            ));
            let compression = ["gz", "xz", "zst"][i % 3];
            fixtures::yum_repo(&self.mirror, None, &root, &rpms, compression);
        }
        let xen_root = "https://buildlogs.centos.org/centos/7/virt/x86_64/xen/";
        xen.push(format!("{xen_root}kernel-4.9.77-30.el7.x86_64.rpm"));
        fixtures::html_tree(&self.mirror, xen_root, &xen);
        // ELRepo: these were in centos-uncrawled.txt; upstream again, they come back.
        let elrepo_root =
            "http://linux-mirrors.fnal.gov/linux/elrepo/archive/kernel/el7/x86_64/RPMS/";
        let elrepo: BTreeSet<String> = corpus("centos-uncrawled.txt")
            .into_iter()
            .filter(|u| u.starts_with(elrepo_root))
            .collect();
        let mut files: Vec<String> = elrepo.iter().cloned().collect();
        files.push(format!(
            "{elrepo_root}kernel-lt-5.4.270-1.el7.elrepo.x86_64.rpm"
        ));
        fixtures::html_tree(&self.mirror, elrepo_root, &files);
        kept.extend(elrepo.iter().cloned());
        self.expect("centos", kept, gone, &elrepo);
    }

    fn amazon(&mut self) {
        let host = "http://amazonlinux.us-west-2.amazonaws.com/";
        let root = AMAZON_ROOT.to_string();
        self.mirror.put(
            &format!("{host}2/core/latest/x86_64/mirror.list"),
            format!("{root}\n").into_bytes(),
        );
        let urls = set(corpus("amazon.txt"));
        let mut rpms = amazon_rpms();
        let other = "blobstore/aa00/kernel-devel-5.10.217-205.860.amzn2.x86_64.rpm";
        rpms.push(Rpm::from_file(
            other.rsplit('/').next().unwrap(),
            &format!("../../../../../{other}"),
        ));
        fixtures::yum_repo(&self.mirror, None, &root, &rpms, "gz");
        self.expect("amazon", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn fedora_coreos(&mut self) {
        let root = "https://kojipkgs.fedoraproject.org/packages/kernel/";
        let urls = set(corpus("fedora-coreos.txt"));
        let mut files: Vec<String> = urls.iter().cloned().collect();
        for u in urls.iter().take(50) {
            files.push(u.replace("kernel-devel-", "kernel-core-"));
            files.push(
                u.replace("/x86_64/", "/aarch64/")
                    .replace(".x86_64.rpm", ".aarch64.rpm"),
            );
        }
        files.push(format!(
            "{root}4.18.16/300.fc29/x86_64/kernel-devel-4.18.16-300.fc29.x86_64.rpm"
        ));
        fixtures::html_tree(&self.mirror, root, &files);
        self.expect("fedora-coreos", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn cos(&mut self) {
        let bucket = "https://storage.googleapis.com/cos-tools";
        let urls = set(corpus("cos.txt"));
        let mut keys: Vec<String> = urls
            .iter()
            .map(|u| u.strip_prefix(&format!("{bucket}/")).unwrap().to_string())
            .collect();
        let builds: BTreeSet<String> = keys
            .iter()
            .map(|k| k.split('/').next().unwrap().to_string())
            .collect();
        for b in &builds {
            keys.push(format!("{b}/kernel_commit"));
            keys.push(format!("{b}/toolchain_path"));
        }
        keys.push("lakitu/kernel-headers.tgz".into());
        fixtures::bucket_listing(&self.mirror, bucket, &keys, 500);
        self.expect("cos", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn minikube(&mut self) {
        let api = "https://api.github.com/repos/kubernetes/minikube";
        let urls = set(corpus("minikube.txt"));
        let raw = "https://raw.githubusercontent.com/kubernetes/minikube/";
        let mut tags = vec!["v1.23.2".to_string()];
        for u in &urls {
            let Some(rest) = u.strip_prefix(raw) else {
                continue;
            };
            let (tag, path) = rest.split_once('/').unwrap();
            let (path, kernel) = path.split_once("?kernel=").unwrap();
            tags.push(tag.to_string());
            self.mirror.put(
                &format!("{raw}{tag}/{path}"),
                b"CONFIG_LOCALVERSION_AUTO=y\nCONFIG_KERNEL_XZ=y\n".to_vec(),
            );
            let br = if path.contains("board/coreos/") {
                "deploy/iso/minikube-iso/configs/minikube_defconfig"
            } else {
                "deploy/iso/minikube-iso/arch/x86_64/configs/minikube_x86_64_defconfig"
            };
            self.mirror.put(
                &format!("{raw}{tag}/{br}"),
                format!("BR2_x86_64=y\nBR2_LINUX_KERNEL=y\nBR2_LINUX_KERNEL_CUSTOM_VERSION=y\nBR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE=\"{kernel}\"\n").into_bytes(),
            );
        }
        tags.reverse();
        fixtures::github_releases(&self.mirror, api, &tags);
        self.expect("minikube", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn gardenlinux(&mut self) {
        let api = "https://api.github.com/repos/gardenlinux/gardenlinux";
        let root = "http://repo.gardenlinux.io/gardenlinux/";
        let urls = set(corpus("gardenlinux.txt"));
        let (old, new): (Vec<String>, Vec<String>) = urls
            .iter()
            .cloned()
            .partition(|u| u.contains("/linux-5.10/"));
        let debs = |v: &[String]| -> Vec<Deb> {
            let mut d: Vec<Deb> = v.iter().map(|u| Deb::from_url(root, u)).collect();
            d.extend(debian_fillers(root));
            d
        };
        let mut new_debs = debs(&new);
        new_debs.push(fixtures::metapackage(
            "linux-headers-cloud-amd64",
            "5.15.114-0gardenlinux3",
            "linux-headers-5.15.114-gardenlinux-cloud-amd64",
            "pool/main/l/linux-signed-amd64/",
        ));
        fixtures::apt_suite(
            &self.mirror,
            &self.signer,
            root,
            "576.12",
            &[("main", debs(&old))],
            "amd64",
        );
        fixtures::apt_suite(
            &self.mirror,
            &self.signer,
            root,
            "934.11",
            &[("main", new_debs)],
            "amd64",
        );
        // 1443.0 is tagged but has no dists yet (optional_suites); `nightly` is not a release tag.
        fixtures::github_releases(
            &self.mirror,
            api,
            &[
                "1443.0".into(),
                "nightly".into(),
                "934.11".into(),
                "576.12".into(),
            ],
        );
        self.expect("gardenlinux", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn linuxkit(&mut self) {
        let urls = set(corpus("linuxkit.txt"));
        self.expect("linuxkit", urls, BTreeSet::new(), &BTreeSet::new());
    }

    fn kops(&mut self) {
        let pool = "http://dist.kope.io/apt/pool/main/l/";
        let urls = corpus("kops.txt");
        let mut files: Vec<String> = urls
            .iter()
            .filter(|u| u.starts_with(pool))
            .cloned()
            .collect();
        let new =
            format!("{pool}linux-4.4.121-k8s/linux-headers-4.4.121-k8s_4.4.121-20180320_amd64.deb");
        files.push(new.clone());
        files.push(format!(
            "{pool}linux-4.4.121-k8s/linux-image-4.4.121-k8s_4.4.121-20180320_amd64.deb"
        ));
        fixtures::html_tree(&self.mirror, pool, &files);
        self.added.insert("kops".into(), new.clone());
        let mut all = set(urls);
        all.insert(new);
        self.expect("kops", all, BTreeSet::new(), &BTreeSet::new());
    }

    fn flatcar(&mut self) {
        let root = "https://stable.release.flatcar-linux.net/amd64-usr/";
        let urls = set(corpus("flatcar.txt"));
        let mut files: Vec<String> = urls.iter().cloned().collect();
        for u in &urls {
            files.push(u.replace(
                "flatcar_developer_container.bin.bz2",
                "flatcar_production_image.bin.bz2",
            ));
            files.push(u.replace("flatcar_developer_container.bin.bz2", "version.txt"));
        }
        files.push(format!("{root}current/flatcar_developer_container.bin.bz2"));
        fixtures::html_tree(&self.mirror, root, &files);
        self.expect("flatcar", urls, BTreeSet::new(), &BTreeSet::new());
    }
}

/// The Amazon Linux core repository's root on the fixture mirror.
pub const AMAZON_ROOT: &str = "http://amazonlinux.us-west-2.amazonaws.com/2/core/2.0/x86_64/6b0225ccc542f3834c95733dcf321ab9f1e77e6ca6817469771a8af7c49efe6c/";

/// The corpus `amazon.txt` packages as the core repository lists them (relative hrefs).
pub fn amazon_rpms() -> Vec<Rpm> {
    let host = "http://amazonlinux.us-west-2.amazonaws.com/";
    corpus("amazon.txt")
        .iter()
        .map(|u| {
            let rest = u.strip_prefix(host).unwrap();
            Rpm::from_file(
                rest.rsplit('/').next().unwrap(),
                &format!("../../../../../{rest}"),
            )
        })
        .collect()
}

/// Crawls `source` of `w` after `change`; expects it to fail with a reason containing every
/// `want`, and its lists (and uncrawled companion) byte-identical.
pub fn expect_failure(w: &World, source: &str, want: &[&str], change: impl FnOnce(&World)) {
    let src = w.config.source(source).unwrap();
    let before = (w.list_text(&src.list), w.list_text(&src.uncrawled_list()));
    change(w);
    let r = crawl_with(w, &w.http(), &[source]);
    match &r.sources[0].outcome {
        kernel_packer::crawl::Outcome::Failed { reason } => {
            for want in want {
                assert!(reason.contains(want), "{source}: {reason:?} lacks {want:?}");
            }
        }
        other => panic!("{source}: expected a failure, got {other:?}"),
    }
    let after = (w.list_text(&src.list), w.list_text(&src.uncrawled_list()));
    assert_eq!(before, after, "{source}: lists changed");
}

/// Crawls `sources` of the world with `http` into its lists directory.
pub fn crawl_with(w: &World, http: &Http, sources: &[&str]) -> kernel_packer::crawl::CrawlReport {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let selection =
        kernel_packer::crawl::Selection::Sources(sources.iter().map(|s| s.to_string()).collect());
    rt.block_on(kernel_packer::crawl::run(
        &w.config,
        &kernel_packer::lists::DirStore::new(w.lists.path()),
        &selection,
        http,
    ))
    .unwrap()
}

fn corpus_uncrawled(name: &str) -> Vec<String> {
    if corpus_dir().join(name).exists() {
        corpus(name)
    } else {
        Vec::new()
    }
}

/// Debian's arm64 kernels as the archive's `binary-arm64` indexes list them (bookworm 6.1.0-22
/// in the main archive with the rt featureset, 6.1.0-23 in the security archive): per-arch
/// kbuild, arch headers, `all` common headers, the signed metapackages and an image package
/// the selection must skip. Other suites publish none here.
fn debian_arm64(suite: &str) -> Vec<Deb> {
    let (pool, abi, version, flavours) = match suite {
        "bookworm" => (
            "pool/main/l/linux/",
            "6.1.0-22",
            "6.1.94-1",
            &["arm64", "cloud-arm64", "rt-arm64"][..],
        ),
        "bookworm-security" => (
            "pool/updates/main/l/linux/",
            "6.1.0-23",
            "6.1.99-1",
            &["arm64", "cloud-arm64"][..],
        ),
        _ => return Vec::new(),
    };
    let deb = |package: String, arch: &str, depends: String| Deb {
        filename: format!("{pool}{package}_{version}_{arch}.deb"),
        package,
        version: version.into(),
        arch: arch.into(),
        depends,
    };
    let mut out = vec![
        deb("linux-kbuild-6.1".into(), "arm64", String::new()),
        deb(format!("linux-headers-{abi}-common"), "all", String::new()),
        deb(
            format!("linux-image-{abi}-arm64-unsigned"),
            "arm64",
            String::new(),
        ),
    ];
    for flavour in flavours {
        let package = format!("linux-headers-{abi}-{flavour}");
        let depends = if flavour.starts_with("rt-") {
            out.push(deb(
                format!("linux-headers-{abi}-common-rt"),
                "all",
                String::new(),
            ));
            format!("linux-headers-{abi}-common-rt (= {version}), linux-kbuild-6.1 (>= {version})")
        } else {
            String::new()
        };
        out.push(deb(package.clone(), "arm64", depends));
        let meta = format!("linux-headers-{}", flavour);
        out.push(fixtures::metapackage_for(
            &meta,
            version,
            &package,
            "pool/main/l/linux-signed-arm64/",
            "arm64",
        ));
    }
    out
}

/// Packages every real index has that the kernel selections must skip.
fn debian_fillers(_root: &str) -> Vec<Deb> {
    vec![
        Deb {
            depends: String::new(),
            package: "bash".into(),
            version: "5.2.15-2+b2".into(),
            arch: "amd64".into(),
            filename: "pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb".into(),
        },
        Deb {
            depends: String::new(),
            package: "linux-image-6.1.0-21-amd64".into(),
            version: "6.1.90-1".into(),
            arch: "amd64".into(),
            filename:
                "pool/main/l/linux-signed-amd64/linux-image-6.1.0-21-amd64_6.1.90-1_amd64.deb"
                    .into(),
        },
        Deb {
            depends: String::new(),
            package: "linux-headers-6.1.0-0.deb11.21-amd64".into(),
            version: "6.1.90-1~bpo11+1".into(),
            arch: "amd64".into(),
            filename:
                "pool/main/l/linux/linux-headers-6.1.0-0.deb11.21-amd64_6.1.90-1~bpo11+1_amd64.deb"
                    .into(),
        },
    ]
}

/// Waits a little (used between scenario phases that rely on timing).
pub fn pause() {
    std::thread::sleep(Duration::from_millis(10));
}
