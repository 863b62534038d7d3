//! The bundle index and its views, one test binary: `kernel-packer index` writing `cache.yml` and
//! `features.yml` (`cli`) and the browsable page checked in headless chromium (`html`), and
//! `kernel-packer status` (`status`).

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod html;
mod status;
