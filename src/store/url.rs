//! Store URLs: the one place that turns a `--packages`/`--bundles` argument into a location.

use std::fmt;
use std::path::PathBuf;

/// Default local store directory, relative to the working directory.
pub const DEFAULT_DIR: &str = ".kernel-packer";

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A local directory; keys are relative paths inside it.
    Dir(PathBuf),
    /// An S3 bucket and a key prefix (empty, or ending in `/`).
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    /// Parses `s3://bucket[/prefix]`, `file://<path>` or a plain directory path.
    ///
    /// The S3 prefix is normalised to end in `/` when not empty, so `s3://b/p` and `s3://b/p/` are
    /// the same store. Errors name the offending URL.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            anyhow::bail!("empty store location");
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                anyhow::bail!("store URL {s:?}: missing bucket name");
            }
            if !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
            {
                anyhow::bail!("store URL {s:?}: invalid bucket name {bucket:?}");
            }
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            };
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(StoreUrl::Dir(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            anyhow::bail!(
                "store URL {s:?}: unsupported scheme {scheme:?} (use a directory or s3://)"
            );
        }
        Ok(StoreUrl::Dir(PathBuf::from(s)))
    }

    /// The default store: `./.kernel-packer/<sub>`.
    pub fn default_dir(sub: &str) -> Self {
        StoreUrl::Dir(PathBuf::from(DEFAULT_DIR).join(sub))
    }

    /// Splits an object URL (`s3://bucket/dir/key` or `dir/key`) into its parent store and key.
    pub fn parse_object(s: &str) -> anyhow::Result<(Self, String)> {
        match Self::parse(s)? {
            StoreUrl::S3 { bucket, prefix } => {
                let full = prefix.trim_end_matches('/');
                let (dir, key) = full.rsplit_once('/').unwrap_or(("", full));
                if key.is_empty() {
                    anyhow::bail!("object URL {s:?}: missing object key");
                }
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                Ok((StoreUrl::S3 { bucket, prefix }, key.to_string()))
            }
            StoreUrl::Dir(path) => {
                let key = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| anyhow::anyhow!("object path {s:?}: no file name"))?
                    .to_string();
                let parent = path.parent().map(PathBuf::from).unwrap_or_default();
                let parent = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent
                };
                Ok((StoreUrl::Dir(parent), key))
            }
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Dir(p) => write!(f, "{}", p.display()),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_with_and_without_prefix() {
        assert_eq!(
            StoreUrl::parse("s3://my-bucket").unwrap(),
            StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            StoreUrl::parse("s3://my-bucket/a/b/").unwrap(),
            StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b/".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("s3://b/a/b").unwrap(),
            StoreUrl::parse("s3://b/a/b/").unwrap()
        );
    }

    #[test]
    fn parses_directories() {
        assert_eq!(StoreUrl::parse("./x").unwrap(), StoreUrl::Dir("./x".into()));
        assert_eq!(
            StoreUrl::parse("file:///tmp/x").unwrap(),
            StoreUrl::Dir("/tmp/x".into())
        );
    }

    #[test]
    fn rejects_bad_urls_naming_them() {
        let err = StoreUrl::parse("s3:///x").unwrap_err().to_string();
        assert!(err.contains("s3:///x"), "{err}");
        assert!(StoreUrl::parse("s3://Bad_Bucket/x").is_err());
        let err = StoreUrl::parse("gs://b/x").unwrap_err().to_string();
        assert!(err.contains("gs"), "{err}");
        assert!(StoreUrl::parse("  ").is_err());
    }

    #[test]
    fn splits_object_urls() {
        let (store, key) = StoreUrl::parse_object("s3://b/p/q/manifest.yml").unwrap();
        assert_eq!(
            store,
            StoreUrl::S3 {
                bucket: "b".into(),
                prefix: "p/q/".into()
            }
        );
        assert_eq!(key, "manifest.yml");
        let (store, key) = StoreUrl::parse_object("s3://b/manifest.yml").unwrap();
        assert_eq!(
            store,
            StoreUrl::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(key, "manifest.yml");
        let (store, key) = StoreUrl::parse_object("m.yml").unwrap();
        assert_eq!(store, StoreUrl::Dir(".".into()));
        assert_eq!(key, "m.yml");
        assert!(StoreUrl::parse_object("s3://b").is_err());
    }
}
