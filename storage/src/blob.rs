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

/// A growable byte buffer whose start is 8-byte aligned.
///
/// Small buffers are a `Vec<u64>` on the heap. A buffer of `HUGE_THRESHOLD` (2 MiB) bytes or more
/// (a segment's embeddings, say) lives in an anonymous memory mapping instead, placed on a
/// 2 MiB boundary and advised onto transparent huge pages where the platform has them: a
/// scan of such a buffer then takes a TLB miss every 2 MiB instead of every 4 KiB (on the
/// heap, 4 KiB pages made summing 128 MB of embeddings 1.3–1.5× slower). A mapping starts
/// on a page boundary, so the 8-byte (and 64-byte) alignment holds either way.
#[derive(Debug, Default)]
pub struct AlignedBuf {
    store: Store,
    len: usize,
}

/// Bytes from which a buffer is mapped rather than allocated on the heap (2 MiB: one huge
/// page).
pub const HUGE_THRESHOLD: usize = 2 << 20;

#[derive(Debug)]
enum Store {
    /// Heap words; `words.len() * 8 >= len`, and the bytes past `len` are zero.
    Heap(Vec<u64>),
    /// An anonymous mapping; the buffer is `map[offset..offset + cap]`, and the bytes past
    /// `len` are zero (a fresh mapping is zero-filled and nothing writes past `len`).
    Anon {
        map: memmap2::MmapMut,
        offset: usize,
        cap: usize,
    },
}

impl Default for Store {
    fn default() -> Self {
        Store::Heap(Vec::new())
    }
}

/// An anonymous mapping of at least `cap` bytes starting at a 2 MiB boundary, advised for
/// huge pages; `None` when the platform refuses the mapping (the caller stays on the heap).
fn map_huge(cap: usize) -> Option<Store> {
    let cap = cap.checked_next_multiple_of(HUGE_THRESHOLD)?;
    // One huge page more than needed, so the buffer can start on a 2 MiB boundary wherever
    // the kernel put the mapping (recent Linux kernels align such mappings themselves; the
    // spare tail is never touched, so it costs address space only).
    let map = memmap2::MmapMut::map_anon(cap.checked_add(HUGE_THRESHOLD)?).ok()?;
    let addr = map.as_ptr() as usize;
    let offset = addr.next_multiple_of(HUGE_THRESHOLD) - addr;
    #[cfg(target_os = "linux")]
    {
        // Advice only: without it (THP "never", or an old kernel) the buffer still works,
        // on 4 KiB pages.
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Some(Store::Anon { map, offset, cap })
}

impl Clone for AlignedBuf {
    fn clone(&self) -> Self {
        let mut copy = AlignedBuf::with_capacity(self.len);
        copy.extend_from_slice(self.as_bytes());
        copy
    }
}

impl AlignedBuf {
    /// An empty buffer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        let store = if bytes >= HUGE_THRESHOLD {
            map_huge(bytes)
        } else {
            None
        };
        AlignedBuf {
            store: store.unwrap_or_else(|| Store::Heap(Vec::with_capacity(bytes.div_ceil(8)))),
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

    /// True when the buffer lives in an anonymous mapping (advised for huge pages) rather
    /// than on the heap.
    pub fn is_mapped(&self) -> bool {
        matches!(self.store, Store::Anon { .. })
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.store {
            Store::Heap(words) => &bytemuck::cast_slice::<u64, u8>(words)[..self.len],
            Store::Anon { map, offset, .. } => &map[*offset..*offset + self.len],
        }
    }

    /// The bytes written, mutable (to patch a header in place).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        match &mut self.store {
            Store::Heap(words) => &mut bytemuck::cast_slice_mut::<u64, u8>(words)[..len],
            Store::Anon { map, offset, .. } => &mut map[*offset..*offset + len],
        }
    }

    /// Grows the buffer by `n` zero bytes and returns them.
    pub fn grow(&mut self, n: usize) -> &mut [u8] {
        let start = self.len;
        let end = start + n;
        let room = match &self.store {
            Store::Heap(words) => words.capacity() * 8,
            Store::Anon { cap, .. } => *cap,
        };
        if end > room {
            self.reserve(end, end.max(room.saturating_mul(2)));
        }
        self.len = end;
        match &mut self.store {
            Store::Heap(words) => {
                words.resize(end.div_ceil(8), 0);
                &mut bytemuck::cast_slice_mut::<u64, u8>(words)[start..end]
            }
            // `end <= cap` (`reserve`), and past the old `len` the mapping is still zero.
            Store::Anon { map, offset, .. } => &mut map[*offset + start..*offset + end],
        }
    }

    /// Moves the bytes written to a store with room for at least `need` bytes (`want` when
    /// it is mapped: growth doubles, as a `Vec`'s does): a mapping from `HUGE_THRESHOLD` (2 MiB)
    /// bytes, else (or when the platform refuses to map) the heap.
    fn reserve(&mut self, need: usize, want: usize) {
        let mapped = if need >= HUGE_THRESHOLD {
            map_huge(want)
        } else {
            None
        };
        match mapped {
            Some(Store::Anon {
                mut map,
                offset,
                cap,
            }) => {
                map[offset..offset + self.len].copy_from_slice(self.as_bytes());
                self.store = Store::Anon { map, offset, cap };
            }
            _ => {
                if let Store::Anon { map, offset, .. } = &self.store {
                    let mut words = Vec::with_capacity(want.div_ceil(8));
                    words.resize(self.len.div_ceil(8), 0);
                    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..self.len]
                        .copy_from_slice(&map[*offset..*offset + self.len]);
                    self.store = Store::Heap(words);
                }
                // On the heap, `Vec::resize` grows the words itself.
            }
        }
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

    #[test]
    fn large_buffers_are_mapped_on_a_huge_page_boundary() {
        // Grown past the threshold from a small start: moved onto a mapping, bytes kept.
        let mut b = AlignedBuf::with_capacity(16);
        let pattern: Vec<u8> = (0..=255).collect();
        while b.len() < 3 * HUGE_THRESHOLD {
            b.extend_from_slice(&pattern);
            b.extend_from_slice(&[7; 3]);
            b.pad_to(64);
        }
        assert!(b.is_mapped());
        let bytes = b.as_bytes();
        assert_eq!(bytes.as_ptr() as usize % HUGE_THRESHOLD, 0);
        for chunk in bytes.chunks(320) {
            assert_eq!(chunk[..256], pattern[..]);
            assert_eq!(chunk[256..259], [7; 3]);
            assert!(chunk[259..].iter().all(|&x| x == 0));
        }
        let copy = b.clone();
        assert_eq!(copy.as_bytes(), b.as_bytes());
        b.as_bytes_mut()[0] = 99;
        let blob = b.into_blob();
        assert_eq!(blob.bytes()[0], 99);
        assert_eq!(copy.as_bytes()[0], 0);

        // Sized up front: mapped at once; grown zeroes read as zero.
        let mut b = AlignedBuf::with_capacity(HUGE_THRESHOLD + 1);
        assert!(b.is_mapped());
        assert!(b.grow(HUGE_THRESHOLD + 1).iter().all(|&x| x == 0));
        b.extend_from_slice(&[1; 100]);
        assert_eq!(b.len(), HUGE_THRESHOLD + 101);
        assert_eq!(b.as_bytes()[HUGE_THRESHOLD + 1..], [1; 100]);

        // Small buffers stay on the heap.
        assert!(!AlignedBuf::with_capacity(HUGE_THRESHOLD - 1).is_mapped());
    }
}
