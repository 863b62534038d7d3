//! A merge triggers the work: a GitHub `push` webhook for the default branch becomes a pack request
//! for exactly the manifest ids (and package URLs) that push added.
//!
//! Order of checks, each a [`Refusal`] with an HTTP status and a reason that never echoes the
//! secret or the body:
//! 1. `X-Hub-Signature-256` must be `sha256=<hex HMAC-SHA256(secret, raw body)>`, compared in
//!    constant time ([`verify_signature`]);
//! 2. the event must be `push` (`ping` is answered, everything else ignored) to
//!    `refs/heads/<default branch>` of the configured repository;
//! 3. the push must be recent (`repository.pushed_at` within `max_age` of now): a stale delivery
//!    (a captured request replayed later) is refused;
//! 4. the delivery id (`X-GitHub-Delivery`) must not be recorded yet: a replayed delivery is
//!    refused (409). It is recorded write-once (`deliveries/<id>` in the bundle store) once its
//!    work is written, so a delivery that failed half-way can be redelivered.
//!
//! The planned work ([`plan`]) diffs the lists directory between the push's `before` and `after`
//! commits: ids in the new manifest that the old one lacked, and URLs in the new lists the old
//! ones lacked. The function writes it write-once as `requests/<after>.json` in the bundle store,
//! where an S3 event rule starts the pack state machine (see `infra/template.yaml`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::github::{snapshot, GitHub};
use crate::store::{Created, Store};

/// A refused delivery: HTTP status and a reason safe to return and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {reason}")]
pub struct Refusal {
    /// HTTP status for the response.
    pub status: u16,
    /// Why.
    pub reason: String,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
    }
}

/// Checks `header` (`X-Hub-Signature-256`) against HMAC-SHA256 of `body` under `secret`, in constant
/// time. Missing, malformed or wrong signatures are 401.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), Refusal> {
    let header = header.ok_or_else(|| refuse(401, "missing X-Hub-Signature-256"))?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| refuse(401, "X-Hub-Signature-256 is not sha256=<hex>"))?;
    let sig =
        hex::decode(hex_sig).map_err(|_| refuse(401, "X-Hub-Signature-256 is not sha256=<hex>"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| refuse(401, "signature does not match"))
}

/// HMAC-SHA256 signature header value of `body` under `secret` (what GitHub sends).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The parts of a `push` event the trigger uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushEvent {
    /// `refs/heads/<branch>`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Commit before the push (all zeros for a new branch).
    pub before: String,
    /// Commit after the push.
    pub after: String,
    /// The repository.
    pub repository: PushRepository,
}

/// `repository` of a push event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushRepository {
    /// `owner/name`.
    pub full_name: String,
    /// Default branch name.
    pub default_branch: String,
    /// Push time, Unix seconds (push events carry a number here).
    pub pushed_at: i64,
}

/// What to do with a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A `ping` (sent when the hook is created): answer 200, do nothing.
    Ping,
    /// An event or branch the trigger does not act on: answer 202, do nothing.
    Ignored(String),
    /// A push to the default branch.
    Push(PushEvent),
}

/// Classifies a delivery whose signature was verified: `event` is `X-GitHub-Event`, `repo` the
/// configured `owner/name`, `now` Unix seconds. Stale pushes and pushes to another repository are
/// refused.
pub fn classify(
    event: Option<&str>,
    body: &[u8],
    repo: &str,
    now: i64,
    max_age: Duration,
) -> Result<Delivery, Refusal> {
    match event {
        Some("ping") => return Ok(Delivery::Ping),
        Some("push") => {}
        Some(other) => {
            return Ok(Delivery::Ignored(format!(
                "event {other:?} is not acted on"
            )))
        }
        None => return Err(refuse(400, "missing X-GitHub-Event")),
    }
    let push: PushEvent =
        serde_json::from_slice(body).map_err(|e| refuse(400, format!("push event: {e}")))?;
    if !push.repository.full_name.eq_ignore_ascii_case(repo) {
        return Err(refuse(403, "push is for another repository"));
    }
    let age = now - push.repository.pushed_at;
    if age > max_age.as_secs() as i64 || age < -300 {
        return Err(refuse(
            409,
            format!(
                "stale delivery: pushed {age} s ago (limit {} s)",
                max_age.as_secs()
            ),
        ));
    }
    if push.git_ref != format!("refs/heads/{}", push.repository.default_branch) {
        return Ok(Delivery::Ignored(format!(
            "push to {} is not to the default branch",
            push.git_ref
        )));
    }
    for sha in [&push.before, &push.after] {
        if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse(400, "push event: before/after are not commit ids"));
        }
    }
    Ok(Delivery::Push(push))
}

fn delivery_key(id: Option<&str>) -> Result<String, Refusal> {
    match id.filter(|i| {
        !i.is_empty() && i.len() <= 100 && i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) {
        Some(id) => Ok(format!("deliveries/{id}")),
        None => Err(refuse(400, "missing or malformed X-GitHub-Delivery")),
    }
}

/// Refuses (409) a delivery id already recorded by [`record_delivery`].
pub async fn check_delivery(
    store: &dyn Store,
    id: Option<&str>,
) -> anyhow::Result<Result<(), Refusal>> {
    let key = match delivery_key(id) {
        Ok(k) => k,
        Err(r) => return Ok(Err(r)),
    };
    Ok(if store.exists(&key).await? {
        Err(refuse(409, "replayed delivery"))
    } else {
        Ok(())
    })
}

/// Records delivery `id` write-once under `deliveries/<id>` (after its work is done, so a failed
/// delivery can be redelivered); a second delivery with the same id is refused (409).
pub async fn record_delivery(
    store: &dyn Store,
    id: Option<&str>,
) -> anyhow::Result<Result<(), Refusal>> {
    let key = match delivery_key(id) {
        Ok(k) => k,
        Err(r) => return Ok(Err(r)),
    };
    let id = id.unwrap_or_default();
    let tmp = tempfile::NamedTempFile::new()?;
    std::fs::write(tmp.path(), id)?;
    match store
        .create_file(&key, tmp.path(), None, "delivery")
        .await?
    {
        Created::New(_) => Ok(Ok(())),
        Created::Existing { .. } => Ok(Err(refuse(409, "replayed delivery"))),
    }
}

/// The work one push asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRequest {
    /// The pushed commit.
    pub commit: String,
    /// Manifest ids the push added, sorted.
    pub ids: Vec<String>,
    /// Package URLs the push added to the lists, sorted.
    pub urls: Vec<String>,
    /// The state machine's map items: one per id.
    #[serde(default)]
    pub items: Vec<PackItem>,
}

/// One id for the pack map: the container-image function packs source-based kernels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackItem {
    /// Manifest id.
    pub id: String,
    /// The set's architecture (the manifest's `arch:`, absent: amd64); requests written before
    /// architectures existed are amd64.
    #[serde(default = "crate::pack::arch::default_name")]
    pub arch: String,
    /// Whether the set is built from kernel sources ([`crate::ondemand::needs_toolchain`]).
    pub needs_toolchain: bool,
}

/// Ids and URLs in `after` (files of the lists directory: name → text) that `before` lacks.
/// `manifest.yml` gives the ids; every other top-level `*.txt` the URLs.
pub fn plan(
    commit: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<PackRequest> {
    let ids = |files: &BTreeMap<String, String>| -> anyhow::Result<BTreeMap<String, crate::manifest::Entry>> {
        Ok(match files.get("manifest.yml") {
            None => BTreeMap::new(),
            Some(text) => crate::manifest::Manifest::parse(text.as_bytes(), "manifest.yml")?.entries,
        })
    };
    let urls = |files: &BTreeMap<String, String>| -> BTreeSet<String> {
        files
            .iter()
            .filter(|(name, _)| name.ends_with(".txt") && !name.contains('/'))
            .flat_map(|(_, text)| text.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let (old_ids, new_ids) = (ids(before)?, ids(after)?);
    let (old_urls, new_urls) = (urls(before), urls(after));
    let added: Vec<(&String, &crate::manifest::Entry)> = new_ids
        .iter()
        .filter(|(id, _)| !old_ids.contains_key(*id))
        .collect();
    Ok(PackRequest {
        commit: commit.to_string(),
        ids: added.iter().map(|(id, _)| (*id).clone()).collect(),
        urls: new_urls.difference(&old_urls).cloned().collect(),
        items: added
            .iter()
            .map(|(id, set)| PackItem {
                id: (*id).clone(),
                arch: set.arch().to_string(),
                needs_toolchain: crate::ondemand::needs_toolchain(&set.kind),
            })
            .collect(),
    })
}

/// Key of the request for `commit`.
pub fn request_key(commit: &str) -> String {
    format!("requests/{commit}.json")
}

/// Writes `request` write-once (a second push event for the same commit changes nothing).
/// Returns whether it was new.
pub async fn write_request(store: &dyn Store, request: &PackRequest) -> anyhow::Result<bool> {
    let tmp = tempfile::NamedTempFile::new()?;
    std::fs::write(tmp.path(), serde_json::to_vec_pretty(request)?)?;
    Ok(matches!(
        store
            .create_file(&request_key(&request.commit), tmp.path(), None, "request")
            .await?,
        Created::New(_)
    ))
}

/// One webhook delivery as received.
#[derive(Debug, Clone, Default)]
pub struct Incoming<'a> {
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-Hub-Signature-256`.
    pub signature: Option<&'a str>,
    /// `X-GitHub-Delivery`.
    pub delivery: Option<&'a str>,
    /// Raw body, exactly as signed.
    pub body: &'a [u8],
}

/// How the trigger is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The webhook secret.
    pub secret: Vec<u8>,
    /// `owner/name` the hook belongs to.
    pub repo: String,
    /// Oldest push accepted.
    pub max_age: Duration,
    /// Lists directory in the repository.
    pub lists_dir: String,
    /// Cache directory for the GitHub reader.
    pub cache: Option<std::path::PathBuf>,
}

/// What an accepted delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Outcome {
    /// Answered a ping.
    Ping,
    /// Not acted on (other event or branch).
    Ignored { reason: String },
    /// The push added no id and no URL: nothing written but the delivery record.
    NothingNew { commit: String },
    /// A pack request was written (`new`: false when one for this commit existed).
    Requested {
        key: String,
        ids: usize,
        urls: usize,
        new: bool,
    },
}

/// Handles one delivery end to end (see the module docs); `now` is Unix seconds. A refusal is
/// `Err(Ok(refusal))`; a failure of GitHub or the store is `Err(Err(error))` (GitHub redelivers).
pub async fn handle<G: GitHub>(
    gh: &G,
    store: &dyn Store,
    settings: &Settings,
    incoming: &Incoming<'_>,
    now: i64,
) -> Result<Outcome, Result<Refusal, anyhow::Error>> {
    verify_signature(&settings.secret, incoming.body, incoming.signature).map_err(Ok)?;
    let push = match classify(
        incoming.event,
        incoming.body,
        &settings.repo,
        now,
        settings.max_age,
    )
    .map_err(Ok)?
    {
        Delivery::Ping => return Ok(Outcome::Ping),
        Delivery::Ignored(reason) => return Ok(Outcome::Ignored { reason }),
        Delivery::Push(p) => p,
    };
    check_delivery(store, incoming.delivery)
        .await
        .map_err(Err)?
        .map_err(Ok)?;
    let cache = settings.cache.as_deref();
    let after = snapshot::at_commit(gh, &push.after, &settings.lists_dir, cache)
        .await
        .map_err(Err)?;
    let before = if push.before.bytes().all(|b| b == b'0') {
        BTreeMap::new()
    } else {
        snapshot::at_commit(gh, &push.before, &settings.lists_dir, cache)
            .await
            .map_err(Err)?
            .texts()
    };
    let request = plan(&push.after, &before, &after.texts()).map_err(Err)?;
    let outcome = if request.ids.is_empty() && request.urls.is_empty() {
        Outcome::NothingNew {
            commit: push.after.clone(),
        }
    } else {
        let new = write_request(store, &request).await.map_err(Err)?;
        Outcome::Requested {
            key: request_key(&request.commit),
            ids: request.ids.len(),
            urls: request.urls.len(),
            new,
        }
    };
    record_delivery(store, incoming.delivery)
        .await
        .map_err(Err)?
        .map_err(Ok)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";

    #[test]
    fn signature_matches_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let body = b"Hello, World!";
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(SECRET, body), expected);
        verify_signature(SECRET, body, Some(expected)).unwrap();
        for bad in [
            None,
            Some("sha1=abc"),
            Some("sha256=zz"),
            Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18"),
        ] {
            let r = verify_signature(SECRET, body, bad).unwrap_err();
            assert_eq!(r.status, 401, "{bad:?}");
            assert!(!r.reason.contains("Secret"), "{r}");
        }
        assert!(verify_signature(b"other", body, Some(expected)).is_err());
        assert!(verify_signature(SECRET, b"Hello, World?", Some(expected)).is_err());
    }

    fn push(pushed_at: i64, git_ref: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "ref": git_ref, "before": "a".repeat(40), "after": "b".repeat(40),
            "repository": {"full_name": "o/r", "default_branch": "main", "pushed_at": pushed_at},
            "head_commit": {"id": "b".repeat(40)}
        }))
        .unwrap()
    }

    #[test]
    fn classifies_pushes_and_refuses_stale_or_foreign_ones() {
        let hour = Duration::from_secs(3600);
        let now = 1_800_000_000;
        assert_eq!(
            classify(Some("ping"), b"{}", "o/r", now, hour).unwrap(),
            Delivery::Ping
        );
        assert!(matches!(
            classify(Some("issues"), b"{}", "o/r", now, hour).unwrap(),
            Delivery::Ignored(_)
        ));
        // A push to `git_ref` of repository `repo`, made `age` seconds ago.
        let push_to = |age: i64, git_ref: &str, repo: &str| {
            classify(Some("push"), &push(now - age, git_ref), repo, now, hour)
        };
        let d = push_to(10, "refs/heads/main", "o/r");
        assert!(matches!(d, Ok(Delivery::Push(p)) if p.after == "b".repeat(40)));
        assert!(matches!(
            push_to(10, "refs/heads/x", "o/r").unwrap(),
            Delivery::Ignored(_)
        ));
        let stale = push_to(7200, "refs/heads/main", "o/r");
        assert_eq!(stale.unwrap_err().status, 409);
        let foreign = push_to(0, "refs/heads/main", "o/x");
        assert_eq!(foreign.unwrap_err().status, 403);
        assert_eq!(
            classify(Some("push"), b"{", "o/r", now, hour)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn plans_exactly_the_added_ids_and_urls() {
        let m = |ids: &[&str]| {
            let mut s = String::from("# generated\n");
            for id in ids {
                s.push_str(&format!(
                    "{id}:\n  type: debian\n  packages:\n  - p-{id}.deb\n"
                ));
            }
            s
        };
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let before = BTreeMap::from([
            ("manifest.yml".to_string(), m(&[&a, &b])),
            (
                "debian.txt".to_string(),
                "http://x/1.deb\nhttp://x/2.deb\n".to_string(),
            ),
        ]);
        let after = BTreeMap::from([
            ("manifest.yml".to_string(), m(&[&a, &c])),
            (
                "debian.txt".to_string(),
                "http://x/2.deb\nhttp://x/3.deb\n".to_string(),
            ),
            ("sources.yml".to_string(), "http://not/a/list\n".to_string()),
        ]);
        let p = plan(&"f".repeat(40), &before, &after).unwrap();
        assert_eq!(p.ids, std::slice::from_ref(&c));
        assert_eq!(
            p.items,
            [PackItem {
                id: c,
                arch: "amd64".into(),
                needs_toolchain: false
            }]
        );
        assert_eq!(p.urls, ["http://x/3.deb"]);
        assert_eq!(plan("x", &after, &after).unwrap().ids.len(), 0);
    }

    #[tokio::test]
    async fn deliveries_and_requests_are_write_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::DirStore::new(dir.path().to_path_buf());
        record_delivery(&store, Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
            .await
            .unwrap()
            .unwrap();
        let again = record_delivery(&store, Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
            .await
            .unwrap();
        assert_eq!(again.unwrap_err().status, 409);
        assert_eq!(
            record_delivery(&store, Some("../x"))
                .await
                .unwrap()
                .unwrap_err()
                .status,
            400
        );
        let req = PackRequest {
            commit: "b".repeat(40),
            ids: vec!["c".repeat(64)],
            ..Default::default()
        };
        assert!(write_request(&store, &req).await.unwrap());
        assert!(!write_request(&store, &req).await.unwrap());
        let stored: PackRequest = serde_json::from_slice(
            &store
                .get_bytes(&request_key(&req.commit))
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(stored, req);
    }
}
