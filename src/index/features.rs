//! Feature rules over kernel release strings, loaded from `features.yml` (data, not code).

use std::sync::OnceLock;

use serde::Deserialize;

/// Features of one bundle, as recorded in its index entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Features {
    /// `CONFIG_DEBUG_INFO_BTF=y` in the kernel's `.config`.
    pub btf: bool,
    /// The kernel supports the BPF ring buffer.
    pub bpf_ringbuf: bool,
}

#[derive(Debug, Deserialize)]
struct Rules {
    bpf_ringbuf: VersionRule,
}

#[derive(Debug, Deserialize)]
struct VersionRule {
    min_version: String,
    #[serde(default)]
    backports: Vec<Backport>,
}

#[derive(Debug, Deserialize)]
struct Backport {
    pattern: String,
    min_version: String,
}

struct Compiled {
    min: (u32, u32),
    backports: Vec<(regex::Regex, (u32, u32))>,
}

fn rules() -> &'static Compiled {
    static RULES: OnceLock<Compiled> = OnceLock::new();
    RULES.get_or_init(|| {
        let rules: Rules = serde_norway::from_str(include_str!("features.yml"))
            .expect("src/index/features.yml is valid");
        let v =
            |s: &str| parse_version(s).unwrap_or_else(|| panic!("features.yml: bad version {s:?}"));
        Compiled {
            min: v(&rules.bpf_ringbuf.min_version),
            backports: rules
                .bpf_ringbuf
                .backports
                .iter()
                .map(|b| {
                    let re = regex::Regex::new(&b.pattern).unwrap_or_else(|e| {
                        panic!("features.yml: bad pattern {:?}: {e}", b.pattern)
                    });
                    (re, v(&b.min_version))
                })
                .collect(),
        }
    })
}

/// `(major, minor)` from the start of a release string (`5.14.0-70.el9.x86_64` → `(5, 14)`).
pub fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    // The separator after the major must be a dot.
    if release.as_bytes().get(major_len(release)) != Some(&b'.') {
        return None;
    }
    Some((major, minor))
}

fn major_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Whether a kernel with this release supports the BPF ring buffer (see `features.yml`).
pub fn has_bpf_ringbuf(release: &str) -> bool {
    let r = rules();
    let Some(v) = parse_version(release) else {
        return false;
    };
    v >= r.min
        || r.backports
            .iter()
            .any(|(re, min)| re.is_match(release) && v >= *min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("5.14.0-70.el9.x86_64"), Some((5, 14)));
        assert_eq!(parse_version("6.1.0-21-amd64"), Some((6, 1)));
        assert_eq!(parse_version("4.4"), Some((4, 4)));
        assert_eq!(parse_version("linux"), None);
        assert_eq!(parse_version("5"), None);
        assert_eq!(parse_version("5-1"), None);
    }

    #[test]
    fn ringbuf_from_5_8_or_el8_el9_from_4_18() {
        assert!(has_bpf_ringbuf("5.8.0-1036-gcp"));
        assert!(has_bpf_ringbuf("6.1.0-21-amd64"));
        assert!(has_bpf_ringbuf("10.0.0"));
        assert!(!has_bpf_ringbuf("5.4.0-1100-aws"));
        assert!(!has_bpf_ringbuf("4.19.0-20-cloud-amd64"));
        assert!(has_bpf_ringbuf("4.18.0-305.el8.x86_64"));
        assert!(has_bpf_ringbuf("4.18.0-372.9.1.el8_6.x86_64"));
        assert!(has_bpf_ringbuf("5.14.0-70.13.1.el9_0.x86_64"));
        assert!(!has_bpf_ringbuf("3.10.0-1160.80.1.el7.x86_64"));
        assert!(!has_bpf_ringbuf("4.14.0-115.el7a.x86_64"));
        // An el8 release below 4.18 does not qualify.
        assert!(!has_bpf_ringbuf("4.4.0-1.el8.x86_64"));
        // UEK is not the RHEL kernel.
        assert!(!has_bpf_ringbuf("5.4.17-2136.el8uek.x86_64"));
        assert!(!has_bpf_ringbuf("garbage"));
    }
}
