//! The record codec: bincode 2 payloads framed as `[version: u8][crc32(payload): u32 LE][payload]`.
//!
//! bincode is kept behind this module alone (it is unmaintained and panics
//! on huge lengths without a limit), so it can be swapped. Every decode runs with
//! [`DECODE_LIMIT`], and every failure is an [`Error::Corrupt`] naming the key.

use crate::{Error, Result};

/// The version byte written in front of every record.
pub const FORMAT_VERSION: u8 = 1;

/// The most bytes a single decoded record may allocate.
pub const DECODE_LIMIT: usize = 16 << 20;

const HEADER: usize = 5;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_limit::<DECODE_LIMIT>()
}

/// Frames raw `payload` bytes with the version byte and the checksum.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks the frame of the value stored at `key` and returns its payload.
pub fn unframe<'a>(key: &[u8], bytes: &'a [u8]) -> Result<&'a [u8]> {
    if bytes.len() < HEADER {
        return Err(Error::corrupt(
            key,
            format!("record of {} bytes is shorter than its header", bytes.len()),
        ));
    }
    if bytes[0] != FORMAT_VERSION {
        return Err(Error::corrupt(
            key,
            format!(
                "unknown format version {} (expected {FORMAT_VERSION})",
                bytes[0]
            ),
        ));
    }
    let stored = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let payload = &bytes[HEADER..];
    let actual = crc32fast::hash(payload);
    if stored != actual {
        return Err(Error::corrupt(
            key,
            format!("checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    Ok(payload)
}

/// Encodes `value` as a framed record.
pub fn encode<T: bincode::Encode>(value: &T) -> Result<Vec<u8>> {
    let payload = bincode::encode_to_vec(value, config()).map_err(|e| Error::Encode {
        what: std::any::type_name::<T>().to_string(),
        reason: e.to_string(),
    })?;
    Ok(frame(&payload))
}

/// Decodes the framed record stored at `key`. Trailing bytes are corruption.
pub fn decode<T: bincode::Decode<()>>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let payload = unframe(key, bytes)?;
    let (value, used) = bincode::decode_from_slice(payload, config())
        .map_err(|e| Error::corrupt(key, format!("undecodable record: {e}")))?;
    if used != payload.len() {
        return Err(Error::corrupt(
            key,
            format!("{} trailing bytes after the record", payload.len() - used),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectRecord;
    use proptest::prelude::*;

    fn sample() -> ObjectRecord {
        ObjectRecord {
            kind: "cube".into(),
            position: [1.0, -2.0, 3.5],
            embedding: vec![0.25, -0.5, 1.0],
            confidence: 0.75,
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&sample()).unwrap();
        let back: ObjectRecord = decode(b"k", &bytes).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(&sample()).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(
                decode::<ObjectRecord>(b"k", &b).is_err(),
                "flip {i} undetected"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample()).unwrap();
        for n in 0..bytes.len() {
            assert!(decode::<ObjectRecord>(b"k", &bytes[..n]).is_err());
        }
    }

    #[test]
    fn a_huge_length_with_a_valid_checksum_is_an_error_not_a_panic() {
        // A varint length of u64::MAX for the `kind` string, checksummed correctly.
        let payload = [0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let err = decode::<ObjectRecord>(b"k", &frame(&payload)).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<ObjectRecord>(b"k", &bytes);
            let _ = decode::<ObjectRecord>(b"k", &frame(&bytes));
        }
    }
}
