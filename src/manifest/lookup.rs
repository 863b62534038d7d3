//! Finding manifest ids by kernel release (`uname -r`).
//!
//! Heuristics, applied to the simplified package names of each entry (an entry matches when
//! any of its packages does):
//! - Debian, Ubuntu, Garden Linux: `linux-headers-<uname>_` (the arch/flavour header
//!   package, e.g. `linux-headers-5.4.0-1103-gke_…`, `linux-headers-6.1.0-21-cloud-amd64_…`).
//! - Red Hat family, Fedora, Amazon, Oracle UEK: `-devel-<uname>.rpm`
//!   (`kernel-devel-4.18.0-372.46.1.el8_6.x86_64.rpm`, `kernel-uek-devel-<uname>.rpm`).
//! - SUSE: uname `<version>-<flavour>` (`5.14.21-150400.24.100-default`) matches
//!   `kernel-<flavour>-devel-<version>.` (the package release may carry one more number).
//! - Photon OS: uname `<version>[-<flavour>]` (`6.1.158-12.ph5`, `6.1.158-12.ph5-esx`)
//!   matches `linux[-<flavour>]-devel-<version>.` (the file name adds the architecture).
//! - minikube: a config package ending in `-kernel-<uname>` (`?kernel=` in the URL).
//!
//! Not matched: COS (build ids, not releases), CoreOS/Flatcar developer containers,
//! linuxkit tarballs and URLs that hide the file name (Red Hat API download links). Several
//! ids can match one uname (e.g. the same kernel in several minikube releases or pools).

use super::Manifest;
use crate::names::simplify;

impl Manifest {
    /// Ids whose package set is for kernel release `uname`, sorted (see the module docs for
    /// the heuristics). Empty when nothing matches or `uname` is empty.
    pub fn find_by_kernel(&self, uname: &str) -> Vec<&String> {
        let uname = simplify(uname.trim());
        if uname.is_empty() {
            return Vec::new();
        }
        let patterns = Patterns::new(&uname);
        self.entries
            .iter()
            .filter(|(_, e)| e.packages.iter().any(|p| patterns.matches(p)))
            .map(|(id, _)| id)
            .collect()
    }

    /// [`Manifest::find_by_kernel`] among the sets of architecture `arch` (`amd64`, `arm64`):
    /// Ubuntu's `-generic` unames, for one, are the same on both.
    pub fn find_by_kernel_arch(&self, uname: &str, arch: &str) -> Vec<&String> {
        self.find_by_kernel(uname)
            .into_iter()
            .filter(|id| self.entries[*id].arch() == arch)
            .collect()
    }
}

struct Patterns {
    contains: Vec<String>,
    suffix: String,
}

impl Patterns {
    fn new(uname: &str) -> Patterns {
        let mut contains = vec![
            format!("linux-headers-{uname}_"),
            format!("-devel-{uname}.rpm"),
        ];
        contains.push(format!("linux-devel-{uname}."));
        if let Some((version, flavour)) = uname.rsplit_once('-') {
            if !flavour.is_empty() && flavour.chars().all(|c| c.is_ascii_alphabetic()) {
                contains.push(format!("kernel-{flavour}-devel-{version}."));
                contains.push(format!("linux-{flavour}-devel-{version}."));
            }
        }
        Patterns {
            contains,
            suffix: format!("-kernel-{uname}"),
        }
    }

    fn matches(&self, package: &str) -> bool {
        package.ends_with(&self.suffix)
            || self.contains.iter().any(|p| package.contains(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::{Entry, Manifest};
    use crate::names::{manifest_id, simplify};

    #[test]
    fn same_uname_on_two_architectures() {
        let m = Manifest::parse(
            "a1:\n  type: ubuntu\n  packages:\n  - http---p-linux-headers-5.15.0-115-generic_5.15.0-115.125_amd64.deb\n\
b2:\n  type: ubuntu\n  arch: arm64\n  packages:\n  - http---q-linux-headers-5.15.0-115-generic_5.15.0-115.125_arm64.deb\n"
                .as_bytes(),
            "m",
        )
        .unwrap();
        assert_eq!(m.find_by_kernel("5.15.0-115-generic").len(), 2);
        assert_eq!(m.find_by_kernel_arch("5.15.0-115-generic", "amd64"), ["a1"]);
        assert_eq!(m.find_by_kernel_arch("5.15.0-115-generic", "arm64"), ["b2"]);
    }

    fn manifest(sets: &[(&str, &[&str])]) -> Manifest {
        let mut m = Manifest::default();
        for (kind, urls) in sets {
            let packages: Vec<String> = urls.iter().map(|u| simplify(u)).collect();
            m.entries.insert(
                manifest_id(&packages),
                Entry {
                    kind: kind.to_string(),
                    packages,
                    arch: None,
                },
            );
        }
        m
    }

    #[test]
    fn finds_each_family() {
        let m = manifest(&[
            (
                "ubuntu",
                &[
                    "http://s/l/linux-gke/linux-headers-5.4.0-1103-gke_5.4.0-1103.110_amd64.deb",
                    "http://s/l/linux-gke/linux-gke-headers-5.4.0-1103_5.4.0-1103.110_all.deb",
                ],
            ),
            (
                "debian",
                &[
                    "http://d/linux-kbuild-6.1_6.1.90-1_amd64.deb",
                    "http://d/linux-headers-6.1.0-21-cloud-amd64_6.1.90-1_amd64.deb",
                    "http://d/linux-headers-6.1.0-21-common_6.1.90-1_all.deb",
                ],
            ),
            (
                "redhat",
                &["https://c/kernel-devel-4.18.0-372.46.1.el8_6.x86_64.rpm"],
            ),
            (
                "oracle",
                &["http://y/getPackage/kernel-uek-devel-5.4.17-2136.300.7.el8uek.x86_64.rpm"],
            ),
            (
                "suse",
                &[
                    "https://u/noarch/kernel-devel-5.14.21-150400.24.100.1.noarch.rpm",
                    "https://u/x86_64/kernel-default-devel-5.14.21-150400.24.100.1.x86_64.rpm",
                ],
            ),
            (
                "photon",
                &["https://p/x86_64/linux-devel-6.1.158-12.ph5.x86_64.rpm"],
            ),
            (
                "photon",
                &["https://p/x86_64/linux-esx-devel-6.1.158-12.ph5.x86_64.rpm"],
            ),
            (
                "minikube",
                &[
                    "https://r/v1.26.0/linux_x86_64_defconfig?kernel=5.10.57",
                    "https://cdn.kernel.org/pub/linux/kernel/v5.x/linux-5.10.57.tar.xz",
                ],
            ),
            (
                "minikube",
                &[
                    "https://r/v1.27.0/linux_x86_64_defconfig?kernel=5.10.57",
                    "https://cdn.kernel.org/pub/linux/kernel/v5.x/linux-5.10.57.tar.xz",
                ],
            ),
        ]);
        let kind_of = |uname: &str| -> Vec<String> {
            m.find_by_kernel(uname)
                .into_iter()
                .map(|id| m.entries[id].kind.clone())
                .collect()
        };
        assert_eq!(kind_of("5.4.0-1103-gke"), ["ubuntu"]);
        assert_eq!(kind_of("6.1.0-21-cloud-amd64"), ["debian"]);
        assert_eq!(kind_of("4.18.0-372.46.1.el8_6.x86_64"), ["redhat"]);
        assert_eq!(kind_of("5.4.17-2136.300.7.el8uek.x86_64"), ["oracle"]);
        assert_eq!(kind_of("5.14.21-150400.24.100-default"), ["suse"]);
        assert_eq!(kind_of("5.10.57"), ["minikube", "minikube"]);
        assert_eq!(kind_of("6.1.158-12.ph5"), ["photon"]);
        assert_eq!(kind_of("6.1.158-12.ph5-esx"), ["photon"]);
        assert!(kind_of("6.1.158-12.ph").is_empty());
        // Prefixes and the common header do not match.
        assert!(kind_of("5.4.0-1103").is_empty());
        assert!(kind_of("6.1.0-21").is_empty());
        assert!(kind_of("5.10.5").is_empty());
        assert!(kind_of("").is_empty());
    }
}
