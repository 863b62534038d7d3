//! kernel-packer core library: crawl, manifest, archive reading, packing and bundle writing.
//!
//! See `ARCHITECTURE.md` for the map of stages and modules.

pub mod archive;
pub mod cli;
pub mod crawl;
pub mod crawl_pr;
pub mod fetch;
pub mod freshness;
pub mod github;
pub mod index;
pub mod limits;
pub mod lists;
pub mod logging;
pub mod lookup;
pub mod manifest;
pub mod names;
pub mod ondemand;
pub mod pack;
pub mod store;
pub mod sums;
pub mod sync;
pub mod trigger;
pub mod verify;
pub mod vfs;
