//! `pack::image::load_image`: partition tables (GPT, MBR) and ext4 through `ext4-view`.
#![no_main]

mod common;

use kernel_packer::pack::image::load_image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (dir, path) = common::file_with("image.bin", data);
    let _ = load_image(&[path], dir.path(), common::limits());
});
