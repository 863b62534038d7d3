//! `functions/trigger`: the GitHub webhook behind a Lambda Function URL. A push to the default
//! branch (a merged crawl pull request) becomes `requests/<commit>.json` in the bundle store, naming
//! exactly the ids and URLs it added; an S3 event rule starts the pack-missing state machine on it
//! (sync those URLs, pack those ids). All checks live in [`kernel_packer::trigger`]: HMAC-SHA256
//! signature (constant time), event/branch/repository, push age, replayed delivery ids.
//!
//! Environment: `KERNEL_PACKER_BUNDLES` (store URL, required), `WEBHOOK_SECRET` or
//! `WEBHOOK_SECRET_SECRET` (Secrets Manager id/ARN holding it), `KERNEL_PACKER_WEBHOOK_MAX_AGE`
//! (seconds, default 3600), and the repository reader's (`functions/shared/repo.rs`). Responses:
//! 200/202 with `{"action", ...}`, or 400/401/403/409 with `{"error"}` (the reason never contains
//! the secret); a GitHub or S3 failure is a 500, so GitHub's redelivery can retry it.

#[path = "../../shared/repo.rs"]
mod repo;

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use kernel_packer::github::SecretSource;
use kernel_packer::store::{self, S3Options, Store};
use kernel_packer::trigger::{self, Incoming, Outcome, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

fn response(status: u16, body: Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

/// Header `name` (Function URL events carry lowercase names).
fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get("headers")?.get(name)?.as_str()
}

/// The raw body, exactly as GitHub signed it.
fn body(event: &Value) -> anyhow::Result<Vec<u8>> {
    let text = event.get("body").and_then(Value::as_str).unwrap_or("");
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        Ok(base64::engine::general_purpose::STANDARD.decode(text.trim())?)
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

struct Config {
    settings: Settings,
    store: std::sync::Arc<dyn Store>,
}

async fn config() -> anyhow::Result<Config> {
    let secret = match repo::env("WEBHOOK_SECRET") {
        Some(s) => s,
        None => {
            let id = repo::env("WEBHOOK_SECRET_SECRET")
                .context("neither WEBHOOK_SECRET nor WEBHOOK_SECRET_SECRET is set")?;
            let aws = aws_config::load_from_env().await;
            repo::SecretsManager(aws_sdk_secretsmanager::Client::new(&aws))
                .secret_string(&id)
                .await?
        }
    };
    let max_age = match repo::env("KERNEL_PACKER_WEBHOOK_MAX_AGE") {
        Some(v) => v
            .parse()
            .with_context(|| format!("KERNEL_PACKER_WEBHOOK_MAX_AGE={v:?} is not a number"))?,
        None => 3600,
    };
    let bundles = repo::env("KERNEL_PACKER_BUNDLES").context("KERNEL_PACKER_BUNDLES is not set")?;
    Ok(Config {
        settings: Settings {
            secret: secret.trim().as_bytes().to_vec(),
            repo: repo::env("KERNEL_PACKER_REPO").context("KERNEL_PACKER_REPO is not set")?,
            max_age: Duration::from_secs(max_age),
            lists_dir: repo::lists_dir(),
            cache: Some(std::env::temp_dir().join("kernel-packer-github")),
        },
        store: store::open(&bundles, &S3Options::from_env()).await?,
    })
}

async fn handle(cfg: &Config, event: &Value) -> Value {
    let raw = match body(event) {
        Ok(b) => b,
        Err(e) => return response(400, json!({"error": format!("body: {e}")})),
    };
    let incoming = Incoming {
        event: header(event, "x-github-event"),
        signature: header(event, "x-hub-signature-256"),
        delivery: header(event, "x-github-delivery"),
        body: &raw,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let gh = match repo::github_client().await {
        Ok(gh) => gh,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "GitHub client");
            return response(500, json!({"error": "GitHub client unavailable"}));
        }
    };
    match trigger::handle(&gh, cfg.store.as_ref(), &cfg.settings, &incoming, now).await {
        Ok(outcome) => {
            tracing::info!(?outcome, delivery = ?incoming.delivery, "accepted");
            let status = if matches!(outcome, Outcome::Ignored { .. }) {
                202
            } else {
                200
            };
            response(status, serde_json::to_value(&outcome).unwrap_or_default())
        }
        Err(Ok(refusal)) => {
            tracing::warn!(status = refusal.status, reason = %refusal.reason, delivery = ?incoming.delivery, "refused");
            response(refusal.status, json!({"error": refusal.reason}))
        }
        Err(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "failed");
            response(500, json!({"error": "processing failed; redeliver"}))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    kernel_packer::logging::init();
    let cfg = config()
        .await
        .map_err(|e| format!("configuration: {e:#}"))?;
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(handle(cfg, &ev.payload).await)
    }))
    .await
}
