#!/usr/bin/env bash
# Step 2 of the kernel-packer action: makes a kernel-packer binary available, in this order:
#   1. KERNEL_PACKER_BIN, when set (a prebuilt binary; must be executable);
#   2. the cache directory (restored by actions/cache), when it already holds bin/kernel-packer;
#   3. a released binary for the runner's platform:
#      $GITHUB_SERVER_URL/$GITHUB_ACTION_REPOSITORY/releases/download/<tag>/kernel-packer-<target>.tar.gz
#      verified against the `.sha256` file published beside it (a mismatch fails the step);
#   4. `cargo install --locked` from the action's own source (or from the `version` tag of the
#      action's repository when `version` names another release), into the cache directory.
#
# Env in:  KERNEL_PACKER_BIN, KP_VERSION, KP_CACHE_DIR, KP_TARGET (from plan.sh), GITHUB_OUTPUT,
#          GITHUB_ACTION_PATH, GITHUB_ACTION_REF, GITHUB_ACTION_REPOSITORY, GITHUB_SERVER_URL.
# Outputs: path (absolute path of the kernel-packer binary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env GITHUB_OUTPUT

check_binary() {
    if [ ! -x "$1" ]; then
        echo "kernel-packer action: $1 is not an executable file" >&2
        exit 2
    fi
    "$1" --version >&2
}

if [ -n "${KERNEL_PACKER_BIN:-}" ]; then
    bin=$(absolute "$KERNEL_PACKER_BIN")
    check_binary "$bin"
    set_output path "$bin"
    exit 0
fi

require_env KP_CACHE_DIR GITHUB_ACTION_PATH
bin="$KP_CACHE_DIR/bin/kernel-packer"
if [ -x "$bin" ]; then
    echo "kernel-packer: cached binary $bin" >&2
    check_binary "$bin"
    set_output path "$bin"
    exit 0
fi

version=$(requested_version)

# download_release TAG TARGET: fetches and verifies a released binary into the cache directory.
# Returns 1 when no such release asset exists; exits on a checksum mismatch or a broken archive.
download_release() {
    local tag=$1 target=$2 base tmp expected actual
    if ! command -v curl >/dev/null 2>&1; then
        echo "kernel-packer action: curl is not installed: cannot download a released binary" >&2
        exit 1
    fi
    base="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_ACTION_REPOSITORY:-}/releases/download/$tag"
    tmp=$(mktemp -d "${RUNNER_TEMP:-/tmp}/kernel-packer-dl.XXXXXX")
    if ! curl -fsSL --retry 3 --connect-timeout 10 --max-time 300 \
        -o "$tmp/kp.tar.gz" "$base/kernel-packer-$target.tar.gz" \
        || ! curl -fsSL --retry 3 --connect-timeout 10 --max-time 60 \
            -o "$tmp/kp.tar.gz.sha256" "$base/kernel-packer-$target.tar.gz.sha256"; then
        echo "kernel-packer: no released binary at $base/kernel-packer-$target.tar.gz" >&2
        rm -rf "$tmp"
        return 1
    fi
    expected=$(cut -d' ' -f1 <"$tmp/kp.tar.gz.sha256" | tr -d '\r\n')
    actual=$(sha256sum "$tmp/kp.tar.gz" | cut -d' ' -f1)
    if [ "$expected" != "$actual" ]; then
        echo "kernel-packer action: checksum mismatch for $base/kernel-packer-$target.tar.gz:" \
            "expected $expected, got $actual" >&2
        rm -rf "$tmp"
        exit 1
    fi
    mkdir -p "$KP_CACHE_DIR/bin"
    if ! tar -xzf "$tmp/kp.tar.gz" -C "$KP_CACHE_DIR/bin" kernel-packer; then
        echo "kernel-packer action: $base/kernel-packer-$target.tar.gz has no kernel-packer binary" >&2
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$tmp"
    echo "kernel-packer: downloaded $tag for $target (sha256 $actual)" >&2
}

if [ -n "${KP_TARGET:-}" ] && [ -n "$version" ] && [ -n "${GITHUB_ACTION_REPOSITORY:-}" ] \
    && download_release "$version" "$KP_TARGET"; then
    check_binary "$bin"
    set_output path "$bin"
    exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "kernel-packer action: no released binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?} and no cargo to build one" >&2
    exit 1
fi
if [ -n "${KP_VERSION:-}" ] && [ "$KP_VERSION" != "${GITHUB_ACTION_REF:-}" ] && [ -n "${GITHUB_ACTION_REPOSITORY:-}" ]; then
    echo "kernel-packer: building $KP_VERSION from source (cargo install --locked)" >&2
    cargo install --locked --root "$KP_CACHE_DIR" --bin kernel-packer \
        --git "${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_ACTION_REPOSITORY" --tag "$KP_VERSION" kernel-packer
else
    echo "kernel-packer: building the action's source (cargo install --locked)" >&2
    cargo install --locked --root "$KP_CACHE_DIR" --bin kernel-packer --path "$(source_root)"
fi
check_binary "$bin"
set_output path "$bin"
