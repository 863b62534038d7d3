#!/usr/bin/env bash
# Downloads Debian's current bookworm arm64 kernel header set with `apt-get download` (needs the
# arm64 dpkg architecture, scripts/setup.d/70-arm64.sh): linux-headers-<abi>-arm64,
# linux-headers-<abi>-common and linux-kbuild-6.1:arm64 of the same package version, into
# ~/.cache/kernel-packer-tests/debian-arm64/<version>/ (keyed by that version; concurrent callers
# serialise on a lock). Idempotent. Prints the directory on stdout.
set -euo pipefail
root="${KP_TEST_CACHE:-$HOME/.cache/kernel-packer-tests}/debian-arm64"
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if ! apt-cache show linux-kbuild-6.1:arm64 >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
fi
version="$(apt-cache show linux-kbuild-6.1:arm64 | awk '/^Version:/{print $2; exit}')"
[ -n "$version" ] || { echo "no linux-kbuild-6.1:arm64 in the apt lists (dpkg --add-architecture arm64?)" >&2; exit 1; }
dest="$root/$version"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
# The newest arm64 header package of that version (arm64 packages are named for their ABI).
abi=""
for pkg in $(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-arm64$' | awk '{print $1}' | sort -V -r); do
  v="$(apt-cache show "$pkg:arm64" | awk '/^Version:/{print $2; exit}')"
  if [ "$v" = "$version" ]; then
    abi="${pkg#linux-headers-}"
    abi="${abi%-arm64}"
    break
  fi
done
[ -n "$abi" ] || { echo "no linux-headers-6.1.0-*-arm64 package matches linux-kbuild-6.1:arm64 $version" >&2; exit 1; }
rm -rf "$dest.partial" && mkdir -p "$dest.partial"
# -common is Architecture: all (one package for every architecture).
(cd "$dest.partial" && apt-get download -q "linux-headers-$abi-arm64:arm64" "linux-headers-$abi-common" "linux-kbuild-6.1:arm64" >&2)
touch "$dest.partial/.complete"
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "$dest"
