#!/usr/bin/env bash
# Optional step of the kernel-packer action (input `lists`): downloads the packages listed in the
# lists directory into the package store with `kernel-packer sync` before packing.
#
# Env in:  KP_BIN, KP_LISTS (directory of *.txt package lists), KP_PACKAGES, GITHUB_WORKSPACE.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env KP_BIN KP_LISTS KP_PACKAGES
lists=$(absolute "$KP_LISTS")
packages=$(absolute "$KP_PACKAGES")
if [ ! -d "$lists" ]; then
    echo "::error title=kernel-packer::input lists: $lists is not a directory"
    exit 1
fi
is_s3 "$packages" || mkdir -p "$packages"
"$KP_BIN" sync --lists "$lists" --packages "$packages"
