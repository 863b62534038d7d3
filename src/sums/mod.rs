//! The signed index of a bundle store: `SHA256SUMS` (one `<sha256>  <bundle>` line per bundle the
//! index names, sorted, in `sha256sum -c` format) and `SHA256SUMS.minisig`, a detached minisign
//! (Ed25519) signature of it.
//!
//! Concurrency follows the index rule: the file is derived from the per-id index objects, never
//! edited in place. [`publish`] combines every entry, writes the file and its signature, then lists
//! the index again; when an id appeared meanwhile (a concurrent pack whose own publish may have
//! been overwritten by this one) it publishes again, so the last writer always covers every entry
//! written before its final listing. Readers ([`verify`]) check the signature before trusting a
//! line; a reader that catches the file between the two writes sees a bad signature, so fetchers
//! re-read once before refusing.
//!
//! Keys: the secret key is a minisign secret key box read from the file named by
//! `KERNEL_PACKER_SIGNING_KEY_FILE` (password, for an encrypted key, from
//! `KERNEL_PACKER_SIGNING_KEY_PASSWORD`); the public key is committed (`keys/bundles.pub`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::index::{self, IndexEntry};
use crate::store::Store;

/// Object key of the checksum list.
pub const SUMS_KEY: &str = "SHA256SUMS";
/// Object key of the combined index (id → entry, JSON), for stores without listings (https).
pub const INDEX_JSON_KEY: &str = "index.json";
/// Object key of its detached signature.
pub const SIG_KEY: &str = "SHA256SUMS.minisig";
/// Environment variable naming the secret key file.
pub const KEY_FILE_ENV: &str = "KERNEL_PACKER_SIGNING_KEY_FILE";
/// Environment variable holding the secret key's password (encrypted keys only).
pub const KEY_PASSWORD_ENV: &str = "KERNEL_PACKER_SIGNING_KEY_PASSWORD";
/// The project's committed public key (minisign public key file).
pub const PUBLIC_KEY: &str = include_str!("../../keys/bundles.pub");

/// `SHA256SUMS` text for `entries`: one line per distinct (sha256, bundle), sorted by bundle.
pub fn render(entries: &BTreeMap<String, IndexEntry>) -> String {
    let lines: BTreeSet<(&str, &str)> = entries
        .values()
        .map(|e| (e.bundle.as_str(), e.sha256.as_str()))
        .collect();
    lines
        .into_iter()
        .map(|(bundle, sha)| format!("{sha}  {bundle}\n"))
        .collect()
}

/// Parses `SHA256SUMS` text into bundle → sha256s. Malformed lines are errors.
pub fn parse(text: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (sha, name) = line
            .split_once("  ")
            .with_context(|| format!("{SUMS_KEY} line {}: want `<sha256>  <name>`", n + 1))?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{SUMS_KEY} line {}: bad sha256", n + 1);
        }
        out.entry(name.to_string())
            .or_default()
            .insert(sha.to_ascii_lowercase());
    }
    Ok(out)
}

/// A loaded secret key.
pub struct Signer {
    sk: minisign::SecretKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// From the text of a minisign secret key file; `password` for an encrypted key.
    pub fn from_key_text(text: &str, password: Option<String>) -> Result<Signer> {
        let sk_box = minisign::SecretKeyBox::from_string(text)
            .map_err(|e| anyhow::anyhow!("not a minisign secret key: {e}"))?;
        let sk = match password {
            Some(p) => sk_box.into_secret_key(Some(p)),
            None => sk_box.into_unencrypted_secret_key(),
        }
        .map_err(|e| anyhow::anyhow!("cannot load the minisign secret key: {e}"))?;
        Ok(Signer { sk })
    }

    /// The signer configured by `KERNEL_PACKER_SIGNING_KEY_FILE`, if set. Errors name the file,
    /// never its content.
    pub fn from_env() -> Result<Option<Signer>> {
        let Some(path) = std::env::var_os(KEY_FILE_ENV) else {
            return Ok(None);
        };
        let path = std::path::PathBuf::from(path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{KEY_FILE_ENV}: cannot read {}", path.display()))?;
        let password = std::env::var(KEY_PASSWORD_ENV).ok();
        Signer::from_key_text(&text, password)
            .with_context(|| format!("{KEY_FILE_ENV}: {}", path.display()))
            .map(Some)
    }

    /// A detached minisign signature (the `.minisig` file text) of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<String> {
        let sig = minisign::sign(
            None,
            &self.sk,
            Cursor::new(data),
            Some(&format!("file:{SUMS_KEY}")),
            Some("kernel-packer bundle store signature"),
        )
        .map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
        Ok(sig.into_string())
    }
}

/// A new unencrypted key pair: (public key file text, secret key file text).
pub fn generate_keypair() -> Result<(String, String)> {
    let kp = minisign::KeyPair::generate_unencrypted_keypair()
        .map_err(|e| anyhow::anyhow!("key generation failed: {e}"))?;
    let pk = kp
        .pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    let sk = kp
        .sk
        .to_box(Some("kernel-packer bundle store signing key"))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    Ok((pk, sk))
}

/// Checks `signature` (`.minisig` text) over `data` with `public_key` (a minisign public key
/// file, or its base64 line).
pub fn verify(public_key: &str, data: &[u8], signature: &str) -> Result<()> {
    let pk = match minisign::PublicKeyBox::from_string(public_key).and_then(|b| b.into_public_key())
    {
        Ok(pk) => pk,
        Err(_) => minisign::PublicKey::from_base64(public_key.trim())
            .map_err(|e| anyhow::anyhow!("not a minisign public key: {e}"))?,
    };
    let sig = minisign::SignatureBox::from_string(signature)
        .map_err(|e| anyhow::anyhow!("{SIG_KEY}: not a minisign signature: {e}"))?;
    minisign::verify(&pk, &sig, Cursor::new(data), true, false, false)
        .map_err(|e| anyhow::anyhow!("{SIG_KEY}: signature does not verify: {e}"))
}

/// Rounds of [`publish`] before giving up on a store that keeps changing.
const MAX_ROUNDS: usize = 5;

/// Regenerates and signs the store's `SHA256SUMS` from its index (see the module docs).
/// Returns the number of lines written.
pub async fn publish(store: Arc<dyn Store>, signer: &Signer) -> Result<usize> {
    for _ in 0..MAX_ROUNDS {
        let entries = index::read_all(store.clone()).await?;
        let text = render(&entries);
        let sig = signer.sign(text.as_bytes())?;
        store
            .put_bytes(INDEX_JSON_KEY, serde_json::to_vec(&entries)?)
            .await
            .with_context(|| format!("write {INDEX_JSON_KEY}"))?;
        store
            .put_bytes(SUMS_KEY, text.clone().into_bytes())
            .await
            .with_context(|| format!("write {SUMS_KEY}"))?;
        store
            .put_bytes(SIG_KEY, sig.into_bytes())
            .await
            .with_context(|| format!("write {SIG_KEY}"))?;
        let now: BTreeSet<String> = index::ids(store.as_ref()).await?.into_iter().collect();
        let covered: BTreeSet<String> = entries.keys().cloned().collect();
        if now.is_subset(&covered) {
            return Ok(text.lines().count());
        }
        tracing::info!("index changed while signing; signing again");
    }
    bail!("{SUMS_KEY}: the index kept changing over {MAX_ROUNDS} rounds; run `kernel-packer index --sign` later")
}

/// Reads and verifies the store's signed list: bundle → sha256s. Re-reads once when the
/// signature does not verify (a concurrent publish between the two writes).
pub async fn read_verified(
    store: &dyn Store,
    public_key: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut last = None;
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let sums = store
            .get_bytes(SUMS_KEY)
            .await?
            .with_context(|| format!("{}: no {SUMS_KEY}", store.location()))?;
        let sig = store
            .get_bytes(SIG_KEY)
            .await?
            .with_context(|| format!("{}: no {SIG_KEY}", store.location()))?;
        match verify(public_key, &sums, &String::from_utf8_lossy(&sig)) {
            Ok(()) => return parse(&String::from_utf8_lossy(&sums)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("two attempts"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Features;
    use crate::store::DirStore;

    fn entry(n: u8) -> IndexEntry {
        IndexEntry {
            id: format!("{n:02x}").repeat(32),
            kind: "debian".into(),
            packages: vec![],
            bundle: format!("bundle-{n}.tgz"),
            sha256: format!("{:02x}", n + 1).repeat(32),
            size: 1,
            kernel: format!("6.{n}.0"),
            distro: "debian".into(),
            arch: "amd64".into(),
            features: Features::default(),
            verification: None,
            packed_at: None,
            ..Default::default()
        }
    }

    #[test]
    fn render_parse_round_trip_and_signature_checks() {
        let entries: BTreeMap<_, _> = (0..3).map(|n| (entry(n).id.clone(), entry(n))).collect();
        let text = render(&entries);
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with(&format!("{}  bundle-0.tgz\n", "01".repeat(32))));
        let parsed = parse(&text).unwrap();
        assert!(parsed["bundle-2.tgz"].contains(&"03".repeat(32)));
        assert!(parse("zz  x\n").is_err());

        let (pk, sk) = generate_keypair().unwrap();
        let signer = Signer::from_key_text(&sk, None).unwrap();
        let sig = signer.sign(text.as_bytes()).unwrap();
        verify(&pk, text.as_bytes(), &sig).unwrap();
        let tampered = text.replace("01", "02");
        assert!(verify(&pk, tampered.as_bytes(), &sig).is_err());
        let (other_pk, _) = generate_keypair().unwrap();
        assert!(verify(&other_pk, text.as_bytes(), &sig).is_err());
        // The base64 line alone works as a public key too.
        verify(pk.lines().nth(1).unwrap(), text.as_bytes(), &sig).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_packs_and_publishes_lose_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(DirStore::new(dir.path().to_path_buf()));
        let (pk, sk) = generate_keypair().unwrap();
        let signer = Arc::new(Signer::from_key_text(&sk, None).unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..12u8 {
            let (store, signer) = (store.clone(), signer.clone());
            tasks.spawn(async move {
                index::write_entry(store.as_ref(), &entry(n)).await?;
                publish(store, &signer).await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        let sums = read_verified(store.as_ref(), &pk).await.unwrap();
        assert_eq!(sums.len(), 12);
    }
}
