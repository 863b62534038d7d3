#!/usr/bin/env bash
# Installs `moto_server` (PyPI `moto[server]`), the S3-compatible server the store, sync, pack and
# function tests start on 127.0.0.1, into its own venv at /opt/kernel-packer-moto (the tests use
# that one first, then `moto_server` on PATH). Pinned below 5.2: moto 5.2.x answers
# CompleteMultipartUpload with a `CompleteMultipartUploadResponse` root element instead of S3's
# `CompleteMultipartUploadResult`, which the AWS SDK for Rust rejects. Idempotent.
set -euo pipefail
venv=/opt/kernel-packer-moto
want='moto[server]>=5.1,<5.2'
if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import moto, sys; v = tuple(map(int, moto.__version__.split(".")[:2])); sys.exit(0 if (5, 1) <= v < (5, 2) else 1)' 2>/dev/null; then
  exit 0
fi
. "$(dirname "$0")/../lib/apt.sh"
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_install python3-venv
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$want"
"$venv/bin/moto_server" --help >/dev/null
