#!/usr/bin/env bash
# Installs the infrastructure and GitHub Actions linters used by tests/infra_lint.rs:
# cfn-lint, checkov, zizmor and aws-sam-translator (PyPI, one virtualenv each so their pins never
# clash; the translator's python is linked as kp-sam-python),
# @action-validator/cli (npm), and jq (used by the action's scripts, preinstalled on GitHub runners).
# Idempotent: a fast no-op when the pinned versions are already installed.
set -euo pipefail

CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
ZIZMOR_VERSION=1.32.0
SAM_TRANSLATOR_VERSION=1.115.0
PYYAML_VERSION=6.0.3
ACTION_VALIDATOR_VERSION=0.6.0

PREFIX=${KP_LINT_PREFIX:-/opt/kernel-packer-lint}
BIN=${KP_LINT_BIN:-/usr/local/bin}

. "$(dirname "$0")/../lib/apt.sh"

command -v jq >/dev/null 2>&1 || apt_install jq

# link <target> <name>: points $BIN/<name> at <target>, writing only when it differs.
link() {
    [ "$(readlink "$BIN/$2" 2>/dev/null)" = "$1" ] || ln -sf "$1" "$BIN/$2"
}

# pip_tool <package> <version> <command> [<link name> [<extra requirement>...]]: installs
# <package>==<version> (and the extra requirements) into its own venv and links its <command> into
# $BIN (as <link name>, default <command>; `-`: no link).
pip_tool() {
    local pkg=$1 version=$2 cmd=$3 name=${4:-$3} venv=$PREFIX/$1
    shift $(($# < 4 ? $# : 4))
    local stamp="$version${*:+ $*}"
    if [ -x "$venv/bin/$cmd" ] && [ "$(cat "$venv/.kp-version" 2>/dev/null)" = "$stamp" ]; then
        [ "$name" = - ] || link "$venv/bin/$cmd" "$name"
        return 0
    fi
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pkg==$version" "$@"
    echo "$stamp" >"$venv/.kp-version"
    [ "$name" = - ] || link "$venv/bin/$cmd" "$name"
}

[ -d "$PREFIX" ] && [ -d "$BIN" ] || mkdir -p "$PREFIX" "$BIN"
pip_tool cfn-lint "$CFN_LINT_VERSION" cfn-lint
pip_tool checkov "$CHECKOV_VERSION" checkov
pip_tool zizmor "$ZIZMOR_VERSION" zizmor
pip_tool aws-sam-translator "$SAM_TRANSLATOR_VERSION" python - "PyYAML==$PYYAML_VERSION"
# A venv's python only finds its packages when started by its own path, not through a symlink.
sam_python=$PREFIX/aws-sam-translator/bin/python
wrapper="#!/bin/sh
exec '$sam_python' \"\$@\""
[ "$(cat "$BIN/kp-sam-python" 2>/dev/null)" = "$wrapper" ] || {
    rm -f "$BIN/kp-sam-python"
    printf '%s\n' "$wrapper" >"$BIN/kp-sam-python"
    chmod 755 "$BIN/kp-sam-python"
}

# npm without recommends: ~400 packages fewer on a minimal Debian.
command -v npm >/dev/null 2>&1 || apt_install npm
av_dir=$PREFIX/action-validator
if [ "$(cat "$av_dir/.kp-version" 2>/dev/null)" != "$ACTION_VALIDATOR_VERSION" ] \
    || [ ! -x "$av_dir/node_modules/.bin/action-validator" ]; then
    rm -rf "$av_dir"
    mkdir -p "$av_dir"
    npm install --silent --no-audit --no-fund --prefix "$av_dir" \
        "@action-validator/cli@$ACTION_VALIDATOR_VERSION" >/dev/null
    echo "$ACTION_VALIDATOR_VERSION" >"$av_dir/.kp-version"
fi
link "$av_dir/node_modules/.bin/action-validator" action-validator
