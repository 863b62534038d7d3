#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what the tests need
# (scripts/setup.d/*.sh; needs root or sudo the first time), fetches the real Debian kernel header
# packages, checks formatting and lints, then runs every test binary of the workspace, reports
# every failure (not only the first) and the slowest test binaries, and exits non-zero when
# anything failed. Prints the time of each phase.
# KP_TEST_RUNNER=nextest runs the tests with cargo-nextest instead (when installed).
# KP_TEST_UNTIL=setup stops after the setup scripts and the package downloads (fresh-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$SECONDS
phases=()
phase() {
  phases+=("$(printf '%-28s %5ss' "$current" $((SECONDS - phase_start)))")
  phase_start=$SECONDS
}

current="toolchain check"
for tool in cargo rustc; do
  command -v "$tool" >/dev/null 2>&1 \
    || { echo "scripts/test.sh: $tool not found: install a Rust toolchain (rustup) first" >&2; exit 1; }
done
for sub in fmt clippy; do
  cargo "$sub" --version >/dev/null 2>&1 \
    || { echo "scripts/test.sh: cargo $sub not found: rustup component add ${sub/fmt/rustfmt}" >&2; exit 1; }
done
phase

current="setup (scripts/setup.d)"
as_root=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  as_root=(sudo --preserve-env=PATH)
fi
for setup in scripts/setup.d/*.sh; do
  echo "== setup: $setup" >&2
  "${as_root[@]}" bash "$setup"
done
phase

current="fetch Debian packages"
echo "== fetching real Debian kernel header packages" >&2
bash tests/fetch-debian-packages.sh >/dev/null
bash tests/fetch-debian-source.sh >/dev/null
phase
if [ "${KP_TEST_UNTIL:-}" = setup ]; then
  printf '  %s\n' "${phases[@]}" >&2
  exit 0
fi

current="cargo fmt --check"
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
phase

current="cargo clippy"
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
phase

# Test fixtures unpack and repack whole kernel header trees: keep their scratch space in memory
# when the machine has a tmpfs (file creation on the CI disk costs milliseconds).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR="$(mktemp -d /dev/shm/kernel-packer-tests.XXXXXX)"
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
fi
# Benches are not tests (they time things): lib, bins and tests only.
targets=(--workspace --lib --bins --tests --locked)

current="build test binaries"
echo "== cargo test --no-run" >&2
cargo test "${targets[@]}" --no-run
phase

current="run tests"
log="$(mktemp "${TMPDIR:-/tmp}/kernel-packer-test-log.XXXXXX")"
set +e
if [ "${KP_TEST_RUNNER:-}" = nextest ] && cargo nextest --version >/dev/null 2>&1; then
  echo "== cargo nextest run --no-fail-fast" >&2
  cargo nextest run "${targets[@]}" --no-fail-fast 2>&1 | tee "$log"
else
  echo "== cargo test --no-fail-fast" >&2
  cargo test "${targets[@]}" --no-fail-fast 2>&1 | tee "$log"
fi
status=${PIPESTATUS[0]}
set -e
phase

echo "== slowest test binaries" >&2
# cargo test prints `Running <source> (<binary>)` before each binary and `finished in <s>s` after.
awk '/^ *Running /{name=$0; sub(/^ *Running /, "", name); sub(/-[0-9a-f]+\)$/, ")", name)}
     /test result:/{t=$NF; sub(/s$/, "", t); printf "%8.1fs  %s\n", t, name}' "$log" \
  | sort -rn | head -10 >&2
echo "== failed" >&2
awk '/^test .* FAILED$/ {print; n++} /targets? failed:$/ {block=1; print; next}
     block && /^    / {print; next} {block=0} END {if (!n) print "(no failing test)"}' "$log" >&2
echo "== time per phase" >&2
printf '  %s\n' "${phases[@]}" >&2
rm -f "$log"
exit "$status"
