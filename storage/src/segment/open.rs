//! Opening a segment: every length, offset, checksum and invariant checked once (see the
//! module header of `segment`), then typed views of the sections straight over the bytes.

use std::ops::Range;
use std::sync::Arc;

use super::{
    id_hash, Aabb, Section, ALIGN, HEADER, MAGIC, SECTIONS, TABLE_ENTRY, TREE_FANOUT, VERSION,
};
use crate::{Blob, Error, Result};
use tensormap_bytes::{u32_or_0, u64_or_0};

/// A validated segment: typed views of its sections, straight over the blob's bytes.
#[derive(Clone)]
pub struct SegmentFile {
    blob: Blob,
    id: u64,
    map_id: u32,
    rows: usize,
    channels: usize,
    /// Byte ranges of the sections, indexed by `kind - 1`.
    ranges: [Range<usize>; 10],
    types: Vec<Arc<str>>,
    /// Box ranges of the tree's levels within the boxes, leaves first.
    levels: Vec<Range<usize>>,
    /// Byte offset of the first box.
    boxes_at: usize,
}

impl std::fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentFile")
            .field("id", &self.id)
            .field("rows", &self.rows)
            .field("channels", &self.channels)
            .field("blob", &self.blob)
            .finish()
    }
}

impl SegmentFile {
    /// Validates `blob` as segment `id` (see the module header) and views it.
    pub fn open(id: u64, blob: Blob) -> Result<SegmentFile> {
        let bad = |offset: usize, reason: String| Error::CorruptSegment {
            segment: id,
            offset: offset as u64,
            reason,
        };
        let b = blob.bytes();
        if b.len() < HEADER {
            return Err(bad(
                0,
                format!("{} bytes is shorter than the header", b.len()),
            ));
        }
        if !(b.as_ptr() as usize).is_multiple_of(8) {
            return Err(bad(0, "the bytes are not 8-byte aligned".into()));
        }
        if b[0..8] != MAGIC {
            return Err(bad(0, "not a segment file (bad magic)".into()));
        }
        let stored = u32_or_0(b, 60);
        let actual = crc32fast::hash(&b[..60]);
        if stored != actual {
            return Err(bad(
                60,
                format!(
                    "header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
                ),
            ));
        }
        let version = u32_or_0(b, 8);
        if version != VERSION {
            return Err(bad(
                8,
                format!("unknown segment version {version} (this build reads {VERSION})"),
            ));
        }
        let map_id = u32_or_0(b, 16);
        let channels = u32_or_0(b, 20) as usize;
        let rows64 = u64_or_0(b, 24);
        let table_offset = u64_or_0(b, 32);
        let sections = u32_or_0(b, 40) as usize;
        let table_crc = u32_or_0(b, 44);
        if channels == 0 {
            return Err(bad(20, "zero channels".into()));
        }
        if sections != SECTIONS.len() {
            return Err(bad(
                40,
                format!("{sections} sections (expected {})", SECTIONS.len()),
            ));
        }
        let table_len = (sections * TABLE_ENTRY) as u64;
        if table_offset < HEADER as u64
            || table_offset.checked_add(table_len) != Some(b.len() as u64)
        {
            return Err(bad(32, format!(
                "section table at {table_offset} of {table_len} bytes does not end the {}-byte file",
                b.len()
            )));
        }
        let table_at = table_offset as usize;
        let actual = crc32fast::hash(&b[table_at..]);
        if actual != table_crc {
            return Err(bad(table_at, format!("section table checksum mismatch (stored {table_crc:#010x}, computed {actual:#010x})")));
        }
        // Every row costs at least 12 bytes of positions: a row count the file cannot hold
        // is refused before anything is sized by it.
        if rows64 > (b.len() / 12) as u64 {
            return Err(bad(
                24,
                format!("{rows64} rows cannot fit in {} bytes", b.len()),
            ));
        }
        let rows = rows64 as usize;
        let empty = 0..0;
        let mut ranges: [Range<usize>; 10] = std::array::from_fn(|_| empty.clone());
        let mut seen = [false; 10];
        for i in 0..sections {
            let e = table_at + i * TABLE_ENTRY;
            let kind = u32_or_0(b, e);
            let off = u64_or_0(b, e + 8);
            let len = u64_or_0(b, e + 16);
            let crc = u32_or_0(b, e + 24);
            let Some(k) = SECTIONS.iter().position(|s| *s as u32 == kind) else {
                return Err(bad(e, format!("unknown section kind {kind}")));
            };
            if seen[k] {
                return Err(bad(
                    e,
                    format!("section {} appears twice", SECTIONS[k].name()),
                ));
            }
            seen[k] = true;
            let end = off.checked_add(len).filter(|end| *end <= table_offset);
            let Some(end) =
                end.filter(|_| off >= HEADER as u64 && off.is_multiple_of(ALIGN as u64))
            else {
                return Err(bad(
                    e,
                    format!(
                        "section {} at {off} of {len} bytes lies outside the data or is misaligned",
                        SECTIONS[k].name()
                    ),
                ));
            };
            let range = off as usize..end as usize;
            let actual = crc32fast::hash(&b[range.clone()]);
            if actual != crc {
                return Err(bad(
                    range.start,
                    format!(
                    "{} section checksum mismatch (stored {crc:#010x}, computed {actual:#010x})",
                    SECTIONS[k].name()
                ),
                ));
            }
            ranges[k] = range;
        }
        // Sections do not overlap, and the padding between them is zero: every byte of the
        // file is covered by a checksum or by this check.
        let mut sorted = ranges.clone();
        sorted.sort_by_key(|r| r.start);
        let mut at = HEADER;
        for r in sorted.iter().chain(std::iter::once(&(table_at..table_at))) {
            if r.start < at {
                return Err(bad(r.start, "sections overlap".into()));
            }
            if let Some(i) = b[at..r.start].iter().position(|x| *x != 0) {
                return Err(bad(at + i, "non-zero padding between sections".into()));
            }
            at = r.end;
        }
        let mut seg = SegmentFile {
            id,
            map_id,
            rows,
            channels,
            ranges,
            types: Vec::new(),
            levels: Vec::new(),
            boxes_at: 0,
            blob: blob.clone(),
        };
        seg.check_sizes()?;
        seg.check_types()?;
        seg.check_ids()?;
        seg.check_tree()?;
        Ok(seg)
    }

    /// The same segment as blob `id` with its bytes now read from `blob` — the file this
    /// segment's bytes were just written to. Only the length and header are compared: the
    /// bytes are the ones validated when this view was made.
    pub fn rebind(mut self, id: u64, blob: Blob) -> Result<SegmentFile> {
        let same = blob.len() == self.blob.len()
            && blob.bytes().get(..HEADER) == self.blob.bytes().get(..HEADER)
            && (blob.bytes().as_ptr() as usize).is_multiple_of(8);
        if !same {
            return Err(Error::CorruptSegment {
                segment: id,
                offset: 0,
                reason: "the file does not hold what was written to it".into(),
            });
        }
        self.id = id;
        self.blob = blob;
        Ok(self)
    }

    fn bad(&self, offset: usize, reason: String) -> Error {
        Error::CorruptSegment {
            segment: self.id,
            offset: offset as u64,
            reason,
        }
    }

    fn range(&self, s: Section) -> Range<usize> {
        self.ranges[s as usize - 1].clone()
    }

    fn raw(&self, s: Section) -> &[u8] {
        &self.blob.bytes()[self.range(s)]
    }

    fn check_sizes(&self) -> Result<()> {
        let n = self.rows;
        let want = [
            (Section::Positions, n.checked_mul(12)),
            (
                Section::Embeddings,
                n.checked_mul(self.channels).and_then(|v| v.checked_mul(4)),
            ),
            (Section::Confidence, Some(n * 4)),
            (Section::Kinds, Some(n * 4)),
            (Section::IdOffsets, Some((n + 1) * 8)),
            (Section::IdHashes, Some(n * 8)),
            (Section::IdSlots, Some(n * 4)),
        ];
        for (s, len) in want {
            let r = self.range(s);
            if Some(r.len()) != len {
                return Err(self.bad(
                    r.start,
                    format!(
                        "{} section holds {} bytes, {} rows need {}",
                        s.name(),
                        r.len(),
                        n,
                        len.map_or("more than memory".into(), |l| l.to_string())
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_types(&mut self) -> Result<()> {
        let r = self.range(Section::Types);
        let b = &self.blob.bytes()[r.clone()];
        if b.len() < 16 {
            return Err(self.bad(r.start, "type table shorter than its header".into()));
        }
        let count = u32_or_0(b, 0) as usize;
        let bytes_at = count
            .checked_add(1)
            .and_then(|c| c.checked_mul(8))
            .and_then(|c| c.checked_add(8))
            .filter(|end| *end <= b.len());
        let Some(bytes_at) = bytes_at else {
            return Err(self.bad(r.start, format!("type table claims {count} types")));
        };
        let text = &b[bytes_at..];
        let mut types = Vec::with_capacity(count);
        let mut prev = u64_or_0(b, 8) as usize;
        if prev != 0 {
            return Err(self.bad(r.start + 8, "type offsets do not start at 0".into()));
        }
        for i in 0..count {
            let at = 16 + i * 8;
            let next = u64_or_0(b, at);
            let Some(s) = text
                .get(prev..next.min(usize::MAX as u64) as usize)
                .filter(|_| next as usize >= prev)
                .and_then(|t| std::str::from_utf8(t).ok())
            else {
                return Err(self.bad(
                    r.start + at,
                    format!("type {i} has a bad offset or is not UTF-8"),
                ));
            };
            types.push(Arc::from(s));
            prev = next as usize;
        }
        if prev != text.len() {
            return Err(self.bad(r.start, "type table has trailing bytes".into()));
        }
        let kinds = self.kind_codes();
        if let Some(i) = kinds.iter().position(|k| *k as usize >= count) {
            return Err(self.bad(
                self.range(Section::Kinds).start + 4 * i,
                format!("row {i} has type code {} of {count}", kinds[i]),
            ));
        }
        self.types = types;
        Ok(())
    }

    fn check_ids(&self) -> Result<()> {
        let bytes = self.raw(Section::IdBytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            self.bad(
                self.range(Section::IdBytes).start + e.valid_up_to(),
                "ids are not UTF-8".into(),
            )
        })?;
        let offsets = self.id_offsets();
        let at = self.range(Section::IdOffsets).start;
        if offsets.first() != Some(&0) || offsets.last() != Some(&(bytes.len() as u64)) {
            return Err(self.bad(at, "id offsets do not span the id bytes".into()));
        }
        for (i, w) in offsets.windows(2).enumerate() {
            if w[1] < w[0] || !text.is_char_boundary(w[1] as usize) {
                return Err(self.bad(
                    at + 8 * (i + 1),
                    format!("id offset {} is out of order or splits a character", i + 1),
                ));
            }
        }
        let hashes = self.id_hashes();
        let at = self.range(Section::IdHashes).start;
        if let Some(i) = hashes.windows(2).position(|w| w[1] < w[0]) {
            return Err(self.bad(at + 8 * (i + 1), "id hashes are not sorted".into()));
        }
        let mut seen = vec![0u64; self.rows.div_ceil(64)];
        let at = self.range(Section::IdSlots).start;
        for (i, s) in self.id_slots().iter().enumerate() {
            let s = *s as usize;
            if s >= self.rows || seen[s / 64] & (1 << (s % 64)) != 0 {
                return Err(self.bad(
                    at + 4 * i,
                    format!("id slot {s} is out of range or repeated"),
                ));
            }
            seen[s / 64] |= 1 << (s % 64);
        }
        Ok(())
    }

    fn check_tree(&mut self) -> Result<()> {
        let r = self.range(Section::Tree);
        let b = &self.blob.bytes()[r.clone()];
        let bad_shape = |reason: String| self.bad(r.start, reason);
        if b.len() < 8 {
            return Err(bad_shape("tree section shorter than its header".into()));
        }
        let levels = u32_or_0(b, 0) as usize;
        // Each level divides by the fan-out: more levels than u64 rows could need is damage.
        if levels > 17 || 8 + levels * 8 > b.len() {
            return Err(bad_shape(format!("tree claims {levels} levels")));
        }
        let boxes_at = 8 + levels * 8;
        if !(r.start + boxes_at).is_multiple_of(4) {
            return Err(bad_shape("tree boxes misaligned".into()));
        }
        // The shape packed trees have: leaves of FANOUT points, each level FANOUT of the
        // one below, up to a top level of at most FANOUT nodes (an empty tree: one empty leaf level).
        let mut expect = Vec::new();
        let mut nodes = self.rows.div_ceil(TREE_FANOUT);
        loop {
            expect.push(nodes);
            if nodes <= TREE_FANOUT {
                break;
            }
            nodes = nodes.div_ceil(TREE_FANOUT);
        }
        let got: Vec<usize> = (0..levels)
            .map(|l| u64_or_0(b, 8 + 8 * l) as usize)
            .collect();
        if got != expect {
            return Err(bad_shape(format!(
                "tree levels {got:?} do not fit {} rows (expected {expect:?})",
                self.rows
            )));
        }
        let total: usize = expect.iter().sum();
        if b.len() - boxes_at != total * 24 {
            return Err(bad_shape(format!(
                "tree holds {} bytes of boxes for {total} nodes",
                b.len() - boxes_at
            )));
        }
        let mut start = 0;
        self.levels = expect
            .iter()
            .map(|n| {
                let l = start..start + n;
                start += n;
                l
            })
            .collect();
        self.boxes_at = r.start + boxes_at;
        Ok(())
    }

    /// The blob id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The map id it was written for.
    pub fn map_id(&self) -> u32 {
        self.map_id
    }

    /// Rows (live and dead alike: deletions are kept outside the file).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per embedding.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The file's bytes.
    pub fn blob(&self) -> &Blob {
        &self.blob
    }

    /// Positions by slot.
    pub fn positions(&self) -> &[[f32; 3]] {
        bytemuck::cast_slice(self.raw(Section::Positions))
    }

    /// Embeddings, `rows × channels`, by slot.
    pub fn embeddings(&self) -> &[f32] {
        bytemuck::cast_slice(self.raw(Section::Embeddings))
    }

    /// The embedding of `slot`.
    pub fn embedding(&self, slot: usize) -> &[f32] {
        &self.embeddings()[slot * self.channels..(slot + 1) * self.channels]
    }

    /// Confidences by slot.
    pub fn confidence(&self) -> &[f32] {
        bytemuck::cast_slice(self.raw(Section::Confidence))
    }

    /// Type codes by slot (indexes into [`SegmentFile::types`]).
    pub fn kind_codes(&self) -> &[u32] {
        bytemuck::cast_slice(self.raw(Section::Kinds))
    }

    /// The type table.
    pub fn types(&self) -> &[Arc<str>] {
        &self.types
    }

    fn id_offsets(&self) -> &[u64] {
        bytemuck::cast_slice(self.raw(Section::IdOffsets))
    }

    /// The id of `slot`.
    pub fn id_of(&self, slot: usize) -> &str {
        // Checked on open: the id bytes are UTF-8 and every offset is a char boundary.
        std::str::from_utf8(self.id_bytes_of(slot)).unwrap_or_default()
    }

    /// The id of `slot` as its UTF-8 bytes, without checking them again (they were
    /// checked on open): for comparing and hashing ids, where the byte order is the
    /// `str` order.
    pub fn id_bytes_of(&self, slot: usize) -> &[u8] {
        let off = self.id_offsets();
        &self.raw(Section::IdBytes)[off[slot] as usize..off[slot + 1] as usize]
    }

    /// Reads the ids of up to [`WARM_IDS`] of `slots` (the rest are ignored) in two flat
    /// passes, every offset and then every id's first byte, and returns those bytes xored.
    /// A caller about to read these ids one by one calls it first: each id costs two
    /// dependent cache misses (its offset, then its bytes), and in flat passes the misses
    /// of all the ids overlap instead of following one another.
    pub fn warm_ids(&self, slots: &[u32]) -> u8 {
        let (offsets, bytes) = (self.id_offsets(), self.raw(Section::IdBytes));
        let mut starts = [0usize; WARM_IDS];
        for (start, slot) in starts.iter_mut().zip(slots) {
            *start = offsets.get(*slot as usize).map_or(0, |o| *o as usize);
        }
        starts[..slots.len().min(WARM_IDS)]
            .iter()
            .fold(0, |x, s| x ^ bytes.get(*s).copied().unwrap_or(0))
    }

    /// XXH3-64 of every id, ascending.
    pub fn id_hashes(&self) -> &[u64] {
        bytemuck::cast_slice(self.raw(Section::IdHashes))
    }

    /// The slot of each hash of [`SegmentFile::id_hashes`].
    pub fn id_slots(&self) -> &[u32] {
        bytemuck::cast_slice(self.raw(Section::IdSlots))
    }

    /// The slot of `id`, if the segment holds it (dead or alive).
    pub fn find(&self, id: &str) -> Option<u32> {
        self.find_hashed(id, id_hash(id))
    }

    /// [`SegmentFile::find`] with the hash already computed.
    pub fn find_hashed(&self, id: &str, h: u64) -> Option<u32> {
        let hashes = self.id_hashes();
        let mut i = search(hashes, h);
        let slots = self.id_slots();
        while i < hashes.len() && hashes[i] == h {
            let slot = slots[i];
            if self.id_of(slot as usize) == id {
                return Some(slot);
            }
            i += 1;
        }
        None
    }

    /// Nodes of each tree level (leaves first) as ranges into [`SegmentFile::tree_boxes`].
    pub fn tree_levels(&self) -> &[Range<usize>] {
        &self.levels
    }

    /// Every tree box, leaves first.
    pub fn tree_boxes(&self) -> &[Aabb] {
        let end = self.range(Section::Tree).end;
        bytemuck::cast_slice(&self.blob.bytes()[self.boxes_at..end])
    }
}

/// The most ids [`SegmentFile::warm_ids`] reads in one call.
pub const WARM_IDS: usize = 32;

/// The first index of `sorted` holding a value ≥ `h`: interpolation search, which takes
/// a couple of probes on uniformly spread hashes, falling back to bisection.
pub(super) fn search(sorted: &[u64], h: u64) -> usize {
    let (mut lo, mut hi) = (0usize, sorted.len());
    // Invariant: sorted[..lo] < h and sorted[hi..] >= h.
    let mut guesses = 0;
    while hi - lo > 16 {
        let (a, z) = (sorted[lo], sorted[hi - 1]);
        let mid = if guesses < 3 && z > a && h > a && h <= z {
            guesses += 1;
            let frac = (h - a) as u128 * (hi - lo - 1) as u128 / (z - a) as u128;
            lo + frac as usize
        } else {
            lo + (hi - lo) / 2
        };
        if sorted[mid] < h {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo + sorted[lo..hi].partition_point(|x| *x < h)
}
