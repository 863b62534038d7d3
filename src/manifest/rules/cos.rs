//! `cos` (Container-Optimized OS): URLs are grouped by directory (the build id);
//! each directory's set is `[kernel-src.tar.gz, kernel-headers.t*gz?]`.

use std::collections::BTreeMap;

use super::{GroupError, Set};
use crate::manifest::urls;

const SOURCE: &str = "kernel-src.tar.gz";
const HEADERS: [&str; 2] = ["kernel-headers.tgz", "kernel-headers.tar.gz"];

#[derive(Default)]
struct Build {
    source: Option<String>,
    headers: Option<String>,
}

/// Groups one host's COS URLs by build directory.
pub fn group(urls: &[String]) -> Result<Vec<Set>, GroupError> {
    let mut builds: BTreeMap<&str, Build> = BTreeMap::new();
    for url in urls {
        let name = urls::file_name(url);
        let build = builds.entry(urls::directory(url)).or_default();
        let slot = if name == SOURCE {
            &mut build.source
        } else if HEADERS.contains(&name) {
            &mut build.headers
        } else {
            return Err(GroupError::at(
                url,
                format!("not a COS {SOURCE} or kernel-headers.t*gz file"),
            ));
        };
        if let Some(other) = slot {
            if other != url {
                return Err(GroupError::at(
                    url,
                    format!("second {name} in its build directory: also {other}"),
                ));
            }
        }
        *slot = Some(url.clone());
    }
    builds
        .into_values()
        .map(|b| match b.source {
            Some(src) => Ok(std::iter::once(src).chain(b.headers).collect()),
            None => {
                let headers = b.headers.expect("a build entry always has one file");
                Err(GroupError::at(
                    &headers,
                    format!("COS build has headers but no {SOURCE}"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::strings;
    use super::*;

    #[test]
    fn source_first_headers_optional() {
        let urls = strings(&[
            "https://s/cos-tools/12739.68.0/kernel-headers.tgz",
            "https://s/cos-tools/12739.68.0/kernel-src.tar.gz",
            "https://s/cos-tools/11800.0.0/kernel-src.tar.gz",
        ]);
        let got = group(&urls).unwrap();
        assert_eq!(
            got,
            vec![
                vec![urls[2].clone()],
                vec![urls[1].clone(), urls[0].clone()]
            ]
        );
    }

    #[test]
    fn headers_without_source_and_foreign_files_are_errors() {
        let err = group(&strings(&["https://s/cos-tools/1.0.0/kernel-headers.tgz"])).unwrap_err();
        assert!(err.reason.contains("no kernel-src.tar.gz"), "{err}");
        let err = group(&strings(&["https://s/cos-tools/1.0.0/vmlinux"])).unwrap_err();
        assert!(err.reason.contains("not a COS"), "{err}");
    }
}
