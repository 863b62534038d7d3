//! The grouping config (`reformat.yml`, the seed's format, read unchanged): a YAML list of
//! sources, each `{name, description, type, file, reformat}`; `file` is resolved relative
//! to the config file's directory. Our extension: an optional `options` map of rule
//! parameters ([`RuleOptions`]: `backports`, `preferred_host`, `tarball_url`) whose
//! defaults are the seed's behaviour. Other unknown keys are ignored so the format can grow.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use super::rules::RuleOptions;

/// One list file and how to group it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Source {
    /// Unique source name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Packer type written to the manifest (`ubuntu`, `debian`, `redhat`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// List file, relative to the config's directory.
    pub file: String,
    /// Grouping rule name (see [`crate::manifest::rules::Rule`]); checked when grouping so an
    /// unknown name fails only its own source.
    pub reformat: String,
    /// Optional rule parameters (our extension; absent in the seed's config).
    #[serde(default)]
    pub options: RuleOptions,
    /// Binary architecture of the list's kernels (our extension; absent: `amd64`). Written
    /// to the manifest for other architectures; a package built for another architecture is
    /// rejected from the list.
    #[serde(default)]
    pub arch: Option<String>,
}

impl Source {
    /// The list's architecture (`amd64` unless the entry says otherwise).
    pub fn arch(&self) -> &str {
        crate::crawl::arch::or_default(self.arch.as_deref())
    }
}

/// A parsed config with the directory its list files are resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Directory of the config file.
    pub dir: PathBuf,
    /// Sources in config order.
    pub sources: Vec<Source>,
}

impl Config {
    /// Parses config YAML from `reader`; `path` names the file in errors and gives the
    /// directory list files are resolved against. Empty or duplicate names are errors.
    pub fn parse(reader: impl Read, path: &Path) -> anyhow::Result<Config> {
        let sources: Vec<Source> = serde_norway::from_reader(reader).with_context(|| {
            format!(
                "{}: not a list of {{name, type, file, reformat}} entries",
                path.display()
            )
        })?;
        for (i, s) in sources.iter().enumerate() {
            for (field, value) in [
                ("name", &s.name),
                ("type", &s.kind),
                ("file", &s.file),
                ("reformat", &s.reformat),
            ] {
                if value.trim().is_empty() {
                    bail!(
                        "{}: entry {} ({:?}) has an empty `{field}`",
                        path.display(),
                        i + 1,
                        s.name
                    );
                }
            }
            if sources[..i].iter().any(|o| o.name == s.name) {
                bail!("{}: source name {:?} appears twice", path.display(), s.name);
            }
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Config { dir, sources })
    }

    /// Reads and parses the config file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open config", path.display()))?;
        Config::parse(std::io::BufReader::new(file), path)
    }

    /// Path of a source's list file.
    pub fn list_path(&self, source: &Source) -> PathBuf {
        self.dir.join(&source.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_format_and_resolves_relative_to_config() {
        let yaml = "- name: kops\n  description: Kops kernels\n  type: debian\n  file: kops.txt\n  reformat: one-to-each\n  future_key: 1\n";
        let cfg = Config::parse(yaml.as_bytes(), Path::new("/x/lists/reformat.yml")).unwrap();
        assert_eq!(cfg.sources.len(), 1);
        assert_eq!(cfg.sources[0].kind, "debian");
        assert_eq!(
            cfg.list_path(&cfg.sources[0]),
            Path::new("/x/lists/kops.txt")
        );
    }

    #[test]
    fn reads_rule_options() {
        let yaml = "- name: u\n  type: ubuntu\n  file: u.txt\n  reformat: pairs\n  options:\n    backports: ['~22.04']\n";
        let cfg = Config::parse(yaml.as_bytes(), Path::new("c.yml")).unwrap();
        assert_eq!(
            cfg.sources[0].options.backports,
            Some(vec!["~22.04".to_string()])
        );
        let typo = "- {name: u, type: t, file: f, reformat: pairs, options: {backport: []}}\n";
        let err = format!(
            "{:#}",
            Config::parse(typo.as_bytes(), Path::new("c.yml")).unwrap_err()
        );
        assert!(err.contains("c.yml") && err.contains("backport"), "{err}");
    }

    #[test]
    fn rejects_bad_configs_naming_the_file() {
        let dup = "- {name: a, type: t, file: f, reformat: single}\n- {name: a, type: t, file: g, reformat: single}\n";
        let err = Config::parse(dup.as_bytes(), Path::new("c.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.yml") && err.contains("twice"), "{err}");
        let missing = "- {name: a, type: t, file: f}\n";
        let err = format!(
            "{:#}",
            Config::parse(missing.as_bytes(), Path::new("c.yml")).unwrap_err()
        );
        assert!(err.contains("c.yml") && err.contains("reformat"), "{err}");
        let empty = "- {name: a, type: '', file: f, reformat: single}\n";
        assert!(Config::parse(empty.as_bytes(), Path::new("c.yml")).is_err());
    }
}
