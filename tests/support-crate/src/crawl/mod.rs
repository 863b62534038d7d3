//! Shared by the crawl integration tests: a fixture HTTP mirror, fixture generators and the
//! fixture world built from the seed corpus.

pub mod fixtures;
pub mod mirror;
pub mod registry;
pub mod world;
