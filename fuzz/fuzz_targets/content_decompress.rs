//! `crawl::content::decompress`: first byte selects the extension (gz, xz, zst, bz2).
#![no_main]

mod common;

use kernel_packer::crawl::content::decompress_with;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let name = ["i.gz", "i.xz", "i.zst", "i.bz2"][selector as usize % 4];
    let _ = decompress_with(name, rest, name, &common::limits());
});
