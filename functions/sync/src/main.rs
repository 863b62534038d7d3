//! `functions/sync`: AWS Lambda function that mirrors listed package URLs into the package store.
//!
//! Event (direct, Function URL body, or Step Functions item): `{}` (every list),
//! `{"list": "<name>"}` (one list file, `<name>` or `<name>.txt`), or `{"urls": ["...", ...]}`.
//! Result: `{"listed","present","transferred","bytes","failed":[{"url","error"}]}`; when any URL
//! failed, a Lambda error (`SyncIncomplete`) carrying the summary (Function URL: HTTP 502 with the
//! result). Configuration (environment): `KERNEL_PACKER_PACKAGES` (store URL, required),
//! `KERNEL_PACKER_LISTS` (`github`: the lists of the repository's default branch, read per
//! invocation through the GitHub API and cached by commit, see `functions/shared/repo.rs`; else a
//! directory, default `kernel-package-lists`), `KERNEL_PACKER_SYNC_JOBS` (default 4),
//! `KERNEL_PACKER_WORK_DIR`, `KERNEL_PACKER_S3_ENDPOINT`. Logs: JSON lines on stderr.

#[path = "../../pack/src/envelope.rs"]
mod envelope;
#[path = "../../shared/repo.rs"]
mod repo;

use std::path::PathBuf;
use std::sync::Arc;

use envelope::diag;
use kernel_packer::store::{self, S3Options, Store};
use kernel_packer::sync::{read_list, read_lists, sync, SyncItem, SyncOptions};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

/// What to mirror, from an unwrapped event.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    All,
    List(String),
    Urls(Vec<String>),
}

fn request(v: &Value) -> Result<Request, String> {
    match v {
        Value::Null => Ok(Request::All),
        Value::String(s) if !s.trim().is_empty() => Ok(Request::List(s.trim().to_string())),
        Value::Object(o) => match (o.get("list"), o.get("urls")) {
            (None, None) if o.is_empty() => Ok(Request::All),
            (Some(Value::String(l)), None) if !l.trim().is_empty() => {
                Ok(Request::List(l.trim().to_string()))
            }
            (None, Some(Value::Array(urls))) => urls
                .iter()
                .map(|u| {
                    u.as_str()
                        .map(str::to_string)
                        .ok_or("\"urls\" must be strings".to_string())
                })
                .collect::<Result<_, _>>()
                .map(Request::Urls),
            _ => Err("event must be {}, {\"list\": \"<name>\"} or {\"urls\": [...]}".into()),
        },
        _ => Err("event must be {}, {\"list\": \"<name>\"} or {\"urls\": [...]}".into()),
    }
}

struct Config {
    store: Arc<dyn Store>,
    lists: PathBuf,
    opts: SyncOptions,
}

async fn items(cfg: &Config, req: Request) -> anyhow::Result<Vec<SyncItem>> {
    if let Request::Urls(urls) = req {
        return Ok(urls.iter().map(|u| SyncItem::new(u)).collect());
    }
    let lists = if repo::is_repo(&cfg.lists.to_string_lossy()) {
        repo::lists_dir_at_head().await?
    } else {
        cfg.lists.clone()
    };
    match req {
        Request::List(name) => read_list(&lists, &name),
        _ => read_lists(&lists),
    }
}

async fn handle(cfg: &Config, req: Request) -> Result<Value, (u16, Diagnostic, Option<Value>)> {
    let items = items(cfg, req)
        .await
        .map_err(|e| (400, diag("BadRequest", format!("{e:#}")), None))?;
    let report = sync(&items, cfg.store.clone(), &cfg.opts)
        .await
        .map_err(|e| (500, diag("StoreError", format!("{e:#}")), None))?;
    let failed: Vec<Value> = report
        .failures()
        .into_iter()
        .map(|(url, error)| json!({"url": url, "error": error}))
        .collect();
    let result = json!({
        "listed": report.items.len(),
        "present": report.present(),
        "transferred": report.transferred(),
        "bytes": report.bytes(),
        "failed": failed,
    });
    tracing::info!(summary = %report.summary(), "sync done");
    if report.ok() {
        Ok(result)
    } else {
        let first: Vec<String> = report
            .failures()
            .iter()
            .take(5)
            .map(|(u, e)| format!("{u}: {e}"))
            .collect();
        let msg = format!("{}; first failures: {}", report.summary(), first.join("; "));
        Err((502, diag("SyncIncomplete", msg), Some(result)))
    }
}

async fn config() -> anyhow::Result<Config> {
    let s3 = S3Options::from_env();
    let packages = std::env::var("KERNEL_PACKER_PACKAGES")
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow::anyhow!("environment variable KERNEL_PACKER_PACKAGES is not set"))?;
    let jobs = match std::env::var("KERNEL_PACKER_SYNC_JOBS") {
        Ok(j) => j
            .parse()
            .map_err(|_| anyhow::anyhow!("KERNEL_PACKER_SYNC_JOBS={j:?} is not a number"))?,
        Err(_) => 4,
    };
    Ok(Config {
        store: store::open(&packages, &s3).await?,
        lists: std::env::var_os("KERNEL_PACKER_LISTS")
            .map(Into::into)
            .unwrap_or_else(|| "kernel-package-lists".into()),
        opts: SyncOptions {
            jobs,
            progress: false,
            work_dir: std::env::var_os("KERNEL_PACKER_WORK_DIR").map(Into::into),
            ..Default::default()
        },
    })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kernel_packer::logging::init_json();
    let cfg = config()
        .await
        .map_err(|e| format!("configuration: {e:#}"))?;
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let parsed = envelope::unwrap(&ev.payload)
            .and_then(|(v, env)| request(&v).map(|r| (r, env)).map_err(|e| (env, e)));
        let (req, env) = match parsed {
            Ok(x) => x,
            Err((env, msg)) => {
                tracing::warn!(error = %msg, "bad event");
                return env.fail(400, diag("BadRequest", msg), None);
            }
        };
        match handle(cfg, req).await {
            Ok(v) => Ok(env.ok(v)),
            Err((status, d, extra)) => {
                tracing::error!(error = %d.error_message, "failed");
                env.fail(status, d, extra)
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(request(&json!({})).unwrap(), Request::All);
        assert_eq!(request(&Value::Null).unwrap(), Request::All);
        assert_eq!(
            request(&json!({"list": "debian"})).unwrap(),
            Request::List("debian".into())
        );
        assert_eq!(
            request(&json!("debian.txt")).unwrap(),
            Request::List("debian.txt".into())
        );
        assert_eq!(
            request(&json!({"urls": ["http://a/b"]})).unwrap(),
            Request::Urls(vec!["http://a/b".into()])
        );
        assert!(request(&json!({"urls": [1]})).is_err());
        assert!(request(&json!({"list": "a", "urls": []})).is_err());
        assert!(request(&json!({"other": 1})).is_err());
        assert!(request(&json!(3)).is_err());
    }
}
