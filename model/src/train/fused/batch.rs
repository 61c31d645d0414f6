//! One training batch packed for the fused trainer: the sequences of `loss.rs` one after
//! another with no padding, their inputs, positions and distances.
//!
//! Sample `i` (text `t_i`, tokens `T_i`) is the sequence `[BOS] T_i [EOS] S_i [S_j]`, where
//! `S_i` is its own object as a spatial token and `S_j` the object of its negative `j` (the
//! next sample of the batch, cyclically, with another text; none when every text is the
//! same): the sequences of `loss.rs`, built by the same rule. Rows are the sequences' tokens
//! in order; sequence `r` owns rows `row .. row + len`.

use crate::batch::check_bounds;
use crate::config::ModelConfig;
use crate::error::Result;
use crate::positions::{encode_into, normalized_distance, text_position, world_to_model};
use crate::tokenizer::Tokenizer;
use crate::train::loss::TrainSample;

/// One sequence of a packed batch.
#[derive(Debug, Clone, Copy)]
pub struct Seq {
    /// Its first row.
    pub row: usize,
    /// Its tokens: `text + 3`, or `text + 4` with a negative.
    pub len: usize,
    /// Tokens of its text (`BOS` is index 0, `EOS` index `text + 1`).
    pub text: usize,
    /// Where its `len × len` distances start in [`Packed::dist`].
    pub dist: usize,
    /// The sample whose object is its second spatial token, if any.
    pub negative: Option<usize>,
}

impl Seq {
    /// Row of its `EOS` (where `m_embed` reads).
    pub fn eos(&self) -> usize {
        self.row + self.text + 1
    }

    /// Row of its own object's spatial token.
    pub fn positive(&self) -> usize {
        self.row + self.text + 2
    }

    /// Row of the negative's spatial token.
    pub fn negative_row(&self) -> Option<usize> {
        self.negative.map(|_| self.row + self.text + 3)
    }
}

/// A batch of sequences without padding (module docs).
#[derive(Debug)]
pub struct Packed {
    /// The sequences, in batch order.
    pub seqs: Vec<Seq>,
    /// The longest sequence (the padded length of candle's path, which lays out the
    /// dropout masks).
    pub s: usize,
    /// Token id of every row.
    pub ids: Vec<u32>,
    /// Whether each row is a spatial token (seen by no other token).
    pub spatial: Vec<bool>,
    /// The positional encoding of every row, `rows × D`.
    pub pe: Vec<f32>,
    /// Per sequence, the normalized distance between every two of its tokens, row-major.
    pub dist: Vec<f32>,
    /// The spatial rows and the sample whose object each carries.
    pub objects: Vec<(usize, usize)>,
    /// Rows that predict a next token: `BOS` and every text token, `Σ (text + 1)`.
    pub predictions: usize,
    /// Ordered pairs `i ≠ j` of tokens of one sequence, `Σ len (len − 1)`.
    pub pairs: usize,
    /// Sequences with a negative.
    pub negatives: usize,
}

impl Packed {
    /// Packs `samples` (checked; `tokens[i]` is sample i's text, tokenized) with their
    /// positions in a map of half-width `bounds`. `text_pe` holds the encodings of the
    /// first text positions (`text_encodings`; past its end they are computed).
    pub fn new(
        cfg: &ModelConfig,
        tok: &Tokenizer,
        text_pe: &[f32],
        samples: &[TrainSample<'_>],
        tokens: &[&[u32]],
        bounds: f32,
    ) -> Result<Self> {
        check_bounds(bounds)?;
        let b = samples.len();
        let d = cfg.dim;
        let mut p = Packed {
            seqs: Vec::with_capacity(b),
            s: 0,
            ids: Vec::new(),
            spatial: Vec::new(),
            pe: Vec::new(),
            dist: Vec::new(),
            objects: Vec::new(),
            predictions: 0,
            pairs: 0,
            negatives: 0,
        };
        let mut pos: Vec<[f64; 3]> = Vec::new();
        for (i, (sample, text)) in samples.iter().zip(tokens).enumerate() {
            let negative = (1..b)
                .map(|k| (i + k) % b)
                .find(|&j| samples[j].text != sample.text);
            let row = p.ids.len();
            pos.clear();
            p.ids.push(tok.bos());
            p.ids.extend_from_slice(text);
            p.ids.push(tok.eos());
            for k in 0..text.len() + 2 {
                pos.push(text_position(k));
                match text_pe.get(k * d..(k + 1) * d) {
                    Some(pe) => p.pe.extend_from_slice(pe),
                    None => encode_into(text_position(k), d, &mut p.pe),
                }
            }
            p.spatial.resize(p.ids.len(), false);
            for j in std::iter::once(i).chain(negative) {
                let at = world_to_model(samples[j].position, bounds, cfg.max_position);
                p.objects.push((p.ids.len(), j));
                p.ids.push(tok.spatial());
                p.spatial.push(true);
                pos.push(at);
                encode_into(at, d, &mut p.pe);
            }
            let len = pos.len();
            let seq = Seq {
                row,
                len,
                text: text.len(),
                dist: p.dist.len(),
                negative,
            };
            for a in &pos {
                for c in &pos {
                    p.dist
                        .push(normalized_distance(*a, *c, cfg.max_position) as f32);
                }
            }
            p.s = p.s.max(len);
            p.predictions += text.len() + 1;
            p.pairs += len * (len - 1);
            p.negatives += usize::from(negative.is_some());
            p.seqs.push(seq);
        }
        Ok(p)
    }

    /// Rows in all.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// Whether query row `i` of sequence `seq` sees its key row `j` (indices within the
    /// sequence): `j ≤ i`, and `j = i` or `j` is not a spatial token (`batch.rs`).
    pub fn sees(&self, seq: &Seq, i: usize, j: usize) -> bool {
        j <= i && (j == i || !self.spatial[seq.row + j])
    }
}
