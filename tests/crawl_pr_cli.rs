//! `kernel-packer crawl --open-pr --repo <owner/name>` (`cli::crawl_pr::run`) against the fake
//! GitHub server and the crawl fixture mirror: argument parsing, token from the environment,
//! exit status, the pull request it opens; a clear error without a token.

mod crawl_support;
mod support_github;

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Parser;
use crawl_support::world::World;
use kernel_packer::cli::crawl_pr::{run, CrawlCommand};
use support_github::FakeGitHub;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    cmd: CrawlCommand,
}

#[test]
fn open_pr_mode_from_the_command_line() {
    let w = World::build();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists");
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        "lists/sources.yml".into(),
        std::fs::read(root.join("sources.yml")).unwrap(),
    );
    files.insert(
        "lists/reformat.yml".into(),
        b"- {name: linuxkit, type: linuxkit, file: linuxkit.txt, reformat: single}\n".to_vec(),
    );
    files.insert("lists/linuxkit.txt".into(), b"".to_vec());
    let gh = FakeGitHub::start("acme", "kernels", &files);
    let mut argv: Vec<String> = [
        "kernel-packer",
        "--open-pr",
        "--repo",
        "acme/kernels",
        "--github-api",
        &gh.base(),
        "--repo-lists-dir",
        "lists",
        "--source",
        "linuxkit",
        "--pr-title",
        "Crawl {group}",
        "--pr-label",
        "bot",
        "--retries",
        "1",
        "--no-cache",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (from, to) in w.mirror.overrides(&w.hosts) {
        argv.push("--mirror-override".into());
        argv.push(format!("{from}={to}"));
    }
    let cli = Cli::try_parse_from(&argv).unwrap();

    // No token: a clear error naming both variables, no call made.
    std::env::remove_var("GITHUB_TOKEN");
    std::env::remove_var("GITHUB_TOKEN_SECRET");
    let e = format!("{:#}", run(cli.cmd.clone()).unwrap_err());
    assert!(
        e.contains("GITHUB_TOKEN") && e.contains("GITHUB_TOKEN_SECRET"),
        "{e}"
    );
    assert!(gh.calls().is_empty());

    std::env::set_var("GITHUB_TOKEN", "ghp_clitoken");
    assert_eq!(run(cli.cmd.clone()).unwrap(), ExitCode::SUCCESS);
    let prs = gh.prs();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0].title, "Crawl linuxkit");
    assert_eq!(prs[0].head, "kernel-packer/crawl-linuxkit");
    assert_eq!(prs[0].labels, ["bot"]);
    let head = gh.ref_of("kernel-packer/crawl-linuxkit").unwrap();
    let files = gh.files_at(&head);
    let list = String::from_utf8(files["lists/linuxkit.txt"].clone()).unwrap();
    let want: String = w.expected["linuxkit.txt"]
        .iter()
        .map(|u| format!("{u}\n"))
        .collect();
    assert_eq!(list, want);
    assert!(files.contains_key("lists/manifest.yml"));

    // The same again: nothing to write.
    gh.clear_calls();
    assert_eq!(run(cli.cmd).unwrap(), ExitCode::SUCCESS);
    assert!(gh.calls().iter().all(|c| c.method == "GET"));
}
