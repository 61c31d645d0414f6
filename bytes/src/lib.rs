//! tensormap-bytes: reading little-endian binary formats without trusting them. A leaf
//! crate (it depends on no crate of the workspace), so that the storage crate (segment
//! files, snapshot blocks) and the model crate (`.vllm` files, a sentence encoder's byte
//! form) read bytes the same way:
//!
//! - [`Reader`]: a cursor over a byte slice that knows the file offset of its first byte;
//!   every read checks the length first and fails with a [`ReadError`] naming what was
//!   read and where, never a panic; an array of `n` values checks `n × width` for
//!   overflow before anything is allocated.
//! - [`Reader::section`]: a tagged section `tag (4 bytes) | length u64 | payload | CRC32`,
//!   its length checked against the bytes left and its CRC (over tag, length and payload)
//!   before the payload is handed out.
//! - [`u32_at`], [`u64_at`]: a number at a fixed offset of a header, `None` past the end;
//!   [`u32_or_0`], [`u64_or_0`] for a header whose length the caller has checked.
//!
//! Callers turn a [`ReadError`] into their own error (with their section names); its
//! `offset` is a file offset when the reader was made with [`Reader::at`].

use std::fmt;

/// A failed read: where (a file offset) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The file offset (or the offset in the slice) where the problem was found.
    pub offset: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadError {}

/// The `u32` at `at` of `b`, little-endian; `None` when `b` ends before it.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// The `u64` at `at` of `b`, little-endian; `None` when `b` ends before it.
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let bytes = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// The `u32` at `at` of a header whose length the caller has checked; 0 past the end, so
/// that a mistake in the caller's checks fails its next check rather than panicking.
pub fn u32_or_0(b: &[u8], at: usize) -> u32 {
    u32_at(b, at).unwrap_or(0)
}

/// The `u64` at `at` of a header whose length the caller has checked; 0 past the end (see
/// [`u32_or_0`]).
pub fn u64_or_0(b: &[u8], at: usize) -> u64 {
    u64_at(b, at).unwrap_or(0)
}

/// A bounds-checked cursor over bytes (see the crate header).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The file offset of `bytes[0]`.
    base: u64,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, offsets counted from it.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self::at(bytes, 0)
    }

    /// A reader at the start of `bytes`, which start at file offset `base`.
    pub fn at(bytes: &'a [u8], base: u64) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    /// The file offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The position of the next byte in the slice.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// All the bytes, read or not.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// An error at the next byte.
    pub fn error(&self, message: impl Into<String>) -> ReadError {
        ReadError {
            offset: self.offset(),
            message: message.into(),
        }
    }

    /// The next `n` bytes (`what` names them in the error).
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ReadError> {
        let left = self.left();
        if n > left {
            return Err(self.error(format!("truncated: {what} needs {n} bytes, {left} left")));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `n` values of `width` bytes each (`n × width` checked for overflow).
    pub fn take_array(
        &mut self,
        n: usize,
        width: usize,
        what: &str,
    ) -> Result<&'a [u8], ReadError> {
        let len = n
            .checked_mul(width)
            .ok_or_else(|| self.error(format!("{what}: {n} values of {width} bytes overflow")))?;
        self.take(len, what)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ReadError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    /// The next byte.
    pub fn u8(&mut self, what: &str) -> Result<u8, ReadError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// The next `u16`, little-endian.
    pub fn u16(&mut self, what: &str) -> Result<u16, ReadError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// The next `u32`, little-endian.
    pub fn u32(&mut self, what: &str) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// The next `u64`, little-endian.
    pub fn u64(&mut self, what: &str) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// The next `f32`, little-endian.
    pub fn f32(&mut self, what: &str) -> Result<f32, ReadError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// Fails unless every byte was read (`what` names what they should have ended).
    pub fn finish(&self, what: &str) -> Result<(), ReadError> {
        match self.left() {
            0 => Ok(()),
            left => Err(self.error(format!("{left} bytes left over after {what}"))),
        }
    }

    /// The next section, which must be `tag`: `tag | length u64 | payload | CRC32 of tag,
    /// length and payload`. Returns a reader over the payload (its offsets are file
    /// offsets). The length is checked against the bytes left, and the CRC, before the
    /// payload is handed out.
    pub fn section(&mut self, tag: &[u8; 4]) -> Result<Reader<'a>, ReadError> {
        let start = self.pos;
        let base = self.base;
        let at = move |pos: usize| base + pos as u64;
        let found = self.array::<4>("section tag")?;
        if &found != tag {
            return Err(ReadError {
                offset: at(start),
                message: format!(
                    "expected section {}, found tag {:?}",
                    String::from_utf8_lossy(tag),
                    String::from_utf8_lossy(&found)
                ),
            });
        }
        let len = self.u64("section length")?;
        // The payload and its CRC must be there before anything is read or allocated.
        let left = self.left() as u64;
        if len > left.saturating_sub(4) {
            return Err(ReadError {
                offset: at(start + 4),
                message: format!(
                    "truncated: the payload is {len} bytes, {left} left (with its CRC)"
                ),
            });
        }
        let payload_start = self.pos;
        let payload = self.take(len as usize, "payload")?;
        let stored = self.u32("section CRC")?;
        let computed = crc32fast::hash(&self.bytes[start..self.pos - 4]);
        if stored != computed {
            return Err(ReadError {
                offset: at(self.pos - 4),
                message: format!(
                    "CRC mismatch (stored {stored:08x}, computed {computed:08x}): the section is damaged"
                ),
            });
        }
        Ok(Reader::at(payload, at(payload_start)))
    }
}

/// Appends a section as [`Reader::section`] reads it: `tag | length u64 | payload | CRC32`.
pub fn put_section(out: &mut Vec<u8>, tag: &[u8; 4], payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(tag);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_never_run_past_the_end() {
        let b = [1u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9];
        let mut r = Reader::at(&b, 100);
        assert_eq!(r.u32("a").unwrap(), 1);
        assert_eq!(r.u64("b").unwrap(), 2);
        assert_eq!(r.offset(), 112);
        let e = r.u32("c").unwrap_err();
        assert_eq!(e.offset, 112);
        assert_eq!(e.message, "truncated: c needs 4 bytes, 1 left");
        assert!(r.take_array(usize::MAX, 2, "d").is_err());
        assert_eq!(
            r.finish("the header").unwrap_err().message,
            "1 bytes left over after the header"
        );
        assert_eq!(r.u8("e").unwrap(), 9);
        r.finish("the header").unwrap();
        assert_eq!(u32_at(&b, 4), Some(2));
        assert_eq!(u64_at(&b, 4), Some(2));
        assert_eq!(u32_at(&b, 10), None);
        assert_eq!(u64_at(&b, usize::MAX - 2), None);
    }

    #[test]
    fn sections_check_their_tag_length_and_crc() {
        let mut file = vec![0u8; 3];
        put_section(&mut file, b"CONF", b"hello");
        put_section(&mut file, b"WGHT", &[7; 10]);
        let mut r = Reader::new(&file);
        r.take(3, "lead").unwrap();
        let mut conf = r.section(b"CONF").unwrap();
        assert_eq!(conf.offset(), 3 + 12);
        assert_eq!(conf.take(5, "text").unwrap(), b"hello");
        assert_eq!(r.section(b"WGHT").unwrap().left(), 10);
        r.finish("the sections").unwrap();

        let mut r = Reader::new(&file[3..]);
        let e = r.section(b"WGHT").unwrap_err();
        assert!(e.message.starts_with("expected section WGHT"), "{e}");
        // Every single-byte change is found, and every truncation.
        for i in 0..file.len() - 3 {
            let mut damaged = file[3..].to_vec();
            damaged[i] ^= 0x10;
            let mut r = Reader::new(&damaged);
            assert!(
                r.section(b"CONF").is_err() || r.section(b"WGHT").is_err(),
                "byte {i}"
            );
        }
        for n in 0..file.len() - 3 {
            let mut r = Reader::new(&file[3..3 + n]);
            assert!(
                r.section(b"CONF").is_err() || r.section(b"WGHT").is_err(),
                "{n}"
            );
        }
    }
}
