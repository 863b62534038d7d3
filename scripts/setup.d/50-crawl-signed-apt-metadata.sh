#!/usr/bin/env bash
# Real signed apt metadata for tests/crawl_real_signature.rs: Debian's archive keys
# (debian-archive-keyring) and the genuine clear-signed InRelease files `apt-get update` leaves
# in /var/lib/apt/lists/. Idempotent; a no-op when both are present.
set -euo pipefail

if [ ! -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debian-archive-keyring
fi
if ! compgen -G '/var/lib/apt/lists/*_InRelease' >/dev/null; then
  apt-get update -qq
fi
# The openssl CLI makes certificates and runs the TLS server of tests/crawl_client_cert.rs.
if ! command -v openssl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
fi
