//! Command-line front ends. Each subcommand is a module exposing a clap `Args` struct and
//! `run(args) -> anyhow::Result<ExitCode>`; `src/main.rs` only dispatches.

pub mod crawl;
pub mod crawl_pr;
pub mod index;
pub mod keygen;
pub mod lookup;
pub mod manifest;
pub mod pack;
pub mod pack_manifest;
pub mod status;
pub mod sync;
pub mod verify;
