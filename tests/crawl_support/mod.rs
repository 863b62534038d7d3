//! Compatibility path for `mod crawl_support;`: the fixture mirror, fixture generators and the
//! fixture world live in the shared test-support crate ([`kernel_packer_test_support::crawl`]).
#![allow(unused_imports)]

pub use kernel_packer_test_support::crawl::*;
