#!/usr/bin/env bash
# The live Debian test (tests/pack_debian_live.rs, tests/debian-live.sh) builds a module against
# each newest Debian kernel inside a minimal root of that kernel's own release: debootstrap makes
# the roots (cached under ~/.cache/kernel-packer-tests/debian-live/), chroot and unshare (util-linux)
# enter them, flock guards the shared cache, readelf (binutils) checks the module's BTF. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools debootstrap:debootstrap chroot:coreutils unshare:util-linux flock:util-linux readelf:binutils
