//! The pack budget: every bound on what untrusted input may make one run read, decompress, hold or
//! write, defined in one place.
//!
//! Every package, image and index comes from a mirror this project does not control, so every
//! quantity an input controls is bounded here: bytes decompressed (including what is drained after a
//! tar ends), bytes unpacked, bytes inlined through links, entries, path lengths, RPM header sizes,
//! repository index sizes and disk-image sizes. [`Limits`] holds the numbers (defaults below, each
//! overridable by one environment variable, [`Limits::from_env`]); [`Budget`] is one pack's running
//! account, shared by the threads of that pack. Exceeding a bound is an error that names the bound
//! and the variable that raises it, e.g. `... exceeds the pack budget of 8589934592 bytes
//! decompressed (KERNEL_PACKER_MAX_DECOMPRESSED_BYTES to raise)`.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One bounded quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Bytes produced by decompressors for one pack (all packages, drained trailers included).
    Decompressed,
    /// Bytes of file content unpacked for one pack (hard links count in full).
    Unpacked,
    /// Bytes a decompressor may still produce after the end of a tar archive (per archive).
    Trailing,
    /// Bytes copied into a bundle through links that lead outside the bundle root.
    Inlined,
    /// Archive entries for one pack.
    Entries,
    /// Length of one entry path in bytes.
    PathBytes,
    /// Size of one RPM header (index and data store).
    RpmHeader,
    /// Decompressed size of one repository index (Packages, primary.xml, ...).
    Index,
    /// Decompressed size of one disk image.
    Image,
    /// Bytes of tar headers and extension records (long names, pax) before one entry: the tar
    /// reader holds them in memory.
    TarHeader,
}

impl Resource {
    /// Every resource, in documentation order.
    pub const ALL: [Resource; 10] = [
        Resource::Decompressed,
        Resource::Unpacked,
        Resource::Trailing,
        Resource::Inlined,
        Resource::Entries,
        Resource::PathBytes,
        Resource::RpmHeader,
        Resource::Index,
        Resource::Image,
        Resource::TarHeader,
    ];

    /// The environment variable that overrides this bound.
    pub fn env_var(self) -> &'static str {
        match self {
            Resource::Decompressed => "KERNEL_PACKER_MAX_DECOMPRESSED_BYTES",
            Resource::Unpacked => "KERNEL_PACKER_MAX_UNPACKED_BYTES",
            Resource::Trailing => "KERNEL_PACKER_MAX_TRAILING_BYTES",
            Resource::Inlined => "KERNEL_PACKER_MAX_INLINED_BYTES",
            Resource::Entries => "KERNEL_PACKER_MAX_ENTRIES",
            Resource::PathBytes => "KERNEL_PACKER_MAX_PATH_BYTES",
            Resource::RpmHeader => "KERNEL_PACKER_MAX_RPM_HEADER_BYTES",
            Resource::Index => "KERNEL_PACKER_MAX_INDEX_BYTES",
            Resource::Image => "KERNEL_PACKER_MAX_IMAGE_BYTES",
            Resource::TarHeader => "KERNEL_PACKER_MAX_TAR_HEADER_BYTES",
        }
    }

    /// What the number counts, as it reads after the number in a message.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Decompressed => "bytes decompressed",
            Resource::Unpacked => "bytes unpacked",
            Resource::Trailing => "bytes after the end of a tar archive",
            Resource::Inlined => "bytes inlined through links",
            Resource::Entries => "entries",
            Resource::PathBytes => "bytes per path",
            Resource::RpmHeader => "bytes per RPM header",
            Resource::Index => "bytes per decompressed index",
            Resource::Image => "bytes per decompressed image",
            Resource::TarHeader => "bytes of tar headers per entry",
        }
    }
}

/// The bounds of one run. `Default` holds the built-in values; [`Limits::from_env`] applies the
/// environment overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes of file content one pack unpacks (hard links count in full). Default 4 GiB.
    pub max_total_bytes: u64,
    /// Bytes decompressed for one pack, trailers included. Default 8 GiB.
    pub max_decompressed_bytes: u64,
    /// Bytes tolerated after the end of one tar archive (padding; read to detect CRC errors).
    /// Default 1 MiB.
    pub max_trailing_bytes: u64,
    /// Bytes inlined into one bundle through links out of the bundle root. Default 1 GiB.
    pub max_inlined_bytes: u64,
    /// Entries of one pack. Default 1,000,000.
    pub max_entries: u64,
    /// Length of one entry path. Default 4096.
    pub max_path_bytes: usize,
    /// Size of one RPM header (signature or main). Default 64 MiB.
    pub max_rpm_header_bytes: u64,
    /// Decompressed size of one repository index. Default 512 MiB.
    pub max_index_bytes: u64,
    /// Decompressed size of one disk image. Default 16 GiB.
    pub max_image_bytes: u64,
    /// Tar headers and extension records before one entry. Default 1 MiB.
    pub max_tar_header_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 4 << 30,
            max_decompressed_bytes: 8 << 30,
            max_trailing_bytes: 1 << 20,
            max_inlined_bytes: 1 << 30,
            max_entries: 1_000_000,
            max_path_bytes: 4096,
            max_rpm_header_bytes: 64 << 20,
            max_index_bytes: 512 << 20,
            max_image_bytes: 16 << 30,
            max_tar_header_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// The bound on `resource`.
    pub fn get(&self, resource: Resource) -> u64 {
        match resource {
            Resource::Decompressed => self.max_decompressed_bytes,
            Resource::Unpacked => self.max_total_bytes,
            Resource::Trailing => self.max_trailing_bytes,
            Resource::Inlined => self.max_inlined_bytes,
            Resource::Entries => self.max_entries,
            Resource::PathBytes => self.max_path_bytes as u64,
            Resource::RpmHeader => self.max_rpm_header_bytes,
            Resource::Index => self.max_index_bytes,
            Resource::Image => self.max_image_bytes,
            Resource::TarHeader => self.max_tar_header_bytes,
        }
    }

    /// Sets the bound on `resource`.
    pub fn set(&mut self, resource: Resource, value: u64) {
        match resource {
            Resource::Decompressed => self.max_decompressed_bytes = value,
            Resource::Unpacked => self.max_total_bytes = value,
            Resource::Trailing => self.max_trailing_bytes = value,
            Resource::Inlined => self.max_inlined_bytes = value,
            Resource::Entries => self.max_entries = value,
            Resource::PathBytes => {
                self.max_path_bytes = usize::try_from(value).unwrap_or(usize::MAX)
            }
            Resource::RpmHeader => self.max_rpm_header_bytes = value,
            Resource::Index => self.max_index_bytes = value,
            Resource::Image => self.max_image_bytes = value,
            Resource::TarHeader => self.max_tar_header_bytes = value,
        }
    }

    /// The defaults with every `KERNEL_PACKER_MAX_*` variable that is set applied. A value that is
    /// not a number (optionally with a `K`, `M`, `G` or `T` binary suffix) is ignored with a
    /// warning.
    pub fn from_env() -> Limits {
        let mut limits = Limits::default();
        for resource in Resource::ALL {
            let Ok(raw) = std::env::var(resource.env_var()) else {
                continue;
            };
            match parse_size(&raw) {
                Some(value) => limits.set(resource, value),
                None => tracing::warn!(
                    variable = resource.env_var(),
                    value = %raw,
                    "not a size: ignored"
                ),
            }
        }
        limits
    }

    /// The error for `what` going past the bound on `resource`.
    pub fn exceeded(&self, resource: Resource, what: &str) -> BudgetExceeded {
        BudgetExceeded {
            what: what.to_string(),
            resource,
            limit: self.get(resource),
        }
    }

    /// `Err` when `used` is past the bound on `resource`.
    pub fn check(&self, resource: Resource, used: u64, what: &str) -> Result<(), BudgetExceeded> {
        if used > self.get(resource) {
            Err(self.exceeded(resource, what))
        } else {
            Ok(())
        }
    }
}

/// OS limits on the child process that packs one kernel ([`crate::pack::isolated`]): the defence
/// for what no validation foresaw (an allocation abort, a runaway loop in a dependency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// `RLIMIT_AS` (address space). Default 4 GiB. `KERNEL_PACKER_PACK_MEMORY_BYTES`.
    pub memory_bytes: u64,
    /// `RLIMIT_CPU`. Default 900 s. `KERNEL_PACKER_PACK_CPU_SECONDS`.
    pub cpu_seconds: u64,
    /// Wall-clock time before the child is killed. Default 1800 s.
    /// `KERNEL_PACKER_PACK_TIMEOUT_SECONDS`.
    pub wall_seconds: u64,
}

impl ProcessLimits {
    pub const MEMORY_ENV: &'static str = "KERNEL_PACKER_PACK_MEMORY_BYTES";
    pub const CPU_ENV: &'static str = "KERNEL_PACKER_PACK_CPU_SECONDS";
    pub const WALL_ENV: &'static str = "KERNEL_PACKER_PACK_TIMEOUT_SECONDS";

    /// The defaults with the environment overrides applied (invalid values are ignored).
    pub fn from_env() -> ProcessLimits {
        let mut limits = ProcessLimits::default();
        let read = |name: &str| std::env::var(name).ok().and_then(|v| parse_size(&v));
        if let Some(v) = read(Self::MEMORY_ENV) {
            limits.memory_bytes = v;
        }
        if let Some(v) = read(Self::CPU_ENV) {
            limits.cpu_seconds = v;
        }
        if let Some(v) = read(Self::WALL_ENV) {
            limits.wall_seconds = v;
        }
        limits
    }
}

impl Default for ProcessLimits {
    fn default() -> Self {
        ProcessLimits {
            memory_bytes: 4 << 30,
            cpu_seconds: 900,
            wall_seconds: 1800,
        }
    }
}

/// Parses `123`, `64K`, `512M`, `8G`, `1T` (binary multiples; `KiB`/`MiB`/... accepted too).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// A bound was exceeded. Displays as `<what> exceeds the pack budget of <N> <unit> (<VAR> to
/// raise)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} exceeds the pack budget of {limit} {} ({} to raise)", resource.unit(), resource.env_var())]
pub struct BudgetExceeded {
    pub what: String,
    pub resource: Resource,
    pub limit: u64,
}

impl From<BudgetExceeded> for io::Error {
    fn from(e: BudgetExceeded) -> io::Error {
        io::Error::other(e)
    }
}

/// One pack's running account against its [`Limits`]; clones share the account (threads of one
/// pack charge the same totals).
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    used: Arc<[AtomicU64; Resource::ALL.len()]>,
}

impl Budget {
    /// A fresh account.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            used: Arc::new(Default::default()),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What has been charged to `resource` so far.
    pub fn used(&self, resource: Resource) -> u64 {
        self.used[resource as usize].load(Ordering::Relaxed)
    }

    /// Charges `amount` to `resource`; `Err` (naming `what`) once the total passes the bound.
    pub fn charge(
        &self,
        resource: Resource,
        amount: u64,
        what: &str,
    ) -> Result<(), BudgetExceeded> {
        let before = self.used[resource as usize].fetch_add(amount, Ordering::Relaxed);
        self.limits
            .check(resource, before.saturating_add(amount), what)
    }
}

/// A reader that charges every byte read through it to one resource of a [`Budget`]; reading past
/// the bound is an [`io::Error`] wrapping [`BudgetExceeded`].
pub struct BudgetReader<'b, R> {
    inner: R,
    budget: &'b Budget,
    resource: Resource,
    what: &'static str,
}

impl<'b, R: Read> BudgetReader<'b, R> {
    pub fn new(inner: R, budget: &'b Budget, resource: Resource, what: &'static str) -> Self {
        BudgetReader {
            inner,
            budget,
            resource,
            what,
        }
    }
}

impl<R: Read> Read for BudgetReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.charge(self.resource, n as u64, self.what)?;
        Ok(n)
    }
}

/// Reads all of `reader` into memory, failing once more than `limits`' bound on `resource` would
/// be held (the error names `what`).
pub fn read_to_end_bounded(
    reader: &mut dyn Read,
    limits: &Limits,
    resource: Resource,
    what: &str,
) -> io::Result<Vec<u8>> {
    let limit = limits.get(resource);
    let mut out = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(limits.exceeded(resource, what).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("8g"), Some(8 << 30));
        assert_eq!(parse_size("2 MiB"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn budget_is_shared_by_clones_and_names_the_variable() {
        let limits = Limits {
            max_decompressed_bytes: 10,
            ..Limits::default()
        };
        let budget = Budget::new(limits);
        let other = budget.clone();
        budget.charge(Resource::Decompressed, 6, "a").unwrap();
        let err = other
            .charge(Resource::Decompressed, 6, "package x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "package x exceeds the pack budget of 10 bytes decompressed \
             (KERNEL_PACKER_MAX_DECOMPRESSED_BYTES to raise)"
        );
    }

    #[test]
    fn bounded_read_stops_at_the_bound() {
        let limits = Limits {
            max_index_bytes: 4,
            ..Limits::default()
        };
        let ok = read_to_end_bounded(&mut &b"abcd"[..], &limits, Resource::Index, "i").unwrap();
        assert_eq!(ok, b"abcd");
        let err = read_to_end_bounded(&mut &b"abcde"[..], &limits, Resource::Index, "i")
            .unwrap_err()
            .to_string();
        assert!(err.contains("KERNEL_PACKER_MAX_INDEX_BYTES"), "{err}");
    }
}
