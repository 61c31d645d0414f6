//! Sequences and the padded batch tensors the network reads.
//!
//! A [`Sequence`] is a list of token ids; every `SPATIAL` id among them is paired, in order,
//! with a [`SpatialToken`] (an object's embedding and world position). A text token at index
//! `i` is at `text_position(i)`. A batch pads sequences on the right with `PAD` to the
//! longest and builds, per row:
//! - `pe`: the 3-D encoding of every token's position, `(b·s, D)`;
//! - `dist`: the normalized distance between every two tokens, `(b, 1, s, s)`;
//! - `mask`: 0 where query `i` may see key `j`, −1e9 elsewhere, `(b, 1, s, s)`. Query `i`
//!   sees key `j` iff `j ≤ i` (causal) and (`j = i` or token `j` is not `SPATIAL`): a spatial
//!   token is seen by no other token, so the spatial tokens after a text are scored
//!   independently of each other. Padding is on the right, so no real token sees a pad.

use candle_core::{DType, Device, Tensor};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::positions::{encode_into, normalized_distance, text_position, world_to_model};
use crate::tokenizer::Tokenizer;

/// The additive mask value of a hidden key (`masked_fill(mask == 0, -1e9)` in PyTorch terms).
pub const MASKED: f32 = -1e9;

/// An object standing in a sequence as one `SPATIAL` token.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialToken {
    /// Its embedding: `channels` values.
    pub embedding: Vec<f32>,
    /// Its position in world coordinates (scaled by `max_position / bounds`).
    pub position: [f32; 3],
}

/// One input sequence of the network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sequence {
    /// Token ids, specials included.
    pub ids: Vec<u32>,
    /// One entry per `SPATIAL` id in `ids`, in order.
    pub spatial: Vec<SpatialToken>,
}

impl Sequence {
    /// `[BOS] text [EOS]`: what `m_embed` reads.
    pub fn text(tok: &Tokenizer, text: &str) -> Result<Self> {
        let mut ids = vec![tok.bos()];
        ids.extend(tok.encode(text)?);
        ids.push(tok.eos());
        Ok(Sequence {
            ids,
            spatial: Vec::new(),
        })
    }

    /// Appends an object as a `SPATIAL` token.
    pub fn push_spatial(&mut self, tok: &Tokenizer, object: SpatialToken) {
        self.ids.push(tok.spatial());
        self.spatial.push(object);
    }
}

/// Padded tensors for a batch of sequences (module docs).
#[derive(Debug)]
pub struct Batch {
    /// Rows.
    pub b: usize,
    /// Padded length.
    pub s: usize,
    /// Each row's real length.
    pub lengths: Vec<usize>,
    /// `(b·s)` u32 ids, row-major.
    pub ids: Tensor,
    /// `(b·s, D)`.
    pub pe: Tensor,
    /// `(b, 1, s, s)`.
    pub dist: Tensor,
    /// `(b, 1, s, s)`.
    pub mask: Tensor,
    /// Flat row indices (`r·s + i`) of the spatial tokens, `(k)` u32, and their embeddings
    /// `(k, C)`; `None` when the batch has none.
    pub objects: Option<(Tensor, Tensor)>,
}

/// Checks a sequence against the model: ids in the vocabulary, length within the context,
/// one spatial token per `SPATIAL` id with `channels` finite values and a finite position.
pub fn check_sequence(cfg: &ModelConfig, tok: &Tokenizer, seq: &Sequence) -> Result<()> {
    if seq.ids.is_empty() {
        return Err(Error::arg("a sequence needs at least one token"));
    }
    if seq.ids.len() > cfg.context {
        return Err(Error::arg(format!(
            "a sequence of {} tokens is longer than the model's context of {}",
            seq.ids.len(),
            cfg.context
        )));
    }
    if let Some(&bad) = seq.ids.iter().find(|&&id| id as usize >= cfg.vocab_size) {
        return Err(Error::arg(format!(
            "token id {bad} is outside the vocabulary of {}",
            cfg.vocab_size
        )));
    }
    let n_spatial = seq.ids.iter().filter(|&&id| id == tok.spatial()).count();
    if n_spatial != seq.spatial.len() {
        return Err(Error::arg(format!(
            "{n_spatial} SPATIAL tokens but {} objects",
            seq.spatial.len()
        )));
    }
    for o in &seq.spatial {
        check_object(cfg, &o.embedding, o.position)?;
    }
    Ok(())
}

/// An object's embedding must be `channels` finite values, its position finite.
pub fn check_object(cfg: &ModelConfig, embedding: &[f32], position: [f32; 3]) -> Result<()> {
    if embedding.len() != cfg.channels {
        return Err(Error::arg(format!(
            "an embedding of {} values where the model has {} channels",
            embedding.len(),
            cfg.channels
        )));
    }
    if embedding.iter().any(|x| !x.is_finite()) {
        return Err(Error::arg("an embedding with a non-finite value"));
    }
    if position.iter().any(|x| !x.is_finite()) {
        return Err(Error::arg(format!("a non-finite position {position:?}")));
    }
    Ok(())
}

/// Checks a map half-width.
pub fn check_bounds(bounds: f32) -> Result<()> {
    if bounds.is_finite() && bounds > 0.0 {
        Ok(())
    } else {
        Err(Error::arg(format!(
            "bounds must be finite and > 0, got {bounds}"
        )))
    }
}

impl Batch {
    /// Pads and encodes `seqs` (already checked) for a model of `cfg` in `dtype`.
    /// `text_pe` holds the encodings of the first text positions ([`text_encodings`]); a
    /// position past its end is encoded here.
    pub fn new(
        cfg: &ModelConfig,
        tok: &Tokenizer,
        seqs: &[Sequence],
        bounds: f32,
        text_pe: &[f32],
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let b = seqs.len();
        let s = seqs.iter().map(|q| q.ids.len()).max().unwrap_or(0);
        if b == 0 || s == 0 {
            return Err(Error::arg("an empty batch"));
        }
        let d = cfg.dim;
        let spatial_id = tok.spatial();
        let mut flat_ids = Vec::with_capacity(b * s);
        let mut pe = Vec::with_capacity(b * s * d);
        let mut dist = vec![0f32; b * s * s];
        let mut mask = vec![0f32; b * s * s];
        let mut obj_rows = Vec::new();
        let mut obj_emb = Vec::new();
        let mut pos = Vec::with_capacity(s);
        for (r, seq) in seqs.iter().enumerate() {
            pos.clear();
            let mut objects = seq.spatial.iter();
            for i in 0..s {
                let id = seq.ids.get(i).copied().unwrap_or(tok.pad());
                flat_ids.push(id);
                match (id == spatial_id).then(|| objects.next()).flatten() {
                    Some(o) => {
                        let p = world_to_model(o.position, bounds, cfg.max_position);
                        encode_into(p, d, &mut pe);
                        pos.push(p);
                        obj_rows.push((r * s + i) as u32);
                        obj_emb.extend_from_slice(&o.embedding);
                    }
                    None => {
                        pos.push(text_position(i));
                        match text_pe.get(i * d..(i + 1) * d) {
                            Some(row) => pe.extend_from_slice(row),
                            None => encode_into(text_position(i), d, &mut pe),
                        }
                    }
                }
            }
            let base = r * s * s;
            for i in 0..s {
                for j in 0..s {
                    dist[base + i * s + j] =
                        normalized_distance(pos[i], pos[j], cfg.max_position) as f32;
                    let visible = j <= i && (j == i || flat_ids[r * s + j] != spatial_id);
                    if !visible {
                        mask[base + i * s + j] = MASKED;
                    }
                }
            }
        }
        let k = obj_rows.len();
        let objects = if k == 0 {
            None
        } else {
            Some((
                Tensor::from_vec(obj_rows, k, device)?,
                Tensor::from_vec(obj_emb, (k, cfg.channels), device)?.to_dtype(dtype)?,
            ))
        };
        Ok(Batch {
            b,
            s,
            lengths: seqs.iter().map(|q| q.ids.len()).collect(),
            ids: Tensor::from_vec(flat_ids, b * s, device)?,
            pe: Tensor::from_vec(pe, (b * s, d), device)?.to_dtype(dtype)?,
            dist: Tensor::from_vec(dist, (b, 1, s, s), device)?.to_dtype(dtype)?,
            mask: Tensor::from_vec(mask, (b, 1, s, s), device)?.to_dtype(dtype)?,
            objects,
        })
    }
}

/// Most values [`text_encodings`] precomputes (4 MiB of f32): a model file's `context` and
/// `dim` (each up to 65,536) do not size an allocation of their own at load.
pub const TEXT_TABLE_VALUES: usize = 1 << 20;

/// The encodings of the first text positions, row after row: all `context` of them where
/// `context · dim` ≤ [`TEXT_TABLE_VALUES`], else as many whole rows as fit. Every reader
/// computes a row past the table's end with the same [`encode_into`].
pub fn text_encodings(cfg: &ModelConfig) -> Vec<f32> {
    let rows = cfg.context.min(TEXT_TABLE_VALUES / cfg.dim.max(1));
    let mut out = Vec::with_capacity(rows * cfg.dim);
    for i in 0..rows {
        encode_into(text_position(i), cfg.dim, &mut out);
    }
    out
}
