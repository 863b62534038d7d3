#!/usr/bin/env bash
# Downloads the newest Debian bookworm 6.12 kernel header set (the LTS kernel bookworm ships
# through its security/updates suites: linux-headers-<ver>+deb12-amd64, -common and
# linux-kbuild-<ver>+deb12) with `apt-get download` into tests/.cache/debian-6.12/ (ignored by
# git). Idempotent and locked like fetch-debian-packages.sh. Prints the directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/debian-fetch.sh
source "$here/lib/debian-fetch.sh"
dest="${KP_DEBIAN_612_CACHE:-$here/.cache/debian-6.12}"
kp_lock_cache "$dest"
kp_done_if_complete "$dest"
if ! apt-cache search --names-only '^linux-kbuild-6\.12' | grep -q .; then
  apt-get update -qq >&2
fi
kbuild="$(apt-cache search --names-only '^linux-kbuild-6\.12\.[0-9]+\+deb12$' | awk '{print $1}' | sort -V | tail -1)"
if [ -z "$kbuild" ]; then
  echo "no linux-kbuild-6.12.*+deb12 package in the configured suites" >&2
  exit 1
fi
abi="${kbuild#linux-kbuild-}"
rm -f "$dest"/*.deb
(cd "$dest" && apt-get download -q "linux-headers-$abi-amd64" "linux-headers-$abi-common" "$kbuild" >&2)
touch "$dest/.complete"
echo "$dest"
