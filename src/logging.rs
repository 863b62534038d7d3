//! Logging setup: human-readable logs on stderr for the CLI, JSON for functions.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Initialises stderr logging; `RUST_LOG` overrides the default `info` level.
/// `KERNEL_PACKER_LOG_FORMAT=json` switches to one JSON object per line. Colour codes only when
/// stderr is a terminal (never in a log file or a pipe).
pub fn init() {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if std::env::var("KERNEL_PACKER_LOG_FORMAT").as_deref() == Ok("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Initialises the Lambda functions' logging: one JSON object per line on stderr, no span
/// context, `RUST_LOG` overriding the default `info` level.
pub fn init_json() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_current_span(false)
        .init();
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}
