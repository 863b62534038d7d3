//! Structural validation of an RPM's lead and headers before the `rpm` crate parses them.
//!
//! The `rpm` crate trusts the header index: an entry count of 2^32 makes it reserve tens of GB (the
//! process aborts), an offset past the data store makes it slice out of range (a panic), and its
//! size arithmetic is unchecked u32. [`read_validated_headers`] reads the lead, the signature header
//! (with its padding) and the main header from the stream, checks every structural rule the crate
//! relies on, with overflow-checked arithmetic, and returns the bytes read so the caller can hand
//! them (chained with the rest of the stream) to the crate. Rules per header: magic `8e ad e8 01`;
//! index entries and data store within [`Resource::RpmHeader`]; per entry a known data type
//! (0..=9), an offset inside the store, and data that fits the store (fixed-size types:
//! `count × size`; strings: NUL-terminated inside the store; string arrays: `count` strings,
//! at most [`Resource::Entries`] of them, the scanning of all string data bounded by the store
//! size).

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::limits::{Limits, Resource};

/// Length of the RPM lead.
const LEAD_LEN: usize = 96;
/// Length of a header's fixed intro (magic, version, reserved, entry count, store size).
const INTRO_LEN: usize = 16;
/// Length of one index entry (tag, type, offset, count).
const ENTRY_LEN: u64 = 16;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];

/// Reads and validates the lead, signature header (+ padding) and main header from `reader`;
/// returns exactly the bytes consumed.
pub fn read_validated_headers(reader: &mut dyn Read, limits: &Limits) -> Result<Vec<u8>> {
    let mut out = vec![0u8; LEAD_LEN];
    reader.read_exact(&mut out).context("truncated RPM lead")?;
    if out[..4] != LEAD_MAGIC {
        bail!("not an RPM (bad lead magic)");
    }
    read_header(reader, limits, "signature header", true, &mut out)?;
    read_header(reader, limits, "header", false, &mut out)?;
    Ok(out)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Reads one header (appending its bytes to `out`) and validates it.
fn read_header(
    reader: &mut dyn Read,
    limits: &Limits,
    what: &str,
    padded: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut intro = [0u8; INTRO_LEN];
    reader
        .read_exact(&mut intro)
        .with_context(|| format!("truncated RPM {what}"))?;
    if intro[..4] != HEADER_MAGIC {
        bail!("corrupt RPM: bad {what} magic");
    }
    let count = u64::from(be32(&intro, 8));
    let store_len = u64::from(be32(&intro, 12));
    let index_len = count * ENTRY_LEN;
    let mut total = index_len + store_len;
    if padded {
        total += (8 - store_len % 8) % 8;
    }
    limits
        .check(
            Resource::RpmHeader,
            total,
            &format!("the RPM {what} ({count} entries, {store_len} bytes of data)"),
        )
        .map_err(anyhow::Error::new)?;
    out.extend_from_slice(&intro);
    let start = out.len();
    out.resize(start + total as usize, 0);
    reader
        .read_exact(&mut out[start..])
        .with_context(|| format!("truncated RPM {what}"))?;
    let body = &out[start..];
    let (index, rest) = body.split_at(index_len as usize);
    let store = &rest[..store_len as usize];
    validate_index(index, store, limits).with_context(|| format!("corrupt RPM {what}"))
}

/// Checks every index entry against the data store (module docs).
fn validate_index(index: &[u8], store: &[u8], limits: &Limits) -> Result<()> {
    let store_len = store.len() as u64;
    // String data scanned so far: real headers scan each byte once; overlapping entries that
    // would make the crate (and this check) rescan the store are refused past twice its size.
    let mut scan_budget = store_len.saturating_mul(2) + 65_536;
    for (i, entry) in index.chunks_exact(ENTRY_LEN as usize).enumerate() {
        let tag = be32(entry, 0);
        let kind = be32(entry, 4);
        let offset = be32(entry, 8) as i32;
        let items = u64::from(be32(entry, 12));
        let what = || format!("index entry {i} (tag {tag}, type {kind})");
        if offset < 0 || offset as u64 > store_len {
            bail!(
                "{}: offset {offset} lies outside the {store_len}-byte data store",
                what()
            );
        }
        let data = &store[offset as usize..];
        let room = data.len() as u64;
        let element = match kind {
            0 => continue,
            1 | 2 | 7 => 1,
            3 => 2,
            4 => 4,
            5 => 8,
            6 => {
                nul_position(data, &mut scan_budget)
                    .with_context(|| format!("{}: string not terminated in the store", what()))?;
                continue;
            }
            8 | 9 => {
                if items > limits.max_entries || items > room {
                    bail!(
                        "{}: {items} strings cannot fit the {room} bytes left in the store",
                        what()
                    );
                }
                let mut rest = data;
                for n in 0..items {
                    let at = nul_position(rest, &mut scan_budget).with_context(|| {
                        format!(
                            "{}: string {n} of {items} not terminated in the store",
                            what()
                        )
                    })?;
                    rest = &rest[at + 1..];
                }
                continue;
            }
            other => bail!("index entry {i} (tag {tag}): unknown data type {other}"),
        };
        // items < 2^32 and element <= 8: no overflow in u64.
        let needed = items * element;
        if needed > room {
            bail!(
                "{}: {items} items of {element} bytes do not fit the {room} bytes left in the store",
                what()
            );
        }
    }
    Ok(())
}

/// Position of the first NUL in `data`, charging the bytes scanned to `budget`.
fn nul_position(data: &[u8], budget: &mut u64) -> Result<usize> {
    let window = &data[..data
        .len()
        .min(usize::try_from(*budget).unwrap_or(usize::MAX))];
    match window.iter().position(|&b| b == 0) {
        Some(at) => {
            *budget -= at as u64 + 1;
            Ok(at)
        }
        None if window.len() < data.len() => {
            bail!("string data overlaps (the store would be scanned more than twice)")
        }
        None => bail!("no NUL before the end of the store"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: &[(u32, u32, i32, u32)], store: &[u8]) -> Vec<u8> {
        let mut out = HEADER_MAGIC.to_vec();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(store.len() as u32).to_be_bytes());
        for (tag, kind, offset, count) in entries {
            out.extend_from_slice(&tag.to_be_bytes());
            out.extend_from_slice(&kind.to_be_bytes());
            out.extend_from_slice(&offset.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(store);
        out
    }

    fn rpm(sig: Vec<u8>, main: Vec<u8>) -> Vec<u8> {
        let mut out = LEAD_MAGIC.to_vec();
        out.resize(LEAD_LEN, 0);
        let pad = (8 - (sig.len() - INTRO_LEN) % 8) % 8;
        out.extend_from_slice(&sig);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&main);
        out
    }

    fn check(bytes: &[u8]) -> Result<Vec<u8>> {
        read_validated_headers(&mut &bytes[..], &Limits::default())
    }

    #[test]
    fn well_formed_headers_pass_and_are_returned_whole() {
        let sig = header(&[(1000, 4, 0, 1)], &[0, 0, 0, 7, 0]);
        let main = header(&[(1000, 6, 0, 1), (1001, 8, 4, 2)], b"abc\0x\0yz\0");
        let bytes = rpm(sig, main);
        let mut with_payload = bytes.clone();
        with_payload.extend_from_slice(b"payload");
        assert_eq!(check(&with_payload).unwrap(), bytes);
    }

    #[test]
    fn structural_lies_are_refused() {
        let ok_sig = header(&[], &[]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (header(&[(1, 4, 0, 0xFFFF_FFFE)], &[0; 8]), "do not fit"),
            (header(&[(1, 8, 0, 0xFFFF_FFFE)], b"a\0"), "cannot fit"),
            (header(&[(1, 8, 0, 3)], b"a\0b\0"), "not terminated"),
            (header(&[(1, 6, 9, 1)], b"a\0"), "outside"),
            (header(&[(1, 6, -1, 1)], b"a\0"), "outside"),
            (header(&[(1, 42, 0, 1)], b"a\0"), "unknown data type"),
            (header(&[(1, 6, 0, 1)], b"abc"), "not terminated"),
        ];
        for (main, expect) in cases {
            let err = format!("{:#}", check(&rpm(ok_sig.clone(), main)).unwrap_err());
            assert!(err.contains(expect), "{err} should say {expect}");
        }
    }

    #[test]
    fn oversized_header_is_refused_before_reading() {
        let mut main = HEADER_MAGIC.to_vec();
        main.extend_from_slice(&[0; 4]);
        main.extend_from_slice(&u32::MAX.to_be_bytes());
        main.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = format!("{:#}", check(&rpm(header(&[], &[]), main)).unwrap_err());
        assert!(err.contains("KERNEL_PACKER_MAX_RPM_HEADER_BYTES"), "{err}");
    }

    #[test]
    fn overlapping_string_arrays_cannot_make_the_scan_quadratic() {
        let store = vec![b'a'; 100_000];
        let mut store = store;
        store.push(0);
        let entries: Vec<(u32, u32, i32, u32)> = (0..64).map(|t| (t, 6, 0, 1)).collect();
        let err = format!(
            "{:#}",
            check(&rpm(header(&[], &[]), header(&entries, &store))).unwrap_err()
        );
        assert!(err.contains("overlaps"), "{err}");
    }
}
