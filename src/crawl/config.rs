//! `kernel-package-lists/sources.yml`: which repositories feed which list, and what to pick.
//!
//! Distro knowledge lives in that file, not in code: adding a distribution or a release is a
//! YAML edit. See the file's header comment for a tour of the fields.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use regex::Regex;
use serde::Deserialize;

/// The whole `sources.yml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Network settings shared by every source.
    #[serde(default)]
    pub defaults: Defaults,
    /// How a source's variant for another architecture is derived from it (see
    /// [`super::arch`]): architecture → `{replace: {from: to}}`.
    #[serde(default)]
    pub arch_variants: std::collections::BTreeMap<String, ArchVariant>,
    /// One entry per list file (architecture variants expanded, see [`super::arch`]).
    pub sources: Vec<Source>,
    /// Directory of the key files sources name (`keys/` beside `sources.yml` when loaded from
    /// a file; must be set by the caller otherwise).
    #[serde(skip)]
    pub keys_dir: Option<std::path::PathBuf>,
}

/// How the variant of a source for one architecture is derived (see [`super::arch`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchVariant {
    /// Text replaced in every string of the source (`amd64: arm64`, `x86_64: aarch64`, an
    /// archive root → its ports archive), longest match first, in one pass.
    pub replace: std::collections::BTreeMap<String, String>,
}

/// Network settings (politeness and timeouts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Timeout of one HTTP request, body included.
    pub request_timeout_secs: f64,
    /// Timeout of one whole source (all its repositories).
    pub source_timeout_secs: f64,
    /// Retries after the first attempt, on 5xx, 429, timeouts and connection errors.
    pub retries: u32,
    /// First backoff delay; doubles on each retry.
    pub backoff_ms: u64,
    /// Requests in flight to one host at a time.
    pub per_host_concurrency: usize,
    /// Sources crawled at the same time.
    pub source_concurrency: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            request_timeout_secs: 60.0,
            source_timeout_secs: 1800.0,
            retries: 3,
            backoff_ms: 500,
            per_host_concurrency: 4,
            source_concurrency: 8,
        }
    }
}

/// One list file and the repositories that feed it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// List file name, e.g. `debian.txt`. The source's name is the file stem (`debian`).
    pub list: String,
    /// Companion list for URLs that vanished upstream; default `<stem>-uncrawled.txt`.
    #[serde(default)]
    pub uncrawled: Option<String>,
    /// Free text for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// Layout of the list and its uncrawled companion: `sorted` (default) or `keep` (file
    /// order kept, new URLs appended; for grouping rules that depend on position).
    #[serde(default)]
    pub order: crate::lists::Order,
    /// `false` keeps the list as it is (e.g. end-of-life or unreachable sources); `--all` skips it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Why a source is disabled or anything else a maintainer should know.
    #[serde(default)]
    pub note: Option<String>,
    /// Credential used for every repository of this source.
    #[serde(default)]
    pub credential: Option<CredentialSpec>,
    /// Signing key file under `kernel-package-lists/keys/` for every repository (unless the
    /// repository names its own). With a key, unsigned or badly signed metadata fails the source.
    #[serde(default)]
    pub key: Option<String>,
    /// Which packages to pick (a repository may override it). Required by apt, yum, html and
    /// bucket repositories unless they carry their own; github and fixed repositories ignore it.
    #[serde(default)]
    pub select: Option<Select>,
    /// The upstream canary: what must be selected for the rules to be current. Every source
    /// of the project's `sources.yml` has one (`canary: {none: <reason>}` where none applies).
    #[serde(default)]
    pub canary: Option<Canary>,
    /// Where to look.
    pub repositories: Vec<Repository>,
    /// Architectures the source is crawled for (default `[amd64]`); each other one is a
    /// variant with its own list `<stem>-<arch>.txt` (see [`super::arch`]). After loading,
    /// every source holds exactly its own architecture here.
    #[serde(default = "default_architectures")]
    pub architectures: Vec<String>,
    /// Replacements of this source for one architecture's variant, on top of
    /// `arch_variants` (consumed by the expansion).
    #[serde(default)]
    pub arch_replace:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The architecture this (expanded) source crawls: set by the expansion, never written
    /// in `sources.yml`.
    #[serde(default = "default_arch")]
    pub arch: String,
}

fn default_architectures() -> Vec<String> {
    vec![super::arch::DEFAULT_ARCH.to_string()]
}

fn default_arch() -> String {
    super::arch::DEFAULT_ARCH.to_string()
}

fn yes() -> bool {
    true
}

impl Source {
    /// The source's name: the list file name without `.txt`.
    pub fn name(&self) -> &str {
        self.list.strip_suffix(".txt").unwrap_or(&self.list)
    }

    /// The uncrawled companion's file name.
    pub fn uncrawled_list(&self) -> String {
        self.uncrawled
            .clone()
            .unwrap_or_else(|| format!("{}-uncrawled.txt", self.name()))
    }
}

/// Where a secret comes from. The secret itself is never in the config, the lists or the logs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    /// How it is presented.
    pub kind: CredentialKind,
    /// Environment variable holding the secret itself (for `client_cert`: the PEM text);
    /// tried first.
    #[serde(default)]
    pub env: Option<String>,
    /// File holding the secret (for `client_cert`: PEM with certificate and private key);
    /// used when the variable is unset.
    #[serde(default)]
    pub file: Option<String>,
}

/// How a credential is presented to the server.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// HTTP basic auth; the secret is `user:password`.
    Basic,
    /// TLS client certificate; the secret is a PEM holding certificate and key.
    ClientCert,
    /// The secret is appended as the URL's query string (`url?<secret>`).
    UrlQuery,
}

/// Package selection. Regexes use the `regex` crate syntax and are unanchored unless written
/// with `^`/`$`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// The package name (apt/yum) or file name (other kinds) must match one of these.
    pub names: Vec<String>,
    /// ... and none of these.
    #[serde(default)]
    pub exclude_names: Vec<String>,
    /// If given, the version must match one of these. Version: apt `Version`, yum
    /// `ver-rel`, other kinds the path below the repository URL (e.g. `6.9.1/200.fc40/x86_64/`).
    #[serde(default)]
    pub versions: Vec<String>,
    /// The version must match none of these.
    #[serde(default)]
    pub exclude_versions: Vec<String>,
    /// If given, the architecture (apt `Architecture`, yum `arch`) must be one of these.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// If given, the package URL must match one of these (e.g. a pool directory).
    #[serde(default)]
    pub urls: Vec<String>,
    /// The package URL must match none of these.
    #[serde(default)]
    pub exclude_urls: Vec<String>,
    /// apt only: if given, the package must depend (any `Depends` alternative) on a package
    /// whose name matches one of these. This recognises real header packages from the index's
    /// own metadata: Debian's arch headers depend on their kbuild, metapackages
    /// (`linux-headers-amd64`, `linux-headers-6.12-amd64`) only on another header package.
    #[serde(default)]
    pub depends: Vec<String>,
    /// apt only: what a selected package depends on, if the name matches one of these, is
    /// selected too (from the same index; an `(= version)` constraint is honoured), e.g. the
    /// common headers and kbuild an arch header names. Followed packages must still pass the
    /// exclude, version, architecture and URL filters.
    #[serde(default)]
    pub follow_depends: Vec<String>,
}

/// The upstream canary of a source: the distribution's own pointer to its current kernel,
/// which must be among the selected packages after a crawl, else the source fails with
/// `rules are stale: ...` and its lists stay as they are.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// apt: metapackages (`linux-headers-amd64`, `linux-headers-generic`). In every suite that
    /// publishes one, the kernel package it depends on (breadth first through `Depends`, the
    /// first name matching `kernel`) must be selected; each must be published by some apt
    /// repository of the source.
    #[serde(default)]
    pub metapackages: Vec<String>,
    /// apt: regex naming the kernel package among a metapackage's dependencies; default
    /// `^linux-headers-`.
    #[serde(default)]
    pub kernel: Option<String>,
    /// yum, html, bucket, github: regex on entry names (yum package name, file name, tag); the
    /// newest matching entry seen (per yum repository, among the selected architectures; by
    /// version order of the path for html and bucket; API order for github) must yield a
    /// selected URL.
    #[serde(default)]
    pub newest: Option<String>,
    /// With `newest`: only entries whose version (yum `ver-rel`, else the ordering key) matches
    /// one of these count, for lists that take one series of a repository (Amazon Linux 4.x).
    #[serde(default)]
    pub versions: Vec<String>,
    /// No canary, and why (e.g. a fixed list of URLs).
    #[serde(default)]
    pub none: Option<String>,
}

impl Canary {
    /// The regex naming the kernel package a metapackage points at.
    pub fn kernel_regex(&self) -> Result<Regex> {
        let k = self.kernel.as_deref().unwrap_or("^linux-headers-");
        Regex::new(k).with_context(|| format!("canary kernel regex {k:?}"))
    }

    /// The compiled `newest` check, if any.
    pub fn newest_regex(&self) -> Result<Option<super::canary::Newest>> {
        let Some(n) = self.newest.as_deref() else {
            return Ok(None);
        };
        Ok(Some(super::canary::Newest {
            names: Regex::new(n).with_context(|| format!("canary newest regex {n:?}"))?,
            versions: compile("canary versions", &self.versions)?,
        }))
    }

    fn validate(&self, source: &Source) -> Result<()> {
        self.kernel_regex()?;
        self.newest_regex()?;
        if let Some(reason) = &self.none {
            if reason.trim().is_empty() {
                bail!("`canary: none` needs a reason");
            }
            if !self.metapackages.is_empty() || self.newest.is_some() {
                bail!("`canary: none` excludes other canary fields");
            }
            return Ok(());
        }
        for repo in &source.repositories {
            match repo {
                Repository::Apt(_) if self.metapackages.is_empty() => {
                    bail!("canary: apt repositories need `metapackages`")
                }
                Repository::Yum(_)
                | Repository::Html(_)
                | Repository::Bucket(_)
                | Repository::Github(_)
                | Repository::Registry(_)
                    if self.newest.is_none() =>
                {
                    bail!("canary: {} repositories need `newest`", repo.kind())
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// One place to read package metadata from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Repository {
    /// Debian-style repository: `dists/<suite>/InRelease` → `Packages.{xz,gz}` → `Filename`.
    Apt(AptRepo),
    /// yum/dnf repository: `repodata/repomd.xml` → `primary.xml.*` → `location`.
    Yum(YumRepo),
    /// HTML directory index (Apache, nginx, Koji), descending directory levels.
    Html(HtmlRepo),
    /// S3/GCS-style XML bucket listing with pagination.
    Bucket(BucketRepo),
    /// GitHub releases or tags, turned into URLs by templates.
    Github(GithubRepo),
    /// A fixed list of URLs.
    Fixed(FixedRepo),
    /// An OCI/Docker registry (Registry HTTP API v2): tags → manifests → layer blob URLs.
    Registry(RegistryRepo),
}

/// See [`Repository::Registry`]. Each tag matching `tags` (newest first by version order)
/// yields the blob URL of every non-empty layer of its manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRepo {
    /// Registry API root, e.g. `https://registry-1.docker.io`.
    pub url: String,
    /// Repository, e.g. `docker/for-desktop-kernel`.
    pub repository: String,
    /// Anonymous token endpoint (`{repository}` replaced), e.g.
    /// `https://auth.docker.io/token?service=registry.docker.io&scope=repository:{repository}:pull`;
    /// the token is sent as a bearer credential and never logged.
    #[serde(default)]
    pub token: Option<String>,
    /// Tag regexes (a tag must match one).
    pub tags: Vec<String>,
}

/// See [`Repository::Apt`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepo {
    /// Archive root (the directory holding `dists/` and `pool/`).
    pub url: String,
    /// Suites (`dists/<suite>`).
    #[serde(default)]
    pub suites: Vec<String>,
    /// Components; default `[main]`.
    #[serde(default = "main_component")]
    pub components: Vec<String>,
    /// Binary architectures; default `[amd64]`.
    #[serde(default = "amd64")]
    pub architectures: Vec<String>,
    /// Overrides the source's key.
    #[serde(default)]
    pub key: Option<String>,
    /// Overrides the source's selection.
    #[serde(default)]
    pub select: Option<Select>,
    /// A suite whose `InRelease`/`Release` is missing (404) is skipped instead of failing.
    #[serde(default)]
    pub optional_suites: bool,
    /// More suites, discovered from GitHub releases/tags: each emitted string is a suite name.
    #[serde(default)]
    pub suites_from_github: Option<Box<GithubRepo>>,
    /// More suites, from release aliases resolved through the archive's own Release files.
    #[serde(default)]
    pub aliases: Option<Aliases>,
    /// More suites, from the release list a distribution publishes for its upgrader
    /// (Ubuntu's `meta-release`): every release marked `Supported: 1` is followed.
    #[serde(default)]
    pub releases: Option<Releases>,
}

/// Suites from a published release list (RFC 822 stanzas with `Dist:` and `Supported:`, the
/// shape of Ubuntu's `meta-release`). The templates are crawled when they exist, `{codename}`
/// replaced by each supported release's `Dist`; a new release is followed without a config
/// change. The list is fetched without the source's credential.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    /// The release list URL.
    pub url: String,
    /// Suite templates, e.g. `['{codename}-security', '{codename}-updates']`.
    pub companions: Vec<String>,
}

/// Suites that follow the distribution: each alias (`stable`, `unstable`, ...) is resolved
/// to its codename through `dists/<alias>/InRelease` (`Codename:`), then the templates give
/// the suites to crawl, `{codename}` replaced. A new release is followed without a config
/// change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aliases {
    /// The aliases, e.g. `[oldoldstable, oldstable, stable, testing, unstable]`.
    pub names: Vec<String>,
    /// Archive root whose `dists/<alias>/` is read; default the repository itself (Debian's
    /// security archive has no aliases: it reads the main archive's).
    #[serde(default)]
    pub from: Option<String>,
    /// Suite templates that must exist; default `['{codename}']`.
    #[serde(default = "codename")]
    pub suites: Vec<String>,
    /// Suite templates crawled when they exist (`{codename}-updates`, `{codename}-security`).
    #[serde(default)]
    pub companions: Vec<String>,
}

fn codename() -> Vec<String> {
    vec!["{codename}".into()]
}

fn main_component() -> Vec<String> {
    vec!["main".into()]
}
fn amd64() -> Vec<String> {
    vec!["amd64".into()]
}

/// See [`Repository::Yum`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YumRepo {
    /// Repository roots (each holding `repodata/repomd.xml`).
    #[serde(default)]
    pub urls: Vec<String>,
    /// A mirror list URL: one repository root per line (`#` comments); the first mirror that
    /// answers is used, and package URLs are resolved against it.
    #[serde(default)]
    pub mirrorlist: Option<String>,
    /// Overrides the source's key (verifies `repodata/repomd.xml.asc`).
    #[serde(default)]
    pub key: Option<String>,
    /// Overrides the source's selection.
    #[serde(default)]
    pub select: Option<Select>,
    /// A root whose `repomd.xml` is missing (404) is skipped instead of failing.
    #[serde(default)]
    pub optional: bool,
}

/// See [`Repository::Html`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtmlRepo {
    /// Index URLs to start from (each ending in `/`).
    pub urls: Vec<String>,
    /// One regex per directory level to descend, matched against the link's directory name
    /// (without the trailing `/`). Empty: the start pages list the files.
    #[serde(default)]
    pub descend: Vec<String>,
    /// Overrides the source's selection (names match file names).
    #[serde(default)]
    pub select: Option<Select>,
}

/// See [`Repository::Bucket`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketRepo {
    /// Bucket URL (listing is `url?prefix=..&marker=..`; objects are `url/<key>`).
    pub url: String,
    /// Only keys under this prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Upper bound on listing pages (a runaway guard).
    #[serde(default = "max_pages")]
    pub max_pages: usize,
    /// Overrides the source's selection (names match the last key segment; the version is
    /// the key without it).
    #[serde(default)]
    pub select: Option<Select>,
}

fn max_pages() -> usize {
    10_000
}

/// See [`Repository::Github`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubRepo {
    /// API root of the repository, e.g. `https://api.github.com/repos/OWNER/NAME`.
    pub api: String,
    /// `releases` or `tags`.
    #[serde(default = "releases")]
    pub what: String,
    /// Upper bound on pages of 100 (a runaway guard).
    #[serde(default = "gh_pages")]
    pub max_pages: usize,
    /// Tags to use (regexes; any match). Drafts and prereleases are skipped unless
    /// `prereleases` is set.
    pub tags: Vec<String>,
    /// Tags to skip.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    /// Include prereleases.
    #[serde(default)]
    pub prereleases: bool,
    /// Optional, in order: per tag, fetch the first existing URL of each probe and match its
    /// `pattern`; named groups become template variables. A tag whose probe finds nothing is
    /// skipped.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// URL templates emitted per tag. Variables: `{tag}`, `{version}` (tag without a leading
    /// `v`), and named groups of the probe pattern.
    pub emit: Vec<String>,
}

fn releases() -> String {
    "releases".into()
}
fn gh_pages() -> usize {
    20
}

/// See [`GithubRepo::probes`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// URL templates tried in order (404 → next).
    pub urls: Vec<String>,
    /// Regex with named groups.
    pub pattern: String,
    /// If set, the URL that answered becomes this template variable.
    #[serde(default)]
    pub url_var: Option<String>,
}

/// See [`Repository::Fixed`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedRepo {
    /// The URLs (selection does not apply).
    pub urls: Vec<String>,
}

impl Config {
    /// Parses and validates `sources.yml` text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        // Typed first, for errors with line numbers; then architecture variants are expanded
        // on the document (see [`super::arch`]).
        let _: Config =
            serde_norway::from_str(text).with_context(|| format!("parsing {origin}"))?;
        let mut doc: serde_norway::Value =
            serde_norway::from_str(text).with_context(|| format!("parsing {origin}"))?;
        super::arch::expand(&mut doc).with_context(|| format!("parsing {origin}"))?;
        let config: Config =
            serde_norway::from_value(doc).with_context(|| format!("parsing {origin}"))?;
        config
            .validate()
            .with_context(|| format!("validating {origin}"))?;
        Ok(config)
    }

    /// Reads and validates a `sources.yml` file.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.keys_dir = Some(path.parent().unwrap_or(Path::new(".")).join("keys"));
        Ok(config)
    }

    /// Checks names are unique, regexes compile and every repository is usable.
    pub fn validate(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        for source in &self.sources {
            let ctx = || format!("source {}", source.list);
            if !source.list.ends_with(".txt") || source.list.contains('/') {
                bail!(
                    "source list {:?} must be a plain `<name>.txt` file name",
                    source.list
                );
            }
            if !names.insert(source.list.clone()) {
                bail!("source list {} appears twice", source.list);
            }
            if source.uncrawled_list() == source.list {
                bail!(
                    "source {}: uncrawled list must differ from the list",
                    source.list
                );
            }
            if source.repositories.is_empty() {
                bail!("source {} has no repositories", source.list);
            }
            if let Some(select) = &source.select {
                Matcher::new(select).with_context(ctx)?;
            }
            for repo in &source.repositories {
                repo.validate(source.select.is_some()).with_context(ctx)?;
            }
            if let Some(c) = &source.canary {
                c.validate(source).with_context(ctx)?;
            }
        }
        Ok(())
    }

    /// Finds a source by name (`debian`) or list file (`debian.txt`).
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.name() == name || s.list == name)
    }
}

impl Repository {
    fn validate(&self, source_selects: bool) -> Result<()> {
        let needs_select = !matches!(
            self,
            Repository::Github(_) | Repository::Fixed(_) | Repository::Registry(_)
        );
        let select = match self {
            Repository::Apt(r) => {
                if (r.suites.is_empty()
                    && r.suites_from_github.is_none()
                    && r.aliases.is_none()
                    && r.releases.is_none())
                    || r.components.is_empty()
                    || r.architectures.is_empty()
                {
                    bail!(
                        "apt repository {} needs suites, components and architectures",
                        r.url
                    );
                }
                &r.select
            }
            Repository::Yum(r) => {
                if r.urls.is_empty() && r.mirrorlist.is_none() {
                    bail!("yum repository needs `urls` or `mirrorlist`");
                }
                &r.select
            }
            Repository::Html(r) => {
                if r.urls.is_empty() {
                    bail!("html repository needs `urls`");
                }
                for d in &r.descend {
                    Regex::new(d).with_context(|| format!("descend regex {d:?}"))?;
                }
                &r.select
            }
            Repository::Bucket(r) => &r.select,
            Repository::Github(r) => {
                for t in r.tags.iter().chain(&r.exclude_tags) {
                    Regex::new(t).with_context(|| format!("tag regex {t:?}"))?;
                }
                for p in &r.probes {
                    Regex::new(&p.pattern)
                        .with_context(|| format!("probe regex {:?}", p.pattern))?;
                }
                if r.what != "releases" && r.what != "tags" {
                    bail!(
                        "github `what` must be `releases` or `tags`, not {:?}",
                        r.what
                    );
                }
                if r.emit.is_empty() {
                    bail!("github repository {} has no `emit` templates", r.api);
                }
                &None
            }
            Repository::Fixed(_) => &None,
            Repository::Registry(r) => {
                for t in &r.tags {
                    Regex::new(t).with_context(|| format!("tag regex {t:?}"))?;
                }
                if r.tags.is_empty() {
                    bail!("registry repository {} has no `tags`", r.repository);
                }
                &None
            }
        };
        match select {
            Some(s) => {
                Matcher::new(s)?;
            }
            None if needs_select && !source_selects => {
                bail!(
                    "{} repository has no `select` and neither has its source",
                    self.kind()
                )
            }
            None => {}
        }
        Ok(())
    }

    /// The kind name as written in `sources.yml`.
    pub fn kind(&self) -> &'static str {
        match self {
            Repository::Apt(_) => "apt",
            Repository::Yum(_) => "yum",
            Repository::Html(_) => "html",
            Repository::Bucket(_) => "bucket",
            Repository::Github(_) => "github",
            Repository::Fixed(_) => "fixed",
            Repository::Registry(_) => "registry",
        }
    }
}

/// A compiled [`Select`].
#[derive(Debug, Clone)]
pub struct Matcher {
    names: Vec<Regex>,
    exclude_names: Vec<Regex>,
    versions: Vec<Regex>,
    exclude_versions: Vec<Regex>,
    architectures: Vec<String>,
    urls: Vec<Regex>,
    exclude_urls: Vec<Regex>,
    depends: Vec<Regex>,
    follow_depends: Vec<Regex>,
}

fn compile(what: &str, patterns: &[String]) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|p| Regex::new(p).with_context(|| format!("{what} regex {p:?}")))
        .collect()
}

impl Matcher {
    /// Compiles a selection; `names` must not be empty.
    pub fn new(select: &Select) -> Result<Matcher> {
        if select.names.is_empty() {
            bail!("select.names is empty: a source must say which packages it wants");
        }
        Ok(Matcher {
            names: compile("name", &select.names)?,
            exclude_names: compile("exclude_names", &select.exclude_names)?,
            versions: compile("version", &select.versions)?,
            exclude_versions: compile("exclude_versions", &select.exclude_versions)?,
            architectures: select.architectures.clone(),
            urls: compile("urls", &select.urls)?,
            exclude_urls: compile("exclude_urls", &select.exclude_urls)?,
            depends: compile("depends", &select.depends)?,
            follow_depends: compile("follow_depends", &select.follow_depends)?,
        })
    }

    /// Whether a package with these dependency names passes `depends` (always, if unset).
    pub fn depends_ok<'a>(&self, mut deps: impl Iterator<Item = &'a str>) -> bool {
        self.depends.is_empty() || deps.any(|d| self.depends.iter().any(|r| r.is_match(d)))
    }

    /// Whether the architecture passes `architectures` (always, if unset).
    pub fn arch_ok(&self, arch: &str) -> bool {
        self.architectures.is_empty() || self.architectures.iter().any(|a| a == arch)
    }

    /// Whether the name passes `names` and `exclude_names` (a cheap first test).
    pub fn name_matches(&self, name: &str) -> bool {
        self.names.iter().any(|r| r.is_match(name))
            && !self.exclude_names.iter().any(|r| r.is_match(name))
    }

    /// Whether a dependency of a selected package is selected too (`follow_depends`).
    pub fn follows(&self, name: &str) -> bool {
        self.follow_depends.iter().any(|r| r.is_match(name))
    }

    /// Whether a followed dependency passes every filter except `names` and `depends`.
    pub fn matches_followed(
        &self,
        name: &str,
        version: Option<&str>,
        arch: Option<&str>,
        url: &str,
    ) -> bool {
        self.filters(name, version, arch, url)
    }

    /// Whether a candidate is wanted.
    pub fn matches(
        &self,
        name: &str,
        version: Option<&str>,
        arch: Option<&str>,
        url: &str,
    ) -> bool {
        self.names.iter().any(|r| r.is_match(name)) && self.filters(name, version, arch, url)
    }

    fn filters(&self, name: &str, version: Option<&str>, arch: Option<&str>, url: &str) -> bool {
        if !self.urls.is_empty() && !self.urls.iter().any(|r| r.is_match(url)) {
            return false;
        }
        if self.exclude_urls.iter().any(|r| r.is_match(url)) {
            return false;
        }
        if self.exclude_names.iter().any(|r| r.is_match(name)) {
            return false;
        }
        let version = version.unwrap_or("");
        if !self.versions.is_empty() && !self.versions.iter().any(|r| r.is_match(version)) {
            return false;
        }
        if self.exclude_versions.iter().any(|r| r.is_match(version)) {
            return false;
        }
        if let (false, Some(arch)) = (self.architectures.is_empty(), arch) {
            if !self.architectures.iter().any(|a| a == arch) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
defaults:
  retries: 1
sources:
  - list: debian.txt
    key: debian.asc
    select:
      names: ['^linux-headers-\d']
      exclude_versions: ['~bpo']
      architectures: [amd64, all]
    repositories:
      - kind: apt
        url: http://example.org/debian/
        suites: [bookworm]
      - kind: html
        urls: [http://example.org/pool/]
        descend: ['^\d+$']
  - list: linuxkit.txt
    repositories:
      - kind: fixed
        urls: [http://example.org/a.tar.gz]
"#;

    #[test]
    fn parses_and_matches() {
        let c = Config::parse(YAML, "test").unwrap();
        assert_eq!(c.defaults.retries, 1);
        assert_eq!(c.defaults.per_host_concurrency, 4);
        let d = c.source("debian").unwrap();
        assert_eq!(d.uncrawled_list(), "debian-uncrawled.txt");
        match &d.repositories[0] {
            Repository::Apt(a) => assert_eq!(a.components, vec!["main"]),
            other => panic!("unexpected {other:?}"),
        }
        let m = Matcher::new(d.select.as_ref().unwrap()).unwrap();
        assert!(m.matches(
            "linux-headers-6.1.0-21-amd64",
            Some("6.1.90-1"),
            Some("amd64"),
            "u"
        ));
        assert!(!m.matches(
            "linux-headers-6.1.0-21-amd64",
            Some("6.1.90-1~bpo11+1"),
            Some("amd64"),
            "u"
        ));
        assert!(!m.matches(
            "linux-headers-6.1.0-21-arm64",
            Some("6.1.90-1"),
            Some("arm64"),
            "u"
        ));
        assert!(!m.matches(
            "linux-image-6.1.0-21-amd64",
            Some("6.1.90-1"),
            Some("amd64"),
            "u"
        ));
    }

    #[test]
    fn rejects_bad_configs() {
        let dup = YAML.replace("linuxkit.txt", "debian.txt");
        assert!(Config::parse(&dup, "t")
            .unwrap_err()
            .to_string()
            .contains("validating t"));
        let bad_regex = YAML.replace(r"^\d+$", "(");
        assert!(Config::parse(&bad_regex, "t").is_err());
        let unknown = YAML.replace("suites:", "suitez:");
        assert!(Config::parse(&unknown, "t").is_err());
        let no_names = YAML.replace(r"names: ['^linux-headers-\d']", "names: []");
        assert!(Config::parse(&no_names, "t").is_err());
        let no_select = YAML.replace("kind: fixed", "kind: html").replace(
            "urls: [http://example.org/a",
            "urls: [http://example.org/a/",
        );
        assert!(Config::parse(&no_select, "t")
            .unwrap_err()
            .root_cause()
            .to_string()
            .contains("no `select`"));
    }
}
