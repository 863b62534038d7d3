//! Compatibility path for `mod support_github;`: the fake GitHub REST server lives in the shared
//! test-support crate ([`kernel_packer_test_support::github`]).
#![allow(unused_imports)]

pub use kernel_packer_test_support::github::*;
