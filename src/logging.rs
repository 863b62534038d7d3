//! Logging setup: human-readable logs on stderr for the CLI, JSON for functions.

use tracing_subscriber::EnvFilter;

/// Initialises stderr logging; `RUST_LOG` overrides the default `info` level.
/// `KERNEL_PACKER_LOG_FORMAT=json` switches to one JSON object per line.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("KERNEL_PACKER_LOG_FORMAT").as_deref() == Ok("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
