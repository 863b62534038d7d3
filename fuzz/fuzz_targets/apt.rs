//! apt metadata: `Release`/`InRelease` and `Packages` parsers.
#![no_main]

use kernel_packer::crawl::apt::{parse_packages, parse_release};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_release(text);
        let _ = parse_packages(text);
    }
});
