# Helpers shared by the kernel-packer action scripts (sourced, not executed).

# require_env NAME...: fails with a clear message when a variable is unset or empty.
require_env() {
    local name
    for name in "$@"; do
        if [ -z "${!name:-}" ]; then
            echo "kernel-packer action: environment variable $name is not set" >&2
            exit 2
        fi
    done
}

# set_output NAME VALUE: appends one output to $GITHUB_OUTPUT (multi-line safe, random delimiter).
set_output() {
    local delim
    delim="KP_EOF_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    {
        printf '%s<<%s\n' "$1" "$delim"
        printf '%s\n' "$2"
        printf '%s\n' "$delim"
    } >>"$GITHUB_OUTPUT"
}

# release_target OS ARCH: the Rust target triple of released binaries for a runner platform,
# or nothing when no release is published for it.
release_target() {
    case "$1/$2" in
        Linux/X64) echo x86_64-unknown-linux-gnu ;;
        Linux/ARM64) echo aarch64-unknown-linux-gnu ;;
        macOS/X64) echo x86_64-apple-darwin ;;
        macOS/ARM64) echo aarch64-apple-darwin ;;
        *) echo "" ;;
    esac
}

# kernel_arch INPUT RUNNER_ARCH: the architecture of the kernels to pack, as kernel-packer names it
# (amd64, arm64): the `arch` input when set (amd64/x86_64/X64, arm64/aarch64/ARM64), else the
# runner's (RUNNER_ARCH X64 -> amd64, ARM64 -> arm64), else `uname -m`. Fails on anything else.
kernel_arch() {
    local want=${1:-${2:-}}
    [ -n "$want" ] || want=$(uname -m)
    case "$want" in
        amd64 | x86_64 | X64 | x64) echo amd64 ;;
        arm64 | aarch64 | ARM64) echo arm64 ;;
        *)
            echo "kernel-packer action: unsupported architecture '$want' (input arch: amd64 or arm64)" >&2
            exit 2
            ;;
    esac
}

# requested_version: the `version` input, else the action's own ref (empty for a local `./action`).
requested_version() {
    printf '%s' "${KP_VERSION:-${GITHUB_ACTION_REF:-}}"
}

# source_root: the kernel-packer source tree the action ships with (its parent directory).
source_root() {
    (cd "$GITHUB_ACTION_PATH/.." && pwd)
}

# source_hash DIR: sha256 over the crate sources (Cargo.toml, Cargo.lock, src/, functions/).
source_hash() {
    (
        cd "$1"
        local paths=()
        for p in Cargo.toml Cargo.lock src functions; do
            [ -e "$p" ] && paths+=("$p")
        done
        if [ ${#paths[@]} -eq 0 ]; then
            echo "kernel-packer action: no Cargo sources under $1" >&2
            exit 2
        fi
        find "${paths[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
    )
}

# is_s3 URL: true for s3:// stores.
is_s3() {
    case "$1" in s3://*) return 0 ;; *) return 1 ;; esac
}

# absolute PATH: PATH made absolute against $GITHUB_WORKSPACE (or the current directory);
# s3:// URLs are returned unchanged.
absolute() {
    if is_s3 "$1"; then
        printf '%s' "$1"
    else
        case "$1" in
            /*) printf '%s' "$1" ;;
            *) printf '%s/%s' "${GITHUB_WORKSPACE:-$PWD}" "$1" ;;
        esac
    fi
}
