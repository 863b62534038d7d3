//! Compatibility path: the runner emulation lives in the shared test-support crate
//! ([`kernel_packer_test_support::actions_runner`]).
#![allow(unused_imports)]

pub use kernel_packer_test_support::actions_runner::*;
