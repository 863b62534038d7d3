#!/usr/bin/env bash
# Toolchain of `kernel-packer verify` and its tests: clang + llvm (llc, llvm-objdump) build and
# inspect the canary eBPF object the samples/bpf way, dwarves (pahole) for BTF-enabled kernels,
# openssl for the fetch test's HTTPS store, and headless chromium + node for the browsable index page
# (tests/browser/search.mjs drives it over the DevTools protocol).
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools clang:clang llc:llvm llvm-objdump:llvm pahole:dwarves openssl:openssl chromium:chromium node:nodejs
