#!/usr/bin/env bash
# Installs `moto_server` (PyPI `moto[server]`), the S3-compatible server the store, sync, pack and
# function tests start on 127.0.0.1. Idempotent: a no-op when `moto_server` is already on PATH.
set -euo pipefail
if command -v moto_server >/dev/null 2>&1; then
  exit 0
fi
venv=/opt/kernel-packer-moto
if [ ! -x "$venv/bin/moto_server" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi
ln -sf "$venv/bin/moto_server" /usr/local/bin/moto_server
moto_server --help >/dev/null
