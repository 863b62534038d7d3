//! Shared helpers of kernel-packer's integration tests, compiled once for every test binary of
//! the workspace (they used to be `mod`-included, and so recompiled, into each test file).
//!
//! - [`fixtures`]: the real Debian header packages, .deb/RPM fixture builders, hostile tars, the
//!   module-build check of a bundle.
//! - [`harness`]: `moto_server` (S3), a small HTTP/1.1 server, a connection-cutting TCP proxy and a
//!   Lambda Runtime API.
//! - [`crawl`]: the fixture mirror serving every upstream repository format, and the fixture world
//!   built from the seed corpus (`tests/corpus/`).
//! - [`github`]: a fake GitHub (Git data, pulls, labels, check runs, auto-merge, push webhooks).
//! - [`actions_runner`]: an emulation of the GitHub Actions runner for composite actions.
//! - [`pipeline`]: the deployed pipeline's glue for the loop tests (write-counting store, webhook
//!   endpoint, the pack state machine's work).
//!
//! The old module paths (`tests/support`, `tests/harness`, `tests/crawl_support`,
//! `tests/support_github`) are thin re-exports of these modules.

use std::path::{Path, PathBuf};

pub mod actions_runner;
pub mod crawl;
pub mod fixtures;
pub mod github;
pub mod harness;
pub mod pipeline;

/// Root of the kernel-packer repository (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("tests/support-crate lies two levels below the repository root")
        .to_path_buf()
}
