//! The segment file: one sealed, immutable part of a map's object index, laid out so that
//! it is used where it lies — memory-mapped, viewed in place, never decoded row by row.
//!
//! Byte layout (all integers little-endian; docs/FORMATS.md has the full table):
//! ```text
//! 0    header, 64 bytes: magic "TMAPSEG\0", version, flags, map id, channels, rows,
//!      section-table offset, section count, table CRC32, header CRC32 (last 4 bytes)
//! 64   sections, each starting at a multiple of 64
//! T    section table: per section kind u32, 0 u32, offset u64, length u64, CRC32 u32, 0 u32
//! ```
//! Sections hold the columns in the packed R-tree's order (slot `s` is the `s`-th point of
//! the tree): positions, embeddings, confidences, type codes, the type table, id offsets,
//! id bytes, the id hash table (XXH3-64 of each id, ascending, and the slot of each), and
//! the tree's bounding boxes level by level.
//!
//! [`SegmentFile::open`] checks everything a reader could trip on before handing out a view:
//! every length and offset against the file size, every CRC, alignment, monotonic id
//! offsets on character boundaries, type codes in range, the hash table sorted and its
//! slots a permutation, the tree's shape against the row count. Any failure is
//! [`Error::CorruptSegment`] with the offset where it was found.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::{AlignedBuf, Blob, Error, Result};

/// The first 8 bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"TMAPSEG\0";
/// The segment format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER: usize = 64;
/// Alignment of every section's first byte.
pub const ALIGN: usize = 64;
/// Children per tree node and points per leaf of the packed R-tree.
pub const TREE_FANOUT: usize = 16;
const TABLE_ENTRY: usize = 32;

/// A bounding box: min x, y, z then max x, y, z.
pub type Aabb = [f32; 6];

/// The sections of a segment, by their kind number in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Section {
    /// `rows × [f32; 3]`.
    Positions = 1,
    /// `rows × channels` f32.
    Embeddings = 2,
    /// `rows` f32.
    Confidence = 3,
    /// `rows` u32: index into the type table.
    Kinds = 4,
    /// `count u32, 0 u32, (count + 1) × u64 offsets, UTF-8 bytes`.
    Types = 5,
    /// `(rows + 1)` u64: id `s` is `id_bytes[off[s]..off[s + 1]]`.
    IdOffsets = 6,
    /// The ids' UTF-8 bytes, concatenated.
    IdBytes = 7,
    /// `rows` u64: XXH3-64 of every id, ascending.
    IdHashes = 8,
    /// `rows` u32: the slot of each hash.
    IdSlots = 9,
    /// `levels u32, 0 u32, levels × u64 node counts, boxes` (leaves first).
    Tree = 10,
}

const SECTIONS: [Section; 10] = [
    Section::Positions,
    Section::Embeddings,
    Section::Confidence,
    Section::Kinds,
    Section::Types,
    Section::IdOffsets,
    Section::IdBytes,
    Section::IdHashes,
    Section::IdSlots,
    Section::Tree,
];

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Positions => "positions",
            Section::Embeddings => "embeddings",
            Section::Confidence => "confidence",
            Section::Kinds => "type codes",
            Section::Types => "type table",
            Section::IdOffsets => "id offsets",
            Section::IdBytes => "id bytes",
            Section::IdHashes => "id hashes",
            Section::IdSlots => "id slots",
            Section::Tree => "tree",
        }
    }
}

/// The hash of an object id used by the segment's id table: XXH3-64 with seed 0.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// The rows a segment is built from, already in tree order.
pub trait Rows {
    /// The number of rows.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `i`'s id.
    fn id(&self, i: usize) -> &str;
    /// Row `i`'s type.
    fn kind(&self, i: usize) -> &str;
    /// Row `i`'s position.
    fn position(&self, i: usize) -> [f32; 3];
    /// Row `i`'s embedding (`channels` values).
    fn embedding(&self, i: usize) -> &[f32];
    /// Row `i`'s confidence.
    fn confidence(&self, i: usize) -> f32;
}

/// The packed R-tree of a segment: node counts per level (leaves first) and the boxes of
/// every level, concatenated in that order.
#[derive(Debug, Clone, Copy)]
pub struct TreeParts<'a> {
    /// Nodes per level, leaves first.
    pub level_lens: &'a [usize],
    /// Every level's boxes, leaves first.
    pub boxes: &'a [Aabb],
}

/// Writes sections into an aligned buffer and records the table.
struct Writer {
    buf: AlignedBuf,
    table: Vec<(Section, u64, u64, u32)>,
}

impl Writer {
    fn section(&mut self, kind: Section, write: impl FnOnce(&mut AlignedBuf)) {
        self.buf.pad_to(ALIGN);
        let start = self.buf.len();
        write(&mut self.buf);
        let end = self.buf.len();
        let crc = crc32fast::hash(&self.buf.as_bytes()[start..end]);
        self.table
            .push((kind, start as u64, (end - start) as u64, crc));
    }
}

fn push<T: bytemuck::Pod>(buf: &mut AlignedBuf, values: &[T]) {
    buf.extend_from_slice(bytemuck::cast_slice(values));
}

/// Encodes a segment of `rows` (in tree order) with the tree over their positions.
pub fn build(map_id: u32, channels: usize, rows: &impl Rows, tree: TreeParts<'_>) -> Result<Blob> {
    let n = rows.len();
    let encode_err = |reason: String| Error::Encode {
        what: "segment".into(),
        reason,
    };
    if channels == 0 || channels > u32::MAX as usize {
        return Err(encode_err(format!("{channels} channels")));
    }
    // The ids, gathered once (rows may be read in a permuted order: one random pass).
    let ids: Vec<&str> = (0..n).map(|i| rows.id(i)).collect();
    let id_bytes: usize = ids.iter().map(|id| id.len()).sum();
    let estimate = HEADER + n * (12 + 4 * channels + 4 + 4 + 8 + 8 + 12) + id_bytes + 1024;
    let mut w = Writer {
        buf: AlignedBuf::with_capacity(estimate + tree.boxes.len() * 24),
        table: Vec::with_capacity(SECTIONS.len()),
    };
    w.buf.grow(HEADER);
    w.section(Section::Positions, |b| {
        for i in 0..n {
            push(b, &rows.position(i));
        }
    });
    w.section(Section::Embeddings, |b| {
        for i in 0..n {
            push(b, rows.embedding(i));
        }
    });
    w.section(Section::Confidence, |b| {
        for i in 0..n {
            b.extend_from_slice(&rows.confidence(i).to_le_bytes());
        }
    });
    // Types interned in order of first appearance.
    let mut types: Vec<&str> = Vec::new();
    let mut codes: HashMap<&str, u32> = HashMap::new();
    let mut kinds = Vec::with_capacity(n);
    let mut last: Option<(&str, u32)> = None;
    for i in 0..n {
        let k = rows.kind(i);
        let code = match last {
            Some((l, c)) if l == k => c,
            _ => *codes.entry(k).or_insert_with(|| {
                types.push(k);
                types.len() as u32 - 1
            }),
        };
        last = Some((k, code));
        kinds.push(code);
    }
    w.section(Section::Kinds, |b| push(b, &kinds));
    drop(kinds);
    w.section(Section::Types, |b| {
        b.extend_from_slice(&(types.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        let mut off = 0u64;
        b.extend_from_slice(&off.to_le_bytes());
        for t in &types {
            off += t.len() as u64;
            b.extend_from_slice(&off.to_le_bytes());
        }
        for t in &types {
            b.extend_from_slice(t.as_bytes());
        }
    });
    w.section(Section::IdOffsets, |b| {
        let mut off = 0u64;
        b.extend_from_slice(&off.to_le_bytes());
        for id in &ids {
            off += id.len() as u64;
            b.extend_from_slice(&off.to_le_bytes());
        }
    });
    w.section(Section::IdBytes, |b| {
        for id in &ids {
            b.extend_from_slice(id.as_bytes());
        }
    });
    let mut hashed: Vec<(u64, u32)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id_hash(id), i as u32))
        .collect();
    drop(ids);
    hashed.sort_unstable();
    w.section(Section::IdHashes, |b| {
        for (h, _) in &hashed {
            b.extend_from_slice(&h.to_le_bytes());
        }
    });
    w.section(Section::IdSlots, |b| {
        for (_, s) in &hashed {
            b.extend_from_slice(&s.to_le_bytes());
        }
    });
    drop(hashed);
    w.section(Section::Tree, |b| {
        b.extend_from_slice(&(tree.level_lens.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for l in tree.level_lens {
            b.extend_from_slice(&(*l as u64).to_le_bytes());
        }
        push(b, tree.boxes);
    });
    w.buf.pad_to(ALIGN);
    let table_offset = w.buf.len() as u64;
    let table_start = w.buf.len();
    for (kind, off, len, crc) in &w.table {
        let e = w.buf.grow(TABLE_ENTRY);
        e[0..4].copy_from_slice(&(*kind as u32).to_le_bytes());
        e[8..16].copy_from_slice(&off.to_le_bytes());
        e[16..24].copy_from_slice(&len.to_le_bytes());
        e[24..28].copy_from_slice(&crc.to_le_bytes());
    }
    let table_crc = crc32fast::hash(&w.buf.as_bytes()[table_start..]);
    let sections = w.table.len() as u32;
    let h = &mut w.buf.as_bytes_mut()[..HEADER];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..20].copy_from_slice(&map_id.to_le_bytes());
    h[20..24].copy_from_slice(&(channels as u32).to_le_bytes());
    h[24..32].copy_from_slice(&(n as u64).to_le_bytes());
    h[32..40].copy_from_slice(&table_offset.to_le_bytes());
    h[40..44].copy_from_slice(&sections.to_le_bytes());
    h[44..48].copy_from_slice(&table_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&h[..60]);
    h[60..64].copy_from_slice(&header_crc.to_le_bytes());
    Ok(w.buf.into_blob())
}

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

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
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
        let stored = le_u32(b, 60);
        let actual = crc32fast::hash(&b[..60]);
        if stored != actual {
            return Err(bad(
                60,
                format!(
                    "header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
                ),
            ));
        }
        let version = le_u32(b, 8);
        if version != VERSION {
            return Err(bad(
                8,
                format!("unknown segment version {version} (this build reads {VERSION})"),
            ));
        }
        let map_id = le_u32(b, 16);
        let channels = le_u32(b, 20) as usize;
        let rows64 = le_u64(b, 24);
        let table_offset = le_u64(b, 32);
        let sections = le_u32(b, 40) as usize;
        let table_crc = le_u32(b, 44);
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
            let kind = le_u32(b, e);
            let off = le_u64(b, e + 8);
            let len = le_u64(b, e + 16);
            let crc = le_u32(b, e + 24);
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
        let count = le_u32(b, 0) as usize;
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
        let mut prev = le_u64(b, 8) as usize;
        if prev != 0 {
            return Err(self.bad(r.start + 8, "type offsets do not start at 0".into()));
        }
        for i in 0..count {
            let at = 16 + i * 8;
            let next = le_u64(b, at);
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
        let levels = le_u32(b, 0) as usize;
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
        let got: Vec<usize> = (0..levels).map(|l| le_u64(b, 8 + 8 * l) as usize).collect();
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
        let off = self.id_offsets();
        let bytes = &self.raw(Section::IdBytes)[off[slot] as usize..off[slot + 1] as usize];
        // Checked on open: the id bytes are UTF-8 and every offset is a char boundary.
        std::str::from_utf8(bytes).unwrap_or_default()
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

/// The first index of `sorted` holding a value ≥ `h`: interpolation search, which takes
/// a couple of probes on uniformly spread hashes, falling back to bisection.
fn search(sorted: &[u64], h: u64) -> usize {
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

#[cfg(test)]
mod tests;
