//! Immutable byte blobs (segment files) and the aligned buffer they are built in.
//!
//! A [`Blob`] is either memory-mapped from a file (the sled backend) or held on the heap
//! (blobs being built, and the in-memory backend). Either way its first byte is aligned to
//! at least 8 bytes, so sections placed at multiples of 64 can be viewed as `f32`, `u32` or
//! `u64` slices in place with `bytemuck`, without copying or decoding.

use std::sync::Arc;

use crate::backend::mapped::Mapped;

/// Immutable bytes, cheap to clone (shared).
#[derive(Clone)]
pub struct Blob {
    inner: Arc<Inner>,
}

enum Inner {
    Heap(AlignedBuf),
    Mapped(Mapped),
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.inner {
            Inner::Heap(_) => "heap",
            Inner::Mapped(_) => "mapped",
        };
        write!(f, "Blob({kind}, {} bytes)", self.len())
    }
}

impl Blob {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match &*self.inner {
            Inner::Heap(b) => b.as_bytes(),
            Inner::Mapped(m) => m.bytes(),
        }
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// True for an empty blob.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the bytes are mapped from a file rather than held on the heap.
    pub fn is_mapped(&self) -> bool {
        matches!(&*self.inner, Inner::Mapped(_))
    }

    /// A blob holding a copy of `bytes`, aligned.
    pub fn copy_from(bytes: &[u8]) -> Blob {
        let mut buf = AlignedBuf::with_capacity(bytes.len());
        buf.extend_from_slice(bytes);
        buf.into_blob()
    }

    pub(crate) fn mapped(m: Mapped) -> Blob {
        Blob {
            inner: Arc::new(Inner::Mapped(m)),
        }
    }
}

/// A growable byte buffer whose start is 8-byte aligned (it is a `Vec<u64>` underneath).
#[derive(Debug, Default, Clone)]
pub struct AlignedBuf {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        AlignedBuf {
            words: Vec::with_capacity(bytes.div_ceil(8)),
            len: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The bytes written, mutable (to patch a header in place).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }

    /// Grows the buffer by `n` zero bytes and returns them.
    pub fn grow(&mut self, n: usize) -> &mut [u8] {
        let start = self.len;
        self.len += n;
        self.words.resize(self.len.div_ceil(8), 0);
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[start..start + n]
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.grow(bytes.len()).copy_from_slice(bytes);
    }

    /// Appends zero bytes up to the next multiple of `align`.
    pub fn pad_to(&mut self, align: usize) {
        let pad = self.len.next_multiple_of(align) - self.len;
        self.grow(pad);
    }

    /// The finished buffer as a blob (no copy).
    pub fn into_blob(self) -> Blob {
        Blob {
            inner: Arc::new(Inner::Heap(self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_appends_and_padding() {
        let mut b = AlignedBuf::default();
        b.extend_from_slice(&[1, 2, 3]);
        b.pad_to(8);
        assert_eq!(b.len(), 8);
        b.extend_from_slice(&1.5f32.to_le_bytes());
        let blob = b.into_blob();
        assert_eq!(blob.bytes()[..3], [1, 2, 3]);
        assert_eq!(blob.bytes().as_ptr() as usize % 8, 0);
        let f: &[f32] = bytemuck::cast_slice(&blob.bytes()[8..12]);
        assert_eq!(f, [1.5]);
        assert_eq!(Blob::copy_from(&[9; 13]).bytes(), [9; 13]);
    }
}
