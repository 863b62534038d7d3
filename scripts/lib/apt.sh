# Shared by scripts/setup.d/*.sh (sourced, not run): installing Debian packages the same way
# everywhere, without recommends and waiting for other apt users (several test runs may install
# at once).
#
#   . "$(dirname "$0")/../lib/apt.sh"
#   apt_install pkg...        # apt-get update once per script, then install
#   as_root cmd...            # runs cmd as root (directly, or through sudo)

APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

# as_root CMD...: runs CMD as root: directly when root, else through sudo; fails with a clear
# message when neither works.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup: '$*' needs root: run scripts/test.sh as root or install sudo" >&2
        return 1
    fi
}

# apt_install PACKAGE...: installs the packages (no recommends), updating the package lists first
# (once per script run).
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${KP_APT_UPDATED:-}" ]; then
        as_root apt-get "${APT_OPTS[@]}" update -qq
        KP_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

# need_tools CMD:PACKAGE...: installs the PACKAGE of every CMD not on PATH.
need_tools() {
    local need=() tool
    for tool in "$@"; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "setup: installing ${need[*]}" >&2
        apt_install "${need[@]}"
    fi
}
