#!/usr/bin/env bash
# Toolchain the bundle tests use to build a real kernel module against a bundle, and the tools
# the fixtures and benchmarks use: gcc-12 + make (kbuild), kmod (modinfo), dpkg-deb (independent
# reader for fixtures), pigz (the shell-way baseline of the benchmark).
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools gcc-12:gcc-12 make:make modinfo:kmod dpkg-deb:dpkg pigz:pigz flock:util-linux tar:tar
[ -e /usr/include/stdio.h ] || apt_install libc6-dev
