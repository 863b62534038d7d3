#!/usr/bin/env bash
# Live Debian helper for tests/pack_debian_live.rs. Uses the mirror apt is configured with (read at
# run time from /etc/apt/sources.list.d/debian.sources: first URIs = archive, second = security),
# never the host's apt state: every apt call gets a private state dir under the cache.
#
#   debian-live.sh fetch <alias>          (alias: oldstable | stable | unstable | a codename)
#     Updates a private apt state for the release (plus -updates/-security unless sid), follows
#     linux-headers-amd64's Depends to the newest kernel and downloads its arch, common and kbuild
#     packages. Prints `codename=`, `release=` (sha256 of the suite's InRelease), `depends=` lines
#     (the arch and kbuild packages' Depends, as apt states them) and `deb=<path>` lines.
#   debian-live.sh root <codename> <release> <package>...
#     Prints the path of a minimal debootstrap root (`--variant=minbase`) of <codename> holding
#     exactly <package>... (and what they depend on). Made once per codename + release + package
#     list and cached; older roots of the codename are removed. Locks $cache/roots/<codename>.lock
#     unless KP_LIVE_ROOT_LOCKED=1 says the caller holds it.
#   debian-live.sh with-root <codename> <release> <package>... -- <command>...
#     The same root, used by <command> (KP_ROOT=<dir>) under the lock.
#
# Cache: ${KP_LIVE_CACHE:-~/.cache/kernel-packer-tests/debian-live}; flock guards every step so
# concurrent test binaries share it. Logs go to stderr.
set -euo pipefail
cache="${KP_LIVE_CACHE:-$HOME/.cache/kernel-packer-tests/debian-live}"
sources=/etc/apt/sources.list.d/debian.sources
mkdir -p "$cache"

uri() { awk -v n="$1" '/^URIs:/{i++; if (i == n) {print $2; exit}}' "$sources"; }
archive="$(uri 1)"
security="$(uri 2)"
[ -n "$archive" ] || { echo "no URIs in $sources" >&2; exit 1; }

apt_opts() {
  local state="$1"
  echo "-o Dir::Etc::SourceList=$state/sources.list -o Dir::Etc::SourceParts=/dev/null" \
    "-o Dir::State::Lists=$state/lists -o Dir::Cache=$state/cache -o Dir::State::status=/dev/null" \
    "-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null" \
    "-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Debug::NoLocking=1" \
    "-o APT::Sandbox::User=root -o Acquire::Languages=none" \
    "-o Dir::Cache::pkgcache=pkgcache.bin -o Dir::Cache::srcpkgcache=srcpkgcache.bin" \
    "-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" \
    "-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false" \
    "-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false" \
    "-o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
}

# The value of <field> of <package>'s candidate version.
field() {
  local state="$1" package="$2" name="$3" candidate
  # shellcheck disable=SC2046
  candidate="$(apt-cache $(apt_opts "$state") policy "$package" | awk '/Candidate:/{print $2; exit}')"
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || { echo "no $package in $state" >&2; exit 1; }
  # shellcheck disable=SC2046
  apt-cache $(apt_opts "$state") show "$package=$candidate" |
    awk -v f="$name:" '/^$/{exit} $1==f {sub(/^[^:]*: */, ""); print; exit}'
}

fetch() {
  local alias="$1" state="$cache/apt/$1"
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$cache/debs"
  exec 8>"$cache/apt/$alias.lock"
  flock 8
  # The alias names a release (its Release file's Codename); the release's own suites are the
  # up-to-date ones (an alias of a companion suite may lag behind).
  local codename
  /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$archive/dists/$alias/InRelease" "$state/alias-InRelease" >/dev/null
  codename="$(awk '/^Codename:/{print $2; exit}' "$state/alias-InRelease")"
  [ -n "$codename" ] || { echo "the $alias Release file names no codename" >&2; exit 1; }
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "deb [signed-by=$keyring] $archive $codename main"
    if [ "$codename" != sid ]; then
      echo "deb [signed-by=$keyring] $archive $codename-updates main"
      echo "deb [signed-by=$keyring] $security $codename-security main"
    fi
  } >"$state/sources.list"
  # shellcheck disable=SC2046
  apt-get $(apt_opts "$state") update -qq >&2
  local inrelease
  inrelease="$(find "$state/lists" -maxdepth 1 -name "*_dists_${codename}_InRelease" | head -n1)"
  [ -n "$inrelease" ] || { echo "no InRelease for $codename" >&2; exit 1; }
  local release
  release="$(sha256sum "$inrelease" | cut -c1-16)"
  # The distribution's own pointer to its current kernel.
  local arch common kbuild
  arch="$(field "$state" linux-headers-amd64 Depends | tr ',' '\n' |
    grep -oE 'linux-headers-[^ ]+-amd64' | head -n1)"
  [ -n "$arch" ] || { echo "linux-headers-amd64 ($alias) names no kernel" >&2; exit 1; }
  local arch_depends kbuild_depends
  arch_depends="$(field "$state" "$arch" Depends)"
  common="$(echo "$arch_depends" | tr ',' '\n' | grep -oE 'linux-headers-[^ ]+-common' | head -n1)"
  kbuild="$(echo "$arch_depends" | tr ',' '\n' | grep -oE 'linux-kbuild-[^ ]+' | head -n1)"
  [ -n "$common" ] && [ -n "$kbuild" ] || { echo "$arch names no common/kbuild package" >&2; exit 1; }
  kbuild_depends="$(field "$state" "$kbuild" Depends)"
  local version
  version="$(field "$state" "$arch" Version)"
  local debs="$cache/debs"
  (
    cd "$debs"
    # shellcheck disable=SC2046
    apt-get $(apt_opts "$state") download -qq \
      "$arch=$version" "$common=$version" "$kbuild=$version" >&2
  )
  echo "codename=$codename"
  echo "release=$release"
  echo "depends=$arch_depends"
  echo "depends=$kbuild_depends"
  local package
  for package in "$arch" "$common" "$kbuild"; do
    local file
    file="$(find "$debs" -maxdepth 1 -name "${package}_${version//:/%3a}_*.deb" | head -n1)"
    [ -n "$file" ] || { echo "download of $package $version left no file" >&2; exit 1; }
    echo "deb=$file"
  done
}

# Unmounts whatever debootstrap left mounted under $1, then removes it without leaving the file system.
remove_root() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$dir"
}

root() {
  local codename="$1" release="$2"
  shift 2
  local packages
  packages="$(printf '%s\n' "$@" | sort -u | paste -sd, -)"
  local key
  key="$(printf '%s %s %s' "$codename" "$release" "$packages" | sha256sum | cut -c1-16)"
  local roots="$cache/roots"
  local dir="$roots/$codename-$key"
  mkdir -p "$roots"
  # The caller may hold the lock already (to use the root under it): KP_LIVE_ROOT_LOCKED=1.
  if [ -z "${KP_LIVE_ROOT_LOCKED:-}" ]; then
    exec 9>"$roots/$codename.lock"
    flock 9
  fi
  if [ ! -f "$dir/.complete" ]; then
    local old
    for old in "$roots/$codename"-*; do
      [ -e "$old" ] && remove_root "$old"
    done
    local started=$SECONDS
    echo "debootstrap $codename with $packages" >&2
    local tmp="$dir.tmp"
    remove_root "$tmp"
    if ! debootstrap --variant=minbase --include="$packages" "$codename" "$tmp" "$archive" \
      /usr/share/debootstrap/scripts/sid >"$roots/$codename.log" 2>&1; then
      tail -n 30 "$roots/$codename.log" >&2
      remove_root "$tmp"
      exit 1
    fi
    rm -f "$tmp"/var/cache/apt/archives/*.deb
    mv "$tmp" "$dir"
    echo "$((SECONDS - started))" >"$dir/.seconds"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# with-root <codename> <release> <package>... -- <command>...: under the codename's lock, makes
# or reuses the root, prints `root=<dir>` and `root_ms=<time to have it>`, then runs <command>
# with KP_ROOT=<dir> (so no concurrent test binary replaces the root while it is in use).
with_root() {
  local codename="$1" release="$2"
  shift 2
  local packages=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do packages+=("$1"); shift; done
  [ "${1:-}" = -- ] || { echo "with-root: missing -- <command>" >&2; exit 2; }
  shift
  mkdir -p "$cache/roots"
  exec 9>"$cache/roots/$codename.lock"
  flock 9
  local started dir
  started="$(date +%s%N)"
  dir="$(KP_LIVE_ROOT_LOCKED=1 root "$codename" "$release" "${packages[@]}")"
  echo "root=$dir"
  echo "root_ms=$(( ($(date +%s%N) - started) / 1000000 ))"
  KP_ROOT="$dir" "$@"
}

case "${1:-}" in
  fetch) fetch "$2" ;;
  root) shift; root "$@" ;;
  with-root) shift; with_root "$@" ;;
  *) echo "usage: $0 fetch <alias> | root <codename> <release> <package>... | with-root <codename> <release> <package>... -- <command>..." >&2; exit 2 ;;
esac
