//! Read-only questions about an unpacked tree: physical link resolution confined to the root,
//! and path-pattern matching.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Result};

/// How many symlinks one resolution may follow before it is called a loop.
const MAX_LINK_HOPS: usize = 40;

/// Where a path leads inside `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The root-relative path of the final (non-link) object.
    Inside(PathBuf),
    /// Some component does not exist: a dangling link.
    Dangling,
}

/// Resolves `rel` (root-relative) physically, following every symlink, never leaving `root`.
/// Errors when a link climbs above the root, is absolute, or loops.
pub fn resolve_in_root(root: &Path, rel: &Path) -> Result<Resolved> {
    let mut pending: VecDeque<OsString> = VecDeque::new();
    for component in rel.components() {
        push_component(&mut pending, component, false)?;
    }
    let mut current: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == "." {
            continue;
        }
        if part == ".." {
            if current.pop().is_none() {
                bail!("{} leads outside the tree", rel.display());
            }
            continue;
        }
        current.push(part);
        let full: PathBuf = root.join(current.iter().collect::<PathBuf>());
        let meta = match fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Resolved::Dangling)
            }
            Err(e) => return Err(e.into()),
        };
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                bail!("{} has a symlink loop", rel.display());
            }
            let target = fs::read_link(&full)?;
            if target.is_absolute() {
                bail!("{} goes through an absolute symlink", rel.display());
            }
            current.pop();
            let mut prefix: Vec<OsString> = Vec::new();
            for component in target.components() {
                push_component_vec(&mut prefix, component)?;
            }
            for part in prefix.into_iter().rev() {
                pending.push_front(part);
            }
        } else if !meta.is_dir() && !pending.is_empty() {
            return Ok(Resolved::Dangling);
        }
    }
    Ok(Resolved::Inside(current.iter().collect()))
}

fn push_component(queue: &mut VecDeque<OsString>, component: Component<'_>, _: bool) -> Result<()> {
    match component {
        Component::Normal(part) => queue.push_back(part.to_os_string()),
        Component::CurDir => {}
        Component::ParentDir => queue.push_back("..".into()),
        Component::RootDir | Component::Prefix(_) => bail!("absolute path"),
    }
    Ok(())
}

fn push_component_vec(out: &mut Vec<OsString>, component: Component<'_>) -> Result<()> {
    match component {
        Component::Normal(part) => out.push(part.to_os_string()),
        Component::CurDir => {}
        Component::ParentDir => out.push("..".into()),
        Component::RootDir | Component::Prefix(_) => bail!("absolute path"),
    }
    Ok(())
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first)
        || !name[first.len()..].ends_with(last)
        || name.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Real directories (not symlinks) under `root` whose root-relative path matches `pattern`
/// component by component (`usr/src/linux-headers-*`), sorted.
pub fn find_dirs(root: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let mut frontier = vec![PathBuf::new()];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &frontier {
            let entries = match fs::read_dir(root.join(dir)) {
                Ok(entries) => entries,
                Err(_) => continue,
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if wildcard_match(component, name) && entry.file_type()?.is_dir() {
                    next.push(dir.join(name));
                }
            }
        }
        frontier = next;
    }
    frontier.sort();
    Ok(frontier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "linux-headers-*",
            "linux-headers-6.1.0-5-amd64"
        ));
        assert!(wildcard_match("linux-*-obj", "linux-5.14-obj"));
        assert!(!wildcard_match("linux-*-obj", "linux-5.14"));
        assert!(wildcard_match("*", "x"));
    }

    #[test]
    fn resolution_follows_links_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), "x").unwrap();
        symlink("a/b", root.join("l")).unwrap();
        symlink("l/f", root.join("lf")).unwrap();
        symlink("missing", root.join("d")).unwrap();
        symlink(".", root.join("dot")).unwrap();
        symlink("dot/..", root.join("esc")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("lf")).unwrap(),
            Resolved::Inside("a/b/f".into())
        );
        assert_eq!(
            resolve_in_root(root, Path::new("d")).unwrap(),
            Resolved::Dangling
        );
        assert!(resolve_in_root(root, Path::new("esc")).is_err());
        assert!(resolve_in_root(root, Path::new("loop")).is_err());
    }
}
