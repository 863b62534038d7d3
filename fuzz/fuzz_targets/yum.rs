//! yum metadata: `repomd.xml`, `primary.xml` and mirror lists.
#![no_main]

use kernel_packer::crawl::yum::{parse_mirrorlist, parse_primary, parse_repomd};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_repomd(text);
        let _ = parse_primary(text);
        let _ = parse_mirrorlist(text);
    }
});
