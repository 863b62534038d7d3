#!/usr/bin/env bash
# Commands the tests, the action's scripts and the demo run that a minimal Debian lacks:
# curl (action/resolve-binary.sh, tests/action_e2e.rs), ca-certificates, jq (the action's
# scripts), python3 (local HTTP server of tests/action_e2e.rs, the venvs of 20-moto/30-lint),
# binutils (strip), gcc + libc6-dev (cargo's linker `cc`), xz-utils. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools curl:curl jq:jq python3:python3 strip:binutils cc:gcc xz:xz-utils
[ -e /usr/include/stdio.h ] || apt_install libc6-dev
[ -e /etc/ssl/certs/ca-certificates.crt ] || apt_install ca-certificates
