#!/usr/bin/env bash
# Downloads Debian bookworm's `linux-source-6.1` package (a kernel.org-based source tree, ~140 MB)
# with `apt-get download` into tests/.cache/debian-source/ (ignored by git) and takes the source
# tarball out of it (`usr/src/linux-source-6.1.tar.xz` → linux-source-6.1.tar.xz). The version
# matching linux-kbuild-6.1 (the header set of tests/fetch-debian-packages.sh) is preferred.
# Idempotent and flock-protected. Prints the path of the tarball on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/debian-fetch.sh
source "$here/lib/debian-fetch.sh"
dest="${KP_DEBIAN_SOURCE_CACHE:-$here/.cache/debian-source}"
kp_lock_cache "$dest"
kp_done_if_complete "$dest" "$dest/linux-source-6.1.tar.xz"
kp_apt_update_unless linux-source-6.1
want="$(kp_apt_version linux-kbuild-6.1:amd64 2>/dev/null)"
spec="linux-source-6.1"
if [ -n "$want" ] && apt-cache show "linux-source-6.1=$want" >/dev/null 2>&1; then
  spec="linux-source-6.1=$want"
fi
rm -f "$dest"/*.deb "$dest/linux-source-6.1.tar.xz" "$dest/.complete"
(cd "$dest" && apt-get download -q "$spec" >&2)
deb="$(ls "$dest"/linux-source-6.1_*.deb | head -n1)"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz >"$dest/linux-source-6.1.tar.xz.part"
mv "$dest/linux-source-6.1.tar.xz.part" "$dest/linux-source-6.1.tar.xz"
rm -f "$deb"
touch "$dest/.complete"
echo "$dest/linux-source-6.1.tar.xz"
