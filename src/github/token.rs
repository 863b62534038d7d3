//! The GitHub token: from an environment variable, or from a secret store (AWS Secrets
//! Manager in the crawl function) whose secret id an environment variable names.
//!
//! The token never appears in `Debug`, `Display` or error text.

use std::fmt;
use std::future::Future;

use anyhow::{bail, Context, Result};

/// Environment variable holding the token itself.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
/// Environment variable naming a secret (id or ARN) that holds the token.
pub const TOKEN_SECRET_ENV: &str = "GITHUB_TOKEN_SECRET";

/// A GitHub token. `Debug` prints `Token(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token; surrounding whitespace is dropped, empty is an error.
    pub fn new(value: impl Into<String>) -> Result<Token> {
        let v = value.into().trim().to_string();
        if v.is_empty() {
            bail!("the GitHub token is empty");
        }
        Ok(Token(v))
    }

    /// The secret value, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Where secrets come from (AWS Secrets Manager in the function; a map in tests).
pub trait SecretSource: Send + Sync {
    /// The string value of secret `id`. Errors must not contain the value.
    fn secret_string(&self, id: &str) -> impl Future<Output = Result<String>> + Send;
}

/// A source that has no secrets (the CLI without a secret store).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    async fn secret_string(&self, id: &str) -> Result<String> {
        bail!("secret {id:?} named by {TOKEN_SECRET_ENV}, but no secret store is available here")
    }
}

/// Extracts the token from a secret's string: either the token itself, or a JSON object
/// with a `token` or `GITHUB_TOKEN` string field (the Secrets Manager key/value form).
pub fn token_from_secret(id: &str, value: &str) -> Result<Token> {
    let v = value.trim();
    if v.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(v)
            .map_err(|_| anyhow::anyhow!("secret {id:?} is a JSON object that does not parse"))?;
        for key in ["token", TOKEN_ENV] {
            if let Some(t) = json.get(key).and_then(|t| t.as_str()) {
                return Token::new(t).with_context(|| format!("secret {id:?}, key {key}"));
            }
        }
        bail!("secret {id:?} is a JSON object without a `token` or `{TOKEN_ENV}` string");
    }
    Token::new(v).with_context(|| format!("secret {id:?}"))
}

/// Resolves the token: `GITHUB_TOKEN` if set and non-empty, else the secret named by
/// `GITHUB_TOKEN_SECRET`, read from `secrets`. `env` looks variables up (the process
/// environment in production).
pub async fn resolve(
    env: impl Fn(&str) -> Option<String>,
    secrets: &impl SecretSource,
) -> Result<Token> {
    if let Some(v) = env(TOKEN_ENV).filter(|v| !v.trim().is_empty()) {
        return Token::new(v);
    }
    if let Some(id) = env(TOKEN_SECRET_ENV).filter(|v| !v.trim().is_empty()) {
        let value = secrets
            .secret_string(id.trim())
            .await
            .with_context(|| format!("reading the GitHub token from secret {:?}", id.trim()))?;
        return token_from_secret(id.trim(), &value);
    }
    bail!(
        "no GitHub token: set {TOKEN_ENV}, or {TOKEN_SECRET_ENV} to the id of a secret holding it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, String>);
    impl SecretSource for Map {
        async fn secret_string(&self, id: &str) -> Result<String> {
            self.0
                .get(id)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("secret {id:?} not found"))
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[tokio::test]
    async fn env_then_secret_then_error_never_leaking() {
        let secrets = Map(HashMap::from([
            ("plain".to_string(), "ghp_plainvalue\n".to_string()),
            (
                "json".to_string(),
                r#"{"token":"ghp_jsonvalue"}"#.to_string(),
            ),
            (
                "badjson".to_string(),
                r#"{"other":"ghp_hidden"}"#.to_string(),
            ),
        ]));
        let t = resolve(env(&[(TOKEN_ENV, "ghp_envvalue")]), &secrets)
            .await
            .unwrap();
        assert_eq!(t.expose(), "ghp_envvalue");
        assert_eq!(format!("{t:?}"), "Token(***)");
        let t = resolve(env(&[(TOKEN_SECRET_ENV, "plain")]), &secrets)
            .await
            .unwrap();
        assert_eq!(t.expose(), "ghp_plainvalue");
        let t = resolve(
            env(&[(TOKEN_ENV, " "), (TOKEN_SECRET_ENV, "json")]),
            &secrets,
        )
        .await
        .unwrap();
        assert_eq!(t.expose(), "ghp_jsonvalue");
        let e = format!(
            "{:#}",
            resolve(env(&[(TOKEN_SECRET_ENV, "badjson")]), &secrets)
                .await
                .unwrap_err()
        );
        assert!(e.contains("badjson") && !e.contains("ghp_hidden"), "{e}");
        let e = format!(
            "{:#}",
            resolve(env(&[(TOKEN_SECRET_ENV, "absent")]), &secrets)
                .await
                .unwrap_err()
        );
        assert!(e.contains("absent"), "{e}");
        let e = format!("{:#}", resolve(env(&[]), &NoSecrets).await.unwrap_err());
        assert!(e.contains(TOKEN_ENV) && e.contains(TOKEN_SECRET_ENV), "{e}");
    }
}
