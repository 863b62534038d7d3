#!/usr/bin/env bash
# Step 1 of the kernel-packer action: decides where the kernel-packer binary comes from.
#
# Env in:  KERNEL_PACKER_BIN (optional: use this prebuilt binary, no cache, no download),
#          KP_VERSION (input `version`), RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_ACTION_PATH,
#          GITHUB_ACTION_REF, RUNNER_TOOL_CACHE (optional).
# Outputs: target (Rust target triple of a released binary, empty when none is published for this
#          platform), cache-dir and cache-key (empty when KERNEL_PACKER_BIN is set).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env GITHUB_OUTPUT RUNNER_OS RUNNER_ARCH GITHUB_ACTION_PATH

if [ -n "${KERNEL_PACKER_BIN:-}" ]; then
    echo "kernel-packer: using KERNEL_PACKER_BIN=$KERNEL_PACKER_BIN" >&2
    set_output target ""
    set_output cache-dir ""
    set_output cache-key ""
    exit 0
fi

target=$(release_target "$RUNNER_OS" "$RUNNER_ARCH")
version=$(requested_version)
src_hash=$(source_hash "$(source_root)")
label=$(printf '%s' "${version:-source}" | tr -c 'A-Za-z0-9._-' '-')
key="kernel-packer-${RUNNER_OS}-${RUNNER_ARCH}-${label}-${src_hash:0:16}"
cache_root=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:?RUNNER_TEMP is not set}}
set_output target "$target"
set_output cache-dir "$cache_root/kernel-packer/$key"
set_output cache-key "$key"
echo "kernel-packer: version '${version:-<action source>}', target '${target:-<none>}', cache key $key" >&2
