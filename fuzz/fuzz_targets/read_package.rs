//! `archive::read_package` through the safe extractor (.deb, .rpm, tarballs, by content).
#![no_main]

mod common;

use kernel_packer::archive::extract::SafeExtractor;
use kernel_packer::archive::read_package_with;
use kernel_packer::limits::Budget;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (dir, path) = common::file_with("package", data);
    let budget = Budget::new(common::limits());
    let Ok(mut sink) = SafeExtractor::with_budget(dir.path(), 0, budget.clone()) else {
        return;
    };
    if read_package_with(&path, &mut sink, &budget).is_ok() {
        let _ = sink.finish();
    }
});
