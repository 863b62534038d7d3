//! Whole-corpus manifest generation timing: reads `kernel-package-lists/reformat.yml` and
//! its lists (the seed corpus, 10,842 URLs), groups, renders YAML; N runs, prints min,
//! median and max. Run: `cargo bench --bench manifest` (release profile). `BENCH_RUNS`
//! overrides N (default 20). Target: ≤ 0.3 s per run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kernel_packer::manifest::generate_from_files;

fn main() {
    let config =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/reformat.yml");
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut ids = 0;
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let generated = generate_from_files(&config, None, None).expect("corpus generates");
        let yaml = generated.manifest.to_yaml();
        times.push(start.elapsed());
        assert!(!generated.failed(), "a source failed");
        ids = generated.manifest.entries.len();
        bytes = yaml.len();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "manifest: whole corpus ({ids} ids, {bytes} bytes of YAML), {runs} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
    let limit = Duration::from_millis(300);
    if times[runs / 2] > limit {
        eprintln!("manifest: median above the 300 ms target");
        std::process::exit(1);
    }
}
