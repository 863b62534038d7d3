#!/usr/bin/env bash
# The main job, locally: fetch a real Debian kernel header set, pack it into a bundle with the
# release build of kernel-packer, and prove the bundle by building a kernel module against it.
# Usage: scripts/demo.sh [out-dir]   (default: out/ in the repository; a relative out-dir is taken
# from the caller's directory). Prints the bundle's absolute path on stdout.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$repo/out}")"
cd "$repo"
bash scripts/setup.d/10-kernel-build.sh
packages_dir="$(bash tests/fetch-debian-packages.sh)"
cargo build --release --locked --bin kernel-packer >&2
bundle="$(./target/release/kernel-packer pack --type debian --out "$out" "$packages_dir"/*.deb)"
bundle="$(realpath "$bundle")"
echo "bundle: $bundle ($(du -h "$bundle" | cut -f1))" >&2
check="$(mktemp -d)"
trap 'rm -rf "$check"' EXIT
mkdir -p "$check/bundle" "$check/module"
tar -xzf "$bundle" -C "$check/bundle"
cat > "$check/module/hello.c" <<'C'
#include <linux/module.h>
#include <linux/init.h>
MODULE_LICENSE("GPL");
static int __init hello_init(void) { pr_info("hello\n"); return 0; }
static void __exit hello_exit(void) { }
module_init(hello_init);
module_exit(hello_exit);
C
echo 'obj-m += hello.o' > "$check/module/Makefile"
make -s -C "$check/bundle/$(cat "$check/bundle/BUNDLE_BUILD_DIR")" M="$check/module" modules >&2
echo "module built against $(cat "$check/bundle/BUNDLE_UNAME"): $(modinfo -F vermagic "$check/module/hello.ko")" >&2
echo "$bundle"
