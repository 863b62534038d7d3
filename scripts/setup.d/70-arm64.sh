#!/usr/bin/env bash
# arm64 (issue 17): what tests/pack_debian_arm64.rs needs to fetch Debian's arm64 header packages
# and build a module against their bundle the way an arm64 host would, through emulation:
# the arm64 dpkg architecture (so `apt-get download pkg:arm64` resolves), qemu-user-static
# registered with binfmt_misc (the bundle's host tools - fixdep, modpost - are aarch64 binaries),
# and the aarch64 cross compiler. Idempotent.
#
# Adding a foreign architecture changes apt state for every user of this machine: plain package
# names still resolve to the native (amd64) package, and scripts that look packages up with
# `apt-cache show` qualify them (`:amd64`) so they never pick an arm64 entry.
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: dpkg --add-architecture arm64" >&2
    as_root dpkg --add-architecture arm64
    # The new architecture's package lists come with the next update (forced here).
    as_root apt-get "${APT_OPTS[@]}" update -qq
    KP_APT_UPDATED=1
fi
need_tools qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support \
    aarch64-linux-gnu-gcc-12:gcc-aarch64-linux-gnu
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    as_root update-binfmts --enable qemu-aarch64
fi
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64
