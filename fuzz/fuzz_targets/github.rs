//! GitHub releases pages (JSON) and URL templates.
#![no_main]

use std::collections::BTreeMap;

use kernel_packer::crawl::github::{fill, parse_page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_page(data, "fuzz", data.first().is_some_and(|b| b & 1 == 1));
    if let Ok(text) = std::str::from_utf8(data) {
        let vars = BTreeMap::from([
            ("tag".to_string(), "v1.2.3".to_string()),
            ("version".to_string(), "1.2.3".to_string()),
        ]);
        let _ = fill(text, &vars);
    }
});
