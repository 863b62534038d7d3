//! Compatibility path for `mod harness;`: moto, the HTTP server, the cutting proxy and the Lambda
//! Runtime API live in the shared test-support crate ([`kernel_packer_test_support::harness`]).
#![allow(unused_imports)]

pub use kernel_packer_test_support::harness::*;
