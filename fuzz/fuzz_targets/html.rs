//! HTML directory indexes (Apache, nginx, Koji).
#![no_main]

use kernel_packer::crawl::content::index_entries;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = index_entries("https://example.invalid/pub/kernel/", text);
    }
});
