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
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test" >&2
cargo test --workspace --all-targets --locked
