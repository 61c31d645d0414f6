//! A prefix's keys and values, and the one-token continuation step that reads them.
//!
//! `m_score` over many rows runs the text `[BOS] text [EOS]` once, keeps every layer's keys
//! and values, then runs all the rows' spatial tokens as one batch of single-token
//! continuations: token `r` attends to the prefix and to itself only, exactly as in the full
//! sequence `[BOS] text [EOS] S_1 … S_N` under the batch mask (a spatial token is seen by no
//! other token). Generation uses the same step with one row and appends its keys and values.
//! The cost per row is one token through the layers, not the whole text.

use candle_core::{Device, Tensor, D};

use crate::batch::{Batch, Sequence};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::network::{feed_forward, forward, layer_norm, Mode};
use crate::positions::{encode_into, normalized_distance, text_position};
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// The cached keys and values of a text prefix.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// Per layer: keys and values, `(H, L, hd)` each.
    kv: Vec<(Tensor, Tensor)>,
    /// Positions (model units) of the `L` prefix tokens.
    positions: Vec<[f64; 3]>,
    /// Final hidden state of the prefix's last token, `(1, D)`.
    pub hidden: Tensor,
}

/// New tokens, each continuing the prefix on its own.
#[derive(Debug)]
pub struct Continuation<'a> {
    /// Token ids, `N`.
    pub ids: &'a [u32],
    /// Their positions in model units, `N`.
    pub positions: &'a [[f64; 3]],
    /// For spatial tokens: row indices `(k)` u32 and embeddings `(k, C)`.
    pub objects: Option<(Tensor, Tensor)>,
}

impl Prefix {
    /// Runs the text-only `seq` (no spatial tokens) and keeps its keys and values.
    pub fn new(
        w: &Weights,
        cfg: &ModelConfig,
        tok: &Tokenizer,
        seq: &Sequence,
        text_pe: &[f32],
        device: &Device,
    ) -> Result<Self> {
        let batch = Batch::new(
            cfg,
            tok,
            std::slice::from_ref(seq),
            cfg.max_position,
            text_pe,
            w.dtype(),
            device,
        )?;
        // Only the last token's hidden state is read (generation's first logits).
        let last = Tensor::from_vec(vec![(seq.ids.len() - 1) as u32], 1, device)?;
        let mut kv = Vec::with_capacity(cfg.layers);
        let hidden = forward(w, cfg, &batch, &mut Mode::Infer, Some(&mut kv), Some(&last))?;
        let kv = kv
            .into_iter()
            .map(|(k, v)| Ok((k.squeeze(0)?, v.squeeze(0)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Prefix {
            kv,
            positions: (0..seq.ids.len()).map(text_position).collect(),
            hidden,
        })
    }

    /// Tokens in the prefix.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Runs the continuation tokens (each seeing the prefix and itself) and returns their
    /// final hidden states `(N, D)` and every layer's new keys and values `(H, N, hd)`.
    pub fn step(
        &self,
        w: &Weights,
        cfg: &ModelConfig,
        new: &Continuation,
    ) -> Result<(Tensor, Vec<(Tensor, Tensor)>)> {
        let n = new.ids.len();
        let (h, hd, l) = (cfg.heads, cfg.head_dim(), self.len());
        let device = w.token_embedding.device();
        let dtype = w.dtype();
        let mut pe = Vec::with_capacity(n * cfg.dim);
        let mut dist = Vec::with_capacity(n * l);
        for p in new.positions {
            encode_into(*p, cfg.dim, &mut pe);
            dist.extend(
                self.positions
                    .iter()
                    .map(|q| normalized_distance(*p, *q, cfg.max_position) as f32),
            );
        }
        let pe = Tensor::from_vec(pe, (n, cfg.dim), device)?.to_dtype(dtype)?;
        let dist = Tensor::from_vec(dist, (1, n, l), device)?.to_dtype(dtype)?;
        let ids = Tensor::from_slice(new.ids, n, device)?;
        let mut x = w.token_embedding.index_select(&ids, 0)?;
        if let Some((rows, emb)) = &new.objects {
            x = x.index_add(rows, &w.object_projection.forward(emb)?, 0)?;
        }
        let mut x = (x + pe)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let mut new_kv = Vec::with_capacity(cfg.layers);
        for (layer, (kp, vp)) in w.layers.iter().zip(&self.kv) {
            let heads = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((n, h, hd))?.transpose(0, 1)?.contiguous()?)
            };
            let q = heads(layer.q.forward(&x)?)?;
            let k = heads(layer.k.forward(&x)?)?;
            let v = heads(layer.v.forward(&x)?)?;
            // (H, N, L): prefix keys, minus β_h · distance.
            let beta = layer.spatial_bias.reshape((h, 1, 1))?;
            let prefix_scores =
                ((q.matmul(&kp.t()?)? * scale)?.broadcast_sub(&dist.broadcast_mul(&beta)?))?;
            // (H, N, 1): the token's own key, at distance 0.
            let self_scores = ((&q * &k)?.sum_keepdim(D::Minus1)? * scale)?;
            let attn = candle_nn::ops::softmax_last_dim(&Tensor::cat(
                &[&prefix_scores, &self_scores],
                D::Minus1,
            )?)?;
            let out = (attn.narrow(D::Minus1, 0, l)?.matmul(vp)?
                + attn.narrow(D::Minus1, l, 1)?.broadcast_mul(&v)?)?;
            let out = out.transpose(0, 1)?.reshape((n, cfg.dim))?;
            let out = layer.o.forward(&out)?;
            x = layer_norm(&(&x + out)?, &layer.norm1, cfg.norm_eps, false)?;
            x = feed_forward(layer, &x, cfg, &mut Mode::Infer)?;
            new_kv.push((k, v));
        }
        let hidden = layer_norm(&x, &w.norm, cfg.norm_eps, false)?;
        Ok((hidden, new_kv))
    }

    /// Appends one continuation token (from [`Prefix::step`] with `N = 1`) to the prefix.
    pub fn push(&mut self, position: [f64; 3], kv: Vec<(Tensor, Tensor)>) -> Result<()> {
        for ((kp, vp), (k, v)) in self.kv.iter_mut().zip(kv) {
            *kp = Tensor::cat(&[&*kp, &k], 1)?;
            *vp = Tensor::cat(&[&*vp, &v], 1)?;
        }
        self.positions.push(position);
        Ok(())
    }
}
