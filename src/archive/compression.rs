//! Compressed streams recognised by magic bytes: gzip, xz, zstd, bzip2, or none.

use std::io::{BufRead, BufReader, Read};

/// A stream compression recognised from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    /// Recognises the compression from the leading bytes of a stream (`None` when unrecognised).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decoder its leading bytes call for (peeked, not consumed).
/// Multi-member gzip/bzip2 and concatenated xz streams are read to their end.
pub fn decompress<'a, R: Read + 'a>(
    reader: R,
) -> std::io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf()?;
    let kind = Compression::sniff(head);
    let decoder: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
    };
    Ok((kind, decoder))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(kind: Compression, compressed: Vec<u8>) {
        assert_eq!(Compression::sniff(&compressed), kind);
        let (found, mut reader) = decompress(&compressed[..]).unwrap();
        assert_eq!(found, kind);
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello kernel");
    }

    #[test]
    fn every_supported_compression_roundtrips() {
        let data = b"hello kernel";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        roundtrip(Compression::Gzip, gz.finish().unwrap());
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(data).unwrap();
        roundtrip(Compression::Xz, xz.finish().unwrap());
        roundtrip(Compression::Zstd, zstd::encode_all(&data[..], 3).unwrap());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(data).unwrap();
        roundtrip(Compression::Bzip2, bz.finish().unwrap());
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&[7u8; 100_000]).unwrap();
        let full = xz.finish().unwrap();
        let (_, mut reader) = decompress(&full[..full.len() / 2]).unwrap();
        let mut sink = Vec::new();
        assert!(reader.read_to_end(&mut sink).is_err());
    }
}
