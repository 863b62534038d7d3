#!/usr/bin/env bash
# The live Debian test (tests/pack_debian_live.rs) builds a module against each newest Debian
# kernel inside a minimal root of that kernel's own release: debootstrap makes the roots, chroot
# enters them (util-linux's flock guards the shared cache).
set -euo pipefail
need=()
for tool in debootstrap:debootstrap chroot:coreutils flock:util-linux; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null \
    || { apt-get update -qq -o DPkg::Lock::Timeout=600 \
      && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null; }
fi
