//! S3-style bucket listings (`ListBucketResult` XML).
#![no_main]

use kernel_packer::crawl::bucket::parse_list_page;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_list_page(text);
    }
});
