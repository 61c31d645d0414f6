//! Batched inference: `embed` (`m_embed`) and `score` (`m_score`).
//!
//! `embed` runs `[BOS] text [EOS]` for many texts as padded batches (texts sorted by length
//! so that a batch pads little, identical texts run once) and reads only the spatial
//! features at each `EOS`. `score` runs each distinct text once as a cached prefix and all
//! of its rows as one batch of single spatial tokens (cache.rs), so a row costs one token.

use std::collections::HashMap;

use candle_core::{DType, Tensor};

use crate::batch::{check_bounds, check_object, Sequence};
use crate::cache::{Continuation, Prefix};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::network::{forward, Mode};
use crate::positions::world_to_model;

/// Most token rows (`b · s`) in one embed batch.
const EMBED_TOKENS: usize = 8192;
/// Most attention scores (`b · H · s²`) in one embed batch.
const EMBED_SCORES: usize = 1 << 22;
/// Rows per score step.
const SCORE_ROWS: usize = 2048;

/// One row for [`Model::score`]: `m_score(text, embedding, position)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreInput<'a> {
    /// The text.
    pub text: &'a str,
    /// The row's embedding: `channels` values.
    pub embedding: &'a [f32],
    /// The row's position, world coordinates.
    pub position: [f32; 3],
}

impl Model {
    /// `m_embed` for each text: the spatial features (`channels` wide) at the `EOS` of
    /// `[BOS] text [EOS]`. Batched; the result is in the order of `texts`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        // Distinct texts, each tokenized once; `slot[i]` is text i's distinct index.
        let mut distinct: Vec<Sequence> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut slot = Vec::with_capacity(texts.len());
        for &t in texts {
            let k = match index.get(t) {
                Some(&k) => k,
                None => {
                    let seq = self.text_sequence(t)?;
                    distinct.push(seq);
                    index.insert(t, distinct.len() - 1);
                    distinct.len() - 1
                }
            };
            slot.push(k);
        }
        let mut order: Vec<usize> = (0..distinct.len()).collect();
        order.sort_by_key(|&k| distinct[k].ids.len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); distinct.len()];
        let heads = self.config.heads;
        let mut start = 0;
        while start < order.len() {
            // Grow the batch while the longest (last, as sorted) still fits the budgets.
            let mut end = start + 1;
            while end < order.len() {
                let s = distinct[order[end]].ids.len();
                let b = end + 1 - start;
                if b * s > EMBED_TOKENS || b * heads * s * s > EMBED_SCORES {
                    break;
                }
                end += 1;
            }
            let seqs: Vec<Sequence> = order[start..end]
                .iter()
                .map(|&k| distinct[k].clone())
                .collect();
            let feats = self.eos_features(&seqs)?;
            for (&k, f) in order[start..end].iter().zip(feats) {
                out[k] = f;
            }
            start = end;
        }
        Ok(slot.into_iter().map(|k| out[k].clone()).collect())
    }

    /// `[BOS] text [EOS]`, checked against the context.
    pub(crate) fn text_sequence(&self, text: &str) -> Result<Sequence> {
        let seq = Sequence::text(&self.tokenizer, text)?;
        // Room for one spatial token after it, so that every embeddable text is scorable.
        if seq.ids.len() + 1 > self.config.context {
            return Err(Error::arg(format!(
                "a text of {} tokens does not fit the model's context of {} (with BOS, EOS \
                 and a spatial token)",
                seq.ids.len() - 2,
                self.config.context
            )));
        }
        Ok(seq)
    }

    /// Spatial features at the last token of each (text-only) sequence.
    fn eos_features(&self, seqs: &[Sequence]) -> Result<Vec<Vec<f32>>> {
        let batch = self.batch(seqs, self.config.max_position)?;
        let rows: Vec<u32> = batch
            .lengths
            .iter()
            .enumerate()
            .map(|(r, &len)| (r * batch.s + len - 1) as u32)
            .collect();
        let rows = Tensor::from_vec(rows, seqs.len(), &self.device)?;
        let h = forward(
            &self.weights,
            &self.config,
            &batch,
            &mut Mode::Infer,
            None,
            Some(&rows),
        )?;
        let f = self.weights.tensor_projection.forward(&h)?;
        Ok(f.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }

    /// `m_score` for each row: the score head at the row's spatial token placed after
    /// `[BOS] text [EOS]` (its position scaled from a map of half-width `bounds`). Rows that
    /// share a text share one run of the text. The result is in the order of `rows`.
    pub fn score(&self, rows: &[ScoreInput<'_>], bounds: f32) -> Result<Vec<f32>> {
        check_bounds(bounds)?;
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            check_object(&self.config, r.embedding, r.position)
                .map_err(|e| Error::arg(format!("row {i}: {e}")))?;
            let g = *index.entry(r.text).or_insert_with(|| {
                groups.push((r.text, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let mut prefixes = Vec::with_capacity(groups.len());
        for (text, _) in &groups {
            prefixes.push(self.text_sequence(text)?);
        }
        let mut out = vec![0f32; rows.len()];
        let cfg = &self.config;
        for ((_, members), seq) in groups.iter().zip(&prefixes) {
            let prefix = Prefix::new(
                &self.weights,
                cfg,
                &self.tokenizer,
                seq,
                &self.text_pe,
                &self.device,
            )?;
            for chunk in members.chunks(SCORE_ROWS) {
                let n = chunk.len();
                let ids = vec![self.tokenizer.spatial(); n];
                let positions: Vec<[f64; 3]> = chunk
                    .iter()
                    .map(|&i| world_to_model(rows[i].position, bounds, cfg.max_position))
                    .collect();
                let mut emb = Vec::with_capacity(n * cfg.channels);
                for &i in chunk {
                    emb.extend_from_slice(rows[i].embedding);
                }
                let objects = (
                    Tensor::arange(0u32, n as u32, &self.device)?,
                    Tensor::from_vec(emb, (n, cfg.channels), &self.device)?
                        .to_dtype(self.weights.dtype())?,
                );
                let (h, _) = prefix.step(
                    &self.weights,
                    cfg,
                    &Continuation {
                        ids: &ids,
                        positions: &positions,
                        objects: Some(objects),
                    },
                )?;
                let s = self
                    .weights
                    .score_head
                    .forward(&h)?
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?;
                for (&i, v) in chunk.iter().zip(s) {
                    out[i] = v;
                }
            }
        }
        Ok(out)
    }
}
