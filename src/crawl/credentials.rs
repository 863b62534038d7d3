//! Credentials named in `sources.yml`, resolved from the environment or files at crawl time.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug`/`Display` print `<redacted>`, so they cannot
//! leak through logs or error chains by accident.

use std::fmt;

use anyhow::{bail, Context, Result};

use super::config::{CredentialKind, CredentialSpec};

/// A secret string; formatting never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How requests of one source authenticate.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer`.
    Bearer(Secret),
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: Secret,
        /// Password.
        password: Secret,
    },
    /// TLS client certificate + key (PEM).
    ClientCert {
        /// Where it came from (env var or file name), used to cache the TLS client.
        origin: String,
        /// The PEM text.
        pem: Secret,
    },
    /// Appended to the URL as its query string.
    UrlQuery(Secret),
}

/// Resolves a credential spec. Errors name the variable or file, never the value.
pub fn resolve(spec: &CredentialSpec) -> Result<Auth> {
    let (origin, value) = match (&spec.env, &spec.file) {
        (Some(var), _) if std::env::var_os(var).is_some() => {
            let v = std::env::var(var)
                .with_context(|| format!("credential variable {var} is not valid UTF-8"))?;
            (format!("env:{var}"), v)
        }
        (_, Some(file)) if std::path::Path::new(file).exists() => {
            let v = std::fs::read_to_string(file)
                .with_context(|| format!("reading credential file {file}"))?;
            (format!("file:{file}"), v)
        }
        (Some(var), Some(file)) => {
            bail!("credential missing: neither variable {var} is set nor file {file} exists")
        }
        (Some(var), None) => bail!("credential missing: variable {var} is not set"),
        (None, Some(file)) => bail!("credential missing: file {file} does not exist"),
        (None, None) => bail!("credential has neither `env` nor `file`"),
    };
    let trimmed = if spec.kind == CredentialKind::ClientCert {
        value
    } else {
        value.trim().to_string()
    };
    if trimmed.trim().is_empty() {
        bail!("credential from {origin} is empty");
    }
    Ok(match spec.kind {
        CredentialKind::Bearer => Auth::Bearer(Secret::new(trimmed)),
        CredentialKind::Basic => {
            let Some((user, password)) = trimmed.split_once(':') else {
                bail!("credential from {origin} must be `user:password`");
            };
            Auth::Basic {
                user: Secret::new(user),
                password: Secret::new(password),
            }
        }
        CredentialKind::ClientCert => Auth::ClientCert {
            origin,
            pem: Secret::new(trimmed),
        },
        CredentialKind::UrlQuery => Auth::UrlQuery(Secret::new(trimmed.trim_start_matches('?'))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let a = Auth::Bearer(Secret::new("hunter2"));
        assert!(!format!("{a:?}").contains("hunter2"));
        assert_eq!(format!("{}", Secret::new("x")), "<redacted>");
    }

    #[test]
    fn resolves_from_file_and_reports_missing_without_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "alice:s3cret\n").unwrap();
        let spec = CredentialSpec {
            kind: CredentialKind::Basic,
            env: Some("KERNEL_PACKER_TEST_UNSET_VAR_93".into()),
            file: Some(file.display().to_string()),
        };
        match resolve(&spec).unwrap() {
            Auth::Basic { user, password } => {
                assert_eq!(user.expose(), "alice");
                assert_eq!(password.expose(), "s3cret");
            }
            other => panic!("{other:?}"),
        }
        let missing = CredentialSpec {
            kind: CredentialKind::Bearer,
            env: Some("KERNEL_PACKER_TEST_UNSET_VAR_93".into()),
            file: None,
        };
        let err = resolve(&missing).unwrap_err().to_string();
        assert!(err.contains("KERNEL_PACKER_TEST_UNSET_VAR_93"), "{err}");
    }
}
