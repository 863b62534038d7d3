#!/usr/bin/env bash
# Downloads a real, current Debian bookworm kernel header set with `apt-get download` into
# tests/.cache/debian/ (ignored by git): linux-headers-<abi>-amd64, linux-headers-<abi>-common and
# linux-kbuild-6.1 of the same package version. Idempotent: does nothing when the set is already there.
# Lookups name `:amd64` explicitly: the machine may also have the arm64 architecture (70-arm64.sh).
# Prints the directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/debian-fetch.sh
source "$here/lib/debian-fetch.sh"
dest="${KP_DEBIAN_CACHE:-$here/.cache/debian}"
kp_lock_cache "$dest"
kp_done_if_complete "$dest"
kp_apt_update_unless linux-kbuild-6.1:amd64
kbuild_version="$(kp_apt_version linux-kbuild-6.1:amd64)"
# The newest amd64 header package whose version matches the kbuild candidate.
abi="$(kp_headers_abi amd64 "$kbuild_version")"
if [ -z "$abi" ]; then
  echo "no linux-headers-6.1.0-*-amd64 package matches linux-kbuild-6.1 $kbuild_version" >&2
  exit 1
fi
rm -f "$dest"/*.deb
(cd "$dest" && apt-get download -q "linux-headers-$abi-amd64:amd64" "linux-headers-$abi-common" linux-kbuild-6.1:amd64 >&2)
touch "$dest/.complete"
echo "$dest"
