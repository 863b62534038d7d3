//! OpenPGP verification of repository metadata (`InRelease`, `Release.gpg`, `repomd.xml.asc`)
//! against keys kept in `kernel-package-lists/keys/`, with the pure-Rust `pgp` crate.
//!
//! A message is accepted when at least one of its signatures verifies against the primary key
//! or a subkey of one of the trusted keys.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::Signature;

/// A set of trusted public keys.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    origin: String,
}

impl Keyring {
    /// Parses keys from binary (`.gpg` keyring) or ASCII-armored (`.asc`) bytes.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Keyring> {
        let (iter, _) = SignedPublicKey::from_reader_many(bytes)
            .map_err(|e| anyhow!("{origin}: not an OpenPGP key file: {e}"))?;
        let mut keys = Vec::new();
        for key in iter {
            keys.push(key.map_err(|e| anyhow!("{origin}: bad OpenPGP key: {e}"))?);
        }
        if keys.is_empty() {
            bail!("{origin}: no OpenPGP keys found");
        }
        Ok(Keyring {
            keys,
            origin: origin.to_string(),
        })
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Keyring> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading key file {}", path.display()))?;
        Keyring::from_bytes(&bytes, &path.display().to_string())
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys (never true for a loaded keyring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn accepts(&self, sig: &Signature, data: &[u8]) -> bool {
        self.keys.iter().any(|k| {
            sig.verify(&k.primary_key, data).is_ok()
                || k.public_subkeys
                    .iter()
                    .any(|s| sig.verify(&s.key, data).is_ok())
        })
    }

    /// Verifies a clear-signed message (`InRelease`) and returns the signed text, with `\n`
    /// line endings. Only the signed text may be trusted: anything outside the signature
    /// block is dropped.
    pub fn verify_cleartext(&self, text: &str, what: &str) -> Result<String> {
        let (msg, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| anyhow!("{what}: not a clear-signed OpenPGP message: {e}"))?;
        let signed = msg.signed_text();
        if msg
            .signatures()
            .iter()
            .any(|s| self.accepts(s, signed.as_bytes()))
        {
            Ok(signed.replace("\r\n", "\n"))
        } else {
            bail!(
                "{what}: bad signature: no signature verifies against {}",
                self.origin
            )
        }
    }

    /// Verifies a detached signature (binary or armored) over `data`.
    pub fn verify_detached(&self, data: &[u8], signature: &[u8], what: &str) -> Result<()> {
        let (sigs, _) = DetachedSignature::from_reader_many(signature)
            .map_err(|e| anyhow!("{what}: not an OpenPGP signature: {e}"))?;
        let mut any = false;
        for sig in sigs {
            let sig = sig.map_err(|e| anyhow!("{what}: bad OpenPGP signature packet: {e}"))?;
            any = true;
            if self.accepts(&sig.signature, data) {
                return Ok(());
            }
        }
        if !any {
            bail!("{what}: no signature found");
        }
        bail!(
            "{what}: bad signature: no signature verifies against {}",
            self.origin
        )
    }
}

/// Extracts the text of a clear-signed message *without* verifying it (for sources that name
/// no key). Plain (unsigned) text is returned as is.
pub fn strip_cleartext(text: &str, what: &str) -> Result<String> {
    if !text
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
    {
        return Ok(text.to_string());
    }
    let (msg, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| anyhow!("{what}: malformed clear-signed message: {e}"))?;
    Ok(msg.signed_text().replace("\r\n", "\n"))
}
