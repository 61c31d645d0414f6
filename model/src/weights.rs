//! The V-LLM's weights: one struct per block, their names (the PyTorch `state_dict` names
//! of the same modules, so a converted checkpoint maps one to one), shapes, and seeded
//! initialization.
//!
//! [`Weights::build`] is the one place that lists the tensors; initialization, loading a
//! `.vllm` file, making training variables and saving all go through it, in the canonical
//! order below (the order of the `.vllm` `WGHT` directory):
//!
//! ```text
//! token_embedding.weight                  [V, D]
//! object_projection.{weight,bias}         [D, C], [D]     (added: feeds an object in)
//! layers.{i}.attention.{q,k,v,o}_proj.{weight,bias}   [D, D], [D]
//! layers.{i}.attention.spatial_bias       [1, H, 1, 1]
//! layers.{i}.norm1.{weight,bias}          [D]
//! layers.{i}.norm2.{weight,bias}          [D]
//! layers.{i}.ffn.0.{weight,bias}          [F, D], [F]
//! layers.{i}.ffn.3.{weight,bias}          [D, F], [D]
//! norm.{weight,bias}                      [D]
//! tensor_projection.{weight,bias}         [C, D], [C]
//! output_head.{weight,bias}               [V, D], [V]
//! score_head.{weight,bias}                [1, D], [1]     (added: m_score's read-out)
//! ```
//! Linear weights are `[out, in]` (`y = x Wᵀ + b`).

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::ModelConfig;
use crate::error::Result;

/// How a tensor starts in a fresh model (PyTorch's defaults for these modules).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in `[-a, a]` (`nn.Linear`: `a = 1/√in` for weight and bias).
    Uniform(f64),
    /// Standard normal (`nn.Embedding`).
    Normal,
    /// All ones (LayerNorm gain).
    Ones,
    /// All zeros (LayerNorm bias; `spatial_bias`).
    Zeros,
}

/// `y = x Wᵀ + b`.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out, in]`.
    pub w: Tensor,
    /// `[out]`.
    pub b: Tensor,
}

impl Linear {
    /// `x`: `(n, in)` → `(n, out)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }
}

/// LayerNorm's gain and bias, `[D]` each.
#[derive(Debug, Clone)]
pub struct Norm {
    /// Gain γ.
    pub weight: Tensor,
    /// Bias β.
    pub bias: Tensor,
}

/// One `VectorTransformerLayer`.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Query projection.
    pub q: Linear,
    /// Key projection.
    pub k: Linear,
    /// Value projection.
    pub v: Linear,
    /// Output projection.
    pub o: Linear,
    /// `[1, H, 1, 1]`: per head, the score penalty per unit of normalized distance.
    pub spatial_bias: Tensor,
    /// After attention + residual.
    pub norm1: Norm,
    /// After the feed-forward block + residual.
    pub norm2: Norm,
    /// `D → F`, then GELU.
    pub ffn_in: Linear,
    /// `F → D`.
    pub ffn_out: Linear,
}

/// Every weight of a V-LLM.
#[derive(Debug, Clone)]
pub struct Weights {
    /// `[V, D]`.
    pub token_embedding: Tensor,
    /// `C → D`, added to a spatial token's input.
    pub object_projection: Linear,
    /// The transformer layers.
    pub layers: Vec<Layer>,
    /// Final LayerNorm.
    pub norm: Norm,
    /// `D → C`: the spatial features.
    pub tensor_projection: Linear,
    /// `D → V`: next-token logits.
    pub output_head: Linear,
    /// `D → 1`: `m_score`.
    pub score_head: Linear,
}

/// Calls `make(name, shape, init)` for every tensor in canonical order.
struct Builder<F> {
    make: F,
}

impl<F: FnMut(&str, &[usize], Init) -> Result<Tensor>> Builder<F> {
    fn tensor(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        (self.make)(name, shape, init)
    }

    fn linear(&mut self, name: &str, inp: usize, out: usize) -> Result<Linear> {
        let a = 1.0 / (inp as f64).sqrt();
        Ok(Linear {
            w: self.tensor(&format!("{name}.weight"), &[out, inp], Init::Uniform(a))?,
            b: self.tensor(&format!("{name}.bias"), &[out], Init::Uniform(a))?,
        })
    }

    fn norm(&mut self, name: &str, d: usize) -> Result<Norm> {
        Ok(Norm {
            weight: self.tensor(&format!("{name}.weight"), &[d], Init::Ones)?,
            bias: self.tensor(&format!("{name}.bias"), &[d], Init::Zeros)?,
        })
    }
}

impl Weights {
    /// Builds every tensor with `make(name, shape, init)`, in canonical order.
    pub fn build(
        cfg: &ModelConfig,
        make: impl FnMut(&str, &[usize], Init) -> Result<Tensor>,
    ) -> Result<Self> {
        let (v, d, f, h, c) = (cfg.vocab_size, cfg.dim, cfg.hidden, cfg.heads, cfg.channels);
        let mut b = Builder { make };
        let token_embedding = b.tensor("token_embedding.weight", &[v, d], Init::Normal)?;
        let object_projection = b.linear("object_projection", c, d)?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("layers.{i}");
            layers.push(Layer {
                q: b.linear(&format!("{p}.attention.q_proj"), d, d)?,
                k: b.linear(&format!("{p}.attention.k_proj"), d, d)?,
                v: b.linear(&format!("{p}.attention.v_proj"), d, d)?,
                o: b.linear(&format!("{p}.attention.o_proj"), d, d)?,
                spatial_bias: b.tensor(
                    &format!("{p}.attention.spatial_bias"),
                    &[1, h, 1, 1],
                    Init::Zeros,
                )?,
                norm1: b.norm(&format!("{p}.norm1"), d)?,
                norm2: b.norm(&format!("{p}.norm2"), d)?,
                ffn_in: b.linear(&format!("{p}.ffn.0"), d, f)?,
                ffn_out: b.linear(&format!("{p}.ffn.3"), f, d)?,
            });
        }
        Ok(Weights {
            token_embedding,
            object_projection,
            layers,
            norm: b.norm("norm", d)?,
            tensor_projection: b.linear("tensor_projection", d, c)?,
            output_head: b.linear("output_head", d, v)?,
            score_head: b.linear("score_head", d, 1)?,
        })
    }

    /// Fresh weights drawn from a ChaCha8 stream seeded with `seed`, tensor after tensor in
    /// canonical order, each row-major: the same seed gives the same weights everywhere.
    /// Normal draws use Box–Muller on two uniforms.
    pub fn init(cfg: &ModelConfig, seed: u64, device: &Device) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Weights::build(cfg, |_, shape, init| {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = match init {
                Init::Uniform(a) => (0..n).map(|_| rng.random_range(-a..=a) as f32).collect(),
                Init::Normal => (0..n)
                    .map(|_| {
                        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                        let u2: f64 = rng.random();
                        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                    })
                    .collect(),
                Init::Ones => vec![1.0; n],
                Init::Zeros => vec![0.0; n],
            };
            Ok(Tensor::from_vec(data, shape, device)?)
        })
    }

    /// Every tensor with its name, in canonical order.
    pub fn named(&self) -> Vec<(String, &Tensor)> {
        fn lin<'a>(out: &mut Vec<(String, &'a Tensor)>, name: &str, l: &'a Linear) {
            out.push((format!("{name}.weight"), &l.w));
            out.push((format!("{name}.bias"), &l.b));
        }
        let mut out: Vec<(String, &Tensor)> = Vec::new();
        out.push(("token_embedding.weight".into(), &self.token_embedding));
        lin(&mut out, "object_projection", &self.object_projection);
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("layers.{i}");
            lin(&mut out, &format!("{p}.attention.q_proj"), &l.q);
            lin(&mut out, &format!("{p}.attention.k_proj"), &l.k);
            lin(&mut out, &format!("{p}.attention.v_proj"), &l.v);
            lin(&mut out, &format!("{p}.attention.o_proj"), &l.o);
            out.push((format!("{p}.attention.spatial_bias"), &l.spatial_bias));
            out.push((format!("{p}.norm1.weight"), &l.norm1.weight));
            out.push((format!("{p}.norm1.bias"), &l.norm1.bias));
            out.push((format!("{p}.norm2.weight"), &l.norm2.weight));
            out.push((format!("{p}.norm2.bias"), &l.norm2.bias));
            lin(&mut out, &format!("{p}.ffn.0"), &l.ffn_in);
            lin(&mut out, &format!("{p}.ffn.3"), &l.ffn_out);
        }
        out.push(("norm.weight".into(), &self.norm.weight));
        out.push(("norm.bias".into(), &self.norm.bias));
        lin(&mut out, "tensor_projection", &self.tensor_projection);
        lin(&mut out, "output_head", &self.output_head);
        lin(&mut out, "score_head", &self.score_head);
        out
    }

    /// The same structure with every tensor replaced by `f(name, tensor)`.
    pub fn map(
        &self,
        cfg: &ModelConfig,
        mut f: impl FnMut(&str, &Tensor) -> Result<Tensor>,
    ) -> Result<Self> {
        let named = self.named();
        let mut it = named.iter();
        Weights::build(cfg, |name, _, _| match it.next() {
            Some((n, t)) if n == name => f(name, t),
            _ => Err(crate::Error::config(format!(
                "weights do not match the configuration at {name}"
            ))),
        })
    }

    /// The dtype of the weights (they all share one).
    pub fn dtype(&self) -> DType {
        self.token_embedding.dtype()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shapes_and_count_agree_with_the_config() {
        let cfg = ModelConfig::small(2, 12, 3, 5);
        let w = Weights::init(&cfg, 1, &Device::Cpu).unwrap();
        let named = w.named();
        let total: usize = named.iter().map(|(_, t)| t.elem_count()).sum();
        assert_eq!(total as u64, cfg.parameter_count());
        let names: std::collections::HashSet<_> = named.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names.len(), named.len(), "names are unique");
        assert_eq!(named[0].0, "token_embedding.weight");
        assert_eq!(named.last().unwrap().0, "score_head.bias");
        let sb = named
            .iter()
            .find(|(n, _)| n == "layers.1.attention.spatial_bias")
            .unwrap();
        assert_eq!(sb.1.dims(), &[1, 3, 1, 1]);
    }

    #[test]
    fn init_is_deterministic_and_seed_dependent() {
        let cfg = ModelConfig::small(1, 12, 2, 4);
        let flat = |seed| -> Vec<f32> {
            let w = Weights::init(&cfg, seed, &Device::Cpu).unwrap();
            w.named()
                .iter()
                .flat_map(|(_, t)| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .collect()
        };
        assert_eq!(flat(3), flat(3));
        assert_ne!(flat(3), flat(4));
        let w = flat(3);
        // Linear weights of width 12 lie in ±1/√12.
        let emb = cfg.vocab_size * cfg.dim;
        let mean: f32 = w[..emb].iter().sum::<f32>() / emb as f32;
        let var: f32 = w[..emb].iter().map(|x| (x - mean).powi(2)).sum::<f32>() / emb as f32;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
}
