//! GitHub REST edge for the crawl automation: read a repository's files at a branch (Git data
//! API, no git binary, no clone), write blobs/trees/commits, move a branch, open or update a
//! pull request.
//!
//! - [`GitHub`]: the small async trait the automation core ([`crate::crawl_pr`]) is written
//!   against; one method per REST call, no retries or policy in its contract beyond the
//!   documented error mapping.
//! - [`client::OctocrabGitHub`]: the implementation over `octocrab` (base URL configurable, so
//!   tests point it at a server on 127.0.0.1), with bounded retries ([`client::RetryPolicy`]) on
//!   5xx, transport errors and rate limits (429, or 403 with `retry-after` /
//!   `x-ratelimit-remaining: 0` / a "secondary rate limit" message).
//! - [`token`]: the token, from an environment variable or a secret store named by one; its
//!   `Debug` and every error are redacted.

pub mod client;
pub mod snapshot;
pub mod token;

use std::fmt;
use std::future::Future;

use anyhow::{bail, Result};

pub use client::{OctocrabGitHub, RetryPolicy};
pub use token::{SecretSource, Token};

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoId {
    /// Parses `owner/name`; both parts must be non-empty `[A-Za-z0-9_.-]` strings.
    pub fn parse(s: &str) -> Result<RepoId> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        };
        match s.split_once('/') {
            Some((o, n)) if ok(o) && ok(n) => Ok(RepoId {
                owner: o.to_string(),
                name: n.to_string(),
            }),
            _ => bail!("repository {s:?} must be <owner>/<name>"),
        }
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// One entry of a Git tree as the trees API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path relative to the tree read (full path below it for recursive reads).
    pub path: String,
    /// File mode (`100644`, `100755`, `040000`, `120000`, `160000`).
    pub mode: String,
    /// `blob`, `tree` or `commit`.
    pub kind: String,
    /// Object id.
    pub sha: String,
}

/// A commit: its tree and parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Commit id.
    pub sha: String,
    /// Root tree id.
    pub tree: String,
    /// Parent commit ids.
    pub parents: Vec<String>,
}

/// A file to set in a new tree (`path` relative to the repository root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTreeEntry {
    /// Path from the repository root (may contain `/`).
    pub path: String,
    /// File mode, `100644` for list files.
    pub mode: String,
    /// Blob id.
    pub sha: String,
}

/// A pull request, as far as the automation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Web address.
    pub html_url: String,
    /// Head branch name.
    pub head_ref: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// GraphQL node id (what the auto-merge mutation takes).
    pub node_id: String,
    /// Commit the head branch points at.
    pub head_sha: String,
}

/// The outcome of a ref write that may lose a race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefWrite {
    /// The ref now points at the commit.
    Done,
    /// GitHub refused the write because the ref changed or (dis)appeared meanwhile (422 or
    /// 409: "Reference already exists", "Reference does not exist", "not a fast forward");
    /// the caller re-reads the ref and decides again.
    Conflict(String),
}

/// The outcome of opening a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrCreate {
    /// Opened.
    Created(PullRequest),
    /// An open pull request from the same head already exists (422); find and update it.
    AlreadyExists(String),
}

/// How a pull request is merged (GraphQL `PullRequestMergeMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
}

impl MergeMethod {
    /// The GraphQL enum value.
    pub fn as_graphql(self) -> &'static str {
        match self {
            MergeMethod::Merge => "MERGE",
            MergeMethod::Squash => "SQUASH",
        }
    }
}

/// The outcome of enabling auto-merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoMerge {
    /// Armed: GitHub merges once the branch protection's required checks are green.
    Enabled,
    /// GitHub refused (e.g. "Pull request is in clean status": no required check is pending, so
    /// there is nothing to wait for; or auto-merge is not allowed in the repository).
    Refused(String),
}

/// A check run's final state (`conclusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Green.
    Success,
    /// Red.
    Failure,
}

impl Conclusion {
    /// The REST value.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
        }
    }
}

/// The GitHub REST calls the crawl automation makes, on one repository.
///
/// Contract: every method is one logical REST call (an implementation may retry transient
/// failures); errors name the method and path and never contain the token.
pub trait GitHub: Send + Sync {
    /// The repository's default branch (`GET /repos/{o}/{r}`).
    fn default_branch(&self) -> impl Future<Output = Result<String>> + Send;
    /// The commit a branch points at, `None` when the branch does not exist
    /// (`GET /repos/{o}/{r}/git/ref/heads/{branch}`).
    fn get_ref(&self, branch: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// A commit (`GET /repos/{o}/{r}/git/commits/{sha}`).
    fn get_commit(&self, sha: &str) -> impl Future<Output = Result<Commit>> + Send;
    /// A tree's entries, recursively when asked (`GET /repos/{o}/{r}/git/trees/{sha}`).
    /// A truncated recursive listing is an error.
    fn get_tree(
        &self,
        sha: &str,
        recursive: bool,
    ) -> impl Future<Output = Result<Vec<TreeEntry>>> + Send;
    /// A blob's bytes (`GET /repos/{o}/{r}/git/blobs/{sha}`).
    fn get_blob(&self, sha: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;
    /// Stores a blob, returns its id (`POST /repos/{o}/{r}/git/blobs`).
    fn create_blob(&self, content: &[u8]) -> impl Future<Output = Result<String>> + Send;
    /// Creates a tree from `base_tree` with `entries` set, returns its id
    /// (`POST /repos/{o}/{r}/git/trees`).
    fn create_tree(
        &self,
        base_tree: &str,
        entries: &[NewTreeEntry],
    ) -> impl Future<Output = Result<String>> + Send;
    /// Creates a commit, returns its id (`POST /repos/{o}/{r}/git/commits`).
    fn create_commit(
        &self,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> impl Future<Output = Result<String>> + Send;
    /// Creates `refs/heads/{branch}` at `sha` (`POST /repos/{o}/{r}/git/refs`).
    fn create_ref(&self, branch: &str, sha: &str) -> impl Future<Output = Result<RefWrite>> + Send;
    /// Moves `refs/heads/{branch}` to `sha` (`PATCH /repos/{o}/{r}/git/refs/heads/{branch}`).
    fn update_ref(
        &self,
        branch: &str,
        sha: &str,
        force: bool,
    ) -> impl Future<Output = Result<RefWrite>> + Send;
    /// The open pull request from `branch` (of this repository) into `base`, if any
    /// (`GET /repos/{o}/{r}/pulls?state=open&head={o}:{branch}&base={base}`).
    fn find_open_pr(
        &self,
        branch: &str,
        base: &str,
    ) -> impl Future<Output = Result<Option<PullRequest>>> + Send;
    /// Opens a pull request (`POST /repos/{o}/{r}/pulls`).
    fn create_pr(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> impl Future<Output = Result<PrCreate>> + Send;
    /// Sets a pull request's title and body (`PATCH /repos/{o}/{r}/pulls/{number}`).
    fn update_pr(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> impl Future<Output = Result<PullRequest>> + Send;
    /// Adds labels to a pull request, keeping the ones it has
    /// (`POST /repos/{o}/{r}/issues/{number}/labels`).
    fn add_labels(&self, number: u64, labels: &[String])
        -> impl Future<Output = Result<()>> + Send;
    /// Creates an `in_progress` check run `name` on commit `head_sha`, returns its id
    /// (`POST /repos/{o}/{r}/check-runs`; needs a GitHub App token with `checks: write`).
    fn create_check_run(
        &self,
        name: &str,
        head_sha: &str,
        title: &str,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Completes check run `id` with `conclusion` and an output (`title`, markdown `summary`)
    /// (`PATCH /repos/{o}/{r}/check-runs/{id}`).
    fn complete_check_run(
        &self,
        id: u64,
        conclusion: Conclusion,
        title: &str,
        summary: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Whether commit `sha` has a completed check run named `name`
    /// (`GET /repos/{o}/{r}/commits/{sha}/check-runs?check_name={name}`).
    fn has_completed_check_run(
        &self,
        sha: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Enables auto-merge on the pull request with GraphQL node id `pr_node_id`
    /// (`POST /graphql`, mutation `enablePullRequestAutoMerge`); GitHub refusing is
    /// [`AutoMerge::Refused`], not an error.
    fn enable_auto_merge(
        &self,
        pr_node_id: &str,
        method: MergeMethod,
    ) -> impl Future<Output = Result<AutoMerge>> + Send;
    /// Disables auto-merge (`POST /graphql`, mutation `disablePullRequestAutoMerge`).
    fn disable_auto_merge(&self, pr_node_id: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The Git object id of a blob with `content` (`sha1("blob <len>\0" + content)`), as GitHub
/// reports it in trees; lets the automation compare contents without uploading them.
pub fn git_blob_sha(content: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_id_parses_and_rejects() {
        let r = RepoId::parse("stackrox/kernel-packer").unwrap();
        assert_eq!(
            (r.owner.as_str(), r.name.as_str()),
            ("stackrox", "kernel-packer")
        );
        assert_eq!(r.to_string(), "stackrox/kernel-packer");
        for bad in ["", "a", "a/", "/b", "a/b/c", "a b/c"] {
            assert!(RepoId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_sha_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty blob.
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }
}
