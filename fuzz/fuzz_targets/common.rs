//! Shared by the targets: small budgets so a bomb is refused in milliseconds, and a scratch dir.

#![allow(dead_code)]

use std::path::PathBuf;

use kernel_packer::limits::Limits;

/// Budgets small enough for fuzzing speed (the defaults are for real kernels).
pub fn limits() -> Limits {
    Limits {
        max_total_bytes: 64 << 20,
        max_decompressed_bytes: 128 << 20,
        max_inlined_bytes: 16 << 20,
        max_entries: 100_000,
        max_rpm_header_bytes: 16 << 20,
        max_index_bytes: 64 << 20,
        max_image_bytes: 256 << 20,
        ..Limits::default()
    }
}

/// A fresh temporary directory holding `data` as `name`.
pub fn file_with(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("write input");
    (dir, path)
}
