//! Objects stored column-wise by a dense slot number: embeddings form one contiguous
//! `len × channels` array so an attention scan is a matrix-vector product, ids lie end to
//! end in one string (a bulk insert allocates nothing per row), and types are shared
//! `Arc<str>`s (interned).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashSet};

use crate::Object;

/// Columns of objects; `by_id` holds each id's slot (the latest pushed).
#[derive(Clone)]
pub struct Columns {
    pub channels: usize,
    /// The ids, end to end; id `i` is `ids[id_ends[i - 1]..id_ends[i]]`.
    ids: String,
    id_ends: Vec<usize>,
    pub kinds: Vec<Arc<str>>,
    pub positions: Vec<[f32; 3]>,
    pub embeddings: Vec<f32>,
    pub confidence: Vec<f32>,
    /// Slots, found by the hash of their id.
    by_id: HashTable<u32>,
    types: FxHashSet<Arc<str>>,
}

impl std::fmt::Debug for Columns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Columns")
            .field("channels", &self.channels)
            .field("rows", &self.len())
            .finish()
    }
}

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl Columns {
    pub fn new(channels: usize) -> Self {
        Columns {
            channels,
            ids: String::new(),
            id_ends: Vec::new(),
            kinds: Vec::new(),
            positions: Vec::new(),
            embeddings: Vec::new(),
            confidence: Vec::new(),
            by_id: HashTable::new(),
            types: FxHashSet::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    /// Room for `n` more rows (a bulk insert knows its count: no regrowth, no rehash).
    pub fn reserve(&mut self, n: usize) {
        self.id_ends.reserve(n);
        self.kinds.reserve(n);
        self.positions.reserve(n);
        self.embeddings.reserve(n.saturating_mul(self.channels));
        self.confidence.reserve(n);
        let ids = &self.ids;
        let ends = &self.id_ends;
        self.by_id
            .reserve(n, |s| hash(id_at(ids, ends, *s as usize)));
    }

    /// The id of `slot`.
    pub fn id(&self, slot: u32) -> &str {
        id_at(&self.ids, &self.id_ends, slot as usize)
    }

    /// The slot of the latest row pushed with `id`.
    pub fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id.find(hash(id), |s| self.id(*s) == id).copied()
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

    /// Appends an object, returning its slot; a row of the same id pushed before is no
    /// longer found by id.
    pub fn push(&mut self, o: &Object) -> u32 {
        self.push_row(&o.id, &o.kind, o.position, &o.embedding, o.confidence)
    }

    /// [`Columns::push`] of an object given by its fields.
    pub fn push_row(
        &mut self,
        id: &str,
        kind: &str,
        position: [f32; 3],
        embedding: &[f32],
        confidence: f32,
    ) -> u32 {
        let kind = self.intern(kind);
        let slot = self.len() as u32;
        self.ids.push_str(id);
        self.id_ends.push(self.ids.len());
        let h = hash(id);
        let (ids, ends) = (&self.ids, &self.id_ends);
        match self
            .by_id
            .find_mut(h, |s| id_at(ids, ends, *s as usize) == id)
        {
            Some(s) => *s = slot,
            None => {
                self.by_id
                    .insert_unique(h, slot, |s| hash(id_at(ids, ends, *s as usize)));
            }
        }
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

/// Id `i` of ids stored end to end.
#[inline]
fn id_at<'a>(ids: &'a str, ends: &[usize], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &ids[start..ends[i]]
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
        self.cols.id(self.slots[i])
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
