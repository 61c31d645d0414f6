//! Writing a segment: the columns of rows already in tree order and the packed tree's
//! boxes, each section aligned and checksummed, then the section table and the header.

use std::collections::HashMap;

use super::{id_hash, Aabb, Rows, Section, ALIGN, HEADER, MAGIC, SECTIONS, TABLE_ENTRY, VERSION};
use crate::{AlignedBuf, Blob, Error, Result};

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
