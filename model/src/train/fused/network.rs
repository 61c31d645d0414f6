//! The network's forward pass over a part of a packed batch, keeping what its backward pass
//! needs, and the backward pass: the training mode of `network.rs` written out by hand.
//!
//! Per layer, on the part's `R` rows (`x` is `R × D`):
//! ```text
//! q, k, v = x W_{q,k,v}ᵀ + b                      per sequence r and head h:
//! S = q_h k_hᵀ / √hd − β_h · dist                 hidden keys (batch.rs's mask) left out
//! P = softmax(S);  A = P ∘ M_att;  att_h = A v_h   M: dropout masks (dropout.rs)
//! x1 = LN1(x + att W_oᵀ + b_o)
//! z = x1 W_1ᵀ + b_1;  g = gelu(z) ∘ M_hid;  x2 = LN2(x1 + (g W_2ᵀ + b_2) ∘ M_out)
//! ```
//! The input rows are `(E[id] + [W_obj e + b_obj]) ∘ M_in + PE`; the output `h = LN_f(x)`.
//! The backward pass runs the same steps in reverse, adding every weight's gradient into a
//! [`WeightSet`] of the part's own.

use std::ops::Range;

use crate::config::ModelConfig;
use crate::dense::{a_b, add_column_sums, at_b, linear, product, view, view_mut, Write};
use crate::flat::{Lin, WeightSet};
use crate::gelu::{gelu, gelu_derivative};
use crate::layernorm::{backward as norm_backward, normalize, scale_shift};

use super::batch::{Packed, Seq};
use super::dropout::Masks;

/// A run of whole sequences of a packed batch: what one thread works on.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// The batch.
    pub packed: &'a Packed,
    /// Its sequences (indices into `packed.seqs`).
    pub seqs: Range<usize>,
    /// Their rows.
    pub rows: Range<usize>,
    /// The step's dropout masks (padded layouts), if any.
    pub masks: Option<&'a Masks>,
    /// The embedding of each sample of the batch (`channels` values).
    pub embeddings: &'a [&'a [f32]],
}

impl Part<'_> {
    /// The part's sequences with their batch index.
    fn each_seq(&self) -> impl Iterator<Item = (usize, &Seq)> + '_ {
        self.seqs.clone().map(move |r| (r, &self.packed.seqs[r]))
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Multiplies every row of `x` (`R × width`, the part's rows) by its row of the padded
    /// mask `mask` (`(b·s) × width`), if there is one.
    fn apply_row_mask(&self, x: &mut [f32], mask: Option<&[f32]>, width: usize) {
        let (Some(mask), Some(masks)) = (mask, self.masks) else {
            return;
        };
        for (r, seq) in self.each_seq() {
            let local = seq.row - self.rows.start;
            let rows = &mut x[local * width..(local + seq.len) * width];
            let m = &mask[r * masks.s * width..][..seq.len * width];
            for (x, m) in rows.iter_mut().zip(m) {
                *x *= m;
            }
        }
    }
}

/// What one layer's backward pass reads.
#[derive(Debug, Default)]
struct LayerTape {
    /// Its input, `R × D`.
    x: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Attention weights before dropout, per sequence `H × n × n` (0 at hidden keys).
    probs: Vec<f32>,
    /// Attention output (merged heads), `R × D`.
    att: Vec<f32>,
    xhat1: Vec<f32>,
    sigma1: Vec<f32>,
    /// After the first norm, `R × D`.
    x1: Vec<f32>,
    /// Before the GELU, `R × F`.
    z: Vec<f32>,
    /// After the GELU and dropout, `R × F`.
    g: Vec<f32>,
    xhat2: Vec<f32>,
    sigma2: Vec<f32>,
}

/// The forward pass of a part, kept for its backward pass.
#[derive(Debug)]
pub struct Tape {
    layers: Vec<LayerTape>,
    /// Where each sequence's attention weights start in a layer's `probs`.
    probs_at: Vec<usize>,
    xhat: Vec<f32>,
    sigma: Vec<f32>,
    /// The final hidden states, `R × D`.
    pub h: Vec<f32>,
}

/// Row-wise LayerNorm of `u` (`R × D`): `x̂`, `σ` per row and `y = x̂ γ + β`.
fn norm_rows(u: &[f32], gain: &[f32], bias: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gain.len();
    let mut xhat = vec![0f32; u.len()];
    let mut y = vec![0f32; u.len()];
    let sigma = u
        .chunks_exact(d)
        .zip(xhat.chunks_exact_mut(d))
        .zip(y.chunks_exact_mut(d))
        .map(|((u, xh), y)| {
            let s = normalize(xh, u, eps);
            scale_shift(y, xh, gain, bias);
            s
        })
        .collect();
    (xhat, sigma, y)
}

/// Back through a row-wise LayerNorm: `dy` (`R × D`) is replaced by `dx`; the gain's and
/// bias's gradients are added to `dn`.
fn norm_rows_backward(
    dy: &mut [f32],
    xhat: &[f32],
    sigma: &[f32],
    gain: &[f32],
    dgain: &mut [f32],
    dbias: &mut [f32],
) {
    let d = gain.len();
    let mut dx = vec![0f32; d];
    for ((dy, xh), &s) in dy.chunks_exact_mut(d).zip(xhat.chunks_exact(d)).zip(sigma) {
        norm_backward(&mut dx, dy, xh, gain, s, dgain, dbias);
        dy.copy_from_slice(&dx);
    }
}

/// Adds the gradient of `y = x Wᵀ + b` to `g` from `dy` (`rows × out`) and `x`
/// (`rows × in`), and writes or adds `dx = dy W` when asked.
fn linear_backward(
    lin: &Lin<Vec<f32>>,
    g: &mut Lin<Vec<f32>>,
    dy: &[f32],
    x: &[f32],
    rows: usize,
    dx: Option<(&mut [f32], Write)>,
) {
    let (out, inp) = (lin.b.len(), lin.w.len() / lin.b.len().max(1));
    at_b(&mut g.w, dy, x, out, rows, inp, Write::Add);
    add_column_sums(&mut g.b, dy);
    if let Some((dx, write)) = dx {
        a_b(dx, dy, &lin.w, rows, out, inp, write);
    }
}

/// The forward pass of `part` under `w` (module docs).
pub fn forward(w: &WeightSet<Vec<f32>>, cfg: &ModelConfig, part: &Part) -> Tape {
    let packed = part.packed;
    let (d, f, heads, hd) = (cfg.dim, cfg.hidden, cfg.heads, cfg.head_dim());
    let r = part.len();
    let base = part.rows.start;
    // Inputs: token embeddings, the object projection at spatial rows, dropout, then PE.
    let mut x = vec![0f32; r * d];
    for (row, xr) in part.rows.clone().zip(x.chunks_exact_mut(d)) {
        let id = packed.ids[row] as usize;
        xr.copy_from_slice(&w.embedding[id * d..(id + 1) * d]);
    }
    let objects: Vec<&(usize, usize)> = packed
        .objects
        .iter()
        .filter(|(row, _)| part.rows.contains(row))
        .collect();
    if !objects.is_empty() {
        let c = cfg.channels;
        let e: Vec<f32> = objects
            .iter()
            .flat_map(|&&(_, j)| part.embeddings[j].iter().copied())
            .collect();
        let mut proj = vec![0f32; objects.len() * d];
        linear(&mut proj, &e, &w.object.w, &w.object.b, objects.len(), c);
        for (&&(row, _), p) in objects.iter().zip(proj.chunks_exact(d)) {
            let xr = &mut x[(row - base) * d..][..d];
            for (x, p) in xr.iter_mut().zip(p) {
                *x += p;
            }
        }
    }
    part.apply_row_mask(&mut x, part.masks.map(|m| &m.input[..]), d);
    for (x, pe) in x.iter_mut().zip(&packed.pe[base * d..(base + r) * d]) {
        *x += pe;
    }

    let mut probs_at = Vec::with_capacity(part.seqs.len());
    let mut total = 0;
    for (_, seq) in part.each_seq() {
        probs_at.push(total);
        total += heads * seq.len * seq.len;
    }
    let scale = 1.0 / (hd as f32).sqrt();
    let mut layers = Vec::with_capacity(cfg.layers);
    let mut scores = Vec::new();
    let mut dropped = Vec::new();
    for (l, lw) in w.layers.iter().enumerate() {
        let masks = part.masks.map(|m| &m.layers[l]);
        let mut t = LayerTape {
            q: vec![0f32; r * d],
            k: vec![0f32; r * d],
            v: vec![0f32; r * d],
            probs: vec![0f32; total],
            att: vec![0f32; r * d],
            ..LayerTape::default()
        };
        linear(&mut t.q, &x, &lw.q.w, &lw.q.b, r, d);
        linear(&mut t.k, &x, &lw.k.w, &lw.k.b, r, d);
        linear(&mut t.v, &x, &lw.v.w, &lw.v.b, r, d);
        for ((bi, seq), &at) in part.each_seq().zip(&probs_at) {
            let n = seq.len;
            let off = (seq.row - base) * d;
            let dist = &packed.dist[seq.dist..][..n * n];
            scores.resize(n * n, 0.0);
            for (h, &beta) in lw.beta.iter().enumerate() {
                let col = off + h * hd;
                product(
                    view_mut(&mut scores, n, n, n),
                    Write::Set,
                    view(&t.q[col..], n, hd, d),
                    view(&t.k[col..], n, hd, d).transpose(),
                    scale,
                );
                let p = &mut t.probs[at + h * n * n..][..n * n];
                for i in 0..n {
                    let mut max = f32::NEG_INFINITY;
                    for j in 0..=i {
                        if packed.sees(seq, i, j) {
                            let s = scores[i * n + j] - beta * dist[i * n + j];
                            p[i * n + j] = s;
                            max = max.max(s);
                        }
                    }
                    let mut sum = 0f32;
                    for j in 0..=i {
                        if packed.sees(seq, i, j) {
                            let e = (p[i * n + j] - max).exp();
                            p[i * n + j] = e;
                            sum += e;
                        }
                    }
                    for x in &mut p[i * n..i * n + i + 1] {
                        *x /= sum;
                    }
                }
                let a: &[f32] = match (masks, part.masks) {
                    (Some(m), Some(all)) => {
                        let s = all.s;
                        dropped.clear();
                        for i in 0..n {
                            let mrow = &m.attention[((bi * heads + h) * s + i) * s..][..n];
                            dropped
                                .extend(p[i * n..(i + 1) * n].iter().zip(mrow).map(|(p, m)| p * m));
                        }
                        &dropped
                    }
                    _ => p,
                };
                product(
                    view_mut(&mut t.att[col..], n, hd, d),
                    Write::Set,
                    view(a, n, n, n),
                    view(&t.v[col..], n, hd, d),
                    1.0,
                );
            }
        }
        let mut u = vec![0f32; r * d];
        linear(&mut u, &t.att, &lw.o.w, &lw.o.b, r, d);
        for (u, x) in u.iter_mut().zip(&x) {
            *u += x;
        }
        let (xhat1, sigma1, x1) = norm_rows(&u, &lw.norm1.gain, &lw.norm1.bias, cfg.norm_eps);
        let mut z = vec![0f32; r * f];
        linear(&mut z, &x1, &lw.ffn_in.w, &lw.ffn_in.b, r, d);
        let mut g: Vec<f32> = z.iter().map(|&z| gelu(z)).collect();
        part.apply_row_mask(&mut g, masks.map(|m| &m.hidden[..]), f);
        linear(&mut u, &g, &lw.ffn_out.w, &lw.ffn_out.b, r, f);
        part.apply_row_mask(&mut u, masks.map(|m| &m.output[..]), d);
        for (u, x) in u.iter_mut().zip(&x1) {
            *u += x;
        }
        let (xhat2, sigma2, x2) = norm_rows(&u, &lw.norm2.gain, &lw.norm2.bias, cfg.norm_eps);
        t.x = std::mem::replace(&mut x, x2);
        t.xhat1 = xhat1;
        t.sigma1 = sigma1;
        t.x1 = x1;
        t.z = z;
        t.g = g;
        t.xhat2 = xhat2;
        t.sigma2 = sigma2;
        layers.push(t);
    }
    let (xhat, sigma, h) = norm_rows(&x, &w.norm.gain, &w.norm.bias, cfg.norm_eps);
    Tape {
        layers,
        probs_at,
        xhat,
        sigma,
        h,
    }
}

/// The backward pass of `part`: from `dh` (the loss's gradient with respect to the final
/// hidden states, `R × D`; consumed), adds every weight's gradient to `grads`.
pub fn backward(
    w: &WeightSet<Vec<f32>>,
    cfg: &ModelConfig,
    part: &Part,
    tape: &Tape,
    mut dx: Vec<f32>,
    grads: &mut WeightSet<Vec<f32>>,
) {
    let packed = part.packed;
    let (d, f, heads, hd) = (cfg.dim, cfg.hidden, cfg.heads, cfg.head_dim());
    let r = part.len();
    let base = part.rows.start;
    let scale = 1.0 / (hd as f32).sqrt();
    norm_rows_backward(
        &mut dx,
        &tape.xhat,
        &tape.sigma,
        &w.norm.gain,
        &mut grads.norm.gain,
        &mut grads.norm.bias,
    );
    let mut dg = vec![0f32; r * f];
    let mut datt = vec![0f32; r * d];
    let (mut dq, mut dk, mut dv) = (vec![0f32; r * d], vec![0f32; r * d], vec![0f32; r * d]);
    let (mut a, mut da) = (Vec::new(), Vec::new());
    for (l, (lw, t)) in w.layers.iter().zip(&tape.layers).enumerate().rev() {
        let gl = &mut grads.layers[l];
        let masks = part.masks.map(|m| &m.layers[l]);
        // x2 = LN2(u2): dx becomes du2, the gradient of x1 + ffn(x1) and of the residual.
        norm_rows_backward(
            &mut dx,
            &t.xhat2,
            &t.sigma2,
            &lw.norm2.gain,
            &mut gl.norm2.gain,
            &mut gl.norm2.bias,
        );
        let mut dout = dx.clone();
        part.apply_row_mask(&mut dout, masks.map(|m| &m.output[..]), d);
        linear_backward(
            &lw.ffn_out,
            &mut gl.ffn_out,
            &dout,
            &t.g,
            r,
            Some((&mut dg, Write::Set)),
        );
        part.apply_row_mask(&mut dg, masks.map(|m| &m.hidden[..]), f);
        for (dg, &z) in dg.iter_mut().zip(&t.z) {
            *dg *= gelu_derivative(z);
        }
        // dx1 = du2 + dz W_1.
        linear_backward(
            &lw.ffn_in,
            &mut gl.ffn_in,
            &dg,
            &t.x1,
            r,
            Some((&mut dx, Write::Add)),
        );
        norm_rows_backward(
            &mut dx,
            &t.xhat1,
            &t.sigma1,
            &lw.norm1.gain,
            &mut gl.norm1.gain,
            &mut gl.norm1.bias,
        );
        // dx is now du1: the gradient of the layer's input through the residual, and of
        // the attention's output projection.
        linear_backward(
            &lw.o,
            &mut gl.o,
            &dx,
            &t.att,
            r,
            Some((&mut datt, Write::Set)),
        );
        for ((bi, seq), &at) in part.each_seq().zip(&tape.probs_at) {
            let n = seq.len;
            let off = (seq.row - base) * d;
            let dist = &packed.dist[seq.dist..][..n * n];
            for h in 0..heads {
                let col = off + h * hd;
                let p = &t.probs[at + h * n * n..][..n * n];
                let mrow = |i: usize| -> Option<&[f32]> {
                    let (m, all) = (masks?, part.masks?);
                    Some(&m.attention[((bi * heads + h) * all.s + i) * all.s..][..n])
                };
                a.clear();
                for i in 0..n {
                    match mrow(i) {
                        Some(m) => {
                            a.extend(p[i * n..(i + 1) * n].iter().zip(m).map(|(p, m)| p * m))
                        }
                        None => a.extend_from_slice(&p[i * n..(i + 1) * n]),
                    }
                }
                // dA = dout_h v_hᵀ;  dv_h = Aᵀ dout_h.
                da.resize(n * n, 0.0);
                product(
                    view_mut(&mut da, n, n, n),
                    Write::Set,
                    view(&datt[col..], n, hd, d),
                    view(&t.v[col..], n, hd, d).transpose(),
                    1.0,
                );
                product(
                    view_mut(&mut dv[col..], n, hd, d),
                    Write::Set,
                    view(&a, n, n, n).transpose(),
                    view(&datt[col..], n, hd, d),
                    1.0,
                );
                // Through the dropout and the softmax: dS = P ∘ (dP − Σ_j P dP); the
                // distance penalty's gradient is −Σ dS · dist.
                let mut dbeta = 0f32;
                for i in 0..n {
                    let m = mrow(i);
                    let row = &mut da[i * n..(i + 1) * n];
                    if let Some(m) = m {
                        for (x, m) in row.iter_mut().zip(m) {
                            *x *= m;
                        }
                    }
                    let pr = &p[i * n..(i + 1) * n];
                    let dot: f32 = pr.iter().zip(row.iter()).map(|(p, g)| p * g).sum();
                    for j in 0..n {
                        row[j] = pr[j] * (row[j] - dot);
                        dbeta -= row[j] * dist[i * n + j];
                    }
                }
                gl.beta[h] += dbeta;
                // dq_h = dS k_h / √hd;  dk_h = dSᵀ q_h / √hd.
                product(
                    view_mut(&mut dq[col..], n, hd, d),
                    Write::Set,
                    view(&da, n, n, n),
                    view(&t.k[col..], n, hd, d),
                    scale,
                );
                product(
                    view_mut(&mut dk[col..], n, hd, d),
                    Write::Set,
                    view(&da, n, n, n).transpose(),
                    view(&t.q[col..], n, hd, d),
                    scale,
                );
            }
        }
        // dx = du1 + dq W_q + dk W_k + dv W_v.
        linear_backward(&lw.q, &mut gl.q, &dq, &t.x, r, Some((&mut dx, Write::Add)));
        linear_backward(&lw.k, &mut gl.k, &dk, &t.x, r, Some((&mut dx, Write::Add)));
        linear_backward(&lw.v, &mut gl.v, &dv, &t.x, r, Some((&mut dx, Write::Add)));
    }
    // The inputs: through the dropout to the token embeddings and the object projection.
    part.apply_row_mask(&mut dx, part.masks.map(|m| &m.input[..]), d);
    for (row, g) in part.rows.clone().zip(dx.chunks_exact(d)) {
        let id = packed.ids[row] as usize;
        for (e, g) in grads.embedding[id * d..(id + 1) * d].iter_mut().zip(g) {
            *e += g;
        }
    }
    let c = cfg.channels;
    for &(row, j) in packed
        .objects
        .iter()
        .filter(|(row, _)| part.rows.contains(row))
    {
        let g = &dx[(row - base) * d..][..d];
        let e = part.embeddings[j];
        for (wrow, &gi) in grads.object.w.chunks_exact_mut(c).zip(g) {
            for (w, &ej) in wrow.iter_mut().zip(e) {
                *w += gi * ej;
            }
        }
        for (b, g) in grads.object.b.iter_mut().zip(g) {
            *b += g;
        }
    }
}
