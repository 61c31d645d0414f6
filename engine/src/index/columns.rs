//! Objects stored column-wise by a dense slot number: embeddings form one contiguous
//! `len × channels` array so an attention scan is a matrix-vector product, and ids and
//! types are shared `Arc<str>`s (types interned).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::Object;

/// Columns of objects; `by_id` maps each id to its slot.
#[derive(Debug, Clone)]
pub struct Columns {
    pub channels: usize,
    pub ids: Vec<Arc<str>>,
    pub kinds: Vec<Arc<str>>,
    pub positions: Vec<[f32; 3]>,
    pub embeddings: Vec<f32>,
    pub confidence: Vec<f32>,
    pub by_id: FxHashMap<Arc<str>, u32>,
    types: FxHashSet<Arc<str>>,
}

impl Columns {
    pub fn new(channels: usize) -> Self {
        Columns {
            channels,
            ids: Vec::new(),
            kinds: Vec::new(),
            positions: Vec::new(),
            embeddings: Vec::new(),
            confidence: Vec::new(),
            by_id: FxHashMap::default(),
            types: FxHashSet::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Room for `n` more rows (a bulk insert knows its count: no regrowth, no rehash).
    pub fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
        self.kinds.reserve(n);
        self.positions.reserve(n);
        self.embeddings.reserve(n.saturating_mul(self.channels));
        self.confidence.reserve(n);
        self.by_id.reserve(n);
    }

    fn intern(&mut self, kind: &str) -> Arc<str> {
        // Rows arrive in runs of one type often enough that the last one is worth a look.
        if let Some(last) = self.kinds.last() {
            if **last == *kind {
                return last.clone();
            }
        }
        if let Some(k) = self.types.get(kind) {
            return k.clone();
        }
        let k: Arc<str> = Arc::from(kind);
        self.types.insert(k.clone());
        k
    }

    /// Appends an object (its id must not be present), returning its slot.
    pub fn push(&mut self, o: &Object) -> u32 {
        let id: Arc<str> = Arc::from(o.id.as_str());
        let kind = self.intern(&o.kind);
        self.push_parts(id, kind, o.position, &o.embedding, o.confidence)
    }

    fn push_parts(
        &mut self,
        id: Arc<str>,
        kind: Arc<str>,
        position: [f32; 3],
        embedding: &[f32],
        confidence: f32,
    ) -> u32 {
        let slot = self.ids.len() as u32;
        self.by_id.insert(id.clone(), slot);
        self.ids.push(id);
        self.kinds.push(kind);
        self.positions.push(position);
        self.embeddings.extend_from_slice(embedding);
        self.confidence.push(confidence);
        slot
    }

    pub fn embedding(&self, slot: u32) -> &[f32] {
        let s = slot as usize * self.channels;
        &self.embeddings[s..s + self.channels]
    }

    pub fn kind_of(&self, slot: u32) -> &str {
        &self.kinds[slot as usize]
    }
}

/// Some rows of a memtable, in the order given.
pub struct Picked<'a> {
    pub cols: &'a Columns,
    pub slots: Vec<u32>,
}

impl tensormap_storage::segment::Rows for Picked<'_> {
    fn len(&self) -> usize {
        self.slots.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.cols.ids[self.slots[i] as usize]
    }
    fn kind(&self, i: usize) -> &str {
        &self.cols.kinds[self.slots[i] as usize]
    }
    fn position(&self, i: usize) -> [f32; 3] {
        self.cols.positions[self.slots[i] as usize]
    }
    fn embedding(&self, i: usize) -> &[f32] {
        self.cols.embedding(self.slots[i])
    }
    fn confidence(&self, i: usize) -> f32 {
        self.cols.confidence[self.slots[i] as usize]
    }
}

/// Decoded object records, as rows (the volatile rows read on open).
#[derive(Debug, Default)]
pub struct RecordRows {
    ids: Vec<String>,
    records: Vec<tensormap_storage::ObjectRecord>,
}

impl RecordRows {
    pub fn push(&mut self, id: &str, record: tensormap_storage::ObjectRecord) {
        self.ids.push(id.to_string());
        self.records.push(record);
    }
}

impl tensormap_storage::segment::Rows for RecordRows {
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }
    fn kind(&self, i: usize) -> &str {
        &self.records[i].kind
    }
    fn position(&self, i: usize) -> [f32; 3] {
        self.records[i].position
    }
    fn embedding(&self, i: usize) -> &[f32] {
        &self.records[i].embedding
    }
    fn confidence(&self, i: usize) -> f32 {
        self.records[i].confidence
    }
}

/// Two row sets one after the other.
pub struct Chain<'a, A, B> {
    pub a: &'a A,
    pub b: &'a B,
}

impl<A: tensormap_storage::segment::Rows, B: tensormap_storage::segment::Rows>
    tensormap_storage::segment::Rows for Chain<'_, A, B>
{
    fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }
    fn id(&self, i: usize) -> &str {
        let n = self.a.len();
        if i < n {
            self.a.id(i)
        } else {
            self.b.id(i - n)
        }
    }
    fn kind(&self, i: usize) -> &str {
        let n = self.a.len();
        if i < n {
            self.a.kind(i)
        } else {
            self.b.kind(i - n)
        }
    }
    fn position(&self, i: usize) -> [f32; 3] {
        let n = self.a.len();
        if i < n {
            self.a.position(i)
        } else {
            self.b.position(i - n)
        }
    }
    fn embedding(&self, i: usize) -> &[f32] {
        let n = self.a.len();
        if i < n {
            self.a.embedding(i)
        } else {
            self.b.embedding(i - n)
        }
    }
    fn confidence(&self, i: usize) -> f32 {
        let n = self.a.len();
        if i < n {
            self.a.confidence(i)
        } else {
            self.b.confidence(i - n)
        }
    }
}
