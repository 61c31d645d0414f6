//! The forward pass over a padded batch: embeddings, the transformer layers with spatial
//! attention, the final norm. Heads are applied by the callers to the rows they need.
//!
//! Shapes: `n = b·s` token rows; `x` is `(n, D)` between blocks; attention works on
//! `(b, H, s, hd)` with `hd = D / H`. For one layer (post-norm):
//! ```text
//! scores = Q Kᵀ / √hd − β_h · dist + mask          (b, H, s, s)
//! x = LN1(x + softmax(scores) V W_oᵀ + b_o)
//! x = LN2(x + W_2 gelu(W_1 x + b_1) + b_2)        gelu(u) = u · Φ(u) (erf form)
//! ```
//! The input is `x = E[id] + PE(position)`, plus `W_obj e + b_obj` at a spatial token with
//! embedding `e`.
//!
//! Two modes compute the same function: `Infer` uses candle-nn's fused layer-norm and
//! softmax kernels (no gradients), `Train` composes them from differentiable ops and applies
//! dropout with masks drawn from the training run's seeded stream.

use candle_core::{Tensor, D};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::attention;
use crate::batch::Batch;
use crate::config::ModelConfig;
use crate::error::Result;
use crate::linear::{self, Then};
use crate::weights::{Layer, Norm, Weights};

/// How to run the network.
#[derive(Debug)]
pub enum Mode<'a> {
    /// Inference: fused kernels, no dropout.
    Infer,
    /// Training: differentiable ops; dropout with probability `dropout` drawn from `rng`.
    Train {
        /// Probability of zeroing an activation (0.1 by default).
        dropout: f64,
        /// The run's seeded stream.
        rng: &'a mut ChaCha8Rng,
    },
}

impl Mode<'_> {
    fn training(&self) -> bool {
        matches!(self, Mode::Train { .. })
    }

    /// Inverted dropout: zero with probability p, scale the rest by 1/(1−p).
    fn dropout(&mut self, x: &Tensor) -> Result<Tensor> {
        match self {
            Mode::Train { dropout, rng } if *dropout > 0.0 => {
                let p = *dropout;
                let keep = (1.0 / (1.0 - p)) as f32;
                let mask: Vec<f32> = (0..x.elem_count())
                    .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
                    .collect();
                let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                Ok(x.mul(&mask)?)
            }
            _ => Ok(x.clone()),
        }
    }
}

/// LayerNorm over the last dimension of a 2-D `x`. (candle-nn's fused kernel has no f64.)
pub fn layer_norm(x: &Tensor, n: &Norm, eps: f32, train: bool) -> Result<Tensor> {
    if !train && x.dtype() != candle_core::DType::F64 {
        return Ok(candle_nn::ops::layer_norm(
            &x.contiguous()?,
            &n.weight,
            &n.bias,
            eps,
        )?);
    }
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps as f64)?.sqrt()?)?;
    Ok(xn.broadcast_mul(&n.weight)?.broadcast_add(&n.bias)?)
}

/// Softmax over the last dimension.
pub fn softmax(x: &Tensor, train: bool) -> Result<Tensor> {
    if train {
        Ok(candle_nn::ops::softmax(x, D::Minus1)?)
    } else {
        Ok(candle_nn::ops::softmax_last_dim(&x.contiguous()?)?)
    }
}

/// The feed-forward block and its residual + norm: `LN2(x + W_2 gelu(W_1 x + b_1) + b_2)`.
pub fn feed_forward(
    layer: &Layer,
    x: &Tensor,
    cfg: &ModelConfig,
    mode: &mut Mode,
) -> Result<Tensor> {
    let h = if mode.training() {
        layer.ffn_in.forward(x)?.gelu_erf()?
    } else {
        linear::forward(&layer.ffn_in, x, Then::Gelu)?
    };
    let h = mode.dropout(&h)?;
    let h = if mode.training() {
        layer.ffn_out.forward(&h)?
    } else {
        linear::forward(&layer.ffn_out, &h, Then::Nothing)?
    };
    let h = mode.dropout(&h)?;
    layer_norm(&(x + h)?, &layer.norm2, cfg.norm_eps, mode.training())
}

/// One transformer layer over `x` `(b·s, D)`. Returns the new `x`; with `kv` also this
/// layer's keys and values, `(b, H, s, hd)` each (for a prefix cache). With `queries` (one
/// flat row index per sequence) only those rows are computed: every row still gives its key
/// and value, but queries, the attention output and the feed-forward block run for the
/// selected rows alone, and the result is `(b, D)`.
fn layer_forward(
    layer: &Layer,
    x: &Tensor,
    batch: &Batch,
    cfg: &ModelConfig,
    mode: &mut Mode,
    kv: Option<&mut Vec<(Tensor, Tensor)>>,
    queries: Option<&Tensor>,
) -> Result<Tensor> {
    let (b, s, h, hd) = (batch.b, batch.s, cfg.heads, cfg.head_dim());
    // The query rows, their count per sequence, and their rows of `dist` and `mask`.
    let (xq, sq, dist, mask) = match queries {
        None => (x.clone(), s, batch.dist.clone(), batch.mask.clone()),
        Some(rows) => {
            let pick = |t: &Tensor| -> Result<Tensor> {
                Ok(t.reshape((b * s, s))?
                    .index_select(rows, 0)?
                    .reshape((b, 1, 1, s))?)
            };
            (
                x.index_select(rows, 0)?,
                1,
                pick(&batch.dist)?,
                pick(&batch.mask)?,
            )
        }
    };
    let out = if kv.is_none() && !mode.training() && attention::supported(x) {
        // Inference without a cache: the fused loop (attention.rs), the same function.
        let dims = attention::Dims {
            b,
            sq,
            s,
            heads: h,
            hd,
        };
        let (q, k, v) = (
            linear::forward(&layer.q, &xq, Then::Nothing)?,
            linear::forward(&layer.k, x, Then::Nothing)?,
            linear::forward(&layer.v, x, Then::Nothing)?,
        );
        attention::attend(&q, &k, &v, &dist, &mask, &layer.spatial_bias, dims)?
    } else {
        let heads = |t: Tensor, len: usize| -> Result<Tensor> {
            Ok(t.reshape((b, len, h, hd))?.transpose(1, 2)?.contiguous()?)
        };
        let k = heads(layer.k.forward(x)?, s)?;
        let v = heads(layer.v.forward(x)?, s)?;
        let q = heads(layer.q.forward(&xq)?, sq)?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let bias = dist.broadcast_mul(&layer.spatial_bias)?;
        let scores = scores.sub(&bias)?.broadcast_add(&mask)?;
        let attn = softmax(&scores, mode.training())?;
        let attn = mode.dropout(&attn)?;
        let out = attn
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b * sq, cfg.dim))?;
        if let Some(kv) = kv {
            kv.push((k, v));
        }
        out
    };
    let out = if mode.training() {
        layer.o.forward(&out)?
    } else {
        linear::forward(&layer.o, &out, Then::Nothing)?
    };
    let x = layer_norm(&(xq + out)?, &layer.norm1, cfg.norm_eps, mode.training())?;
    feed_forward(layer, &x, cfg, mode)
}

/// The input rows: token embeddings, plus the object projection at spatial tokens (then
/// dropout on the token embedding), plus the positional encoding.
pub fn embed_inputs(w: &Weights, batch: &Batch, mode: &mut Mode) -> Result<Tensor> {
    let mut x = w.token_embedding.index_select(&batch.ids, 0)?;
    if let Some((rows, emb)) = &batch.objects {
        let obj = w.object_projection.forward(emb)?;
        x = x.index_add(rows, &obj, 0)?;
    }
    let x = mode.dropout(&x)?;
    Ok((x + &batch.pe)?)
}

/// The final hidden states `h = LN_f(x)`, `(b·s, D)`; with `kv`, every layer's keys and
/// values in layer order. With `read` (one flat row index per sequence), only those rows'
/// hidden states, `(b, D)`: the last layer then skips the other rows' queries and
/// feed-forward work (about a fifth of a 4-layer pass).
pub fn forward(
    w: &Weights,
    cfg: &ModelConfig,
    batch: &Batch,
    mode: &mut Mode,
    mut kv: Option<&mut Vec<(Tensor, Tensor)>>,
    read: Option<&Tensor>,
) -> Result<Tensor> {
    let mut x = embed_inputs(w, batch, mode)?;
    let last = w.layers.len().saturating_sub(1);
    for (i, layer) in w.layers.iter().enumerate() {
        let queries = if i == last { read } else { None };
        x = layer_forward(layer, &x, batch, cfg, mode, kv.as_deref_mut(), queries)?;
    }
    layer_norm(&x, &w.norm, cfg.norm_eps, mode.training())
}
