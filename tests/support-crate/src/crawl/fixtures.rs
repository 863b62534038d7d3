//! Fixture repositories in the real upstream formats, served by [`Mirror`]: apt (Release,
//! InRelease, Release.gpg, Packages.{gz,xz}), yum (repomd.xml, repomd.xml.asc,
//! primary.xml.{gz,xz,zst}), Apache directory indexes, GCS XML listings with pagination,
//! GitHub releases JSON. Signed with a test key generated at run time.

use std::io::Write;

use pgp::composed::{
    CleartextSignedMessage, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::Password;
use sha2::Digest;

use super::mirror::Mirror;

/// A test OpenPGP key (Ed25519 primary + signing subkey).
pub struct Signer {
    secret: SignedSecretKey,
    /// The public key, binary (like Debian's `.gpg` keyrings).
    pub public: Vec<u8>,
}

impl Signer {
    /// Generates a fresh key.
    pub fn new(uid: &str) -> Signer {
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(KeyType::Ed25519Legacy)
            .can_sign(true)
            .can_encrypt(false)
            .can_authenticate(false);
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .can_encrypt(false)
            .primary_user_id(uid.into())
            .subkeys(vec![sub.build().unwrap()]);
        let key = params
            .build()
            .unwrap()
            .generate(rand::thread_rng())
            .unwrap();
        let secret = key
            .sign(&mut rand::thread_rng(), &Password::from(""))
            .unwrap();
        let public = SignedPublicKey::from(secret.clone()).to_bytes().unwrap();
        Signer { secret, public }
    }

    /// A clear-signed message (`InRelease`), signed by the signing subkey (as Debian does).
    pub fn clearsign(&self, text: &str) -> String {
        let subkey = &self.secret.secret_subkeys[0].key;
        let msg =
            CleartextSignedMessage::sign(rand::thread_rng(), text, subkey, &Password::from(""))
                .unwrap();
        msg.to_armored_string(Default::default()).unwrap()
    }

    /// An armored detached signature (`Release.gpg`, `repomd.xml.asc`), by the primary key.
    pub fn detached(&self, data: &[u8]) -> Vec<u8> {
        let sig = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.secret.primary_key,
            &Password::from(""),
            HashAlgorithm::Sha256,
            data,
        )
        .unwrap();
        sig.to_armored_bytes(Default::default()).unwrap()
    }
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// gzip.
pub fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// xz.
pub fn xz(b: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// zstd.
pub fn zst(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// One binary package of an apt index.
#[derive(Debug, Clone)]
pub struct Deb {
    pub package: String,
    pub version: String,
    pub arch: String,
    /// Relative to the archive root (`pool/...`).
    pub filename: String,
    /// `Depends`; empty: [`realistic_depends`].
    pub depends: String,
}

impl Deb {
    /// From a pool URL `…/pool/…/name_version_arch.deb` under `root`.
    pub fn from_url(root: &str, url: &str) -> Deb {
        let filename = url
            .strip_prefix(root)
            .unwrap_or_else(|| panic!("{url} not under {root}"))
            .to_string();
        let file = filename.rsplit('/').next().unwrap();
        let stem = file.strip_suffix(".deb").unwrap();
        let mut parts = stem.splitn(3, '_');
        let package = parts.next().unwrap().to_string();
        let version = parts.next().unwrap().replace("%3a", ":");
        let arch = parts.next().unwrap().to_string();
        Deb {
            package,
            version,
            arch,
            filename,
            depends: String::new(),
        }
    }
}

/// The `Depends` Debian gives a package: an arch header depends on its common headers and
/// its kbuild (`linux-kbuild-<major.minor>` for `X.Y.Z-N` ABIs, else the ABI itself); an
/// Ubuntu flavour header on its common package; anything else on libc.
pub fn realistic_depends(package: &str, version: &str) -> String {
    let debian =
        regex::Regex::new(r"^linux-headers-(.+?)-((?:rt-|cloud-)?(?:amd64|arm64))$").unwrap();
    let ubuntu = regex::Regex::new(r"^linux-headers-(\d+\.\d+\.\d+-\d+)-[a-z]+$").unwrap();
    if let Some(c) = debian.captures(package) {
        let k = &c[1];
        let old_style = regex::Regex::new(r"^(\d+\.\d+)\.\d+-").unwrap();
        let series = old_style
            .captures(k)
            .map(|m| m[1].to_string())
            .unwrap_or_else(|| k.to_string());
        format!("linux-headers-{k}-common (= {version}), linux-kbuild-{series} (>= {version})")
    } else if let Some(c) = ubuntu.captures(package) {
        format!("linux-headers-{} (= {version})", &c[1])
    } else {
        "libc6 (>= 2.34)".to_string()
    }
}

/// A metapackage: no files of its own, it depends on the current kernel's package.
pub fn metapackage(name: &str, version: &str, kernel: &str, pool: &str) -> Deb {
    metapackage_for(name, version, kernel, pool, "amd64")
}

/// [`metapackage`] built for `arch`.
pub fn metapackage_for(name: &str, version: &str, kernel: &str, pool: &str, arch: &str) -> Deb {
    Deb {
        package: name.into(),
        version: version.into(),
        arch: arch.into(),
        filename: format!("{pool}{name}_{version}_{arch}.deb"),
        depends: format!("{kernel} (= {version})"),
    }
}

/// One Ubuntu kernel built for `arch`: the flavour's arch header (depending on the common
/// header) and the source package's common header (`all`), in `pool/main/l/<source>/`.
pub fn ubuntu_kernel(
    source: &str,
    common: &str,
    abi: &str,
    flavour: &str,
    version: &str,
    arch: &str,
) -> [Deb; 2] {
    let pool = format!("pool/main/l/{source}/");
    [
        Deb {
            package: format!("linux-headers-{abi}-{flavour}"),
            version: version.into(),
            arch: arch.into(),
            filename: format!("{pool}linux-headers-{abi}-{flavour}_{version}_{arch}.deb"),
            depends: format!("{common}-headers-{abi} (= {version})"),
        },
        Deb {
            package: format!("{common}-headers-{abi}"),
            version: version.into(),
            arch: "all".into(),
            filename: format!("{pool}{common}-headers-{abi}_{version}_all.deb"),
            depends: String::new(),
        },
    ]
}

/// A `Packages` index in the archive's stanza format.
pub fn packages_text(debs: &[Deb]) -> String {
    let mut out = String::new();
    for d in debs {
        let source = d.filename.split('/').rev().nth(1).unwrap_or("linux");
        let depends = if d.depends.is_empty() {
            realistic_depends(&d.package, &d.version)
        } else {
            d.depends.clone()
        };
        out.push_str(&format!(
            "Package: {}\nSource: {source} ({})\nVersion: {}\nInstalled-Size: 54321\nMaintainer: Debian Kernel Team <debian-kernel@lists.debian.org>\nArchitecture: {}\nDepends: {depends}\nDescription: Header files for Linux\n This package provides the architecture-specific kernel header files.\n .\n Built for testing.\nMulti-Arch: same\nHomepage: https://www.kernel.org/\nDescription-md5: 0b1a2e6e0cc5c9c5e5b8b6f6c8b5d2a1\nSection: kernel\nPriority: optional\nFilename: {}\nSize: 1234567\nMD5sum: 5d41402abc4b2a76b9719d911017c592\nSHA256: {}\n\n",
            d.package,
            d.version,
            d.version,
            d.arch,
            d.filename,
            sha256(d.filename.as_bytes())
        ));
    }
    out
}

/// Serves one apt suite: `dists/<suite>/{Release,InRelease,Release.gpg}` and per component
/// `binary-<arch>/Packages.{gz,xz}`, also under `by-hash/SHA256/` (`Acquire-By-Hash: yes`).
pub fn apt_suite(
    m: &Mirror,
    signer: &Signer,
    root: &str,
    suite: &str,
    components: &[(&str, Vec<Deb>)],
    arch: &str,
) {
    apt_suite_arches(m, signer, root, suite, &[(arch, components.to_vec())]);
}

/// The components of one architecture of a suite: `(component, packages)`.
pub type Components<'a> = Vec<(&'a str, Vec<Deb>)>;

/// [`apt_suite`] for several architectures: one `binary-<arch>` index per component and
/// architecture, all named by one signed Release (`Architectures: all <arch>...`), as the
/// Debian archive serves amd64 and arm64 side by side.
pub fn apt_suite_arches(
    m: &Mirror,
    signer: &Signer,
    root: &str,
    suite: &str,
    arches: &[(&str, Components)],
) {
    let dists = format!("{root}dists/{suite}/");
    let mut sha_lines = String::new();
    let mut md5_lines = String::new();
    for (arch, components) in arches {
        for (component, debs) in components {
            let text = packages_text(debs);
            for (name, data) in [
                ("Packages.gz", gz(text.as_bytes())),
                ("Packages.xz", xz(text.as_bytes())),
            ] {
                let rel = format!("{component}/binary-{arch}/{name}");
                sha_lines.push_str(&format!(" {} {:>16} {rel}\n", sha256(&data), data.len()));
                md5_lines.push_str(&format!(" {:x} {:>16} {rel}\n", md5ish(&data), data.len()));
                m.put(
                    &format!(
                        "{dists}{component}/binary-{arch}/by-hash/SHA256/{}",
                        sha256(&data)
                    ),
                    data.clone(),
                );
                m.put(&format!("{dists}{rel}"), data);
            }
            let rel = format!("{component}/binary-{arch}/Release");
            let body = format!("Archive: {suite}\nComponent: {component}\nArchitecture: {arch}\n");
            sha_lines.push_str(&format!(
                " {} {:>16} {rel}\n",
                sha256(body.as_bytes()),
                body.len()
            ));
            m.put(&format!("{dists}{rel}"), body.into_bytes());
        }
    }
    let comps: Vec<&str> = arches[0].1.iter().map(|(c, _)| *c).collect();
    let names: Vec<&str> = arches.iter().map(|(a, _)| *a).collect();
    let release = format!(
        "Origin: Debian\nLabel: Debian\nSuite: {suite}\nCodename: {suite}\nDate: Sat, 29 Jun 2024 09:21:08 UTC\nAcquire-By-Hash: yes\nNo-Support-for-Architecture-all: Packages\nArchitectures: all {}\nComponents: {}\nDescription: Fixture {suite}\nMD5Sum:\n{md5_lines}SHA256:\n{sha_lines}",
        names.join(" "),
        comps.join(" ")
    );
    m.put(&format!("{dists}Release"), release.clone().into_bytes());
    m.put(
        &format!("{dists}Release.gpg"),
        signer.detached(release.as_bytes()),
    );
    m.put(
        &format!("{dists}InRelease"),
        signer.clearsign(&release).into_bytes(),
    );
}

/// Serves a release alias (`dists/stable/`) as the archive does: the same signed files as
/// the codename's suite (which names its `Codename`).
pub fn apt_alias(m: &Mirror, root: &str, alias: &str, codename: &str) {
    for f in ["Release", "Release.gpg", "InRelease"] {
        let body = m
            .get(&format!("{root}dists/{codename}/{f}"))
            .unwrap_or_else(|| panic!("suite {codename} is not served"));
        m.put(&format!("{root}dists/{alias}/{f}"), body);
    }
}

fn md5ish(b: &[u8]) -> u128 {
    // Not MD5: the crawler ignores MD5Sum; the field only keeps the real file shape.
    u128::from_str_radix(&sha256(b)[..32], 16).unwrap()
}

/// Ubuntu's `meta-release` (the release list its upgrader reads): one stanza per
/// `(codename, name, version, supported)`.
pub fn meta_release(releases: &[(&str, &str, &str, bool)]) -> Vec<u8> {
    let mut out = String::new();
    for (dist, name, version, supported) in releases {
        let archive = "http://archive.ubuntu.com/ubuntu/dists";
        out.push_str(&format!(
            "Dist: {dist}\nName: {name}\nVersion: {version}\nDate: Thu, 25 April 2024 15:00:00 UTC\nSupported: {}\nDescription: This is the {version} release\nRelease-File: {archive}/{dist}-updates/Release\nReleaseNotes: http://changelogs.ubuntu.com/EOLReleaseAnnouncement\nUpgradeTool: {archive}/{dist}-updates/main/dist-upgrader-all/current/{dist}.tar.gz\nUpgradeToolSignature: {archive}/{dist}-updates/main/dist-upgrader-all/current/{dist}.tar.gz.gpg\n\n",
            u8::from(*supported)
        ));
    }
    out.into_bytes()
}

/// The Ubuntu releases of the fixture `meta-release`: standard support for focal, jammy,
/// noble and plucky; xenial and bionic are past it (ESM only).
pub const UBUNTU_RELEASES: &[(&str, &str, &str, bool)] = &[
    ("xenial", "Xenial Xerus", "16.04.7 LTS", false),
    ("bionic", "Bionic Beaver", "18.04.6 LTS", false),
    ("focal", "Focal Fossa", "20.04.6 LTS", true),
    ("jammy", "Jammy Jellyfish", "22.04.5 LTS", true),
    ("noble", "Noble Numbat", "24.04.3 LTS", true),
    ("plucky", "Plucky Puffin", "25.04", true),
];

/// One rpm of a yum repository.
#[derive(Debug, Clone)]
pub struct Rpm {
    pub name: String,
    pub ver: String,
    pub rel: String,
    pub arch: String,
    /// `location href` (relative to the repository root; may contain `../`).
    pub href: String,
}

impl Rpm {
    /// From a file name `name-ver-rel.arch.rpm` (name may contain dashes).
    pub fn from_file(file: &str, href: &str) -> Rpm {
        let stem = file.strip_suffix(".rpm").unwrap();
        let (nvr, arch) = stem.rsplit_once('.').unwrap();
        let (nv, rel) = nvr.rsplit_once('-').unwrap();
        let (name, ver) = nv.rsplit_once('-').unwrap();
        Rpm {
            name: name.into(),
            ver: ver.into(),
            rel: rel.into(),
            arch: arch.into(),
            href: href.into(),
        }
    }
}

/// `primary.xml` in createrepo's format.
pub fn primary_xml(rpms: &[Rpm]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        rpms.len()
    );
    for r in rpms {
        out.push_str(&format!(
            r#"<package type="rpm">
  <name>{n}</name>
  <arch>{a}</arch>
  <version epoch="0" ver="{v}" rel="{r}"/>
  <checksum type="sha256" pkgid="YES">{sum}</checksum>
  <summary>Development package for building kernel modules to match the kernel</summary>
  <description>This package provides kernel headers and makefiles sufficient to build modules
against the kernel package.</description>
  <packager>CentOS BuildSystem &lt;http://bugs.centos.org&gt;</packager>
  <url>http://www.kernel.org/</url>
  <time file="1700000000" build="1699990000"/>
  <size package="19123456" installed="41234567" archive="42000000"/>
  <location href="{h}"/>
  <format>
    <rpm:license>GPLv2</rpm:license>
    <rpm:vendor>CentOS</rpm:vendor>
    <rpm:group>System Environment/Kernel</rpm:group>
    <rpm:buildhost>kbuilder.bsys.centos.org</rpm:buildhost>
    <rpm:sourcerpm>kernel-{v}-{r}.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="1162788"/>
    <rpm:provides>
      <rpm:entry name="{n}" flags="EQ" epoch="0" ver="{v}" rel="{r}"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/bin/sh" pre="1"/>
    </rpm:requires>
  </format>
</package>
"#,
            n = r.name,
            a = r.arch,
            v = r.ver,
            r = r.rel,
            h = r.href,
            sum = sha256(r.href.as_bytes())
        ));
    }
    out.push_str("</metadata>\n");
    out
}

/// Serves a yum repository at `root`: `repodata/repomd.xml` (+ `.asc` when signed) and the
/// primary file compressed as `compression` (`gz`, `xz` or `zst`).
pub fn yum_repo(m: &Mirror, signer: Option<&Signer>, root: &str, rpms: &[Rpm], compression: &str) {
    let xml = primary_xml(rpms);
    let data = match compression {
        "gz" => gz(xml.as_bytes()),
        "xz" => xz(xml.as_bytes()),
        "zst" => zst(xml.as_bytes()),
        other => panic!("compression {other}"),
    };
    let sum = sha256(&data);
    let href = format!("repodata/{sum}-primary.xml.{compression}");
    m.put(&format!("{root}{href}"), data.clone());
    let repomd = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1719650000</revision>
  <data type="primary">
    <checksum type="sha256">{sum}</checksum>
    <open-checksum type="sha256">{osum}</open-checksum>
    <location href="{href}"/>
    <timestamp>1719650000</timestamp>
    <size>{size}</size>
    <open-size>{osize}</open-size>
  </data>
  <data type="filelists">
    <checksum type="sha256">{fsum}</checksum>
    <location href="repodata/{fsum}-filelists.xml.gz"/>
    <timestamp>1719650000</timestamp>
  </data>
</repomd>
"#,
        osum = sha256(xml.as_bytes()),
        size = data.len(),
        osize = xml.len(),
        fsum = sha256(b"filelists"),
    );
    if let Some(s) = signer {
        m.put(
            &format!("{root}repodata/repomd.xml.asc"),
            s.detached(repomd.as_bytes()),
        );
    }
    m.put(&format!("{root}repodata/repomd.xml"), repomd.into_bytes());
}

/// An Apache `mod_autoindex` page for `url` listing `entries` (directories end in `/`).
pub fn apache_index(url: &str, entries: &[String]) -> Vec<u8> {
    let path = reqwest::Url::parse(url).unwrap().path().to_string();
    let mut rows = String::new();
    for e in entries {
        let icon = if e.ends_with('/') {
            "folder.gif"
        } else {
            "unknown.gif"
        };
        let size = if e.ends_with('/') { "  - " } else { " 12M" };
        rows.push_str(&format!(
            "<tr><td valign=\"top\"><img src=\"/icons/{icon}\" alt=\"[   ]\"></td><td><a href=\"{href}\">{e}</a></td><td align=\"right\">2024-06-29 09:21  </td><td align=\"right\">{size}</td><td>&nbsp;</td></tr>\n",
            href = e.replace('+', "%2B").replace('~', "%7E"),
        ));
    }
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n  <title>Index of {path}</title>\n </head>\n <body>\n<h1>Index of {path}</h1>\n  <table>\n   <tr><th valign=\"top\"><img src=\"/icons/blank.gif\" alt=\"[ICO]\"></th><th><a href=\"?C=N;O=D\">Name</a></th><th><a href=\"?C=M;O=A\">Last modified</a></th><th><a href=\"?C=S;O=A\">Size</a></th><th><a href=\"?C=D;O=A\">Description</a></th></tr>\n   <tr><th colspan=\"5\"><hr></th></tr>\n<tr><td valign=\"top\"><img src=\"/icons/back.gif\" alt=\"[PARENTDIR]\"></td><td><a href=\"../\">Parent Directory</a></td><td>&nbsp;</td><td align=\"right\">  - </td><td>&nbsp;</td></tr>\n{rows}   <tr><th colspan=\"5\"><hr></th></tr>\n</table>\n<address>Apache/2.4.37 (centos) Server at fixture Port 80</address>\n</body></html>\n"
    )
    .into_bytes()
}

/// Serves a tree of Apache indexes for the given file URLs, from `root` (a directory URL)
/// down; every directory gets a page listing its children.
pub fn html_tree(m: &Mirror, root: &str, files: &[String]) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    dirs.entry(root.to_string()).or_default();
    for f in files {
        let rest = f
            .strip_prefix(root)
            .unwrap_or_else(|| panic!("{f} not under {root}"));
        let mut dir = root.to_string();
        let segs: Vec<&str> = rest.split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let entry = if last {
                seg.to_string()
            } else {
                format!("{seg}/")
            };
            dirs.entry(dir.clone()).or_default().insert(entry.clone());
            if !last {
                dir = format!("{dir}{entry}");
                dirs.entry(dir.clone()).or_default();
            }
        }
    }
    for (dir, entries) in dirs {
        let entries: Vec<String> = entries.into_iter().collect();
        m.put(&dir, apache_index(&dir, &entries));
    }
}

/// Serves a GCS-style XML listing of `keys` at `bucket_url` in pages of `page_size`,
/// chained with `NextMarker` / `marker=`.
pub fn bucket_listing(m: &Mirror, bucket_url: &str, keys: &[String], page_size: usize) {
    let mut keys = keys.to_vec();
    keys.sort();
    let name = bucket_url.rsplit('/').next().unwrap();
    let pages: Vec<&[String]> = keys.chunks(page_size).collect();
    let mut marker: Option<String> = None;
    for (i, page) in pages.iter().enumerate() {
        let truncated = i + 1 < pages.len();
        let mut url = reqwest::Url::parse(bucket_url).unwrap();
        if let Some(mk) = &marker {
            url.query_pairs_mut().append_pair("marker", mk);
        }
        let mut xml = format!(
            "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>{name}</Name><Prefix></Prefix><Marker>{}</Marker>",
            marker.clone().unwrap_or_default()
        );
        if truncated {
            xml.push_str(&format!(
                "<NextMarker>{}</NextMarker>",
                page.last().unwrap()
            ));
        }
        xml.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
        for k in page.iter() {
            xml.push_str(&format!(
                "<Contents><Key>{k}</Key><Generation>1718000000000000</Generation><MetaGeneration>1</MetaGeneration><LastModified>2024-06-10T00:00:00.000Z</LastModified><ETag>\"{}\"</ETag><Size>123456</Size></Contents>",
                &sha256(k.as_bytes())[..32]
            ));
        }
        xml.push_str("</ListBucketResult>");
        m.put(url.as_str(), xml.into_bytes());
        marker = page.last().cloned();
    }
}

/// Serves GitHub's releases API for `tags` (newest first, pages of 100).
pub fn github_releases(m: &Mirror, api: &str, tags: &[String]) {
    let mut id = 100_000;
    let releases: Vec<serde_json::Value> = tags
        .iter()
        .map(|t| {
            id += 1;
            serde_json::json!({
                "url": format!("{api}/releases/{id}"),
                "html_url": format!("https://github.com/x/y/releases/tag/{t}"),
                "id": id,
                "tag_name": t,
                "target_commitish": "master",
                "name": t,
                "draft": false,
                "prerelease": false,
                "created_at": "2024-06-01T00:00:00Z",
                "published_at": "2024-06-01T00:00:00Z",
                "assets": [],
                "tarball_url": format!("{api}/tarball/{t}"),
                "zipball_url": format!("{api}/zipball/{t}"),
                "body": "Release notes"
            })
        })
        .collect();
    let chunks: Vec<&[serde_json::Value]> = releases.chunks(100).collect();
    for page in 1..=chunks.len().max(1) + 1 {
        let body = chunks.get(page - 1).map(|c| c.to_vec()).unwrap_or_default();
        m.put(
            &format!("{api}/releases?per_page=100&page={page}"),
            serde_json::to_vec(&body).unwrap(),
        );
    }
}
