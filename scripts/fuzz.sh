#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo-fuzz, libFuzzer) for N seconds each, seeded from real
# packages and metadata (fuzz/seed.sh), and prints executions and coverage per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#
# Works on the stable toolchain (RUSTC_BOOTSTRAP=1, no sanitizer). The corpus grows in
# fuzz/corpus/<target>/; crashes land in fuzz/artifacts/<target>/ and each one becomes a
# regression test: copy it into tests/fuzz-regressions/<target>/ (tests/fuzz_regressions.rs runs
# every file there). Not part of CI (.ci/run runs the regression tests only).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
[ -d fuzz/seeds ] || fuzz/seed.sh
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
cargo fuzz build --fuzz-dir fuzz --sanitizer none --release
mkdir -p fuzz/logs
printf '%-20s %12s %10s %8s %s\n' target executions exec/s cov result
status=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="fuzz/logs/$t.log"
    result=ok
    # -rss_limit_mb and -malloc_limit_mb turn a balloon into a finding; -timeout a hang.
    if ! cargo fuzz run --fuzz-dir fuzz --sanitizer none --release "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20 \
        -max_len=1048576 -print_final_stats=1 >"$log" 2>&1; then
        result="FINDING (see $log, fuzz/artifacts/$t/)"
        status=1
    fi
    execs="$(awk '/stat::number_of_executed_units/{print $2}' "$log" | tail -1)"
    speed="$(awk '/stat::average_exec_per_sec/{print $2}' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')"
    printf '%-20s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$result"
done
exit "$status"
