//! The kernel banner of a bzImage and its build date (Docker Desktop bundle names).
//!
//! A bzImage carries the compressed kernel as a payload after its setup code; for a gzip payload
//! the stream starts with `1f 8b 08`. [`kernel_banner`] tries each such offset in order,
//! decompresses (every byte charged to the pack [`Budget`]) until the first
//! `Linux version <release> ... <date>` line whose date parses, and returns it.
//! [`banner_build_time`] turns the date at the end of the banner (`Mon Oct 16 13:43:07 UTC 2023`,
//! after `SMP`/`PREEMPT_DYNAMIC` and the like) into `%Y-%m-%d-%H-%M-%S`.

use std::io::Read;

use anyhow::{anyhow, bail, Result};

use crate::limits::{Budget, BudgetReader, Resource};

/// The gzip magic plus the deflate method byte.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// Most gzip magic candidates tried in one image (the setup code may hold the bytes by chance).
const MAX_CANDIDATES: usize = 32;
/// Longest banner line read.
const MAX_BANNER: usize = 1024;
const PREFIX: &[u8] = b"Linux version ";

/// A kernel banner: the release it names and the whole line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// `6.1.55-linuxkit`.
    pub release: String,
    /// `Linux version ... 2023` (without the newline).
    pub line: String,
    /// The build date as `%Y-%m-%d-%H-%M-%S`.
    pub build_time: String,
}

/// Finds the banner in a bzImage's gzip payload (see the module docs). Errors say what is
/// missing (no gzip payload, no banner with a date); the caller names the file.
pub fn kernel_banner(image: &[u8], budget: &Budget) -> Result<Banner> {
    let offsets: Vec<usize> = image
        .windows(GZIP_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == GZIP_MAGIC)
        .map(|(i, _)| i)
        .take(MAX_CANDIDATES)
        .collect();
    if offsets.is_empty() {
        bail!("no gzip-compressed kernel payload (no 1f 8b 08 in the image)");
    }
    let mut last_error = None;
    for offset in offsets {
        match banner_in_stream(&image[offset..], budget) {
            Ok(Some(b)) => return Ok(b),
            Ok(None) => {
                last_error = Some(anyhow!(
                    "no `Linux version ... <date>` banner in the kernel payload at offset {offset}"
                ))
            }
            Err(e) => last_error = Some(e.context(format!("kernel payload at offset {offset}"))),
        }
    }
    Err(last_error.expect("at least one candidate"))
}

/// Decompresses one gzip stream and returns the first banner whose date parses. `Err` on a
/// budget overrun; `Ok(None)` when the stream is corrupt or ends without a banner.
fn banner_in_stream(stream: &[u8], budget: &Budget) -> Result<Option<Banner>> {
    let mut reader = BudgetReader::new(
        flate2::read::GzDecoder::new(stream),
        budget,
        Resource::Decompressed,
        "the kernel image's payload",
    );
    let mut window: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut chunk = vec![0u8; 1 << 16];
    let mut ended = false;
    let mut bad_date = None;
    while !ended {
        let n = match reader.read(&mut chunk) {
            Ok(0) => {
                ended = true;
                0
            }
            Ok(n) => n,
            Err(e)
                if e.get_ref()
                    .is_some_and(|i| i.is::<crate::limits::BudgetExceeded>()) =>
            {
                return Err(e.into())
            }
            // Not a gzip stream after all (or a corrupt one): the next candidate.
            Err(_) => return Ok(None),
        };
        window.extend_from_slice(&chunk[..n]);
        let mut from = 0;
        while let Some(at) = find(&window[from..], PREFIX) {
            let start = from + at;
            let rest = &window[start..];
            match rest
                .iter()
                .take(MAX_BANNER)
                .position(|b| *b == b'\n' || *b == 0)
            {
                Some(end) => {
                    match parse_banner(&String::from_utf8_lossy(&rest[..end])) {
                        Ok(b) => return Ok(Some(b)),
                        // A banner-like line with a `#` build number but no date: worth saying.
                        Err(e) if rest[..end].contains(&b'#') => bad_date = Some(e),
                        Err(_) => {}
                    }
                    from = start + 1;
                }
                // The line continues in the next chunk (unless it is too long or the end).
                None if rest.len() < MAX_BANNER && !ended => break,
                None => from = start + 1,
            }
        }
        // Keep what may still start a banner.
        let keep = window
            .len()
            .saturating_sub(from)
            .min(MAX_BANNER + PREFIX.len());
        window.drain(..window.len() - keep);
    }
    match bad_date {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses one banner line (`Linux version <release> (...) #1 SMP ... <date>`).
pub fn parse_banner(line: &str) -> Result<Banner> {
    let rest = line
        .strip_prefix("Linux version ")
        .ok_or_else(|| anyhow!("not a kernel banner: {line:?}"))?;
    let release = rest
        .split_whitespace()
        .next()
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| anyhow!("kernel banner without a release: {line:?}"))?;
    Ok(Banner {
        release: release.to_string(),
        line: line.to_string(),
        build_time: banner_build_time(line)?,
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The date at the end of a banner (`<weekday> <month> <day> <HH:MM:SS> <zone> <year>`, the
/// kernel's `date` output) as `%Y-%m-%d-%H-%M-%S`, the time as written (Docker Desktop kernels
/// are built in UTC).
pub fn banner_build_time(banner: &str) -> Result<String> {
    let bad = || anyhow!("no build date at the end of the kernel banner {banner:?}");
    let words: Vec<&str> = banner.split_whitespace().collect();
    let [weekday, month, day, time, zone, year] = words
        .len()
        .checked_sub(6)
        .map(|s| &words[s..])
        .and_then(|w| <[&str; 6]>::try_from(w).ok())
        .ok_or_else(bad)?;
    if !DAYS.contains(&weekday) || zone.is_empty() || !zone.chars().all(|c| c.is_ascii_uppercase())
    {
        return Err(bad());
    }
    let month = MONTHS.iter().position(|m| *m == month).ok_or_else(bad)? + 1;
    let number = |s: &str, max: u32| -> Result<u32> {
        let n: u32 = s
            .parse()
            .ok()
            .filter(|_| s.chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(bad)?;
        if n > max {
            return Err(bad());
        }
        Ok(n)
    };
    let day = number(day, 31)?;
    let year = number(year, 9999)?;
    let hms: Vec<&str> = time.split(':').collect();
    if day == 0 || year < 1991 || hms.len() != 3 || hms.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let (h, m, s) = (
        number(hms[0], 23)?,
        number(hms[1], 59)?,
        number(hms[2], 60)?,
    );
    Ok(format!(
        "{year:04}-{month:02}-{day:02}-{h:02}-{m:02}-{s:02}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use std::io::Write;

    const LINE: &str = "Linux version 6.1.55-linuxkit (root@buildkitsandbox) (gcc (Alpine 12.2.1_git20220924-r10) 12.2.1 20220924, GNU ld (GNU Binutils) 2.40) #1 SMP PREEMPT_DYNAMIC Mon Oct 16 13:43:07 UTC 2023";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A bzImage-shaped file: setup bytes (with a stray gzip magic), the gzip payload, a tail.
    fn image(payload: &[u8]) -> Vec<u8> {
        let mut img = vec![0u8; 4096];
        img[512..515].copy_from_slice(&GZIP_MAGIC);
        img.extend(gzip(payload));
        img.extend([0u8; 64]);
        img
    }

    fn budget() -> Budget {
        Budget::new(Limits::default())
    }

    #[test]
    fn banner_dates() {
        assert_eq!(banner_build_time(LINE).unwrap(), "2023-10-16-13-43-07");
        assert_eq!(
            banner_build_time("Linux version 5.15.49-linuxkit (root@buildkitsandbox) (gcc) #1 SMP Tue Sep 13 07:51:46 UTC 2022").unwrap(),
            "2022-09-13-07-51-46"
        );
        assert_eq!(
            banner_build_time("#1 SMP PREEMPT Fri Mar  1 02:03:04 GMT 2024").unwrap(),
            "2024-03-01-02-03-04"
        );
        for bad in [
            "Linux version 6.1.55 #1 SMP",
            "#1 SMP Mon Foo 16 13:43:07 UTC 2023",
            "#1 SMP Mon Oct 32 13:43:07 UTC 2023",
            "#1 SMP Mon Oct 16 25:43:07 UTC 2023",
            "#1 SMP Mon Oct 16 13:43 UTC 2023",
            "#1 SMP Mon Oct 16 13:43:07 utc 2023",
            "#1 SMP Mon Oct 16 13:43:07 UTC 20x3",
            "",
        ] {
            let err = banner_build_time(bad).unwrap_err().to_string();
            assert!(err.contains("no build date"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn banner_from_a_bzimage_payload() {
        let mut payload = vec![7u8; 300_000];
        payload.extend_from_slice(b"Linux version %s (broken\0");
        payload.extend_from_slice(LINE.as_bytes());
        payload.extend_from_slice(b"\n\0");
        payload.extend(vec![9u8; 70_000]);
        let b = kernel_banner(&image(&payload), &budget()).unwrap();
        assert_eq!(b.release, "6.1.55-linuxkit");
        assert_eq!(b.line, LINE);
        assert_eq!(b.build_time, "2023-10-16-13-43-07");
    }

    #[test]
    fn malformed_images_are_clear_errors() {
        let err = kernel_banner(&[0u8; 1000], &budget()).unwrap_err();
        assert!(format!("{err:#}").contains("no gzip-compressed kernel payload"));
        let err = kernel_banner(&image(&[1u8; 10_000]), &budget()).unwrap_err();
        assert!(format!("{err:#}").contains("no `Linux version"), "{err:#}");
        let bad_date = format!("{}\n", LINE.replace("Oct 16", "Oct 99"));
        let err = kernel_banner(&image(bad_date.as_bytes()), &budget()).unwrap_err();
        assert!(format!("{err:#}").contains("no build date"), "{err:#}");
        // A truncated payload: no banner, not a panic.
        let mut img = image(&vec![3u8; 200_000]);
        img.truncate(4200);
        assert!(kernel_banner(&img, &budget()).is_err());
        // The pack budget bounds the decompression.
        let limits = Limits {
            max_decompressed_bytes: 100_000,
            ..Limits::default()
        };
        let err = kernel_banner(&image(&[0u8; 1_000_000]), &Budget::new(limits)).unwrap_err();
        assert!(format!("{err:#}").contains("pack budget"), "{err:#}");
    }
}
