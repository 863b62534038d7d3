//! Safe extraction of archive entries into a fresh directory.
//!
//! Contract: nothing is ever created outside `root`. Refused, with an error naming the entry:
//! absolute paths and `..` components, entries whose path goes through a symlink, symlinks whose
//! relative target climbs out of the root, hard links to anything but an earlier regular file of the
//! same archive, device nodes/fifos/sockets, and archives that unpack past [`Limits`].
//! Absolute symlink targets (`/usr/src/...`, common in packages) are re-rooted: rewritten as a relative
//! link to the same path inside `root`.
//! Modes are normalised: directories 0755, files 0755 when any execute bit is set, else 0644.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, OpenOptionsExt};
// `create_new` (O_CREAT|O_EXCL) never follows a symlink at the final component.
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{Entry, EntryKind, EntrySink};

/// Upper bounds on what one archive may unpack to (decompression bombs, entry floods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of file content.
    pub max_total_bytes: u64,
    /// Number of entries.
    pub max_entries: u64,
    /// Length of one entry path in bytes.
    pub max_path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 4 << 30,
            max_entries: 1_000_000,
            max_path_bytes: 4096,
        }
    }
}

/// Writes entries under `root`, enforcing the module's safety contract.
pub struct SafeExtractor {
    root: PathBuf,
    limits: Limits,
    symlinks: HashSet<PathBuf>,
    total_bytes: u64,
    entries: u64,
}

/// Statistics of one extraction.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractStats {
    pub entries: u64,
    pub bytes: u64,
}

impl SafeExtractor {
    /// `root` must exist and be empty (or hold only this extractor's output).
    pub fn new(root: &Path, limits: Limits) -> Self {
        SafeExtractor {
            root: root.to_path_buf(),
            limits,
            symlinks: HashSet::new(),
            total_bytes: 0,
            entries: 0,
        }
    }

    pub fn stats(&self) -> ExtractStats {
        ExtractStats {
            entries: self.entries,
            bytes: self.total_bytes,
        }
    }

    fn ensure_no_symlink_ancestor(&self, rel: &Path) -> Result<()> {
        let mut prefix = PathBuf::new();
        let mut components = rel.components().peekable();
        while let Some(component) = components.next() {
            if components.peek().is_none() {
                break;
            }
            prefix.push(component);
            if self.symlinks.contains(&prefix) {
                bail!("path goes through symlink {}", prefix.display());
            }
        }
        Ok(())
    }

    fn make_parent(&self, rel: &Path) -> Result<()> {
        if let Some(parent) = rel.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(self.root.join(parent))
                    .with_context(|| format!("cannot create directory {}", parent.display()))?;
            }
        }
        Ok(())
    }

    /// Removes what sits at `rel` unless it is a directory; a directory there is a conflict.
    fn clear_slot(&mut self, rel: &Path) -> Result<()> {
        let full = self.root.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => bail!("entry would replace directory {}", rel.display()),
            Ok(_) => {
                fs::remove_file(&full)?;
                self.symlinks.remove(rel);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn write_file(
        &mut self,
        rel: &Path,
        mode: u32,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<()> {
        let remaining = self.limits.max_total_bytes.saturating_sub(self.total_bytes);
        if size > remaining {
            bail!(
                "unpacks past the size limit of {} bytes (decompression bomb?)",
                self.limits.max_total_bytes
            );
        }
        self.clear_slot(rel)?;
        let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(perm)
            .open(self.root.join(rel))
            .with_context(|| format!("cannot create {}", rel.display()))?;
        let copied = copy_bounded(content, &mut file, size.min(remaining))?;
        self.total_bytes += copied;
        Ok(())
    }
}

fn copy_bounded(reader: &mut dyn Read, writer: &mut File, limit: u64) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut copied = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("corrupt or truncated archive")),
        };
        if n == 0 {
            return Ok(copied);
        }
        copied += n as u64;
        if copied > limit {
            bail!("entry is larger than declared or than the size limit (decompression bomb?)");
        }
        writer.write_all(&buf[..n])?;
    }
}

/// Turns a raw archive path into a clean relative path. `Ok(None)` for the archive root (`./`).
pub fn normalize_entry_path(raw: &[u8]) -> Result<Option<PathBuf>> {
    if raw.contains(&0) {
        bail!("path contains a NUL byte");
    }
    let path = Path::new(OsStr::from_bytes(raw));
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::Prefix(_) => bail!("absolute path"),
            Component::ParentDir => bail!("path contains '..'"),
        }
    }
    if clean.as_os_str().is_empty() {
        Ok(None)
    } else {
        Ok(Some(clean))
    }
}

/// Lexically resolves `target` (a symlink's target) against the link at `link_rel`, both inside the
/// root. Absolute targets are taken relative to the root. Returns the target's root-relative path,
/// or an error when it climbs above the root.
pub fn lexical_link_destination(link_rel: &Path, target: &Path) -> Result<PathBuf> {
    let mut stack: Vec<&OsStr> = Vec::new();
    if !target.is_absolute() {
        if let Some(parent) = link_rel.parent() {
            stack.extend(parent.components().map(|c| c.as_os_str()));
        }
    }
    for component in target.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(part) => stack.push(part),
            Component::ParentDir => {
                if stack.pop().is_none() {
                    bail!("points outside the package tree");
                }
            }
        }
    }
    Ok(stack.iter().collect())
}

/// The relative path that leads from directory `from_dir` to `to` (both root-relative).
pub fn relative_path(from_dir: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from_dir.components().collect();
    let dest: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(dest.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &dest[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

impl EntrySink for SafeExtractor {
    fn entry(&mut self, entry: &Entry, content: &mut dyn Read) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            bail!(
                "more than {} entries (entry flood?)",
                self.limits.max_entries
            );
        }
        if entry.path.len() > self.limits.max_path_bytes {
            bail!("path longer than {} bytes", self.limits.max_path_bytes);
        }
        let rel = match normalize_entry_path(&entry.path)? {
            Some(rel) => rel,
            None => return Ok(()),
        };
        self.ensure_no_symlink_ancestor(&rel)?;
        match &entry.kind {
            EntryKind::Dir => {
                if self.symlinks.contains(&rel) {
                    bail!("directory would replace symlink {}", rel.display());
                }
                let full = self.root.join(&rel);
                match fs::symlink_metadata(&full) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => bail!("directory would replace file {}", rel.display()),
                    Err(_) => fs::create_dir_all(&full)
                        .with_context(|| format!("cannot create directory {}", rel.display()))?,
                }
            }
            EntryKind::File => {
                self.make_parent(&rel)?;
                self.write_file(&rel, entry.mode, entry.size, content)?;
            }
            EntryKind::Symlink(target) => {
                if target.is_empty() || target.contains(&0) {
                    bail!("symlink with an empty or invalid target");
                }
                let target_path = Path::new(OsStr::from_bytes(target));
                let destination =
                    lexical_link_destination(&rel, target_path).with_context(|| {
                        format!("symlink {} -> {}", rel.display(), target_path.display())
                    })?;
                let stored = if target_path.is_absolute() {
                    relative_path(rel.parent().unwrap_or(Path::new("")), &destination)
                } else {
                    target_path.to_path_buf()
                };
                self.make_parent(&rel)?;
                self.clear_slot(&rel)?;
                symlink(&stored, self.root.join(&rel))
                    .with_context(|| format!("cannot create symlink {}", rel.display()))?;
                self.symlinks.insert(rel);
            }
            EntryKind::Hardlink(target) => {
                let target_rel = match normalize_entry_path(target).with_context(|| {
                    format!("hard link target {}", String::from_utf8_lossy(target))
                })? {
                    Some(t) => t,
                    None => bail!("hard link to the archive root"),
                };
                self.ensure_no_symlink_ancestor(&target_rel)
                    .with_context(|| format!("hard link target {}", target_rel.display()))?;
                let source = self.root.join(&target_rel);
                let meta = fs::symlink_metadata(&source).map_err(|_| {
                    anyhow::anyhow!(
                        "hard link to {}, which is not an earlier file of this archive",
                        target_rel.display()
                    )
                })?;
                if !meta.file_type().is_file() {
                    bail!(
                        "hard link to {}, which is not a regular file",
                        target_rel.display()
                    );
                }
                let size = meta.len();
                self.make_parent(&rel)?;
                let mut reader = File::open(&source)?;
                let mode = if meta_is_exec(&meta) { 0o755 } else { 0o644 };
                self.write_file(&rel, mode, size, &mut reader)?;
            }
            EntryKind::Special(what) => bail!("{what} entries are not allowed"),
        }
        Ok(())
    }
}

fn meta_is_exec(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_dot_prefix_and_rejects_escapes() {
        assert_eq!(
            normalize_entry_path(b"./usr/src/x").unwrap(),
            Some(PathBuf::from("usr/src/x"))
        );
        assert_eq!(normalize_entry_path(b"./").unwrap(), None);
        assert!(normalize_entry_path(b"/etc/passwd").is_err());
        assert!(normalize_entry_path(b"usr/../../etc").is_err());
    }

    #[test]
    fn lexical_destination_rerooted_and_bounded() {
        let link = Path::new("lib/modules/6.1/build");
        assert_eq!(
            lexical_link_destination(link, Path::new("/usr/src/linux-headers-6.1")).unwrap(),
            PathBuf::from("usr/src/linux-headers-6.1")
        );
        assert_eq!(
            lexical_link_destination(link, Path::new("../../../usr/src/x")).unwrap(),
            PathBuf::from("usr/src/x")
        );
        assert!(lexical_link_destination(link, Path::new("../../../../etc")).is_err());
    }

    #[test]
    fn relative_path_between_dirs() {
        assert_eq!(
            relative_path(
                Path::new("lib/modules/6.1"),
                Path::new("usr/src/linux-headers-6.1")
            ),
            PathBuf::from("../../../usr/src/linux-headers-6.1")
        );
        assert_eq!(
            relative_path(Path::new("a/b"), Path::new("a/b/c")),
            PathBuf::from("c")
        );
    }
}
