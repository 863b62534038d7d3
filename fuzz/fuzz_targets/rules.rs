//! Grouping rules over package lists: first byte selects the rule, the rest is a URL list.
#![no_main]

use kernel_packer::manifest::lists;
use kernel_packer::manifest::rules::{Rule, RuleOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (rule, _) = Rule::ALL[selector as usize % Rule::ALL.len()];
    let Ok(urls) = lists::read(rest) else {
        return;
    };
    let _ = rule.group(&urls, &RuleOptions::default());
});
