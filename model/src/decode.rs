//! Generation's forward step on the CPU in f32: a key/value cache in plain buffers and the
//! network written as loops over them, with faer for the matrix products (`dense.rs`).
//!
//! [`Decoder::extend`] runs new text tokens — the whole prompt at once, then one generated
//! token at a time — through every layer, appends their keys and values to the cache, and
//! returns the last token's final hidden state. A new row at sequence index `g` attends to
//! the cached rows `0..g` and to itself, with scores `q·k/√hd − β_h · dist(g, j)`: the
//! causal mask of `batch.rs` for a text-only sequence, and the function of `cache.rs`'s
//! candle step (the oracle of the tests below; it stays the path for weights that are not
//! f32). Nothing is recomputed for the prefix: a step costs one row through the layers plus
//! its attention over the cache.
//!
//! At one row a step, candle's cost per op (a new tensor, a dispatch to its thread pool)
//! was most of the time; here a step is the weight reads of its matrix-vector products and
//! little else.

use crate::config::ModelConfig;
use crate::dense::{dot, linear};
use crate::error::{Error, Result};
use crate::flat::WeightSet;
use crate::gelu::gelu;
use crate::layernorm::layer_norm;
use crate::positions::{encode_into, normalized_distance, text_position};

/// The cache of a text sequence and the weights it runs on.
pub struct Decoder<'a> {
    w: &'a WeightSet<&'a [f32]>,
    cfg: &'a ModelConfig,
    /// Encodings of the first text positions (`Model::text_pe`; past its end computed).
    text_pe: &'a [f32],
    /// Per layer: the keys and the values of every token so far, `len × D` each.
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    /// Positions (model units) of the tokens so far.
    positions: Vec<[f64; 3]>,
}

impl<'a> Decoder<'a> {
    /// An empty cache for a model of `cfg` with weights `w`.
    pub fn new(w: &'a WeightSet<&'a [f32]>, cfg: &'a ModelConfig, text_pe: &'a [f32]) -> Self {
        Decoder {
            w,
            cfg,
            text_pe,
            keys: vec![Vec::new(); cfg.layers],
            values: vec![Vec::new(); cfg.layers],
            positions: Vec::new(),
        }
    }

    /// Tokens in the cache.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Runs the text tokens `ids` at the next sequence indices, keeps their keys and values,
    /// and returns the final hidden state (after the last LayerNorm) of the last of them:
    /// `D` values.
    pub fn extend(&mut self, ids: &[u32]) -> Result<Vec<f32>> {
        let cfg = self.cfg;
        let (d, f, hd) = (cfg.dim, cfg.hidden, cfg.head_dim());
        let (n, start) = (ids.len(), self.len());
        if n == 0 {
            return Err(Error::arg("no tokens to run"));
        }
        if start + n > cfg.context {
            return Err(Error::arg(format!(
                "{} tokens do not fit the model's context of {}",
                start + n,
                cfg.context
            )));
        }
        // Inputs: E[id] + PE(text position).
        let mut x = Vec::with_capacity(n * d);
        for (i, &id) in ids.iter().enumerate() {
            let row = self
                .w
                .embedding
                .get(id as usize * d..(id as usize + 1) * d)
                .ok_or_else(|| {
                    Error::arg(format!(
                        "token id {id} is outside the vocabulary of {}",
                        cfg.vocab_size
                    ))
                })?;
            let at = x.len();
            match self.text_pe.get((start + i) * d..(start + i + 1) * d) {
                Some(pe) => x.extend_from_slice(pe),
                None => encode_into(text_position(start + i), d, &mut x),
            }
            for (x, e) in x[at..].iter_mut().zip(row) {
                *x += e;
            }
            self.positions.push(text_position(start + i));
        }
        // dist[i][j]: new row i (index start + i) to every row j ≤ start + i.
        let total = start + n;
        let mut dist = vec![0f32; n * total];
        for i in 0..n {
            let p = self.positions[start + i];
            for (j, q) in self.positions[..=start + i].iter().enumerate() {
                dist[i * total + j] = normalized_distance(p, *q, cfg.max_position) as f32;
            }
        }
        let scale = 1.0 / (hd as f32).sqrt();
        let (mut q, mut k, mut v) = (vec![0f32; n * d], vec![0f32; n * d], vec![0f32; n * d]);
        let mut att = vec![0f32; n * d];
        let mut o = vec![0f32; n * d];
        let mut hidden = vec![0f32; n * f];
        let mut p = vec![0f32; total];
        for (l, lw) in self.w.layers.iter().enumerate() {
            linear(&mut q, &x, lw.q.w, lw.q.b, n, d);
            linear(&mut k, &x, lw.k.w, lw.k.b, n, d);
            linear(&mut v, &x, lw.v.w, lw.v.b, n, d);
            let (keys, values) = (&mut self.keys[l], &mut self.values[l]);
            keys.extend_from_slice(&k);
            values.extend_from_slice(&v);
            att.fill(0.0);
            for i in 0..n {
                let seen = start + i + 1;
                for (h, &beta) in lw.beta.iter().enumerate() {
                    let qi = &q[i * d + h * hd..][..hd];
                    let mut max = f32::NEG_INFINITY;
                    for j in 0..seen {
                        let s = dot(qi, &keys[j * d + h * hd..][..hd]) * scale
                            - beta * dist[i * total + j];
                        p[j] = s;
                        max = max.max(s);
                    }
                    let mut sum = 0f32;
                    for s in &mut p[..seen] {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let out = &mut att[i * d + h * hd..][..hd];
                    for (j, &w) in p[..seen].iter().enumerate() {
                        let w = w / sum;
                        for (o, x) in out.iter_mut().zip(&values[j * d + h * hd..][..hd]) {
                            *o += w * x;
                        }
                    }
                }
            }
            linear(&mut o, &att, lw.o.w, lw.o.b, n, d);
            for (o, x) in o.iter_mut().zip(&x) {
                *o += x;
            }
            for (x, u) in x.chunks_exact_mut(d).zip(o.chunks_exact(d)) {
                layer_norm(x, u, lw.norm1.gain, lw.norm1.bias, cfg.norm_eps);
            }
            linear(&mut hidden, &x, lw.ffn_in.w, lw.ffn_in.b, n, d);
            for h in &mut hidden {
                *h = gelu(*h);
            }
            linear(&mut o, &hidden, lw.ffn_out.w, lw.ffn_out.b, n, f);
            for (o, x) in o.iter_mut().zip(&x) {
                *o += x;
            }
            for (x, u) in x.chunks_exact_mut(d).zip(o.chunks_exact(d)) {
                layer_norm(x, u, lw.norm2.gain, lw.norm2.bias, cfg.norm_eps);
            }
        }
        let mut h = vec![0f32; d];
        let last = &x[(n - 1) * d..];
        layer_norm(
            &mut h,
            last,
            self.w.norm.gain,
            self.w.norm.bias,
            cfg.norm_eps,
        );
        Ok(h)
    }

    /// Next-token logits of a final hidden state `h`: `vocab_size` values.
    pub fn logits(&self, h: &[f32]) -> Vec<f32> {
        let out = &self.w.output;
        let mut logits = vec![0f32; out.b.len()];
        linear(&mut logits, h, out.w, out.b, 1, self.cfg.dim);
        logits
    }
}
