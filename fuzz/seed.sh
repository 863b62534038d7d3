#!/usr/bin/env bash
# Generates the seed corpora under fuzz/seeds/<target>/ (git-ignored) from real packages and real
# archive metadata: small excerpts of the Debian header set (tests/fetch-debian-packages.sh),
# re-packed as .deb (dpkg-deb), tarballs in every compression and images (mke2fs -d, sfdisk), the
# apt lists and InRelease files of this machine, the test fixtures, and every input in
# tests/fuzz-regressions/. Idempotent; takes a few seconds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seeds="$root/fuzz/seeds"
rm -rf "$seeds"
mkdir -p "$seeds"/{read_package,pack_packages,load_image,content_decompress,apt,yum,html,bucket,github,configs,rules,verify}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Real packages: a small slice of the Debian header set keeps inputs small (fuzzing speed).
"$root/tests/fetch-debian-packages.sh" >/dev/null
debs=("$root"/tests/.cache/debian/*.deb)
tree="$work/tree"
mkdir -p "$tree"
dpkg-deb -x "${debs[0]}" "$tree"
small="$work/small"
mkdir -p "$small/usr/src/linux-headers-6.1.0-1-amd64/include/config" "$small/lib/modules/6.1.0-1-amd64"
src_dir="$(find "$tree/usr/src" -maxdepth 1 -mindepth 1 -type d | head -1)"
for f in Makefile .config include/config/kernel.release; do
    [ -f "$src_dir/$f" ] && head -c 2048 "$src_dir/$f" > "$small/usr/src/linux-headers-6.1.0-1-amd64/$f" || true
done
echo 6.1.0-1-amd64 > "$small/usr/src/linux-headers-6.1.0-1-amd64/include/config/kernel.release"
ln -s ../../../usr/src/linux-headers-6.1.0-1-amd64 "$small/lib/modules/6.1.0-1-amd64/build"
ln -s /usr/src/linux-headers-6.1.0-1-common/Makefile "$small/usr/src/linux-headers-6.1.0-1-amd64/common-link"
mkdir -p "$small/DEBIAN"
printf 'Package: linux-headers-6.1.0-1-amd64\nVersion: 1\nArchitecture: amd64\nMaintainer: fuzz\nDescription: seed\n' > "$small/DEBIAN/control"
for z in gzip xz zstd none; do
    dpkg-deb --root-owner-group -Z"$z" -b "$small" "$seeds/read_package/small-$z.deb" >/dev/null
done
rm -rf "$small/DEBIAN"
tar -C "$small" -cf "$work/small.tar" .
cp "$work/small.tar" "$seeds/read_package/small.tar"
gzip -9c "$work/small.tar" > "$seeds/read_package/small.tar.gz"
xz -c "$work/small.tar" > "$seeds/read_package/small.tar.xz"
bzip2 -c "$work/small.tar" > "$seeds/read_package/small.tar.bz2"
zstd -qc "$work/small.tar" > "$seeds/read_package/small.tar.zst"
cp "$root"/tests/fuzz-regressions/read_package/* "$seeds/read_package/"
# pack_packages: first byte selects the packer (0 debian, 3 redhat, ...).
for f in "$seeds"/read_package/*; do
    for k in 0 3; do
        { printf "\\x0$k"; cat "$f"; } > "$seeds/pack_packages/$k-$(basename "$f")"
    done
done
cp "$root"/tests/fuzz-regressions/pack/*.bin "$seeds/pack_packages/"

# Images: a tiny ext4 with lib/modules/<v>/build, bare and inside a GPT and an MBR table.
if command -v mke2fs >/dev/null && command -v sfdisk >/dev/null; then
    mke2fs -q -t ext4 -O ^has_journal -b 1024 -d "$small" "$work/fs.img" 2M
    cp "$work/fs.img" "$seeds/load_image/bare-ext4.img"
    for label in gpt dos; do
        truncate -s 4M "$work/$label.img"
        echo 'start=2048, size=4096, type=L' | sfdisk -q --label "$label" "$work/$label.img" >/dev/null
        dd if="$work/fs.img" of="$work/$label.img" bs=512 seek=2048 conv=notrunc status=none
        bzip2 -c "$work/$label.img" > "$seeds/load_image/$label.img.bz2"
    done
fi
cp "$root"/tests/fuzz-regressions/image/* "$seeds/load_image/"

# Archive metadata of this machine (real InRelease and Packages), in excerpts.
for f in /var/lib/apt/lists/*InRelease; do
    cp "$f" "$seeds/apt/$(basename "$f")"
    { printf '\x01'; cat "$f"; } > "$seeds/verify/$(basename "$f")"
done
for f in /var/lib/apt/lists/*Packages.lz4; do
    { lz4 -dc "$f" 2>/dev/null || true; } | head -c 20000 > "$seeds/apt/$(basename "$f" .lz4)"
done
head -c 20000 "$seeds/apt/$(ls "$seeds/apt" | grep Packages | head -1)" > "$work/Packages"
for z in gzip xz bzip2 zstd; do
    case $z in gzip) b=0;; xz) b=1;; zstd) b=2;; bzip2) b=3;; esac
    { printf "\\x0$b"; $z -c "$work/Packages"; } > "$seeds/content_decompress/Packages.$z"
done
cp "$root"/tests/fuzz-regressions/content_decompress/* "$seeds/content_decompress/"
{ printf '\x00'; cat "$root/kernel-package-lists/keys/debian-archive-keyring.gpg"; } > "$seeds/verify/keyring"

# Fixtures and configs of the project.
cp "$root/kernel-package-lists/sources.yml" "$root/kernel-package-lists/reformat.yml" \
    "$root/src/pack/packers.yml" "$seeds/configs/"
i=0
for list in "$root"/kernel-package-lists/*.txt; do
    { printf "\\x$(printf %02x $((i % 8)))"; head -c 8000 "$list"; } > "$seeds/rules/$(basename "$list")"
    i=$((i + 1))
done
# Inline fixtures from the crawl tests (XML, HTML, JSON literals) as seeds.
python3 - "$root" "$seeds" <<'PY'
import pathlib, re, sys
root, seeds = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
texts = []
for p in list((root / "tests").rglob("*.rs")) + list((root / "src/crawl").rglob("*.rs")):
    texts += re.findall(r'r#+"(.*?)"#+', p.read_text(errors="replace"), re.S)
n = 0
for t in texts:
    kind = ("yum" if "<repomd" in t or "<metadata" in t else
            "bucket" if "ListBucketResult" in t else
            "html" if "<a " in t or "<html" in t else
            "github" if t.lstrip().startswith("[") or '"tag_name"' in t else None)
    if kind:
        (seeds / kind / f"fixture-{n}").write_text(t)
        n += 1
PY
for t in yum bucket html github; do
    [ -n "$(ls "$seeds/$t")" ] || echo '<a href="x/">x</a>' > "$seeds/$t/minimal"
done
echo "seeds: $(find "$seeds" -type f | wc -l) files in $seeds"
