#!/usr/bin/env bash
# Runs the README's two commands on a truly fresh machine: a minimal Debian root made with
# debootstrap (minbase + git, gcc, ca-certificates: what a newcomer's machine has besides Rust),
# with the host's Rust toolchain bind-mounted read-only (rustup home and cargo's bin directory;
# the crate registry is downloaded fresh into the root), the host's CA certificates, apt sources
# and pip/npm/cargo registry settings copied in. It clones this repository (its committed HEAD)
# into the root and runs `scripts/demo.sh`, then `scripts/test.sh`, printing the time of each.
# Not part of .ci/run: the whole run takes the better part of an hour on 2 cores.
#
# Usage (as root): scripts/fresh-check.sh [--until-setup] [--keep]
#   --until-setup  run scripts/test.sh only up to its setup scripts and downloads
#   --keep         keep the root afterwards (default: removed once everything is unmounted)
# KP_FRESH_DIR: where the root is made (default /var/tmp/kernel-packer-fresh; needs ~15 GB).
# The debootstrap base is cached in ~/.cache/kernel-packer-tests/fresh-base-<suite>/.
set -euo pipefail

until_setup=0 keep=0
for arg in "$@"; do
  case "$arg" in
    --until-setup) until_setup=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 [--until-setup] [--keep]" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, mount, chroot)" >&2; exit 1; }
for tool in debootstrap git chroot mount findmnt flock; do
  command -v "$tool" >/dev/null || { echo "fresh-check: $tool is not installed" >&2; exit 1; }
done
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_bin="$(dirname "$(command -v cargo)")"
[ -d "$rustup_home" ] || { echo "fresh-check: no rustup home at $rustup_home" >&2; exit 1; }

# The archive apt is configured with (first URIs of debian.sources) and the host's suite.
sources=/etc/apt/sources.list.d/debian.sources
mirror="$(awk '/^URIs:/{print $2; exit}' "$sources")"
suite="$(. /etc/os-release && echo "$VERSION_CODENAME")"
[ -n "$mirror" ] && [ -n "$suite" ] || { echo "fresh-check: cannot read the mirror from $sources" >&2; exit 1; }

work="${KP_FRESH_DIR:-/var/tmp/kernel-packer-fresh}"
root="$work/root"
cache="$HOME/.cache/kernel-packer-tests"
base="$cache/fresh-base-$suite"
mkdir -p "$work" "$cache"

started=$SECONDS
timings=()
timed() { # timed LABEL CMD...: runs CMD, records its wall time
  local label=$1 t0=$SECONDS status=0
  shift
  echo "== fresh-check: $label" >&2
  "$@" || status=$?
  timings+=("$(printf '%-34s %5ss  exit %s' "$label" $((SECONDS - t0)) "$status")")
  return "$status"
}

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  if [ "$keep" -eq 0 ] && [ -d "$root" ]; then
    if [ -z "$(findmnt -rn -o TARGET | awk -v r="$root" 'index($0, r) == 1')" ]; then
      rm -rf "$root"
    else
      echo "fresh-check: something is still mounted under $root: not removing it" >&2
    fi
  fi
  echo "== fresh-check timings" >&2
  printf '  %s\n' "${timings[@]}" "$(printf '%-34s %5ss' total $((SECONDS - started)))" >&2
}
trap cleanup EXIT

# bind SRC DEST [ro]: bind-mounts SRC at DEST inside the root.
bind() {
  local dest="$root$2"
  if [ -d "$1" ]; then mkdir -p "$dest"; else mkdir -p "$(dirname "$dest")"; touch "$dest"; fi
  mount --bind "$1" "$dest"
  mounted+=("$dest")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$dest"; fi
}

# The minimal base, cached (debootstrap takes minutes and is the same every time).
make_base() {
  exec 9>"$cache/fresh-base-$suite.lock"
  flock 9
  if [ ! -f "$base/.complete" ]; then
    rm -rf "$base"
    debootstrap --variant=minbase --include=git,gcc,libc6-dev,ca-certificates \
      "$suite" "$base" "$mirror" >&2
    touch "$base/.complete"
  fi
  flock -u 9
}
timed "debootstrap base (cached)" make_base

[ ! -e "$root" ] || { echo "fresh-check: $root exists (an earlier --keep run?): remove it first" >&2; exit 1; }
timed "copy base into a fresh root" cp -a "$base" "$root"
rm -f "$root/.complete"

# Host settings: apt sources (the same archive), CA certificates, pip/npm/cargo registry settings.
rm -f "$root/etc/apt/sources.list"
cp "$sources" "$root/etc/apt/sources.list.d/debian.sources"
for conf in /etc/apt/apt.conf.d/*; do
  if grep -q '^Acquire::' "$conf" 2>/dev/null; then cp "$conf" "$root/etc/apt/apt.conf.d/"; fi
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
for conf in /etc/pip.conf /etc/npmrc /usr/etc/npmrc "$HOME/.npmrc" "$HOME/.cargo/config.toml" "$HOME/.cargo/config"; do
  if [ -f "$conf" ]; then mkdir -p "$root$(dirname "$conf")"; cp "$conf" "$root$conf"; fi
done

# The root is a mount point of its own, as / is on a real machine (tests that unshare a mount
# namespace make / private, which fails on a directory that is not a mount point).
mount --bind "$root" "$root"
mounted+=("$root")
bind /proc /proc
bind /sys /sys
bind /dev /dev
bind /dev/pts /dev/pts
bind /dev/shm /dev/shm
bind "$rustup_home" "$rustup_home" ro
bind "$cargo_bin" "$cargo_bin" ro
if [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "$PIP_FIND_LINKS" ]; then bind "$PIP_FIND_LINKS" "$PIP_FIND_LINKS" ro; fi

timed "git clone" git clone --quiet "$repo" "$root/work/kernel-packer"

# The environment a login shell on the fresh machine would have, plus the host's registry and
# certificate settings (paths inside the root are the same as on the host).
env_vars=(HOME="$HOME" PATH="$cargo_bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  RUSTUP_HOME="$rustup_home" LANG=C.UTF-8 TERM=dumb)
for v in RUSTUP_TOOLCHAIN RUSTUP_AUTO_INSTALL SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE \
  NODE_EXTRA_CA_CERTS PIP_CERT PIP_FIND_LINKS PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK \
  PIP_INDEX_URL PIP_EXTRA_INDEX_URL CARGO_REGISTRIES_CRATES_IO_PROTOCOL; do
  if [ -n "${!v:-}" ]; then env_vars+=("$v=${!v}"); fi
done
in_root() {
  chroot "$root" /usr/bin/env -i "${env_vars[@]}" bash -c "cd /work/kernel-packer && $1"
}

timed "scripts/demo.sh" in_root 'scripts/demo.sh'
if [ "$until_setup" -eq 1 ]; then
  timed "scripts/test.sh (setup only)" in_root 'KP_TEST_UNTIL=setup scripts/test.sh'
else
  timed "scripts/test.sh" in_root 'scripts/test.sh'
  echo "target/ after the test build: $(du -sh "$root/work/kernel-packer/target" | cut -f1)" >&2
fi
