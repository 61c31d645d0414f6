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
use crate::gelu::GeluAndDerivative;
use crate::layernorm::{backward as norm_backward, normalize, scale_shift};
use crate::wide::{wide, Wide};

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
    /// The embedding of each sample of the batch (`channels` values).
    pub embeddings: &'a [&'a [f32]],
}

impl Part<'_> {
    /// The part's sequences, each with its index within the part (its place in the part's
    /// dropout masks).
    fn each_seq(&self) -> impl Iterator<Item = (usize, &Seq)> + '_ {
        self.packed.seqs[self.seqs.clone()].iter().enumerate()
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Multiplies every row of `x` (`R × width`, the part's rows) by its row of the padded
    /// mask `pick(masks)` (`(n·s) × width`), if there are masks.
    fn apply_row_mask(
        &self,
        x: &mut [f32],
        masks: Option<&Masks>,
        pick: impl Fn(&Masks) -> &[f32],
        width: usize,
    ) {
        let Some(masks) = masks else {
            return;
        };
        let mask = pick(masks);
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
    /// The GELU's derivative at its input, `R × F`.
    dgelu: Vec<f32>,
    /// After the GELU and dropout, `R × F`.
    g: Vec<f32>,
    xhat2: Vec<f32>,
    sigma2: Vec<f32>,
}

/// The forward pass of a part, kept for its backward pass, and the buffers both passes
/// work in. A trainer keeps one per part from step to step: its buffers are resized, not
/// allocated afresh (fresh megabytes each step cost more in page faults than the
/// arithmetic that fills them).
#[derive(Debug, Default)]
pub struct Tape {
    layers: Vec<LayerTape>,
    /// Where each sequence's attention weights start in a layer's `probs`.
    probs_at: Vec<usize>,
    /// The last layer's output, `R × D`.
    last: Vec<f32>,
    xhat: Vec<f32>,
    sigma: Vec<f32>,
    /// The final hidden states, `R × D`.
    pub h: Vec<f32>,
    scratch: Scratch,
}

/// Working buffers of the two passes.
#[derive(Debug, Default)]
struct Scratch {
    /// `R × D` each.
    u: Vec<f32>,
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
    datt: Vec<f32>,
    dout: Vec<f32>,
    /// `R × F`.
    dg: Vec<f32>,
    /// One sequence and head: `n × n` each.
    scores: Vec<f32>,
    dropped: Vec<f32>,
    /// The object projection's inputs and outputs.
    objects: Vec<f32>,
    projected: Vec<f32>,
    /// One row.
    row: Vec<f32>,
}

/// `v` resized to `n` values, for a computation that writes every one of them: what it
/// held before is left in place rather than cleared.
fn room(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    v.resize(n, 0.0);
    &mut v[..n]
}

/// Row-wise LayerNorm of `u` (`R × D`) into `x̂`, `σ` per row and `y = x̂ γ + β`.
#[allow(clippy::too_many_arguments)]
fn norm_rows(
    u: &[f32],
    gain: &[f32],
    bias: &[f32],
    eps: f32,
    xhat: &mut Vec<f32>,
    sigma: &mut Vec<f32>,
    y: &mut Vec<f32>,
) {
    let rows = u.len() / gain.len().max(1);
    wide(NormRows {
        u,
        gain,
        bias,
        eps,
        xhat: room(xhat, u.len()),
        sigma: room(sigma, rows),
        y: room(y, u.len()),
    });
}

/// [`norm_rows`]'s loop, run wide.
struct NormRows<'a> {
    u: &'a [f32],
    gain: &'a [f32],
    bias: &'a [f32],
    eps: f32,
    xhat: &'a mut [f32],
    sigma: &'a mut [f32],
    y: &'a mut [f32],
}

impl Wide for NormRows<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.gain.len();
        for (((u, xh), y), s) in self
            .u
            .chunks_exact(d)
            .zip(self.xhat.chunks_exact_mut(d))
            .zip(self.y.chunks_exact_mut(d))
            .zip(self.sigma.iter_mut())
        {
            *s = normalize(xh, u, self.eps);
            scale_shift(y, xh, self.gain, self.bias);
        }
    }
}

/// Back through a row-wise LayerNorm: `dy` (`R × D`) is replaced by `dx`; the gain's and
/// bias's gradients are added to `dgain` and `dbias`.
fn norm_rows_backward(
    dy: &mut [f32],
    xhat: &[f32],
    sigma: &[f32],
    gain: &[f32],
    dgain: &mut [f32],
    dbias: &mut [f32],
    row: &mut Vec<f32>,
) {
    let row = room(row, gain.len());
    wide(NormRowsBackward {
        dy,
        xhat,
        sigma,
        gain,
        dgain,
        dbias,
        row,
    });
}

/// [`norm_rows_backward`]'s loop, run wide.
struct NormRowsBackward<'a> {
    dy: &'a mut [f32],
    xhat: &'a [f32],
    sigma: &'a [f32],
    gain: &'a [f32],
    dgain: &'a mut [f32],
    dbias: &'a mut [f32],
    row: &'a mut [f32],
}

impl Wide for NormRowsBackward<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.gain.len();
        let rows = self.dy.chunks_exact_mut(d).zip(self.xhat.chunks_exact(d));
        for ((dy, xh), &s) in rows.zip(self.sigma) {
            norm_backward(self.row, dy, xh, self.gain, s, self.dgain, self.dbias);
            dy.copy_from_slice(self.row);
        }
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

/// The forward pass of `part` under `w` (module docs), into `tape`.
pub fn forward(
    w: &WeightSet<Vec<f32>>,
    cfg: &ModelConfig,
    part: &Part,
    masks: Option<&Masks>,
    tape: &mut Tape,
) {
    let packed = part.packed;
    let (d, f, heads, hd) = (cfg.dim, cfg.hidden, cfg.heads, cfg.head_dim());
    let (c, r, base) = (cfg.channels, part.len(), part.rows.start);
    let Tape {
        layers,
        probs_at,
        last,
        xhat,
        sigma,
        h,
        scratch: sc,
    } = tape;
    layers.resize_with(cfg.layers, LayerTape::default);

    // Inputs: token embeddings, the object projection at spatial rows, dropout, then PE.
    let x = room(&mut layers[0].x, r * d);
    for (row, xr) in part.rows.clone().zip(x.chunks_exact_mut(d)) {
        let id = packed.ids[row] as usize;
        xr.copy_from_slice(&w.embedding[id * d..(id + 1) * d]);
    }
    let objects = || {
        packed
            .objects
            .iter()
            .filter(|(row, _)| part.rows.contains(row))
    };
    let k = objects().count();
    if k > 0 {
        sc.objects.clear();
        for &(_, j) in objects() {
            sc.objects.extend_from_slice(part.embeddings[j]);
        }
        let proj = room(&mut sc.projected, k * d);
        linear(proj, &sc.objects, &w.object.w, &w.object.b, k, c);
        for (&(row, _), p) in objects().zip(proj.chunks_exact(d)) {
            for (x, p) in x[(row - base) * d..][..d].iter_mut().zip(p) {
                *x += p;
            }
        }
    }
    part.apply_row_mask(x, masks, |m| &m.input, d);
    for (x, pe) in x.iter_mut().zip(&packed.pe[base * d..(base + r) * d]) {
        *x += pe;
    }

    probs_at.clear();
    let mut total = 0;
    for (_, seq) in part.each_seq() {
        probs_at.push(total);
        total += heads * seq.len * seq.len;
    }
    let scale = 1.0 / (hd as f32).sqrt();
    for (l, lw) in w.layers.iter().enumerate() {
        let (done, rest) = layers.split_at_mut(l + 1);
        let t = &mut done[l];
        linear(room(&mut t.q, r * d), &t.x, &lw.q.w, &lw.q.b, r, d);
        linear(room(&mut t.k, r * d), &t.x, &lw.k.w, &lw.k.b, r, d);
        linear(room(&mut t.v, r * d), &t.x, &lw.v.w, &lw.v.b, r, d);
        // Hidden keys keep a weight of 0.
        t.probs.clear();
        t.probs.resize(total, 0.0);
        room(&mut t.att, r * d);
        for ((bi, seq), &at) in part.each_seq().zip(probs_at.iter()) {
            let n = seq.len;
            let off = (seq.row - base) * d;
            let dist = &packed.dist[seq.dist..][..n * n];
            let scores = room(&mut sc.scores, n * n);
            for (h, &beta) in lw.beta.iter().enumerate() {
                let col = off + h * hd;
                product(
                    view_mut(scores, n, n, n),
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
                let a: &[f32] = match masks {
                    Some(all) => {
                        let s = all.s;
                        let m = &all.layers[l].attention;
                        sc.dropped.clear();
                        for i in 0..n {
                            let mrow = &m[((bi * heads + h) * s + i) * s..][..n];
                            let prow = &p[i * n..(i + 1) * n];
                            sc.dropped.extend(prow.iter().zip(mrow).map(|(p, m)| p * m));
                        }
                        &sc.dropped
                    }
                    None => p,
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
        let u = room(&mut sc.u, r * d);
        linear(u, &t.att, &lw.o.w, &lw.o.b, r, d);
        for (u, x) in u.iter_mut().zip(&t.x) {
            *u += x;
        }
        let n1 = &lw.norm1;
        norm_rows(
            u,
            &n1.gain,
            &n1.bias,
            cfg.norm_eps,
            &mut t.xhat1,
            &mut t.sigma1,
            &mut t.x1,
        );
        let g = room(&mut t.g, r * f);
        linear(g, &t.x1, &lw.ffn_in.w, &lw.ffn_in.b, r, d);
        let dg = room(&mut t.dgelu, r * f);
        wide(GeluAndDerivative { g: &mut *g, d: dg });
        part.apply_row_mask(g, masks, |m| &m.layers[l].hidden, f);
        linear(u, g, &lw.ffn_out.w, &lw.ffn_out.b, r, f);
        part.apply_row_mask(u, masks, |m| &m.layers[l].output, d);
        for (u, x) in u.iter_mut().zip(&t.x1) {
            *u += x;
        }
        let next = match rest.first_mut() {
            Some(t) => &mut t.x,
            None => &mut *last,
        };
        let n2 = &lw.norm2;
        norm_rows(
            u,
            &n2.gain,
            &n2.bias,
            cfg.norm_eps,
            &mut t.xhat2,
            &mut t.sigma2,
            next,
        );
    }
    norm_rows(
        last,
        &w.norm.gain,
        &w.norm.bias,
        cfg.norm_eps,
        xhat,
        sigma,
        h,
    );
}

/// The backward pass of `part`: from `dx` (the loss's gradient with respect to the final
/// hidden states, `R × D`; used as a buffer), adds every weight's gradient to `grads`.
pub fn backward(
    w: &WeightSet<Vec<f32>>,
    cfg: &ModelConfig,
    part: &Part,
    masks: Option<&Masks>,
    tape: &mut Tape,
    dx: &mut [f32],
    grads: &mut WeightSet<Vec<f32>>,
) {
    let packed = part.packed;
    let (d, f, heads, hd) = (cfg.dim, cfg.hidden, cfg.heads, cfg.head_dim());
    let (r, base) = (part.len(), part.rows.start);
    let scale = 1.0 / (hd as f32).sqrt();
    let Tape {
        layers,
        probs_at,
        xhat,
        sigma,
        scratch: sc,
        ..
    } = tape;
    let gn = &mut grads.norm;
    norm_rows_backward(
        dx,
        xhat,
        sigma,
        &w.norm.gain,
        &mut gn.gain,
        &mut gn.bias,
        &mut sc.row,
    );
    let dg = room(&mut sc.dg, r * f);
    let datt = room(&mut sc.datt, r * d);
    let (dq, dk, dv) = (
        room(&mut sc.dq, r * d),
        room(&mut sc.dk, r * d),
        room(&mut sc.dv, r * d),
    );
    for (l, (lw, t)) in w.layers.iter().zip(layers.iter()).enumerate().rev() {
        let gl = &mut grads.layers[l];
        // x2 = LN2(u2): dx becomes du2, the gradient of x1 + ffn(x1) and of the residual.
        let g2 = &mut gl.norm2;
        norm_rows_backward(
            dx,
            &t.xhat2,
            &t.sigma2,
            &lw.norm2.gain,
            &mut g2.gain,
            &mut g2.bias,
            &mut sc.row,
        );
        let dout = room(&mut sc.dout, r * d);
        dout.copy_from_slice(dx);
        part.apply_row_mask(dout, masks, |m| &m.layers[l].output, d);
        linear_backward(
            &lw.ffn_out,
            &mut gl.ffn_out,
            dout,
            &t.g,
            r,
            Some((dg, Write::Set)),
        );
        part.apply_row_mask(dg, masks, |m| &m.layers[l].hidden, f);
        for (dg, &d) in dg.iter_mut().zip(&t.dgelu) {
            *dg *= d;
        }
        // dx1 = du2 + dz W_1.
        linear_backward(
            &lw.ffn_in,
            &mut gl.ffn_in,
            dg,
            &t.x1,
            r,
            Some((dx, Write::Add)),
        );
        let g1 = &mut gl.norm1;
        norm_rows_backward(
            dx,
            &t.xhat1,
            &t.sigma1,
            &lw.norm1.gain,
            &mut g1.gain,
            &mut g1.bias,
            &mut sc.row,
        );
        // dx is now du1: the gradient of the layer's input through the residual, and of
        // the attention's output projection.
        linear_backward(&lw.o, &mut gl.o, dx, &t.att, r, Some((datt, Write::Set)));
        for ((bi, seq), &at) in part.each_seq().zip(probs_at.iter()) {
            let n = seq.len;
            let off = (seq.row - base) * d;
            let dist = &packed.dist[seq.dist..][..n * n];
            for h in 0..heads {
                let col = off + h * hd;
                let p = &t.probs[at + h * n * n..][..n * n];
                let mrow = |i: usize| -> Option<&[f32]> {
                    let all = masks?;
                    let s = all.s;
                    Some(&all.layers[l].attention[((bi * heads + h) * s + i) * s..][..n])
                };
                // A = P ∘ M, the weights the forward pass applied.
                let a = &mut sc.dropped;
                a.clear();
                for i in 0..n {
                    let prow = &p[i * n..(i + 1) * n];
                    match mrow(i) {
                        Some(m) => a.extend(prow.iter().zip(m).map(|(p, m)| p * m)),
                        None => a.extend_from_slice(prow),
                    }
                }
                // dA = dout_h v_hᵀ;  dv_h = Aᵀ dout_h.
                let da = room(&mut sc.scores, n * n);
                product(
                    view_mut(da, n, n, n),
                    Write::Set,
                    view(&datt[col..], n, hd, d),
                    view(&t.v[col..], n, hd, d).transpose(),
                    1.0,
                );
                product(
                    view_mut(&mut dv[col..], n, hd, d),
                    Write::Set,
                    view(a, n, n, n).transpose(),
                    view(&datt[col..], n, hd, d),
                    1.0,
                );
                // Through the dropout and the softmax: dS = P ∘ (dP − Σ_j P dP); the
                // distance penalty's gradient is −Σ dS · dist.
                let mut dbeta = 0f32;
                for i in 0..n {
                    let row = &mut da[i * n..(i + 1) * n];
                    if let Some(m) = mrow(i) {
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
                    view(da, n, n, n),
                    view(&t.k[col..], n, hd, d),
                    scale,
                );
                product(
                    view_mut(&mut dk[col..], n, hd, d),
                    Write::Set,
                    view(da, n, n, n).transpose(),
                    view(&t.q[col..], n, hd, d),
                    scale,
                );
            }
        }
        // dx = du1 + dq W_q + dk W_k + dv W_v.
        linear_backward(&lw.q, &mut gl.q, dq, &t.x, r, Some((dx, Write::Add)));
        linear_backward(&lw.k, &mut gl.k, dk, &t.x, r, Some((dx, Write::Add)));
        linear_backward(&lw.v, &mut gl.v, dv, &t.x, r, Some((dx, Write::Add)));
    }
    // The inputs: through the dropout to the token embeddings and the object projection.
    part.apply_row_mask(dx, masks, |m| &m.input, d);
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
