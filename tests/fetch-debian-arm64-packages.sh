#!/usr/bin/env bash
# Downloads Debian's current bookworm arm64 kernel header set with `apt-get download` (needs the
# arm64 dpkg architecture, scripts/setup.d/70-arm64.sh): linux-headers-<abi>-arm64,
# linux-headers-<abi>-common and linux-kbuild-6.1:arm64 of the same package version, into
# ~/.cache/kernel-packer-tests/debian-arm64/<version>/ (keyed by that version; concurrent callers
# serialise on a lock). Idempotent. Prints the directory on stdout.
set -euo pipefail
# shellcheck source=lib/debian-fetch.sh
source "$(cd "$(dirname "$0")" && pwd)/lib/debian-fetch.sh"
root="${KP_TEST_CACHE:-$HOME/.cache/kernel-packer-tests}/debian-arm64"
kp_lock_cache "$root"
kp_apt_update_unless linux-kbuild-6.1:arm64
version="$(kp_apt_version linux-kbuild-6.1:arm64)"
[ -n "$version" ] || { echo "no linux-kbuild-6.1:arm64 in the apt lists (dpkg --add-architecture arm64?)" >&2; exit 1; }
dest="$root/$version"
kp_done_if_complete "$dest"
# The newest arm64 header package of that version (arm64 packages are named for their ABI).
abi="$(kp_headers_abi arm64 "$version")"
[ -n "$abi" ] || { echo "no linux-headers-6.1.0-*-arm64 package matches linux-kbuild-6.1:arm64 $version" >&2; exit 1; }
rm -rf "$dest.partial" && mkdir -p "$dest.partial"
# -common is Architecture: all (one package for every architecture).
(cd "$dest.partial" && apt-get download -q "linux-headers-$abi-arm64:arm64" "linux-headers-$abi-common" "linux-kbuild-6.1:arm64" >&2)
touch "$dest.partial/.complete"
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "$dest"
