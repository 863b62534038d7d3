//! The disk-image packer (`coreos`: CoreOS and Flatcar `*_developer_container.bin.bz2`).
//!
//! Flow: stream-decompress the image (bzip2, or any stream compression the archive layer knows, or
//! none) into one sparse spill file in the work dir, bounded by [`image_limit`] → read its
//! partition table in pure Rust ([`partitions`]: GPT with header CRC check, else MBR primary
//! partitions; a bare file system counts as one partition) → open each partition holding an ext4
//! superblock with `ext4-view` (read-only, in process, no mount, no root) → the first one with
//! `lib/modules/<ver>/build` wins → load `build` and `source` (following links; a link inside them
//! pulls in its destination, e.g. Debian-style `scripts -> ../../lib/linux-kbuild-*/scripts`) into a
//! [`Tree`] at their canonical paths, with `lib/modules/<ver>/{build,source}` as relative links →
//! make their top-level Makefiles relocatable (`include /abs/...` and `-C /abs/...` become paths
//! relative to the Makefile itself). The uname is `<ver>`; the caller writes the bundle.
//!
//! Safety: the image never reaches the file system except as the spill file; file contents are
//! bounded by [`Limits`] (total bytes, entries, path length); absolute link targets are re-rooted
//! inside the image, relative ones that climb out of it are refused. `Ext4` is not `Send`: all
//! file-system work happens on the calling thread.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use ext4_view::{Ext4, Ext4Read};
use regex::Regex;
use tracing::{debug, info};

use crate::archive::compression;
use crate::archive::extract::{lexical_link_destination, relative_path, Limits};
use crate::limits::Resource;
use crate::vfs::{BlobWriter, Node, NodeKind, Resolved, Tree};

/// Sector size assumed by the partition tables.
const SECTOR: u64 = 512;
/// Most symlink-closure rounds when pulling in link destinations.
const MAX_CLOSURE_ROUNDS: usize = 8;
/// Where link destinations may be pulled in from (kernel trees, kbuild tools), and how deep they
/// must be at least: a link to `/etc/...` or to `/usr/lib` itself is left dangling (and dropped).
const CLOSURE_PREFIXES: &[&str] = &["usr/src", "usr/lib", "lib"];
const CLOSURE_MIN_DEPTH: usize = 3;

/// Largest decompressed image accepted: [`Limits::max_image_bytes`] (16 GiB by default;
/// developer containers are a few GiB, mostly empty), and at most four times the unpack limit.
pub fn image_limit(limits: Limits) -> u64 {
    limits
        .max_image_bytes
        .min(limits.max_total_bytes.saturating_mul(4))
}

/// Longest symlink target read from an image (the kernel's `PATH_MAX`). `ext4-view` allocates a
/// link's declared size before reading it, so the size is checked first.
const MAX_LINK_TARGET: u64 = 4096;
/// Most links one path resolution follows (as the kernel's `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// One partition of a disk image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based number in the table (0 for a bare file system).
    pub number: u32,
    /// Byte offset and length in the image.
    pub offset: u64,
    pub len: u64,
    /// GPT partition name, or the MBR type as `type 0x83`.
    pub label: String,
}

/// Decompresses `package` into a sparse file in `work`; fails past `limit` bytes.
pub fn decompress_image(package: &Path, work: &Path, limit: u64) -> Result<File> {
    let input =
        File::open(package).with_context(|| format!("cannot open {}", package.display()))?;
    let (_, mut reader) = compression::decompress(io::BufReader::with_capacity(1 << 20, input))
        .context("reading compressed stream")?;
    let mut out = tempfile::tempfile_in(work).context("cannot create the image spill file")?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n =
            read_full(&mut reader, &mut buf).context("corrupt or truncated compressed image")?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            bail!(
                "the decompressed image (decompression bomb?) exceeds the pack budget of {limit} {} ({} to raise)",
                Resource::Image.unit(),
                Resource::Image.env_var()
            );
        }
        if buf[..n].iter().all(|&b| b == 0) {
            out.seek(SeekFrom::Current(n as i64))?;
        } else {
            out.write_all(&buf[..n])?;
        }
    }
    if total == 0 {
        bail!("empty image");
    }
    out.set_len(total)?;
    Ok(out)
}

fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Whether an ext2/3/4 superblock magic sits at `offset + 1024 + 56`.
fn has_ext_magic(image: &File, offset: u64) -> bool {
    let mut magic = [0u8; 2];
    image.read_exact_at(&mut magic, offset + 1024 + 56).is_ok() && magic == [0x53, 0xef]
}

/// Reads the partition table of `image` (`size` bytes). GPT (primary header, CRC-checked) when
/// the MBR holds a protective 0xEE entry, else the MBR's primary partitions (extended partitions
/// are not followed); an image without a table that is itself an ext file system is one
/// partition numbered 0. Partitions must lie inside the image.
pub fn partitions(image: &File, size: u64) -> Result<Vec<Partition>> {
    let mut mbr = [0u8; 512];
    image
        .read_exact_at(&mut mbr, 0)
        .map_err(|_| anyhow!("image is shorter than one sector"))?;
    let inside = |p: &Partition| -> Result<()> {
        if p.len == 0 || p.offset.checked_add(p.len).is_none_or(|end| end > size) {
            bail!(
                "partition {} ({}) lies outside the image ({} bytes)",
                p.number,
                p.label,
                size
            );
        }
        Ok(())
    };
    if mbr[510..512] != [0x55, 0xaa] {
        if has_ext_magic(image, 0) {
            return Ok(vec![Partition {
                number: 0,
                offset: 0,
                len: size,
                label: "whole image".into(),
            }]);
        }
        bail!("no partition table (no MBR signature) and no file system at the start of the image");
    }
    let entries: Vec<&[u8]> = (0..4)
        .map(|i| &mbr[446 + 16 * i..446 + 16 * (i + 1)])
        .collect();
    if entries.iter().any(|e| e[4] == 0xee) {
        return gpt_partitions(image, size, &inside);
    }
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let kind = entry[4];
        if kind == 0 || matches!(kind, 0x05 | 0x0f | 0x85) {
            continue;
        }
        let partition = Partition {
            number: i as u32 + 1,
            offset: le32(entry, 8) as u64 * SECTOR,
            len: le32(entry, 12) as u64 * SECTOR,
            label: format!("type 0x{kind:02x}"),
        };
        inside(&partition)?;
        out.push(partition);
    }
    if out.is_empty() {
        bail!("the MBR partition table has no partitions");
    }
    Ok(out)
}

fn gpt_partitions(
    image: &File,
    size: u64,
    inside: &dyn Fn(&Partition) -> Result<()>,
) -> Result<Vec<Partition>> {
    let mut header = [0u8; 512];
    image
        .read_exact_at(&mut header, SECTOR)
        .map_err(|_| anyhow!("GPT: image too short for the header"))?;
    if &header[0..8] != b"EFI PART" {
        bail!("GPT: protective MBR but no GPT header signature");
    }
    let header_size = le32(&header, 12) as usize;
    if !(92..=512).contains(&header_size) {
        bail!("GPT: invalid header size {header_size}");
    }
    let mut check = header[..header_size].to_vec();
    check[16..20].fill(0);
    if crc32fast::hash(&check) != le32(&header, 16) {
        bail!("GPT: header checksum mismatch (corrupt partition table)");
    }
    let entries_lba = le64(&header, 72);
    let count = le32(&header, 80) as u64;
    let entry_size = le32(&header, 84) as u64;
    if !(128..=4096).contains(&entry_size) || count > 1024 {
        bail!("GPT: implausible partition entry array ({count} entries of {entry_size} bytes)");
    }
    // count <= 1024 and entry_size <= 4096: no overflow.
    let table_len = count * entry_size;
    if entries_lba
        .checked_mul(SECTOR)
        .and_then(|o| o.checked_add(table_len))
        .is_none_or(|end| end > size)
    {
        bail!("GPT: partition entry array lies outside the image");
    }
    let mut table = vec![0u8; table_len as usize];
    image.read_exact_at(&mut table, entries_lba * SECTOR)?;
    if crc32fast::hash(&table) != le32(&header, 88) {
        bail!("GPT: partition entry array checksum mismatch (corrupt partition table)");
    }
    let mut out = Vec::new();
    for i in 0..count as usize {
        let entry = &table[i * entry_size as usize..(i + 1) * entry_size as usize];
        if entry[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let first = le64(entry, 32);
        let last = le64(entry, 40);
        if last < first {
            bail!("GPT: partition {} ends before it starts", i + 1);
        }
        let span = |lba: u64| lba.checked_mul(SECTOR);
        let (Some(offset), Some(len)) = (span(first), (last - first).checked_add(1).and_then(span))
        else {
            bail!(
                "GPT: partition {} (sectors {first}..={last}) lies outside the image ({size} bytes)",
                i + 1
            );
        };
        let name: Vec<u16> = (0..36)
            .map(|k| le16(entry, 56 + 2 * k))
            .take_while(|&c| c != 0)
            .collect();
        let partition = Partition {
            number: i as u32 + 1,
            offset,
            len,
            label: String::from_utf16_lossy(&name),
        };
        inside(&partition)?;
        out.push(partition);
    }
    if out.is_empty() {
        bail!("the GPT partition table has no partitions");
    }
    Ok(out)
}

/// Reads one partition of the spill file for `ext4-view` (bounds-checked).
struct PartitionReader {
    file: File,
    offset: u64,
    len: u64,
}

impl Ext4Read for PartitionReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        let end = start_byte
            .checked_add(dst.len() as u64)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("read past the end of the partition ({} bytes)", self.len),
                )
            })?;
        let _ = end;
        self.file.read_exact_at(dst, self.offset + start_byte)?;
        Ok(())
    }
}

/// Loads the developer container `packages` (exactly one image) into a tree (module docs).
pub fn load_image(packages: &[PathBuf], work: &Path, limits: Limits) -> Result<Tree> {
    let [package] = packages else {
        bail!(
            "the coreos packer takes exactly one developer-container image, got {}",
            packages.len()
        );
    };
    // A panic in the file-system reader is an error for this image, not a dead thread.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        load_one(package, work, limits)
    }))
    .unwrap_or_else(|panic| {
        Err(anyhow!(
            "malformed image (the reader panicked: {})",
            crate::archive::panic_message(&*panic)
        ))
    })
    .map_err(|e| anyhow!("{}: {e:#}", package.display()))
}

fn load_one(package: &Path, work: &Path, limits: Limits) -> Result<Tree> {
    let started = Instant::now();
    let image = decompress_image(package, work, image_limit(limits))?;
    let size = image.metadata()?.len();
    debug!(
        size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "image decompressed"
    );
    let parts = partitions(&image, size)?;
    let mut tried = Vec::new();
    for part in &parts {
        if !has_ext_magic(&image, part.offset) {
            tried.push(format!("{} ({}): not ext2/3/4", part.number, part.label));
            continue;
        }
        let reader = PartitionReader {
            file: image.try_clone()?,
            offset: part.offset,
            len: part.len,
        };
        let fs = match Ext4::load(Box::new(reader)) {
            Ok(fs) => fs,
            Err(e) => {
                tried.push(format!("{} ({}): {e}", part.number, part.label));
                continue;
            }
        };
        let versions = kernel_versions(&fs)?;
        match versions.len() {
            0 => {
                tried.push(format!(
                    "{} ({}): no lib/modules/<version>/build",
                    part.number, part.label
                ));
                continue;
            }
            1 => {}
            _ => bail!(
                "partition {} holds several kernels: {}",
                part.number,
                versions.join(", ")
            ),
        }
        let tree = load_kernel(&fs, &versions[0], work, limits)?;
        info!(
            partition = part.number,
            version = %versions[0],
            nodes = tree.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "kernel trees read from the image"
        );
        return Ok(tree);
    }
    bail!(
        "no partition holds an ext4 file system with lib/modules/<version>/build (partitions: {})",
        tried.join("; ")
    )
}

fn ext_err(path: &str, e: ext4_view::Ext4Error) -> anyhow::Error {
    anyhow!("{path}: {e}")
}

/// Versions `v` with a `/lib/modules/v/build` that resolves to a directory, sorted.
fn kernel_versions(fs: &Ext4) -> Result<Vec<String>> {
    let Some(modules) = canonical(fs, "/lib/modules")? else {
        return Ok(Vec::new());
    };
    let modules = format!("/{}", modules.display());
    let modules = modules.as_str();
    if !is_dir(fs, modules)? {
        return Ok(Vec::new());
    }
    let mut versions = Vec::new();
    for entry in fs.read_dir(modules).map_err(|e| ext_err(modules, e))? {
        let entry = entry.map_err(|e| ext_err(modules, e))?;
        let Ok(name) = entry.file_name().as_str().map(str::to_string) else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let build = format!("{modules}/{name}/build");
        if let Some(target) = canonical(fs, &build)? {
            if is_dir(fs, &format!("/{}", target.display()))? {
                versions.push(name);
            }
        }
    }
    versions.sort();
    Ok(versions)
}

/// Whether canonical image path `abs` is a directory.
fn is_dir(fs: &Ext4, abs: &str) -> Result<bool> {
    match fs.symlink_metadata(abs) {
        Ok(meta) => Ok(meta.is_dir()),
        Err(ext4_view::Ext4Error::NotFound) => Ok(false),
        Err(e) => Err(ext_err(abs, e)),
    }
}

/// The target of the symlink at canonical image path `abs` (metadata `meta`), refused when its
/// inode declares more than [`MAX_LINK_TARGET`] bytes (`ext4-view` would allocate that much).
fn read_link_checked(fs: &Ext4, abs: &str, meta: &ext4_view::Metadata) -> Result<PathBuf> {
    if meta.len() > MAX_LINK_TARGET {
        bail!(
            "{abs}: symlink inode declares a {}-byte target, more than {MAX_LINK_TARGET} (corrupt file system)",
            meta.len()
        );
    }
    let target = fs.read_link(abs).map_err(|e| ext_err(abs, e))?;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(target.as_ref())))
}

/// Canonical path of `path` in the image as a root-relative tree path; `None` when missing.
/// Links are followed here, one component at a time, so that `ext4-view` only ever sees paths
/// without links in them and every link's size is checked before its target is read.
fn canonical(fs: &Ext4, path: &str) -> Result<Option<PathBuf>> {
    let mut pending: std::collections::VecDeque<std::ffi::OsString> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut resolved = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let abs = format!("/{}", candidate.display());
        let meta = match fs.symlink_metadata(abs.as_str()) {
            Ok(meta) => meta,
            Err(ext4_view::Ext4Error::NotFound | ext4_view::Ext4Error::NotADirectory) => {
                return Ok(None)
            }
            Err(e) => return Err(ext_err(&abs, e)),
        };
        if meta.is_symlink() {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                bail!("{path}: more than {MAX_LINK_HOPS} links (loop?)");
            }
            let target = read_link_checked(fs, &abs, &meta)?;
            if target.is_absolute() {
                resolved = PathBuf::new();
            }
            for component in target.components().rev() {
                match component {
                    Component::Normal(p) => pending.push_front(p.to_os_string()),
                    Component::ParentDir => pending.push_front("..".into()),
                    _ => {}
                }
            }
        } else {
            if !pending.is_empty() && !meta.is_dir() {
                return Ok(None);
            }
            resolved = candidate;
        }
    }
    let text = resolved
        .to_str()
        .ok_or_else(|| anyhow!("{path}: non-UTF-8 canonical path"))?;
    Ok(Some(PathBuf::from(text)))
}

fn load_kernel(fs: &Ext4, version: &str, work: &Path, limits: Limits) -> Result<Tree> {
    if version.contains('/') {
        bail!("invalid kernel version directory {version:?}");
    }
    let mut loader = ImageLoader {
        fs,
        tree: Tree::new(work),
        blob: BlobWriter::new(work)?,
        limits,
        bytes: 0,
        entries: 0,
        buf: vec![0u8; 1 << 16],
    };
    let modules_dir = PathBuf::from("lib/modules").join(version);
    let mut roots = Vec::new();
    for name in ["build", "source"] {
        let abs = format!("/{}/{name}", modules_dir.display());
        let Some(target) = canonical(fs, &abs)? else {
            if name == "build" {
                bail!("{abs} is missing");
            }
            continue;
        };
        if target.as_os_str().is_empty() || target.components().count() < 2 {
            bail!("{abs} leads to /{}, not to a kernel tree", target.display());
        }
        loader.load(&target)?;
        let at = modules_dir.join(name);
        if target != at {
            let link = relative_path(&modules_dir, &target);
            loader.insert(at, NodeKind::Symlink(link))?;
        }
        roots.push(target);
    }
    loader.close_links()?;
    let ImageLoader { mut tree, blob, .. } = loader;
    let id = tree.add_blob(blob.finish()?);
    debug_assert_eq!(id, 0);
    for root in &roots {
        relocate_makefile(&mut tree, &root.join("Makefile"))?;
    }
    Ok(tree)
}

struct ImageLoader<'a> {
    fs: &'a Ext4,
    tree: Tree,
    blob: BlobWriter,
    limits: Limits,
    bytes: u64,
    entries: u64,
    buf: Vec<u8>,
}

impl ImageLoader<'_> {
    fn insert(&mut self, path: PathBuf, kind: NodeKind) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            bail!("more than {} entries", self.limits.max_entries);
        }
        if path.as_os_str().len() > self.limits.max_path_bytes {
            bail!("path longer than {} bytes", self.limits.max_path_bytes);
        }
        self.tree.insert(path, Node { kind, origin: 0 })
    }

    /// Loads the object at canonical tree path `rel` (a directory recursively, a file, a link).
    fn load(&mut self, rel: &Path) -> Result<()> {
        if self.tree.get(rel).is_some() {
            return Ok(());
        }
        let abs = format!("/{}", rel.display());
        let meta = self
            .fs
            .symlink_metadata(abs.as_str())
            .map_err(|e| ext_err(&abs, e))?;
        self.load_entry(rel, &abs, &meta)
    }

    /// Loads `rel` (image path `abs`) whose metadata (not following links) is `meta`.
    fn load_entry(&mut self, rel: &Path, abs: &str, meta: &ext4_view::Metadata) -> Result<()> {
        let file_type = meta.file_type();
        if file_type.is_dir() {
            self.insert(rel.to_path_buf(), NodeKind::Dir)?;
            // Children's metadata comes from the directory entries: one path lookup per file.
            let mut children = Vec::new();
            for entry in self.fs.read_dir(abs).map_err(|e| ext_err(abs, e))? {
                let entry = entry.map_err(|e| ext_err(abs, e))?;
                let name = entry.file_name();
                let name = name
                    .as_str()
                    .map_err(|_| anyhow!("{abs}: entry with a non-UTF-8 name {}", name.display()))?
                    .to_string();
                if name == "." || name == ".." {
                    continue;
                }
                let child_meta = entry.metadata().map_err(|e| ext_err(abs, e))?;
                children.push((name, child_meta));
            }
            children.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, child_meta) in children {
                let child_rel = rel.join(&name);
                let child_abs = format!("{}/{name}", abs.trim_end_matches('/'));
                if self.tree.get(&child_rel).is_none() {
                    self.load_entry(&child_rel, &child_abs, &child_meta)?;
                }
            }
        } else if file_type.is_symlink() {
            let target = read_link_checked(self.fs, abs, meta)?;
            let target = target.as_path();
            let destination = lexical_link_destination(rel, target)
                .with_context(|| format!("symlink {abs} -> {}", target.display()))?;
            let stored = if target.is_absolute() {
                relative_path(rel.parent().unwrap_or(Path::new("")), &destination)
            } else {
                target.to_path_buf()
            };
            self.insert(rel.to_path_buf(), NodeKind::Symlink(stored))?;
        } else if file_type.is_regular_file() {
            let len = meta.len();
            if len > self.limits.max_total_bytes.saturating_sub(self.bytes) {
                bail!(
                    "the kernel trees are larger than {} bytes",
                    self.limits.max_total_bytes
                );
            }
            let mut file = self.fs.open(abs).map_err(|e| ext_err(abs, e))?;
            let offset = self.blob.len();
            let mut copied = 0u64;
            loop {
                let n = file
                    .read(&mut self.buf)
                    .with_context(|| format!("cannot read {abs}"))?;
                if n == 0 {
                    break;
                }
                copied += n as u64;
                if copied > len {
                    bail!("{abs} is longer than its inode says");
                }
                self.blob.write_all(&self.buf[..n])?;
            }
            self.bytes += copied;
            self.insert(
                rel.to_path_buf(),
                NodeKind::File {
                    blob: 0,
                    offset,
                    len: copied,
                    executable: meta.mode() & 0o111 != 0,
                },
            )?;
        } else {
            debug!(path = %abs, "special file skipped");
        }
        Ok(())
    }

    /// Pulls in the destinations of links that dangle in the tree but exist in the image, until
    /// nothing changes. Destinations must lie below [`CLOSURE_PREFIXES`], at least
    /// [`CLOSURE_MIN_DEPTH`] levels deep.
    fn close_links(&mut self) -> Result<()> {
        for _ in 0..MAX_CLOSURE_ROUNDS {
            let dangling: Vec<PathBuf> = self
                .tree
                .subtree(Path::new(""))
                .filter(|(_, n)| matches!(n.kind, NodeKind::Symlink(_)))
                .map(|(p, _)| p.clone())
                .filter(|p| matches!(self.tree.resolve(p), Ok(Resolved::Dangling)))
                .collect();
            let mut added = false;
            let mut wanted = BTreeSet::new();
            for link in dangling {
                let abs = format!("/{}", link.display());
                if let Some(destination) = canonical(self.fs, &abs)? {
                    if destination.components().count() >= CLOSURE_MIN_DEPTH
                        && CLOSURE_PREFIXES.iter().any(|p| destination.starts_with(p))
                        && destination
                            .components()
                            .all(|c| matches!(c, Component::Normal(_)))
                    {
                        wanted.insert(destination);
                    }
                }
            }
            for destination in wanted {
                // A parent already loaded as a link would make the insert fail: skip those.
                let parent_ok = destination.ancestors().skip(1).all(|a| {
                    !matches!(
                        self.tree.get(a).map(|n| &n.kind),
                        Some(NodeKind::Symlink(_)) | Some(NodeKind::File { .. })
                    )
                });
                if parent_ok && self.tree.get(&destination).is_none() {
                    self.load(&destination)?;
                    added = true;
                }
            }
            if !added {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Rewrites the absolute paths of a kernel build Makefile (`include /abs/Makefile`, the older
/// `MAKEARGS := -C /abs`) as paths relative to the Makefile's own directory, when they lead into the
/// tree. A missing Makefile is left alone.
pub fn relocate_makefile(tree: &mut Tree, makefile: &Path) -> Result<()> {
    let Some(Node {
        kind: NodeKind::File { executable, .. },
        origin,
    }) = tree.get(makefile).cloned()
    else {
        return Ok(());
    };
    let pattern = Regex::new(r"^(\s*-?include\s+|\s*MAKEARGS\s*:?=\s*-C\s+)(/\S+)(.*)$")
        .expect("valid regex");
    let text = String::from_utf8_lossy(&tree.read(makefile)?).into_owned();
    let from_dir = makefile.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if let Some(caps) = pattern.captures(body) {
            let target = PathBuf::from(caps[2].trim_start_matches('/'));
            if tree.resolve(&target)? == Resolved::Dangling {
                bail!(
                    "{} refers to {}, which is not in the image's kernel trees",
                    makefile.display(),
                    &caps[2]
                );
            }
            out.push_str(&caps[1]);
            out.push_str("$(dir $(realpath $(lastword $(MAKEFILE_LIST))))");
            out.push_str(&relative_path(&from_dir, &target).to_string_lossy());
            out.push_str(&caps[3]);
            out.push_str(&line[body.len()..]);
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    if changed {
        tree.write_file(makefile.to_path_buf(), out.as_bytes(), executable, origin)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with(bytes: &[(u64, &[u8])], size: u64) -> File {
        let file = tempfile::tempfile().unwrap();
        file.set_len(size).unwrap();
        for (offset, data) in bytes {
            file.write_all_at(data, *offset).unwrap();
        }
        file
    }

    fn mbr(entries: &[(u8, u32, u32)]) -> Vec<u8> {
        let mut sector = vec![0u8; 512];
        for (i, (kind, start, sectors)) in entries.iter().enumerate() {
            let e = 446 + 16 * i;
            sector[e + 4] = *kind;
            sector[e + 8..e + 12].copy_from_slice(&start.to_le_bytes());
            sector[e + 12..e + 16].copy_from_slice(&sectors.to_le_bytes());
        }
        sector[510] = 0x55;
        sector[511] = 0xaa;
        sector
    }

    #[test]
    fn mbr_primary_partitions() {
        let table = mbr(&[(0x83, 2048, 4096), (0x05, 8192, 100), (0x0c, 6144, 2048)]);
        let image = image_with(&[(0, &table)], 8192 * 512);
        let parts = partitions(&image, 8192 * 512).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].offset, 2048 * 512);
        assert_eq!(parts[0].len, 4096 * 512);
        assert_eq!(parts[1].number, 3);
    }

    #[test]
    fn partition_past_the_end_is_refused() {
        let table = mbr(&[(0x83, 2048, 1 << 30)]);
        let image = image_with(&[(0, &table)], 4096 * 512);
        let err = partitions(&image, 4096 * 512).unwrap_err();
        assert!(format!("{err:#}").contains("outside the image"), "{err:#}");
    }

    #[test]
    fn no_table_no_filesystem() {
        let image = image_with(&[(0, b"garbage")], 1 << 20);
        let err = partitions(&image, 1 << 20).unwrap_err();
        assert!(format!("{err:#}").contains("no partition table"), "{err:#}");
    }

    #[test]
    fn gpt_header_checksum_is_checked() {
        let mut header = vec![0u8; 512];
        header[0..8].copy_from_slice(b"EFI PART");
        header[12..16].copy_from_slice(&92u32.to_le_bytes());
        let table = mbr(&[(0xee, 1, 100)]);
        let image = image_with(&[(0, &table), (512, &header)], 1 << 20);
        let err = partitions(&image, 1 << 20).unwrap_err();
        assert!(format!("{err:#}").contains("checksum"), "{err:#}");
    }

    #[test]
    fn makefile_relocation() {
        let work = tempfile::tempdir().unwrap();
        let mut tree = Tree::new(work.path());
        tree.write_file("usr/src/common/Makefile".into(), b"all:\n", false, 0)
            .unwrap();
        tree.write_file(
            "usr/lib/modules/5.15/build/Makefile".into(),
            b"# generated\ninclude /usr/src/common/Makefile\nMAKEARGS := -C /usr/src/common\n",
            false,
            0,
        )
        .unwrap();
        relocate_makefile(&mut tree, Path::new("usr/lib/modules/5.15/build/Makefile")).unwrap();
        let text = String::from_utf8(
            tree.read(Path::new("usr/lib/modules/5.15/build/Makefile"))
                .unwrap(),
        )
        .unwrap();
        assert!(text.contains(
            "include $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../../../../src/common/Makefile\n"
        ), "{text}");
        assert!(
            text.contains(
                "-C $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../../../../src/common\n"
            ),
            "{text}"
        );
        tree.write_file(
            "m/Makefile".into(),
            b"include /nowhere/Makefile\n",
            false,
            0,
        )
        .unwrap();
        assert!(relocate_makefile(&mut tree, Path::new("m/Makefile")).is_err());
    }

    #[test]
    fn decompression_is_bounded() {
        let work = tempfile::tempdir().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&vec![0u8; 4 << 20]).unwrap();
        let path = work.path().join("x_developer_container.bin.bz2");
        std::fs::write(&path, bz.finish().unwrap()).unwrap();
        let err = decompress_image(&path, work.path(), 1 << 20).unwrap_err();
        assert!(format!("{err:#}").contains("decompression bomb"), "{err:#}");
        let file = decompress_image(&path, work.path(), 8 << 20).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 4 << 20);
    }
}
