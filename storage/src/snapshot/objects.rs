//! Objects in a snapshot: the borrowed [`ObjectEntry`] a writer takes, the columnar
//! [`ObjectChunk`] a reader yields, the rules every object obeys, and the encoding of one
//! object block.
//!
//! An object block of `n` objects, before compression (docs/FORMATS.md), is the object
//! index then the embeddings; every number array is byte-plane shuffled ([`super::block`]):
//! ```text
//! id_len n×u16 | type_index n×u32 | position 3n×f32 | confidence n×f32
//! embedding_offset n×u64 | embedding_size n×u32
//! type_count u32 | type_len type_count×u16 | type bytes | id bytes
//! embeddings n×channels×f32
//! ```
//! `embedding_offset` is where the object's embedding starts in the file's embedding
//! stream (all blocks' embeddings in order), in bytes: `ordinal × channels × 4`;
//! `embedding_size` is `channels × 4`. Both are checked to be exactly that.

use std::collections::HashMap;

use super::block::{self, Cursor};
use crate::{rules, MapConfig};

pub use crate::rules::{MAX_COMPONENT, MAX_TEXT_BYTES};

/// One object, borrowed: what a writer takes and a chunk hands out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectEntry<'a> {
    /// Unique in the map; 1..=1024 bytes.
    pub id: &'a str,
    /// `type` in TensorQL; at most 1024 bytes.
    pub kind: &'a str,
    /// World position, inside the map's bounds.
    pub position: [f32; 3],
    /// `channels` finite values of magnitude at most [`MAX_COMPONENT`].
    pub embedding: &'a [f32],
    /// In [0, 1].
    pub confidence: f32,
}

impl ObjectEntry<'_> {
    /// The bytes this object counts for in a snapshot's logical size: its id and type,
    /// position, embedding and confidence as the engine holds them.
    pub fn logical_bytes(&self) -> u64 {
        (self.id.len() + self.kind.len() + 12 + 4 * self.embedding.len() + 4) as u64
    }
}

/// Checks one object against the rules of a map of `config` (`crate::rules`); the message
/// names the object.
pub fn check_entry(e: &ObjectEntry<'_>, config: &MapConfig) -> Result<(), String> {
    rules::check_id(e.id)?;
    rules::check_object(e.id, e.kind, &e.position, e.embedding, e.confidence, config)
        .map_err(|reason| format!("object '{}': {reason}", e.id))
}

/// Objects column by column, as the engine holds them: ids in one string, types interned.
#[derive(Debug, Clone, Default)]
pub struct ObjectChunk {
    channels: usize,
    ids: String,
    /// `id_ends[i]` is where id `i` ends in `ids`.
    id_ends: Vec<usize>,
    types: Vec<String>,
    type_of: Vec<u32>,
    type_index: HashMap<String, u32>,
    /// World positions.
    pub positions: Vec<[f32; 3]>,
    /// `len × channels` values, row by row.
    pub embeddings: Vec<f32>,
    /// Confidences.
    pub confidences: Vec<f32>,
}

impl PartialEq for ObjectChunk {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl ObjectChunk {
    /// An empty chunk for embeddings of `channels` values.
    pub fn new(channels: usize) -> Self {
        ObjectChunk {
            channels,
            ..Default::default()
        }
    }

    /// Objects held.
    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    /// The id of object `i`.
    pub fn id(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.id_ends[i - 1] };
        &self.ids[start..self.id_ends[i]]
    }

    /// The type of object `i`.
    pub fn kind(&self, i: usize) -> &str {
        &self.types[self.type_of[i] as usize]
    }

    /// The embedding of object `i`.
    pub fn embedding(&self, i: usize) -> &[f32] {
        &self.embeddings[i * self.channels..(i + 1) * self.channels]
    }

    /// Object `i`.
    pub fn get(&self, i: usize) -> ObjectEntry<'_> {
        ObjectEntry {
            id: self.id(i),
            kind: self.kind(i),
            position: self.positions[i],
            embedding: self.embedding(i),
            confidence: self.confidences[i],
        }
    }

    /// The objects in order.
    pub fn iter(&self) -> impl Iterator<Item = ObjectEntry<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Appends an object (the caller has checked it).
    pub fn push(&mut self, e: &ObjectEntry<'_>) {
        self.ids.push_str(e.id);
        self.id_ends.push(self.ids.len());
        let t = self.intern(e.kind);
        self.type_of.push(t);
        self.positions.push(e.position);
        self.embeddings.extend_from_slice(e.embedding);
        self.confidences.push(e.confidence);
    }

    fn intern(&mut self, kind: &str) -> u32 {
        // Objects come in runs of one type often enough that the last one is worth a look.
        if let Some(&last) = self.type_of.last() {
            if self.types[last as usize] == kind {
                return last;
            }
        }
        if let Some(&t) = self.type_index.get(kind) {
            return t;
        }
        let t = self.types.len() as u32;
        self.types.push(kind.to_string());
        self.type_index.insert(kind.to_string(), t);
        t
    }

    /// The bytes of its objects (see [`ObjectEntry::logical_bytes`]).
    pub fn logical_bytes(&self) -> u64 {
        (self.ids.len()
            + self
                .type_of
                .iter()
                .map(|t| self.types[*t as usize].len())
                .sum::<usize>()
            + self.len() * (16 + 4 * self.channels)) as u64
    }

    /// The block bytes of these objects, the first being object `first` of the file.
    pub fn encode_block(&self, first: u64) -> Vec<u8> {
        let n = self.len();
        let ch = self.channels;
        let mut raw = Vec::with_capacity(self.raw_len());
        let mut start = 0;
        let id_lens: Vec<u16> = self
            .id_ends
            .iter()
            .map(|&end| {
                let len = end - start;
                start = end;
                len as u16 // ≤ MAX_TEXT_BYTES: checked by the writer
            })
            .collect();
        block::put_u16(&mut raw, &id_lens);
        block::put_u32(&mut raw, &self.type_of);
        block::put_f32(&mut raw, self.positions.as_flattened());
        block::put_f32(&mut raw, &self.confidences);
        let size = (ch * 4) as u64;
        let offsets: Vec<u64> = (0..n as u64).map(|i| (first + i) * size).collect();
        block::put_u64(&mut raw, &offsets);
        block::put_u32(&mut raw, &vec![size as u32; n]);
        raw.extend_from_slice(&(self.types.len() as u32).to_le_bytes());
        let type_lens: Vec<u16> = self.types.iter().map(|t| t.len() as u16).collect();
        block::put_u16(&mut raw, &type_lens);
        for t in &self.types {
            raw.extend_from_slice(t.as_bytes());
        }
        raw.extend_from_slice(self.ids.as_bytes());
        block::put_f32(&mut raw, &self.embeddings);
        raw
    }

    /// The length [`ObjectChunk::encode_block`] will give.
    pub fn raw_len(&self) -> usize {
        let n = self.len();
        n * (2 + 4 + 12 + 4 + 8 + 4 + 4 * self.channels)
            + 4
            + self.types.iter().map(|t| 2 + t.len()).sum::<usize>()
            + self.ids.len()
    }

    /// Decodes and checks a block of `count` objects, the first being object `first` of
    /// the file, for a map of `config`.
    pub fn decode_block(
        raw: &[u8],
        count: usize,
        first: u64,
        config: &MapConfig,
    ) -> Result<ObjectChunk, String> {
        let ch = config.channels as usize;
        let n = count;
        let mut c = Cursor::new(raw);
        let mut id_lens = Vec::with_capacity(n);
        block::get_u16(c.take_array(n, 2, "id lengths")?, n, &mut id_lens);
        let mut type_of = Vec::with_capacity(n);
        block::get_u32(c.take_array(n, 4, "type indexes")?, n, &mut type_of);
        let mut flat = Vec::with_capacity(3 * n);
        block::get_f32(c.take_array(3 * n, 4, "positions")?, 3 * n, &mut flat);
        let mut confidences = Vec::with_capacity(n);
        block::get_f32(c.take_array(n, 4, "confidences")?, n, &mut confidences);
        let mut offsets = Vec::with_capacity(n);
        block::get_u64(c.take_array(n, 8, "embedding offsets")?, n, &mut offsets);
        let mut sizes = Vec::with_capacity(n);
        block::get_u32(c.take_array(n, 4, "embedding sizes")?, n, &mut sizes);
        let type_count = super::layout::u32_at(c.take(4, "type count")?, 0) as usize;
        if type_count > n {
            return Err(format!("{type_count} types for {n} objects"));
        }
        let mut type_lens = Vec::with_capacity(type_count);
        block::get_u16(
            c.take_array(type_count, 2, "type lengths")?,
            type_count,
            &mut type_lens,
        );
        let mut types = Vec::with_capacity(type_count);
        for (t, &len) in type_lens.iter().enumerate() {
            if len as usize > MAX_TEXT_BYTES {
                return Err(format!(
                    "type {t} is {len} bytes, more than {MAX_TEXT_BYTES}"
                ));
            }
            let bytes = c.take(len as usize, "type text")?;
            let s = std::str::from_utf8(bytes).map_err(|_| format!("type {t} is not UTF-8"))?;
            types.push(s.to_string());
        }
        let id_total: usize = id_lens.iter().map(|&l| l as usize).sum();
        let id_bytes = c.take(id_total, "id text")?;
        let ids = std::str::from_utf8(id_bytes)
            .map_err(|_| "the ids are not UTF-8".to_string())?
            .to_string();
        let mut embeddings = Vec::with_capacity(n * ch);
        block::get_f32(
            c.take_array(n, 4 * ch, "embeddings")?,
            n * ch,
            &mut embeddings,
        );
        c.finish()?;

        let mut id_ends = Vec::with_capacity(n);
        let mut end = 0;
        for (i, &len) in id_lens.iter().enumerate() {
            let start = end;
            end += len as usize;
            if !ids.is_char_boundary(start) || !ids.is_char_boundary(end) {
                return Err(format!("id of object {i} splits a UTF-8 character"));
            }
            id_ends.push(end);
        }
        let size = (ch * 4) as u64;
        let mut type_index = HashMap::with_capacity(types.len());
        for (t, name) in types.iter().enumerate() {
            type_index.insert(name.clone(), t as u32);
        }
        let chunk = ObjectChunk {
            channels: ch,
            ids,
            id_ends,
            types,
            type_of,
            type_index,
            positions: flat.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            embeddings,
            confidences,
        };
        for i in 0..n {
            let ordinal = first + i as u64;
            if chunk.type_of[i] as usize >= chunk.types.len() {
                return Err(format!(
                    "object {i} (#{ordinal}) has type index {} of {}",
                    chunk.type_of[i],
                    chunk.types.len()
                ));
            }
            if offsets[i] != ordinal * size || sizes[i] as u64 != size {
                return Err(format!(
                    "object {i} (#{ordinal}) has embedding offset {} and size {}, expected {} and {size}",
                    offsets[i],
                    sizes[i],
                    ordinal * size
                ));
            }
            check_entry(&chunk.get(i), config)
                .map_err(|e| format!("object {i} (#{ordinal}): {e}"))?;
        }
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk() -> ObjectChunk {
        let mut c = ObjectChunk::new(2);
        for (i, kind) in ["cube", "cube", "sphere", "", "cube"].iter().enumerate() {
            let id = format!("obj-{i}-é");
            c.push(&ObjectEntry {
                id: &id,
                kind,
                position: [i as f32, -(i as f32), 0.5],
                embedding: &[i as f32 * 0.25, -1e15],
                confidence: 0.5,
            });
        }
        c
    }

    #[test]
    fn a_block_round_trips() {
        let config = MapConfig {
            channels: 2,
            ..MapConfig::default()
        };
        let c = chunk();
        let raw = c.encode_block(10);
        assert_eq!(raw.len(), c.raw_len());
        let back = ObjectChunk::decode_block(&raw, c.len(), 10, &config).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.kind(3), "");
        assert_eq!(back.id(1), "obj-1-é");
        // The embedding offsets name the ordinal: the same bytes read as another place fail.
        assert!(ObjectChunk::decode_block(&raw, c.len(), 11, &config).is_err());
        assert!(ObjectChunk::decode_block(&raw, c.len() - 1, 10, &config).is_err());
        assert!(ObjectChunk::decode_block(&raw[..raw.len() - 1], c.len(), 10, &config).is_err());
    }

    #[test]
    fn objects_outside_the_rules_are_refused() {
        let config = MapConfig {
            channels: 1,
            ..MapConfig::default()
        };
        let ok = ObjectEntry {
            id: "a",
            kind: "t",
            position: [0.0, 500.0, -500.0],
            embedding: &[1.0],
            confidence: 1.0,
        };
        check_entry(&ok, &config).unwrap();
        let long = "x".repeat(1025);
        let bad = [
            ObjectEntry { id: "", ..ok },
            ObjectEntry { id: &long, ..ok },
            ObjectEntry { kind: &long, ..ok },
            ObjectEntry {
                position: [0.0, 500.01, 0.0],
                ..ok
            },
            ObjectEntry {
                position: [f32::NAN, 0.0, 0.0],
                ..ok
            },
            ObjectEntry {
                embedding: &[],
                ..ok
            },
            ObjectEntry {
                embedding: &[f32::INFINITY],
                ..ok
            },
            ObjectEntry {
                embedding: &[2e15],
                ..ok
            },
            ObjectEntry {
                confidence: 1.5,
                ..ok
            },
            ObjectEntry {
                confidence: f32::NAN,
                ..ok
            },
        ];
        for e in bad {
            assert!(check_entry(&e, &config).is_err(), "{e:?}");
        }
    }
}
