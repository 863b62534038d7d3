#!/usr/bin/env bash
# Toolchain the bundle tests use to build a real kernel module against a bundle, and the tools
# the fixtures and benchmarks use: gcc-12 + make (kbuild), kmod (modinfo), dpkg-deb (independent
# reader for fixtures), pigz (the shell-way baseline of the benchmark).
set -euo pipefail
need=()
for tool in gcc-12:gcc-12 make:make modinfo:kmod dpkg-deb:dpkg pigz:pigz flock:util-linux tar:tar; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" libc6-dev >/dev/null
fi
