#!/usr/bin/env bash
# Toolchain of the source-based packers (cos, minikube, linuxkit: `make olddefconfig` and
# `make modules_prepare` on a kernel source tree, no root) and of the disk-image test fixtures:
# bc, bison, flex, libelf-dev, libssl-dev, perl (kbuild), e2fsprogs (mkfs.ext4 -d for the
# developer-container image fixture), fdisk (sfdisk: its partition table), bzip2, xz-utils, cpio.
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
need_tools sfdisk:fdisk bc:bc bison:bison flex:flex perl:perl mkfs.ext4:e2fsprogs bzip2:bzip2 \
  xz:xz-utils cpio:cpio gcc-12:gcc-12 make:make
for header in /usr/include/gelf.h:libelf-dev /usr/include/openssl/ssl.h:libssl-dev /usr/include/stdio.h:libc6-dev; do
  [ -e "${header%%:*}" ] || apt_install "${header##*:}"
done
