//! Package naming contracts shared by every stage: simplified names and manifest ids.

use sha2::{Digest, Sha256};

/// Simplifies a package URL or file name into the name used in stores and the manifest:
/// every character outside `[A-Za-z0-9_.-]` is replaced by `-`.
///
/// `https://a.b/c d.deb` → `https---a.b-c-d.deb`.
pub fn simplify(url: &str) -> String {
    url.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The manifest id of a package set: lowercase hex sha256 of the simplified names,
/// sorted and concatenated with no separator. Names must already be simplified; order does not matter.
pub fn manifest_id<S: AsRef<str>>(simplified_names: &[S]) -> String {
    let mut names: Vec<&str> = simplified_names.iter().map(AsRef::as_ref).collect();
    names.sort_unstable();
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Lowercase hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplify_replaces_everything_outside_the_safe_set() {
        assert_eq!(
            simplify("https://x.org/a/linux_6.1+b~1.deb?k=v"),
            "https---x.org-a-linux_6.1-b-1.deb-k-v"
        );
    }

    #[test]
    fn manifest_id_is_order_independent_sha256_of_sorted_concatenation() {
        let a = manifest_id(&["b", "a"]);
        let b = manifest_id(&["a", "b"]);
        assert_eq!(a, b);
        assert_eq!(a, sha256_hex(b"ab"));
    }
}
