//! Shared by the crawl integration tests: a fixture HTTP mirror and fixture generators.
#![allow(dead_code)]

pub mod fixtures;
pub mod mirror;
pub mod world;
