#!/usr/bin/env bash
# Real signed apt metadata for tests/crawl_real_signature.rs: Debian's archive keys
# (debian-archive-keyring) and the genuine clear-signed InRelease files `apt-get update` leaves
# in /var/lib/apt/lists/. Idempotent; a no-op when both are present.
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"

[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || apt_install debian-archive-keyring
if ! compgen -G '/var/lib/apt/lists/*_InRelease' >/dev/null; then
  as_root apt-get "${APT_OPTS[@]}" update -qq
fi
# The openssl CLI makes certificates and runs the TLS server of tests/crawl_client_cert.rs.
need_tools openssl:openssl
