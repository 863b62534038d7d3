# Shared steps of the tests/fetch-debian-*.sh download scripts (sourced, not run):
# a locked cache directory, the early exit when a download is complete, and the apt lookups.
# shellcheck shell=bash

# kp_lock_cache DIR: creates DIR and holds its lock (fd 9) until the script exits. Concurrent test
# binaries may call a fetch script at once: one downloads, the others wait.
kp_lock_cache() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock 9
}

# kp_done_if_complete DIR [RESULT]: when DIR holds a complete download (DIR/.complete, and RESULT
# exists), prints RESULT (default DIR) and exits the script.
kp_done_if_complete() {
  local result="${2:-$1}"
  if [ -f "$1/.complete" ] && [ -e "$result" ]; then
    echo "$result"
    exit 0
  fi
}

# kp_apt_update_unless PACKAGE: refreshes apt's lists unless apt already knows PACKAGE.
kp_apt_update_unless() {
  if ! apt-cache show "$1" >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  fi
}

# kp_apt_version PACKAGE: the first version apt shows for PACKAGE (its candidate).
kp_apt_version() {
  apt-cache show "$1" | awk '/^Version:/{print $2; exit}'
}

# kp_headers_abi ARCH VERSION: the ABI (e.g. `6.1.0-28`) of the newest
# linux-headers-6.1.0-<n>-ARCH package whose version is VERSION; prints nothing when none is.
kp_headers_abi() {
  local arch="$1" version="$2" pkg abi
  for pkg in $(apt-cache search --names-only "^linux-headers-6\\.1\\.0-[0-9]+-$arch\$" | awk '{print $1}' | sort -V -r); do
    if [ "$(kp_apt_version "$pkg:$arch")" = "$version" ]; then
      abi="${pkg#linux-headers-}"
      echo "${abi%-"$arch"}"
      return 0
    fi
  done
}
