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

    pub fn with_capacity(channels: usize, n: usize) -> Self {
        let mut c = Columns::new(channels);
        c.ids.reserve(n);
        c.kinds.reserve(n);
        c.positions.reserve(n);
        c.embeddings.reserve(n * channels);
        c.confidence.reserve(n);
        c.by_id.reserve(n);
        c
    }

    pub fn len(&self) -> usize {
        self.ids.len()
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

    /// Appends an object given by parts (its id must not be present), returning its slot.
    pub fn push_parts_of(
        &mut self,
        id: &str,
        kind: &str,
        position: [f32; 3],
        embedding: &[f32],
        confidence: f32,
    ) -> u32 {
        let kind = self.intern(kind);
        self.push_parts(Arc::from(id), kind, position, embedding, confidence)
    }

    /// Appends the row `slot` of `other`, sharing its strings.
    pub fn push_from(&mut self, other: &Columns, slot: u32) -> u32 {
        let s = slot as usize;
        let kind = self.intern(&other.kinds[s]);
        self.push_parts(
            other.ids[s].clone(),
            kind,
            other.positions[s],
            other.embedding(slot),
            other.confidence[s],
        )
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

    pub fn to_object(&self, slot: u32) -> Object {
        let s = slot as usize;
        Object {
            id: self.ids[s].to_string(),
            kind: self.kinds[s].to_string(),
            position: self.positions[s],
            embedding: self.embedding(slot).to_vec(),
            confidence: self.confidence[s],
        }
    }
}
