//! The training loss's heads on the final hidden states, with their gradients: the loss of
//! `loss.rs` (its module docs define every term) written out by hand.
//!
//! Three terms are sums over one sequence's rows, so each part of the batch computes its
//! own ([`per_part`]): next-token cross-entropy (output head), the spatial term (pairs of
//! one sequence's features) and `match` (score head at the spatial tokens). The attention
//! term compares every sequence's `EOS` features with every sample's embedding, so it runs
//! once over the batch between the parts' forward and backward passes
//! ([`attention_term`]). The gradient of each term is scaled by its weight and by the
//! batch's count it is a mean over ([`Scales`]), so that the parts' gradients add up to the
//! batch's.

use crate::config::ModelConfig;
use crate::dense::{a_b, add_column_sums, at_b, dot, linear, Write};
use crate::fastexp::exp_nonpositive;
use crate::flat::WeightSet;
use crate::layernorm::sum;
use crate::wide::{wide, Wide};

use super::network::Part;

/// The factor of each term's gradient: its loss weight over its count in the batch.
#[derive(Debug, Clone, Copy)]
pub struct Scales {
    /// `1 / predictions`.
    pub lm: f32,
    /// `w_s / pairs`.
    pub spatial: f32,
    /// `w_a / b`, halved when the batch has negatives.
    pub positive: f32,
    /// `w_a / (2 · negatives)`.
    pub negative: f32,
}

/// One part's sums.
#[derive(Debug, Default, Clone, Copy)]
pub struct PartSums {
    /// Σ of the cross-entropy over the part's prediction rows.
    pub lm: f64,
    /// Predictions that were right (arg max = target).
    pub correct: usize,
    /// Σ over ordered pairs of `(‖f_i − f_j‖ − dist_ij)²`.
    pub spatial: f64,
    /// Σ `softplus(−score)` at the objects' own spatial tokens.
    pub positive: f64,
    /// Σ `softplus(score)` at the negatives' spatial tokens.
    pub negative: f64,
}

/// One part's head outputs and gradients, and the buffers they are computed in (kept from
/// step to step).
#[derive(Debug, Default)]
pub struct HeadBuffers {
    /// The spatial features `h W_fᵀ + b_f`, `R × C`.
    pub features: Vec<f32>,
    /// The loss's gradient with respect to `features` (the attention term's is added by
    /// [`attention_term`]'s caller).
    pub dfeatures: Vec<f32>,
    /// The loss's gradient with respect to `h`, `R × D`.
    pub dh: Vec<f32>,
    /// The prediction rows of `h`, their logits and their gradient.
    hx: Vec<f32>,
    targets: Vec<u32>,
    logits: Vec<f32>,
    dhx: Vec<f32>,
}

/// `v` resized to `n` zeros.
fn zeros(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    v.clear();
    v.resize(n, 0.0);
    v
}

/// Softmax cross-entropy of rows of logits against their targets, run wide: returns the
/// sum of the losses and the count of rows whose arg max is the target, and replaces each
/// row by the gradient of the mean loss, `(softmax − onehot) · scale`.
struct CrossEntropy<'a> {
    logits: &'a mut [f32],
    targets: &'a [u32],
    scale: f32,
}

impl Wide for CrossEntropy<'_> {
    type Output = (f64, usize);
    #[inline(always)]
    fn run(self) -> (f64, usize) {
        let v = self.logits.len() / self.targets.len().max(1);
        let (mut loss, mut correct) = (0f64, 0usize);
        for (row, &t) in self.logits.chunks_exact_mut(v).zip(self.targets) {
            let (mut best, mut max) = (0, f32::NEG_INFINITY);
            for (i, &x) in row.iter().enumerate() {
                if x > max {
                    (best, max) = (i, x);
                }
            }
            let t = t as usize;
            correct += usize::from(best == t);
            let shifted = row[t] - max;
            for x in row.iter_mut() {
                *x = exp_nonpositive(*x - max);
            }
            let sum = sum(row);
            loss -= (shifted - sum.ln()) as f64;
            let k = self.scale / sum;
            for x in row.iter_mut() {
                *x *= k;
            }
            row[t] -= self.scale;
        }
        (loss, correct)
    }
}

/// `log(1 + eˣ)` as `loss.rs` computes it: `max(x, 0) + log(1 + e^−|x|)`.
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (1.0 + (-x.abs()).exp()).ln()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The part's terms over its final hidden states `h` (`R × D`), with their gradients in
/// `buf`; adds the output and score heads' weight gradients to `grads`.
pub fn per_part(
    w: &WeightSet<Vec<f32>>,
    cfg: &ModelConfig,
    part: &Part,
    h: &[f32],
    scales: Scales,
    grads: &mut WeightSet<Vec<f32>>,
    buf: &mut HeadBuffers,
) -> PartSums {
    let packed = part.packed;
    let (d, c, v) = (cfg.dim, cfg.channels, cfg.vocab_size);
    let (r, base) = (part.len(), part.rows.start);
    let seqs = &packed.seqs[part.seqs.clone()];
    let dh = zeros(&mut buf.dh, r * d);
    let mut sums = PartSums::default();

    // Next-token cross-entropy from BOS and every text token.
    let n: usize = seqs.iter().map(|s| s.text + 1).sum();
    buf.hx.clear();
    buf.targets.clear();
    for s in seqs {
        let local = s.row - base;
        buf.hx
            .extend_from_slice(&h[local * d..(local + s.text + 1) * d]);
        buf.targets
            .extend_from_slice(&packed.ids[s.row + 1..s.row + s.text + 2]);
    }
    let hx = &buf.hx;
    let logits = zeros(&mut buf.logits, n * v);
    linear(logits, hx, &w.output.w, &w.output.b, n, d);
    let (lm, correct) = wide(CrossEntropy {
        logits: &mut *logits,
        targets: &buf.targets,
        scale: scales.lm,
    });
    sums.lm = lm;
    sums.correct = correct;
    at_b(&mut grads.output.w, logits, hx, v, n, d, Write::Add);
    add_column_sums(&mut grads.output.b, logits);
    let dhx = zeros(&mut buf.dhx, n * d);
    a_b(dhx, logits, &w.output.w, n, v, d, Write::Set);
    let mut at = 0;
    for s in seqs {
        let local = s.row - base;
        let rows = (s.text + 1) * d;
        for (g, x) in dh[local * d..][..rows].iter_mut().zip(&dhx[at..at + rows]) {
            *g += x;
        }
        at += rows;
    }

    // Spatial: every ordered pair of one sequence's tokens; (i, j) and (j, i) are equal.
    let features = zeros(&mut buf.features, r * c);
    linear(features, h, &w.features.w, &w.features.b, r, d);
    let df = zeros(&mut buf.dfeatures, r * c);
    let mut diff = vec![0f32; c];
    for s in seqs {
        let dist = &packed.dist[s.dist..][..s.len * s.len];
        let local = s.row - base;
        for i in 0..s.len {
            for j in i + 1..s.len {
                let (fi, fj) = (
                    &features[(local + i) * c..][..c],
                    &features[(local + j) * c..][..c],
                );
                let mut sq = 0f32;
                for ((x, a), b) in diff.iter_mut().zip(fi).zip(fj) {
                    *x = a - b;
                    sq += *x * *x;
                }
                let fd = (sq + 1e-8).sqrt();
                let e = fd - dist[i * s.len + j];
                sums.spatial += 2.0 * (e as f64) * (e as f64);
                // d(2e²)/d(f_i − f_j) = 4e (f_i − f_j) / fd, for both orders.
                let k = 4.0 * e / fd * scales.spatial;
                for (t, &x) in diff.iter().enumerate() {
                    df[(local + i) * c + t] += k * x;
                    df[(local + j) * c + t] -= k * x;
                }
            }
        }
    }

    // Match: the score head at the spatial tokens.
    let sw = &w.score.w;
    let sb = w.score.b.first().copied().unwrap_or(0.0);
    for s in seqs {
        let rows =
            std::iter::once((s.positive(), true)).chain(s.negative_row().map(|r| (r, false)));
        for (row, own) in rows {
            let local = row - base;
            let hr = &h[local * d..][..d];
            let score = dot(hr, sw) + sb;
            let ds = if own {
                sums.positive += softplus(-score) as f64;
                -sigmoid(-score) * scales.positive
            } else {
                sums.negative += softplus(score) as f64;
                sigmoid(score) * scales.negative
            };
            for (g, &wv) in dh[local * d..][..d].iter_mut().zip(sw) {
                *g += ds * wv;
            }
            for (g, &x) in grads.score.w.iter_mut().zip(hr) {
                *g += ds * x;
            }
            if let Some(b) = grads.score.b.first_mut() {
                *b += ds;
            }
        }
    }
    sums
}

/// The attention term over the batch: `q_i` (row `i` of `q`, `b × C`) is sequence `i`'s
/// `EOS` features, `embeddings[j]` sample `j`'s embedding, `same(i, j)` whether their texts
/// are equal. Returns the term (the mean over `i` of `lse_j(l_ij) − lse_{j same}(l_ij)`,
/// `l_ij = q_i · e_j / √C`) and its gradient with respect to `q` times `weight`.
pub fn attention_term(
    q: &[f32],
    embeddings: &[&[f32]],
    same: impl Fn(usize, usize) -> bool,
    c: usize,
    weight: f32,
) -> (f64, Vec<f32>) {
    let b = embeddings.len();
    let inv = 1.0 / (c as f32).sqrt();
    let mut dq = vec![0f32; b * c];
    let mut term = 0f64;
    let mut logits = vec![0f32; b];
    let scale = weight / b as f32;
    for i in 0..b {
        let qi = &q[i * c..][..c];
        for (l, e) in logits.iter_mut().zip(embeddings) {
            *l = dot(qi, e) * inv;
        }
        let lse = |keep: &dyn Fn(usize) -> bool| -> (f32, f32) {
            let max = (0..b)
                .filter(|&j| keep(j))
                .map(|j| logits[j])
                .fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = (0..b)
                .filter(|&j| keep(j))
                .map(|j| (logits[j] - max).exp())
                .sum();
            (max, sum)
        };
        let (max_all, sum_all) = lse(&|_| true);
        let (max_same, sum_same) = lse(&|j| same(i, j));
        term += ((max_all + sum_all.ln()) - (max_same + sum_same.ln())) as f64;
        let dqi = &mut dq[i * c..][..c];
        for (j, e) in embeddings.iter().enumerate() {
            let mut g = (logits[j] - max_all).exp() / sum_all;
            if same(i, j) {
                g -= (logits[j] - max_same).exp() / sum_same;
            }
            let g = g * scale * inv;
            for (d, &x) in dqi.iter_mut().zip(e.iter()) {
                *d += g * x;
            }
        }
    }
    (term / b.max(1) as f64, dq)
}

/// Back through the features head: adds `dfeatures W_f` to `dh` and the head's weight
/// gradients to `grads`.
pub fn features_backward(
    w: &WeightSet<Vec<f32>>,
    cfg: &ModelConfig,
    h: &[f32],
    buf: &mut HeadBuffers,
    grads: &mut WeightSet<Vec<f32>>,
) {
    let (d, c) = (cfg.dim, cfg.channels);
    let r = h.len() / d.max(1);
    let df = &buf.dfeatures;
    at_b(&mut grads.features.w, df, h, c, r, d, Write::Add);
    add_column_sums(&mut grads.features.b, df);
    a_b(&mut buf.dh, df, &w.features.w, r, c, d, Write::Add);
}
