#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what the tests need
# (scripts/setup.d/*.sh), fetches the real Debian kernel header packages, checks formatting and
# lints, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
for setup in scripts/setup.d/*.sh; do
  echo "== setup: $setup" >&2
  bash "$setup"
done
echo "== fetching real Debian kernel header packages" >&2
bash tests/fetch-debian-packages.sh >/dev/null
bash tests/fetch-debian-source.sh >/dev/null
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test" >&2
# Test fixtures unpack and repack whole kernel header trees: keep their scratch space in memory
# when the machine has a tmpfs (file creation on the CI disk costs milliseconds).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR="$(mktemp -d /dev/shm/kernel-packer-tests.XXXXXX)"
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
fi
# Benches are not tests (they time things): lib, bins and tests only.
cargo test --workspace --lib --bins --tests --locked
