//! The training loss over one batch of objects.
//!
//! Each object `i` (text `t_i`, embedding `e_i`, position `p_i`) is one sequence
//! `[BOS] t_i [EOS] S(e_i, p_i) S(e_j, p_j)`, where `j` is the next object of the batch (in
//! batch order, cyclically) whose text differs from `t_i` (no second spatial token when every
//! text in the batch is the same). Because a spatial token is seen by no other token, the
//! `EOS` features are `m_embed(t_i)` and each spatial token's score is `m_score` of its
//! object for `t_i`. The loss is
//! ```text
//! loss = lm + w_s · spatial + w_a · (attention + match)
//! ```
//! - `lm`: mean cross-entropy of next-token prediction from `BOS` and every text token (the
//!   text's tokens and `EOS` are the targets; nothing is predicted from `EOS`, a spatial
//!   token or padding).
//! - `spatial` (spatial consistency): mean over ordered pairs `i ≠ j` of non-pad
//!   tokens of one sequence of `(‖f_i − f_j‖ − ‖n_i − n_j‖)²`, with `f` the spatial features
//!   and `n` the positions in units of `max_position`; `‖·‖` of features is
//!   `sqrt(Σ Δ² + 1e-8)` so that its gradient is finite where two features coincide.
//! - `attention` (alignment with the map's attention): with `q_i = m_embed(t_i)` and
//!   `a_ij = softmax_j(q_i · e_j / √C)` over the batch's objects, the mean over `i` of
//!   `−log Σ_{j: t_j = t_i} a_ij`: the attention mass `m_embed(t_i)` puts on the objects of
//!   its own type, the quantity `ORDER BY ATTENTION(m_embed(t)) DESC` ranks by.
//! - `match`: binary cross-entropy of `m_score` as the logit of "the object is a `t`":
//!   `(mean softplus(−s_pos) + mean softplus(s_neg)) / 2` over the first and second spatial
//!   tokens.

use candle_core::{DType, Device, Tensor, D};

use crate::batch::{Batch, Sequence, SpatialToken};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::network::{forward, Mode};
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// One training object: its text (the map object's type), position (world) and embedding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSample<'a> {
    /// The text the model should associate with the object: its `type`.
    pub text: &'a str,
    /// World position.
    pub position: [f32; 3],
    /// `channels` values.
    pub embedding: &'a [f32],
}

/// The loss of one batch and its parts.
#[derive(Debug)]
pub struct LossParts {
    /// The total, a scalar tensor (differentiable).
    pub total: Tensor,
    /// `lm`.
    pub lm: f64,
    /// `spatial`.
    pub spatial: f64,
    /// `attention`.
    pub attention: f64,
    /// `match`.
    pub matching: f64,
    /// Correct next-token predictions, of `predictions`.
    pub correct: usize,
    /// Next-token predictions.
    pub predictions: usize,
}

/// Weights of the loss terms.
#[derive(Debug, Clone, Copy)]
pub struct LossWeights {
    /// `w_s` (0.1 by default).
    pub spatial: f64,
    /// `w_a`.
    pub alignment: f64,
}

/// `softplus(x) = log(1 + eˣ)`, computed as `max(x, 0) + log(1 + e^−|x|)`.
fn softplus(x: &Tensor) -> Result<Tensor> {
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    Ok((x.relu()? + tail)?)
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn index(rows: Vec<u32>, device: &Device) -> Result<Tensor> {
    let n = rows.len();
    Ok(Tensor::from_vec(rows, n, device)?)
}

/// The loss of `samples` (one batch, already validated; `tokens[i]` is sample i's text
/// tokenized) under `weights`, in `mode`.
#[allow(clippy::too_many_arguments)]
pub fn batch_loss(
    weights: &Weights,
    cfg: &ModelConfig,
    tok: &Tokenizer,
    text_pe: &[f32],
    samples: &[TrainSample<'_>],
    tokens: &[&[u32]],
    bounds: f32,
    lw: LossWeights,
    mode: &mut Mode,
) -> Result<LossParts> {
    let device = weights.token_embedding.device();
    let dtype = weights.dtype();
    let b = samples.len();
    // The negative of each sample: the next one with another text, if any.
    let negative: Vec<Option<usize>> = (0..b)
        .map(|i| {
            (1..b)
                .map(|k| (i + k) % b)
                .find(|&j| samples[j].text != samples[i].text)
        })
        .collect();
    let seqs: Vec<Sequence> = (0..b)
        .map(|i| {
            let mut seq = Sequence {
                ids: Vec::with_capacity(tokens[i].len() + 4),
                spatial: Vec::new(),
            };
            seq.ids.push(tok.bos());
            seq.ids.extend_from_slice(tokens[i]);
            seq.ids.push(tok.eos());
            for j in std::iter::once(i).chain(negative[i]) {
                seq.push_spatial(
                    tok,
                    SpatialToken {
                        embedding: samples[j].embedding.to_vec(),
                        position: samples[j].position,
                    },
                );
            }
            seq
        })
        .collect();
    let batch = Batch::new(cfg, tok, &seqs, bounds, text_pe, dtype, device)?;
    let s = batch.s;
    let h = forward(weights, cfg, &batch, mode, None, None)?;

    // Row indices (into the b·s rows) of each part.
    let (mut lm_rows, mut lm_targets) = (Vec::new(), Vec::new());
    let (mut eos_rows, mut pos_rows, mut neg_rows) = (Vec::new(), Vec::new(), Vec::new());
    for (r, seq) in seqs.iter().enumerate() {
        let n = tokens[r].len();
        for k in 0..=n {
            lm_rows.push((r * s + k) as u32);
            lm_targets.push(seq.ids[k + 1]);
        }
        eos_rows.push((r * s + n + 1) as u32);
        pos_rows.push((r * s + n + 2) as u32);
        if negative[r].is_some() {
            neg_rows.push((r * s + n + 3) as u32);
        }
    }

    // lm: next-token cross-entropy.
    let logits = weights
        .output_head
        .forward(&h.index_select(&index(lm_rows, device)?, 0)?)?;
    let targets = Tensor::from_vec(lm_targets.clone(), lm_targets.len(), device)?;
    let lm = candle_nn::loss::cross_entropy(&logits, &targets)?;
    let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
    let correct = predicted
        .iter()
        .zip(&lm_targets)
        .filter(|(p, t)| p == t)
        .count();

    // spatial: feature distances against position distances, over non-pad pairs i ≠ j.
    let c = cfg.channels;
    let f = weights.tensor_projection.forward(&h)?.reshape((b, s, c))?;
    let diff = f.unsqueeze(2)?.broadcast_sub(&f.unsqueeze(1)?)?; // (b, s, s, C)
    let fdist = (diff.sqr()?.sum(D::Minus1)? + 1e-8)?.sqrt()?; // (b, s, s)
    let pdist = batch.dist.squeeze(1)?; // (b, s, s)
    let mut pair = vec![0f32; b * s * s];
    for (r, &len) in batch.lengths.iter().enumerate() {
        for i in 0..len {
            for j in 0..len {
                if i != j {
                    pair[(r * s + i) * s + j] = 1.0;
                }
            }
        }
    }
    let pairs: f64 = pair.iter().map(|&x| x as f64).sum();
    let pair = Tensor::from_vec(pair, (b, s, s), device)?.to_dtype(dtype)?;
    let spatial = ((fdist - pdist)?.sqr()? * pair)?
        .sum_all()?
        .affine(1.0 / pairs.max(1.0), 0.0)?;

    // attention: −log of the attention mass q_i puts on objects of its own type.
    let q = weights
        .tensor_projection
        .forward(&h.index_select(&index(eos_rows, device)?, 0)?)?; // (b, C)
    let mut emb = Vec::with_capacity(b * c);
    let mut same = vec![0f32; b * b];
    for (i, si) in samples.iter().enumerate() {
        emb.extend_from_slice(si.embedding);
        for (j, sj) in samples.iter().enumerate() {
            if si.text != sj.text {
                same[i * b + j] = crate::batch::MASKED;
            }
        }
    }
    let emb = Tensor::from_vec(emb, (b, c), device)?.to_dtype(dtype)?;
    let same = Tensor::from_vec(same, (b, b), device)?.to_dtype(dtype)?;
    let logits = (q.matmul(&emb.t()?)? * (1.0 / (c as f64).sqrt()))?; // (b, b)
    let attention =
        (logits.log_sum_exp(D::Minus1)? - (&logits + same)?.log_sum_exp(D::Minus1)?)?.mean_all()?;

    // match: m_score as a logit, positives and negatives.
    let head = &weights.score_head;
    let s_pos = head.forward(&h.index_select(&index(pos_rows, device)?, 0)?)?;
    let mut matching = softplus(&s_pos.neg()?)?.mean_all()?;
    if !neg_rows.is_empty() {
        let s_neg = head.forward(&h.index_select(&index(neg_rows, device)?, 0)?)?;
        matching = ((matching + softplus(&s_neg)?.mean_all()?)? * 0.5)?;
    }

    let total = (&lm
        + (spatial.affine(lw.spatial, 0.0)?
            + (&attention + &matching)?.affine(lw.alignment, 0.0)?)?)?;
    Ok(LossParts {
        lm: scalar(&lm)?,
        spatial: scalar(&spatial)?,
        attention: scalar(&attention)?,
        matching: scalar(&matching)?,
        total,
        correct,
        predictions: lm_targets.len(),
    })
}
