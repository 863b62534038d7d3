//! The scheduled crawl as a pull request: read the repository's lists and manifest at the
//! default branch through the GitHub API, crawl a group of sources into an in-memory copy,
//! regenerate the manifest, and propose the difference as one commit on the bot branch
//! `kernel-packer/crawl-<group>` with an open pull request.
//!
//! Contract of [`run`]:
//! - Nothing changed (lists and manifest identical to the default branch) → only reads.
//! - An open bot pull request whose branch already holds exactly this change on top of the
//!   current default branch head → only reads (with the check on: unless its head has no
//!   completed check run, which is then run).
//! - Otherwise blobs, one tree and one commit (parent: the default branch head) are created,
//!   then the bot branch is created or force-moved to it, then the pull request is opened or
//!   its title/body updated, and the labels added. A merged or closed bot pull request thus
//!   leads to a fresh branch from the default branch head and a new pull request.
//! - A ref write that loses a race (422/409) re-reads the branch and retries, at most
//!   [`Settings::ref_attempts`] times; opening a pull request that another run opened
//!   meanwhile updates that one instead. Two concurrent runs end with one pull request.
//! - A failure before the ref write leaves the branch untouched (the new objects are
//!   unreachable); the error names the failing call.
//!
//! - With [`Settings::check`], a pull request that was opened or updated then proves itself:
//!   [`check::prove`] packs every kernel it adds and builds the canaries against each, reports a
//!   check run and a body section, and (group `auto_merge: true`) arms GitHub's auto-merge.
//!
//! Pieces: [`store::MemStore`] (the list store), [`groups`] (which sources),
//! [`manifest_from_files`] (the generator over a file map), [`summary`] (the PR text),
//! [`check`] (the pull-request check).

pub mod check;
pub mod groups;
pub mod store;
pub mod summary;

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::crawl::{self, http::Http, CrawlReport};
use crate::github::{git_blob_sha, snapshot, GitHub, NewTreeEntry, PrCreate, RefWrite};
use crate::manifest::{self, Generated, Manifest, SourceInput};
pub use groups::CrawlRequest;
use store::MemStore;
use summary::Summary;

/// Names inside the lists directory.
pub const SOURCES_FILE: &str = "sources.yml";
/// The grouping config.
pub const REFORMAT_FILE: &str = "reformat.yml";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.yml";

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What to crawl.
    pub request: CrawlRequest,
    /// Directory of the lists in the repository.
    pub lists_dir: String,
    /// Pull request title; `{group}` is replaced by the group name.
    pub title: String,
    /// Labels added to the pull request.
    pub labels: Vec<String>,
    /// Bot branch prefix; the branch is `<prefix><group>`.
    pub branch_prefix: String,
    /// Attempts at moving the branch when the ref write loses a race.
    pub ref_attempts: u32,
    /// The pull-request check; `None`: no check (and no auto-merge).
    pub check: Option<check::CheckSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            request: CrawlRequest::default(),
            lists_dir: "kernel-package-lists".into(),
            title: "kernel-packer: crawl {group}".into(),
            labels: vec!["kernel-packer".into()],
            branch_prefix: "kernel-packer/crawl-".into(),
            ref_attempts: 5,
            check: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The crawl changed nothing; no write call was made.
    NoChange,
    /// The open pull request already proposes exactly this; no write call was made.
    UpToDate {
        /// Pull request number.
        number: u64,
        /// Its address.
        url: String,
    },
    /// A pull request was opened.
    Opened {
        /// Pull request number.
        number: u64,
        /// Its address.
        url: String,
    },
    /// The open pull request was updated (branch force-moved, title/body set).
    Updated {
        /// Pull request number.
        number: u64,
        /// Its address.
        url: String,
    },
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Group crawled.
    pub group: String,
    /// Bot branch.
    pub branch: String,
    /// What happened on GitHub.
    #[serde(flatten)]
    pub action: Action,
    /// The new commit, when one was written.
    pub commit: Option<String>,
    /// Changed files (relative to the lists directory).
    pub changed: Vec<String>,
    /// The crawl report.
    pub crawl: CrawlReport,
    /// Body of the pull request (also when nothing was written), before the check's section.
    pub body: String,
    /// The pull-request check, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<check::CheckReport>,
}

/// Regenerates the manifest from list files held in memory: `files` maps names relative to
/// the lists directory to contents; the grouping config is `reformat.yml` and the previous
/// manifest `manifest.yml` (for carry-over of failed sources). `lists_dir` only names files
/// in messages.
pub fn manifest_from_files(files: &BTreeMap<String, String>, lists_dir: &str) -> Result<Generated> {
    let origin = format!("{lists_dir}/{REFORMAT_FILE}");
    let text = files
        .get(REFORMAT_FILE)
        .ok_or_else(|| anyhow!("{origin}: missing"))?;
    let cfg = manifest::Config::parse(text.as_bytes(), std::path::Path::new(&origin))?;
    let previous = files
        .get(MANIFEST_FILE)
        .map(|t| Manifest::parse(t.as_bytes(), &format!("{lists_dir}/{MANIFEST_FILE}")))
        .transpose()?;
    let inputs: Vec<SourceInput> = cfg
        .sources
        .iter()
        .map(|source| {
            let file = format!("{lists_dir}/{}", source.file);
            let urls = match files.get(&source.file) {
                Some(text) => manifest::lists::read(text.as_bytes())
                    .map_err(|e| format!("{file}: cannot read list: {e}")),
                None => Err(format!("{file}: cannot read list: not in the repository")),
            };
            SourceInput { source, file, urls }
        })
        .collect();
    Ok(manifest::generate(&inputs, None, previous.as_ref()))
}

fn text_of(files: &BTreeMap<String, Vec<u8>>, dir: &str, name: &str) -> Result<Option<String>> {
    files
        .get(name)
        .map(|b| {
            String::from_utf8(b.clone()).map_err(|_| anyhow!("{dir}/{name} is not UTF-8 text"))
        })
        .transpose()
}

/// Runs one group: crawl, manifest, and the pull request (see the module docs).
/// `prepare` gets the crawl config read from the repository (to adjust its defaults) and
/// returns the crawler's HTTP client (mirror overrides and cache are the caller's).
pub async fn run<G: GitHub>(
    gh: &G,
    settings: &Settings,
    prepare: impl FnOnce(&mut crawl::config::Config) -> Result<Http>,
) -> Result<RunReport> {
    let dir = settings.lists_dir.trim_matches('/').to_string();
    let base = gh.default_branch().await?;
    let head = gh
        .get_ref(&base)
        .await?
        .ok_or_else(|| anyhow!("default branch {base:?} has no ref"))?;
    let head_commit = gh.get_commit(&head).await?;
    let snap = snapshot::load(gh, &head, &head_commit.tree, &dir, None).await?;

    let groups_text = text_of(&snap.files, &dir, groups::GROUPS_FILE)?;
    let (group, selection) = groups::resolve(&settings.request, groups_text.as_deref())?;
    let branch = format!("{}{group}", settings.branch_prefix);
    let title = settings.title.replace("{group}", &group);

    // The crawl config, with its keys in a temporary directory.
    let sources_text = text_of(&snap.files, &dir, SOURCES_FILE)?
        .ok_or_else(|| anyhow!("{dir}/{SOURCES_FILE}: missing"))?;
    let mut config = crawl::config::Config::parse(&sources_text, &format!("{dir}/{SOURCES_FILE}"))?;
    let keys = tempfile::tempdir().context("creating a directory for the keys")?;
    for (path, bytes) in &snap.files {
        if let Some(name) = path.strip_prefix("keys/").filter(|n| !n.contains('/')) {
            std::fs::write(keys.path().join(name), bytes)
                .with_context(|| format!("writing key {name}"))?;
        }
    }
    config.keys_dir = Some(keys.path().to_path_buf());
    let http = prepare(&mut config)?;

    // Crawl into memory: top-level UTF-8 files are the list store.
    let texts: BTreeMap<String, String> = snap
        .files
        .iter()
        .filter(|(p, _)| !p.contains('/'))
        .filter_map(|(p, b)| Some((p.clone(), String::from_utf8(b.clone()).ok()?)))
        .collect();
    let store = MemStore::new(texts.clone());
    let report = crawl::run(&config, &store, &selection, &http).await?;
    let mut after = store.into_files();

    let generated = manifest_from_files(&after, &dir)?;
    let new_manifest = generated.manifest.to_yaml();
    after.insert(MANIFEST_FILE.to_string(), new_manifest);

    let changed: Vec<String> = after
        .iter()
        .filter(|(p, t)| texts.get(*p) != Some(*t))
        .map(|(p, _)| p.clone())
        .collect();
    let old_manifest = match texts.get(MANIFEST_FILE) {
        Some(t) => Manifest::parse(t.as_bytes(), MANIFEST_FILE)?,
        None => Manifest::default(),
    };
    let mut summary: Summary = summary::summarize(
        &group,
        (&old_manifest, &texts),
        (&generated.manifest, &after),
        &report,
        changed.clone(),
    );
    summary.rejected = generated
        .sources
        .iter()
        .flat_map(|s| {
            s.rejected
                .iter()
                .map(|r| (s.file.clone(), r.url.clone(), r.reason.clone()))
        })
        .collect();
    let body = summary::render_body(&summary);
    let mut out = RunReport {
        group: group.clone(),
        branch: branch.clone(),
        action: Action::NoChange,
        commit: None,
        changed: changed.clone(),
        crawl: report,
        body: body.clone(),
        check: None,
    };
    if changed.is_empty() {
        tracing::info!("{group}: nothing changed");
        return Ok(out);
    }

    // The lists directory as it should be: the base's blobs with the changed ones replaced.
    let mut desired: BTreeMap<String, String> = snap
        .entries
        .iter()
        .map(|(p, e)| (p.clone(), e.sha.clone()))
        .collect();
    for p in &changed {
        desired.insert(p.clone(), git_blob_sha(after[p].as_bytes()));
    }

    let open = gh.find_open_pr(&branch, &base).await?;
    let mut current = gh.get_ref(&branch).await?;
    if let (Some(pr), Some(bot)) = (&open, &current) {
        let c = gh.get_commit(bot).await?;
        if c.parents == [head.clone()] {
            let theirs = snapshot::dir_entries(gh, &c.tree, &dir)
                .await?
                .unwrap_or_default();
            let theirs: BTreeMap<String, String> =
                theirs.into_iter().map(|(p, e)| (p, e.sha)).collect();
            if theirs == desired {
                tracing::info!("{group}: pull request #{} is up to date", pr.number);
                out.action = Action::UpToDate {
                    number: pr.number,
                    url: pr.html_url.clone(),
                };
                out.commit = Some(bot.clone());
                // A head whose check never completed (a run that failed or stopped after writing
                // it) is checked now.
                if let Some(cs) = &settings.check {
                    if !gh.has_completed_check_run(bot, &cs.name).await? {
                        tracing::info!(
                            "{group}: pull request #{} has no completed check",
                            pr.number
                        );
                        let pr = crate::github::PullRequest {
                            head_sha: bot.clone(),
                            ..pr.clone()
                        };
                        let auto = groups::auto_merge(groups_text.as_deref(), &group)?;
                        let found = candidates(&old_manifest, &generated.manifest, &after, &config);
                        out.check = Some(
                            check::prove(gh, &pr, found, &http, cs, auto)
                                .await
                                .with_context(|| format!("checking pull request #{}", pr.number))?,
                        );
                    }
                }
                return Ok(out);
            }
        }
    }

    // Write the objects, then move the branch.
    let mut entries = Vec::new();
    for p in &changed {
        let sha = gh
            .create_blob(after[p].as_bytes())
            .await
            .with_context(|| format!("storing {dir}/{p}"))?;
        let mode = snap
            .entries
            .get(p)
            .map(|e| e.mode.clone())
            .unwrap_or_else(|| "100644".into());
        entries.push(NewTreeEntry {
            path: format!("{dir}/{p}"),
            mode,
            sha,
        });
    }
    let tree = gh.create_tree(&head_commit.tree, &entries).await?;
    let message = summary::commit_message(&title, &summary);
    let commit = gh
        .create_commit(&message, &tree, std::slice::from_ref(&head))
        .await?;
    out.commit = Some(commit.clone());

    let attempts = settings.ref_attempts.max(1);
    let mut moved = false;
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            current = gh.get_ref(&branch).await?;
        }
        let write = match &current {
            Some(sha) if *sha == commit => RefWrite::Done,
            Some(_) => gh.update_ref(&branch, &commit, true).await?,
            None => gh.create_ref(&branch, &commit).await?,
        };
        match write {
            RefWrite::Done => {
                moved = true;
                break;
            }
            RefWrite::Conflict(m) => {
                tracing::warn!("{branch}: ref write lost a race ({m}); re-reading");
                last = m;
            }
        }
    }
    if !moved {
        bail!("could not move branch {branch} after {attempts} attempts: {last}");
    }

    let (pr, opened) = match open {
        Some(pr) => (pr, false),
        None => {
            match gh.create_pr(&branch, &base, &title, &body).await? {
                PrCreate::Created(pr) => (pr, true),
                PrCreate::AlreadyExists(m) => {
                    tracing::info!("{branch}: {m}; updating the open pull request");
                    let pr = gh.find_open_pr(&branch, &base).await?.ok_or_else(|| {
                    anyhow!("GitHub says a pull request from {branch} exists ({m}), but none is open")
                })?;
                    (pr, false)
                }
            }
        }
    };
    if !opened && (pr.title != title || pr.body != body) {
        gh.update_pr(pr.number, &title, &body).await?;
    }
    if !settings.labels.is_empty() {
        gh.add_labels(pr.number, &settings.labels).await?;
    }
    if let Some(cs) = &settings.check {
        let auto = groups::auto_merge(groups_text.as_deref(), &group)?;
        let candidates = candidates(&old_manifest, &generated.manifest, &after, &config);
        let pr = crate::github::PullRequest {
            title: title.clone(),
            body: body.clone(),
            head_sha: commit.clone(),
            ..pr.clone()
        };
        out.check = Some(
            check::prove(gh, &pr, candidates, &http, cs, auto)
                .await
                .with_context(|| format!("checking pull request #{}", pr.number))?,
        );
    }
    out.action = if opened {
        Action::Opened {
            number: pr.number,
            url: pr.html_url,
        }
    } else {
        Action::Updated {
            number: pr.number,
            url: pr.html_url,
        }
    };
    Ok(out)
}

/// The kernels `new` adds over `old`, with the upstream URL (from the list files in `files`) and
/// credentials (from the source of that list) of each package. A package no list names gets an
/// empty URL (the check then fails that kernel, naming the package).
fn candidates(
    old: &Manifest,
    new: &Manifest,
    files: &BTreeMap<String, String>,
    config: &crawl::config::Config,
) -> Vec<check::Candidate> {
    let mut urls: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (file, text) in files {
        if !file.ends_with(".txt") {
            continue;
        }
        for url in manifest::lists::read(text.as_bytes()).unwrap_or_default() {
            urls.entry(crate::names::simplify(&url))
                .or_insert((url, file.clone()));
        }
    }
    let auth_of = |list: &str| {
        let spec = config
            .sources
            .iter()
            .find(|s| s.list == list)
            .and_then(|s| s.credential.as_ref());
        match spec.map(crawl::credentials::resolve) {
            Some(Ok(auth)) => auth,
            Some(Err(e)) => {
                tracing::warn!("{list}: credential for the check: {e:#}");
                crawl::credentials::Auth::None
            }
            None => crawl::credentials::Auth::None,
        }
    };
    new.entries
        .iter()
        .filter(|(id, _)| !old.entries.contains_key(*id))
        .map(|(id, set)| {
            let list = set
                .packages
                .iter()
                .find_map(|p| urls.get(p).map(|(_, f)| f.clone()))
                .unwrap_or_default();
            let auth = auth_of(&list);
            check::Candidate {
                id: id.clone(),
                set: set.clone(),
                urls: set
                    .packages
                    .iter()
                    .map(|p| {
                        let url = urls.get(p).map(|(u, _)| u.clone()).unwrap_or_default();
                        (url, auth.clone())
                    })
                    .collect(),
                list,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_from_file_map_names_missing_lists() {
        let files = BTreeMap::from([
            (
                REFORMAT_FILE.to_string(),
                "- {name: r, type: redhat, file: r.txt, reformat: single}\n- {name: s, type: redhat, file: s.txt, reformat: single}\n".to_string(),
            ),
            ("r.txt".to_string(), "https://h/kernel-devel-1.rpm\n".to_string()),
        ]);
        let g = manifest_from_files(&files, "lists").unwrap();
        assert_eq!(g.manifest.entries.len(), 1);
        let err = g.sources[1].error.as_deref().unwrap();
        assert!(err.contains("lists/s.txt"), "{err}");
        let e = manifest_from_files(&BTreeMap::new(), "lists").unwrap_err();
        assert!(format!("{e:#}").contains("lists/reformat.yml"));
    }
}
