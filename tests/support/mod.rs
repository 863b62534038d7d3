//! Compatibility path for `mod support;`: the helpers live in the shared test-support crate
//! (`tests/support-crate`, [`kernel_packer_test_support::fixtures`]), compiled once for all test
//! binaries. Only what needs this package's own binary stays here.
#![allow(dead_code, unused_imports)]

pub use kernel_packer_test_support::fixtures::*;

/// Runs the `kernel-packer` binary.
pub fn kernel_packer() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_kernel-packer"))
}
