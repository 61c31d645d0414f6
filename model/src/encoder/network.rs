//! The BERT encoder's forward pass on candle-core, and the tensors it needs.
//!
//! For a batch of `B` token sequences padded to length `L` (attention mask `m[b, t]`, 1 for a
//! token, 0 for padding), with hidden width `H`, `A` heads of width `d = H / A`:
//!
//! ```text
//! x₀ = LayerNorm(word[id] + position[t] + token_type[0])
//! per layer:  q, k, v = x Wqᵀ + bq, …           (split into A heads)
//!             a = softmax(q kᵀ / √d + (1 − m) · (−1e9)) v   (padding keys get weight 0)
//!             x = LayerNorm(x + (a Woᵀ + bo))
//!             x = LayerNorm(x + (act(x W₁ᵀ + b₁) W₂ᵀ + b₂))
//! ```
//!
//! Pooling and normalisation are in `mod.rs`. Weight names are the Hugging Face
//! `BertModel` names without the `bert.` prefix some checkpoints carry; [`tensor_specs`] lists
//! them with their shapes in the canonical order the byte form stores them in.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::LayerNorm;

use super::config::{Activation, BertConfig};
use crate::error::{Error, Result};

/// Every tensor the network reads, `(name, shape)`, in canonical order.
pub fn tensor_specs(c: &BertConfig) -> Vec<(String, Vec<usize>)> {
    let (h, f) = (c.hidden_size, c.intermediate_size);
    let mut specs = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![c.vocab_size, h],
        ),
        (
            "embeddings.position_embeddings.weight".to_string(),
            vec![c.max_position_embeddings, h],
        ),
        (
            "embeddings.token_type_embeddings.weight".to_string(),
            vec![c.type_vocab_size, h],
        ),
        ("embeddings.LayerNorm.weight".to_string(), vec![h]),
        ("embeddings.LayerNorm.bias".to_string(), vec![h]),
    ];
    for i in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{i}.");
        for (name, shape) in [
            ("attention.self.query.weight", vec![h, h]),
            ("attention.self.query.bias", vec![h]),
            ("attention.self.key.weight", vec![h, h]),
            ("attention.self.key.bias", vec![h]),
            ("attention.self.value.weight", vec![h, h]),
            ("attention.self.value.bias", vec![h]),
            ("attention.output.dense.weight", vec![h, h]),
            ("attention.output.dense.bias", vec![h]),
            ("attention.output.LayerNorm.weight", vec![h]),
            ("attention.output.LayerNorm.bias", vec![h]),
            ("intermediate.dense.weight", vec![f, h]),
            ("intermediate.dense.bias", vec![f]),
            ("output.dense.weight", vec![h, f]),
            ("output.dense.bias", vec![h]),
            ("output.LayerNorm.weight", vec![h]),
            ("output.LayerNorm.bias", vec![h]),
        ] {
            specs.push((format!("{p}{name}"), shape));
        }
    }
    specs
}

/// Picks the tensors of [`tensor_specs`] out of `found` (names with or without a `bert.`
/// prefix), checks each one's shape and converts it to f32. `file` names the source in
/// errors. Tensors the network does not use (the pooler, `position_ids`) are ignored.
pub fn select_weights(
    c: &BertConfig,
    mut found: HashMap<String, Tensor>,
    file: &str,
) -> Result<Vec<Tensor>> {
    let prefix = if found.contains_key("embeddings.word_embeddings.weight") {
        ""
    } else {
        "bert."
    };
    let mut out = Vec::new();
    for (name, shape) in tensor_specs(c) {
        let t = found
            .remove(&format!("{prefix}{name}"))
            .ok_or_else(|| Error::encoder(file, format!("tensor `{name}` is missing")))?;
        if t.dims() != shape.as_slice() {
            return Err(Error::encoder(
                file,
                format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    t.dims()
                ),
            ));
        }
        if !t.dtype().is_float() {
            return Err(Error::encoder(
                file,
                format!("tensor `{name}` is {:?}, expected a float type", t.dtype()),
            ));
        }
        out.push(t.to_dtype(DType::F32)?.contiguous()?);
    }
    Ok(out)
}

/// A linear layer `x Wᵀ + b` holding `Wᵀ` contiguous (`[in, out]`): the matrix product then
/// reads the weights row by row, which is several times faster than a transposed view for
/// the few rows of a single short text.
struct Dense {
    wt: Tensor,
    b: Tensor,
}

impl Dense {
    fn new(w: &Tensor, b: Tensor) -> Result<Self> {
        Ok(Dense {
            wt: w.t()?.contiguous()?,
            b,
        })
    }

    /// `x`: `[B, L, in]` → `[B, L, out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, l, k) = x.dims3()?;
        let n = self.wt.dim(1)?;
        Ok(x.reshape((b * l, k))?
            .matmul(&self.wt)?
            .broadcast_add(&self.b)?
            .reshape((b, l, n))?)
    }
}

struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    ff_in: Dense,
    ff_out: Dense,
    ff_norm: LayerNorm,
}

/// The encoder with its weights. Holds the same tensors `weights` lists, in canonical order.
pub struct Bert {
    config: BertConfig,
    /// The tensors of [`tensor_specs`], f32, in that order and shape (kept for the byte form;
    /// the linear layers' matrices are transposed views of `Dense::wt`).
    pub weights: Vec<Tensor>,
    word: Tensor,
    position: Tensor,
    token_type0: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Builds the network from [`select_weights`]'s output.
    /// The matrices of the linear layers are kept transposed (see `Dense`); `weights` then
    /// holds transposed views of them, so no weight is stored twice.
    pub fn new(config: BertConfig, mut weights: Vec<Tensor>) -> Result<Self> {
        let eps = config.layer_norm_eps;
        let w = |i: usize| weights[i].clone();
        let linear = |i: usize| Dense::new(&weights[i], w(i + 1));
        let norm = |i: usize| LayerNorm::new(w(i), w(i + 1), eps);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let b = 5 + 16 * l;
            layers.push(Layer {
                query: linear(b)?,
                key: linear(b + 2)?,
                value: linear(b + 4)?,
                attn_out: linear(b + 6)?,
                attn_norm: norm(b + 8),
                ff_in: linear(b + 10)?,
                ff_out: linear(b + 12)?,
                ff_norm: norm(b + 14),
            });
        }
        let word = w(0);
        let position = w(1);
        let token_type0 = w(2).get(0)?;
        let emb_norm = norm(3);
        for (l, layer) in layers.iter().enumerate() {
            let b = 5 + 16 * l;
            for (i, d) in [
                (b, &layer.query),
                (b + 2, &layer.key),
                (b + 4, &layer.value),
                (b + 6, &layer.attn_out),
                (b + 10, &layer.ff_in),
                (b + 12, &layer.ff_out),
            ] {
                weights[i] = d.wt.t()?;
            }
        }
        Ok(Bert {
            word,
            position,
            token_type0,
            emb_norm,
            layers,
            config,
            weights,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Hidden states `[B, L, H]` of `ids` (`B` rows of `L` token ids, row-major) under the
    /// attention `mask` (same layout, 1.0 for a token, 0.0 for padding). `L` is at most
    /// `max_position_embeddings` and every id below `vocab_size` (the caller checks).
    pub fn forward(&self, ids: &[u32], mask: &[f32], batch: usize, len: usize) -> Result<Tensor> {
        let dev = Device::Cpu;
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let d = h / heads;
        let ids = Tensor::from_slice(ids, batch * len, &dev)?;
        let mask = Tensor::from_slice(mask, (batch, len), &dev)?;
        let mut x = self
            .word
            .index_select(&ids, 0)?
            .reshape((batch, len, h))?
            .broadcast_add(&self.position.narrow(0, 0, len)?)?
            .broadcast_add(&self.token_type0)?;
        x = self.emb_norm.forward(&x)?;
        // (1 − m) · (−1e9) per key: exp underflows to exactly 0 for padding.
        let bias = ((mask - 1.0)? * 1e9)?.reshape((batch, 1, 1, len))?;
        let scale = 1.0 / (d as f64).sqrt();
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, len, heads, d))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        for layer in &self.layers {
            let q = split((layer.query.forward(&x)? * scale)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(&bias)?;
            let p = candle_nn::ops::softmax_last_dim(&scores)?;
            let a = p
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, len, h))?;
            x = layer
                .attn_norm
                .forward(&(layer.attn_out.forward(&a)? + &x)?)?;
            let f = layer.ff_in.forward(&x)?;
            let f = match self.config.hidden_act {
                Activation::Gelu => crate::gelu::gelu_erf_in_place(f)?,
                Activation::GeluTanh => f.gelu()?,
                Activation::Relu => f.relu()?,
            };
            x = layer.ff_norm.forward(&(layer.ff_out.forward(&f)? + &x)?)?;
        }
        Ok(x)
    }
}
