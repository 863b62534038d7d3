#!/usr/bin/env bash
# Toolchain of `kernel-packer verify` and its tests: clang + llvm (llc) build the canary eBPF object
# the samples/bpf way, dwarves (pahole) for BTF-enabled kernels, and a headless chromium that
# drives the browsable index page in tests/index_html.rs.
set -euo pipefail
need=()
for tool in clang:clang llc:llvm pahole:dwarves chromium:chromium; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq -o DPkg::Lock::Timeout=600 || true
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi
