//! Configs: `sources.yml` (crawl), `reformat.yml` (manifest) and `packers.yml` (pack specs).
#![no_main]

use std::path::Path;

use kernel_packer::crawl::config::Config as CrawlConfig;
use kernel_packer::manifest::config::Config as ManifestConfig;
use kernel_packer::pack::spec::parse_specs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ManifestConfig::parse(data, Path::new("reformat.yml"));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = CrawlConfig::parse(text, "sources.yml") {
            let _ = config.validate();
        }
        let _ = parse_specs(text);
    }
});
