#!/usr/bin/env bash
# Toolchain the bundle tests use to build a real kernel module against a bundle, and the tools
# the fixtures and benchmarks use: gcc-12 + make (kbuild), kmod (modinfo), dpkg-deb (independent
# reader for fixtures), pigz (the shell-way baseline of the benchmark), libelf1 (kbuild's objtool
# is linked against libelf.so.1: found by scripts/fresh-check.sh on a minimal Debian).
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools gcc-12:gcc-12 make:make modinfo:kmod dpkg-deb:dpkg pigz:pigz flock:util-linux tar:tar
[ -e /usr/include/stdio.h ] || apt_install libc6-dev
ldconfig -p 2>/dev/null | grep -q 'libelf\.so\.1 ' || apt_install libelf1
