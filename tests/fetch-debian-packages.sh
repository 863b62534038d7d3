#!/usr/bin/env bash
# Downloads a real, current Debian bookworm kernel header set with `apt-get download` into
# tests/.cache/debian/ (ignored by git): linux-headers-<abi>-amd64, linux-headers-<abi>-common and
# linux-kbuild-6.1 of the same package version. Idempotent: does nothing when the set is already there.
# Lookups name `:amd64` explicitly: the machine may also have the arm64 architecture (70-arm64.sh).
# Prints the directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${KP_DEBIAN_CACHE:-$here/.cache/debian}"
mkdir -p "$dest"
# Concurrent test binaries may call this at once: one downloads, the others wait.
exec 9>"$dest/.lock"
flock 9
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
if ! apt-cache show linux-kbuild-6.1:amd64 >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
fi
kbuild_version="$(apt-cache show linux-kbuild-6.1:amd64 | awk '/^Version:/{print $2; exit}')"
# The newest amd64 header package whose version matches the kbuild candidate.
abi=""
for pkg in $(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V -r); do
  v="$(apt-cache show "$pkg:amd64" | awk '/^Version:/{print $2; exit}')"
  if [ "$v" = "$kbuild_version" ]; then
    abi="${pkg#linux-headers-}"
    abi="${abi%-amd64}"
    break
  fi
done
if [ -z "$abi" ]; then
  echo "no linux-headers-6.1.0-*-amd64 package matches linux-kbuild-6.1 $kbuild_version" >&2
  exit 1
fi
rm -f "$dest"/*.deb
(cd "$dest" && apt-get download -q "linux-headers-$abi-amd64:amd64" "linux-headers-$abi-common" linux-kbuild-6.1:amd64 >&2)
touch "$dest/.complete"
echo "$dest"
