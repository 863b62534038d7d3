//! `pack::pack_packages`: first byte selects the packer (debian, ubuntu, garden, redhat, oracle,
//! suse), the rest is the package.
#![no_main]

mod common;

use kernel_packer::pack::{pack_packages, PackOptions, PackerKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, package)) = data.split_first() else {
        return;
    };
    let kinds = PackerKind::HEADER_PACKERS;
    let kind = kinds[selector as usize % kinds.len()];
    let (dir, path) = common::file_with("package", package);
    let out = dir.path().join("out");
    let opts = PackOptions {
        work_dir: Some(dir.path().to_path_buf()),
        limits: Some(common::limits()),
        gzip: Some(kernel_packer::pack::bundle::GzipSettings {
            level: 1,
            threads: 1,
        }),
        ..PackOptions::default()
    };
    let _ = pack_packages(kind, &[path], &out, &opts);
});
