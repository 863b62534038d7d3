//! Packing: turns one kernel's packages into `bundle-<name>.tgz`.
//!
//! Flow: read every package (in parallel, through the safe extractor) into an in-memory tree whose
//! file contents spill to one file per package in a private work dir ([`crate::vfs`]) → merge the trees → prepare the kernel tree as the packer spec says ([`layout::prepare`]) →
//! plan names ([`layout::plan`]) → build the bundle view ([`view::build_view`]) → make its kbuild
//! files relocatable ([`relocate::relocate_view`]) → work out the build facts ([`facts`]) → write
//! the tarball to a temporary file next to the destination → rename. A failure at any step leaves
//! no bundle.
//! Packer behaviour is data: see `packers.yml` and [`spec`].

pub mod arch;
pub mod banner;
pub mod bundle;
pub mod facts;
pub mod image;
pub mod isolated;
pub mod layout;
pub mod materialize;
pub mod relocate;
pub mod source;
pub mod spec;
pub mod view;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use tracing::{debug, info};

use crate::archive::extract::{Limits, SafeExtractor};
use crate::archive::{read_package_with, PackageInfo};
use crate::limits::Budget;
use crate::names;
use crate::vfs::Tree;

/// Which packer to use: the `type` of a manifest entry (`kops` parses as `Debian`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackerKind {
    Debian,
    Garden,
    Ubuntu,
    Redhat,
    Oracle,
    Suse,
    /// VMware Photon OS `linux-devel`: `usr/src/linux-headers-<uname>`.
    Photon,
    /// Source-based: `kernel-src.tar.gz` (+ `kernel-headers.tgz`), built with `make` ([`source`]).
    Cos,
    /// Source-based: a kernel.org tarball plus minikube's kernel config ([`source`]).
    Minikube,
    /// Source-based: a source tarball plus a config shipped in the project ([`source`]).
    Linuxkit,
    /// Source-based: a Docker Desktop kernel image layer (bzImage, header tree, source) ([`source`]).
    Dockerdesktop,
    /// Disk image: a CoreOS/Flatcar developer container ([`image`]).
    Coreos,
}

impl PackerKind {
    /// The packers of header packages, in the order fuzz inputs select them by their first byte
    /// (`fuzz/`, `tests/fuzz-regressions/pack/`).
    pub const HEADER_PACKERS: [PackerKind; 6] = [
        PackerKind::Debian,
        PackerKind::Ubuntu,
        PackerKind::Garden,
        PackerKind::Redhat,
        PackerKind::Oracle,
        PackerKind::Suse,
    ];

    /// The manifest type name, also the key in `packers.yml`.
    pub fn as_str(self) -> &'static str {
        match self {
            PackerKind::Debian => "debian",
            PackerKind::Garden => "garden",
            PackerKind::Ubuntu => "ubuntu",
            PackerKind::Redhat => "redhat",
            PackerKind::Oracle => "oracle",
            PackerKind::Suse => "suse",
            PackerKind::Photon => "photon",
            PackerKind::Cos => "cos",
            PackerKind::Minikube => "minikube",
            PackerKind::Linuxkit => "linuxkit",
            PackerKind::Dockerdesktop => "dockerdesktop",
            PackerKind::Coreos => "coreos",
        }
    }
}

/// Knobs for one pack run.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Overrides BUNDLE_CHECKSUM (default: manifest id of the packages' simplified file names).
    pub checksum: Option<String>,
    /// Directory under which a private, automatically removed work dir is made (default: the
    /// system temp dir).
    pub work_dir: Option<PathBuf>,
    /// The pack budget (default: [`Limits::from_env`]: the built-in bounds with the
    /// `KERNEL_PACKER_MAX_*` overrides).
    pub limits: Option<Limits>,
    /// Compression settings (default: level 6, all cores).
    pub gzip: Option<bundle::GzipSettings>,
}

/// What a successful pack produced.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PackedBundle {
    /// Final path of the bundle file (`<out_dir>/bundle-<name>.tgz`).
    pub path: PathBuf,
    /// `bundle-<name>.tgz`.
    pub file_name: String,
    /// BUNDLE_UNAME.
    pub uname: String,
    /// BUNDLE_DISTRO.
    pub distro: String,
    /// BUNDLE_ARCH (`amd64`, `arm64`).
    #[serde(default = "arch::default_name")]
    pub arch: String,
    /// BUNDLE_CHECKSUM.
    pub checksum: String,
    /// Size of the bundle file in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the bundle file.
    pub sha256: String,
    /// `CONFIG_DEBUG_INFO_BTF=y` in the kernel's `.config`.
    pub btf: bool,
    /// What a module build needs (BUNDLE_COMPILER, BUNDLE_COMPILER_VERSION,
    /// BUNDLE_HOST_REQUIREMENTS).
    pub facts: facts::BuildFacts,
}

/// The default BUNDLE_CHECKSUM: manifest id of the packages' simplified file names.
pub fn default_checksum(packages: &[PathBuf]) -> String {
    let simplified: Vec<String> = packages
        .iter()
        .map(|p| {
            names::simplify(
                &p.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
            )
        })
        .collect();
    names::manifest_id(&simplified)
}

/// Packs `packages` (local files, any order) with `kind` into `<out_dir>/bundle-<name>.tgz`,
/// atomically. Errors are one line and name the offending package or path.
pub fn pack_packages(
    kind: PackerKind,
    packages: &[PathBuf],
    out_dir: &Path,
    opts: &PackOptions,
) -> Result<PackedBundle> {
    let started = Instant::now();
    let spec = spec::spec_for(kind.as_str())?;
    if packages.is_empty() {
        bail!("no packages given");
    }
    let mut packages = packages.to_vec();
    packages.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for package in &packages {
        let meta = fs::metadata(package)
            .with_context(|| format!("{}: cannot read package", package.display()))?;
        if !meta.is_file() {
            bail!("{}: not a regular file", package.display());
        }
    }
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let work_parent = opts.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    fs::create_dir_all(&work_parent)?;
    let work = tempfile::Builder::new()
        .prefix("kernel-packer-work-")
        .tempdir_in(&work_parent)
        .with_context(|| format!("cannot create a work dir in {}", work_parent.display()))?;
    let limits = opts.limits.unwrap_or_else(Limits::from_env);

    // Header packages are unpacked as they are; source and image packers build the tree first.
    // Only header packages carry metadata the build facts use.
    let (mut tree, name_override, infos) = match kind {
        PackerKind::Cos
        | PackerKind::Minikube
        | PackerKind::Linuxkit
        | PackerKind::Dockerdesktop => {
            let built = source::build_tree(kind, spec, &packages, work.path(), limits)?;
            (built.tree, Some(built.bundle_name), Vec::new())
        }
        PackerKind::Coreos => (
            image::load_image(&packages, work.path(), limits)?,
            None,
            Vec::new(),
        ),
        _ => {
            let (tree, infos) = unpack_all(&packages, work.path(), limits)?;
            (tree, None, infos)
        }
    };
    debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "unpacked"
    );

    let set_name = || {
        let names: Vec<String> = packages.iter().map(|p| p.display().to_string()).collect();
        format!("package set {}", names.join(", "))
    };
    layout::prepare(&mut tree, spec).with_context(set_name)?;
    let mut plan = layout::plan(&tree, spec).with_context(set_name)?;
    if let Some(name) = name_override {
        plan.bundle_name = name;
    }
    let arch = arch::detect(&tree, &plan.kernel_dir).with_context(set_name)?;
    plan.bundle_name
        .push_str(&arch::bundle_name_suffix(&plan.uname, arch));
    let (version, major, minor) = bundle::version_triplet(&plan.uname)?;
    let checksum = opts
        .checksum
        .clone()
        .unwrap_or_else(|| default_checksum(&packages));
    let config = layout::read_text(&tree, &plan.kernel_dir.join(".config"))?;
    let config_is = |key: &str| {
        config
            .as_deref()
            .is_some_and(|c| layout::config_value(c, key) == Some("y"))
    };
    let btf = config_is("CONFIG_DEBUG_INFO_BTF");
    let compile_h = layout::read_text(&tree, &plan.kernel_dir.join("include/generated/compile.h"))?;
    let compiler_version =
        facts::compiler_version_text(config.as_deref(), compile_h.as_deref()).unwrap_or_default();
    let ships_vmlinux = matches!(
        tree.resolve(&plan.kernel_dir.join("vmlinux"))?,
        crate::vfs::Resolved::Inside(_)
    );
    let build_facts = facts::BuildFacts {
        compiler: facts::compiler_name(&compiler_version).unwrap_or_default(),
        compiler_version,
        host_requirements: facts::host_requirements(
            &infos,
            &spec.host_requirements_exclude,
            ships_vmlinux && config_is("CONFIG_DEBUG_INFO_BTF_MODULES"),
        ),
    };
    let meta = bundle::BundleMeta {
        arch: arch.as_str().to_string(),
        build_dir: plan.build_dir.clone(),
        checksum: checksum.clone(),
        distro: spec.distro.clone(),
        uname: plan.uname.clone(),
        version,
        major,
        minor,
        facts: build_facts.clone(),
    };
    let mut view =
        view::build_view(&tree, &plan.bundle_root, spec, &limits).with_context(set_name)?;
    let relocated = relocate::relocate_view(&mut tree, &mut view, spec).with_context(set_name)?;
    let stats = view.stats;
    let entries = view.entries;
    debug!(?stats, ?relocated, "bundle view");

    let file_name = format!("bundle-{}.tgz", plan.bundle_name);
    let final_path = out_dir.join(&file_name);
    // 0644 (less the umask) like any file a user creates, not tempfile's private 0600.
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o644))
        .tempfile_in(out_dir)
        .with_context(|| format!("cannot create a temporary file in {}", out_dir.display()))?;
    let (file, temp_path) = temp.into_parts();
    bundle::write_bundle(file, &meta, &tree, &entries, opts.gzip.unwrap_or_default())
        .with_context(|| format!("writing {file_name}"))?;
    let sha256 = sha256_file(&temp_path)?;
    let size = fs::metadata(&temp_path)?.len();
    temp_path.persist(&final_path).map_err(|e| {
        anyhow!(
            "cannot rename bundle into {}: {}",
            final_path.display(),
            e.error
        )
    })?;
    info!(
        bundle = %final_path.display(),
        uname = %plan.uname,
        %arch,
        size,
        files = stats.files,
        links = stats.links,
        inlined = stats.inlined_links,
        dropped_dangling = stats.dropped_dangling,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "packed"
    );
    Ok(PackedBundle {
        path: final_path,
        file_name,
        uname: plan.uname,
        distro: spec.distro.clone(),
        arch: arch.as_str().to_string(),
        checksum,
        size,
        sha256,
        btf,
        facts: build_facts,
    })
}

/// Reads every package into its own tree, in parallel (largest first), then merges them in package
/// order, with each package's own metadata. Directories present in several packages merge; any
/// other path present in two packages is a conflict naming both.
fn unpack_all(
    packages: &[PathBuf],
    work: &Path,
    limits: Limits,
) -> Result<(Tree, Vec<PackageInfo>)> {
    let budget = Budget::new(limits);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let mut order: Vec<usize> = (0..packages.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(fs::metadata(&packages[i]).map(|m| m.len()).unwrap_or(0))
    });
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<(Tree, PackageInfo)>>> =
        packages.iter().map(|_| Mutex::new(None)).collect();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(packages.len()))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some(&index) = order.get(next.fetch_add(1, Ordering::SeqCst)) else {
                            return Ok(());
                        };
                        let package = &packages[index];
                        let read = || -> Result<(Tree, PackageInfo)> {
                            let mut extractor =
                                SafeExtractor::with_budget(work, index as u16, budget.clone())?;
                            let info = read_package_with(package, &mut extractor, &budget)?;
                            Ok((extractor.finish()?, info))
                        };
                        let read = read().map_err(|e| anyhow!("{}: {:#}", package.display(), e))?;
                        *slots[index].lock().expect("slot lock") = Some(read);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("unpack thread panicked")))
            })
            .collect()
    });
    for result in results {
        result?;
    }
    let (trees, infos): (Vec<Tree>, Vec<PackageInfo>) = slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("slot lock").expect("unpacked"))
        .unzip();
    let mut trees = trees.into_iter();
    let mut merged = trees.next().expect("at least one package");
    for tree in trees {
        merged.merge(tree, |path, first, second| {
            anyhow!(
                "{} and {} both contain {}",
                packages[first as usize].display(),
                packages[second as usize].display(),
                path.display()
            )
        })?;
    }
    Ok((merged, infos))
}

/// Lowercase hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
