//! Every weight of a V-LLM as a plain f32 buffer, in the canonical order of `weights.rs`:
//! the form the fused generation step (`decode.rs`) and the fused trainer (`train/fused/`)
//! work on.
//!
//! [`WeightSet<T>`] mirrors [`Weights`] field for field with `T` in place of a tensor:
//! `&[f32]` borrowed from the model's tensors ([`lock`], no copy) for inference, `Vec<f32>`
//! for the trainer's parameters, gradients and AdamW moments. [`WeightSet::build`] and
//! [`WeightSet::each`] are the one place that knows the canonical order here; a test checks
//! it against [`Weights::named`].

use std::ops::Deref;

use candle_core::{CpuStorage, Device, Layout, Storage, Tensor};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// Which implementation runs: the fused one on f32 buffers (generation's `decode.rs`, the
/// fused trainer), or candle's ops — the oracle the fused ones are tested against, and the
/// path for weights that are not f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// Fused where the weights are f32 on the CPU, else candle's.
    Fused,
    /// candle's ops.
    #[cfg_attr(not(test), allow(dead_code))]
    Candle,
}

/// A linear layer's weight `[out, in]` and bias `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lin<T> {
    /// `[out, in]`, row-major.
    pub w: T,
    /// `[out]`.
    pub b: T,
}

/// A LayerNorm's gain and bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm<T> {
    /// γ.
    pub gain: T,
    /// β.
    pub bias: T,
}

/// One transformer layer (see [`crate::weights::Layer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSet<T> {
    /// Query projection.
    pub q: Lin<T>,
    /// Key projection.
    pub k: Lin<T>,
    /// Value projection.
    pub v: Lin<T>,
    /// Output projection.
    pub o: Lin<T>,
    /// Per head, the score penalty per unit of normalized distance (`H` values).
    pub beta: T,
    /// After attention + residual.
    pub norm1: Norm<T>,
    /// After the feed-forward block + residual.
    pub norm2: Norm<T>,
    /// `D → F`, then GELU.
    pub ffn_in: Lin<T>,
    /// `F → D`.
    pub ffn_out: Lin<T>,
}

/// Every weight (see [`Weights`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightSet<T> {
    /// `[V, D]`.
    pub embedding: T,
    /// `C → D`.
    pub object: Lin<T>,
    /// The transformer layers.
    pub layers: Vec<LayerSet<T>>,
    /// Final LayerNorm.
    pub norm: Norm<T>,
    /// `D → C`.
    pub features: Lin<T>,
    /// `D → V`.
    pub output: Lin<T>,
    /// `D → 1`.
    pub score: Lin<T>,
}

impl<T> WeightSet<T> {
    /// Builds a set of `layers` layers from `next()`, called once per tensor in canonical
    /// order.
    pub fn build(layers: usize, mut next: impl FnMut() -> Result<T>) -> Result<Self> {
        fn lin<T>(next: &mut impl FnMut() -> Result<T>) -> Result<Lin<T>> {
            Ok(Lin {
                w: next()?,
                b: next()?,
            })
        }
        fn norm<T>(next: &mut impl FnMut() -> Result<T>) -> Result<Norm<T>> {
            Ok(Norm {
                gain: next()?,
                bias: next()?,
            })
        }
        let embedding = next()?;
        let object = lin(&mut next)?;
        let mut out = Vec::with_capacity(layers);
        for _ in 0..layers {
            out.push(LayerSet {
                q: lin(&mut next)?,
                k: lin(&mut next)?,
                v: lin(&mut next)?,
                o: lin(&mut next)?,
                beta: next()?,
                norm1: norm(&mut next)?,
                norm2: norm(&mut next)?,
                ffn_in: lin(&mut next)?,
                ffn_out: lin(&mut next)?,
            });
        }
        Ok(WeightSet {
            embedding,
            object,
            layers: out,
            norm: norm(&mut next)?,
            features: lin(&mut next)?,
            output: lin(&mut next)?,
            score: lin(&mut next)?,
        })
    }

    /// Every tensor, in canonical order.
    pub fn each(&self) -> Vec<&T> {
        let mut out = vec![&self.embedding, &self.object.w, &self.object.b];
        for l in &self.layers {
            for lin in [&l.q, &l.k, &l.v, &l.o] {
                out.extend([&lin.w, &lin.b]);
            }
            out.extend([&l.beta, &l.norm1.gain, &l.norm1.bias]);
            out.extend([&l.norm2.gain, &l.norm2.bias]);
            out.extend([&l.ffn_in.w, &l.ffn_in.b, &l.ffn_out.w, &l.ffn_out.b]);
        }
        out.extend([&self.norm.gain, &self.norm.bias]);
        for lin in [&self.features, &self.output, &self.score] {
            out.extend([&lin.w, &lin.b]);
        }
        out
    }

    /// Every tensor, in canonical order, mutably.
    pub fn each_mut(&mut self) -> Vec<&mut T> {
        let mut out = vec![&mut self.embedding, &mut self.object.w, &mut self.object.b];
        for l in &mut self.layers {
            for lin in [&mut l.q, &mut l.k, &mut l.v, &mut l.o] {
                out.extend([&mut lin.w, &mut lin.b]);
            }
            out.extend([&mut l.beta, &mut l.norm1.gain, &mut l.norm1.bias]);
            out.extend([&mut l.norm2.gain, &mut l.norm2.bias]);
            out.extend([
                &mut l.ffn_in.w,
                &mut l.ffn_in.b,
                &mut l.ffn_out.w,
                &mut l.ffn_out.b,
            ]);
        }
        out.extend([&mut self.norm.gain, &mut self.norm.bias]);
        for lin in [&mut self.features, &mut self.output, &mut self.score] {
            out.extend([&mut lin.w, &mut lin.b]);
        }
        out
    }
}

impl WeightSet<Vec<f32>> {
    /// A copy of `w`'s values (f32 weights only).
    pub fn copy_of(w: &Weights) -> Result<Self> {
        let named = w.named();
        let mut it = named.iter();
        WeightSet::build(w.layers.len(), || {
            let (name, t) = it
                .next()
                .ok_or_else(|| Error::config("fewer weights than layers imply"))?;
            t.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| Error::config(format!("{name}: {e}")))
        })
    }

    /// The same shapes, all zeros.
    pub fn zeros_like(&self) -> Self {
        let sizes: Vec<usize> = self.each().iter().map(|t| t.len()).collect();
        let mut it = sizes.into_iter();
        WeightSet::build(self.layers.len(), || Ok(vec![0f32; it.next().unwrap_or(0)]))
            .unwrap_or_else(|_| unreachable!("building from sizes cannot fail"))
    }

    /// Tensors of these values in the shapes of `cfg`.
    pub fn to_weights(&self, cfg: &ModelConfig, device: &Device) -> Result<Weights> {
        let mut it = self.each().into_iter();
        Weights::build(cfg, |name, shape, _| {
            let v = it
                .next()
                .ok_or_else(|| Error::config(format!("no values for {name}")))?;
            Ok(Tensor::from_vec(v.clone(), shape, device)?)
        })
    }
}

/// Read locks on every tensor of a [`Weights`], so that their values can be read as slices
/// without a copy ([`Locked::slices`]). `G` is candle's read guard of a tensor's storage.
pub struct Locked<'t, G> {
    layers: usize,
    guards: Vec<(G, &'t Layout)>,
}

/// Locks every tensor of `w` for reading.
pub fn lock(w: &Weights) -> Locked<'_, impl Deref<Target = Storage> + '_> {
    let guards = w
        .named()
        .into_iter()
        .map(|(_, t)| t.storage_and_layout())
        .collect();
    Locked {
        layers: w.layers.len(),
        guards,
    }
}

impl<G: Deref<Target = Storage>> Locked<'_, G> {
    /// Every tensor as a slice, or `None` unless all are contiguous f32 on the CPU.
    pub fn slices(&self) -> Option<WeightSet<&[f32]>> {
        let mut it = self.guards.iter();
        WeightSet::build(self.layers, || {
            let (storage, layout) = it.next().ok_or_else(|| Error::arg(""))?;
            match (&**storage, layout.contiguous_offsets()) {
                (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => data
                    .get(start..end)
                    .ok_or_else(|| Error::arg("a tensor outside its storage")),
                _ => Err(Error::arg("not contiguous f32 on the CPU")),
            }
        })
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_order_is_the_weights_order() {
        let cfg = ModelConfig::small(2, 12, 3, 5);
        let w = Weights::init(&cfg, 4, &Device::Cpu).unwrap();
        let set = WeightSet::copy_of(&w).unwrap();
        let named = w.named();
        let by_name = |name: &str| -> Vec<f32> {
            let t = named.iter().find(|(n, _)| n == name).unwrap().1;
            t.flatten_all().unwrap().to_vec1().unwrap()
        };
        // Each field holds the tensor of its name.
        let l = &set.layers[1];
        for (got, name) in [
            (&set.embedding, "token_embedding.weight"),
            (&set.object.b, "object_projection.bias"),
            (&l.q.w, "layers.1.attention.q_proj.weight"),
            (&l.v.b, "layers.1.attention.v_proj.bias"),
            (&l.o.w, "layers.1.attention.o_proj.weight"),
            (&l.beta, "layers.1.attention.spatial_bias"),
            (&l.norm1.gain, "layers.1.norm1.weight"),
            (&l.norm2.bias, "layers.1.norm2.bias"),
            (&l.ffn_in.w, "layers.1.ffn.0.weight"),
            (&l.ffn_out.b, "layers.1.ffn.3.bias"),
            (&set.norm.gain, "norm.weight"),
            (&set.features.w, "tensor_projection.weight"),
            (&set.output.b, "output_head.bias"),
            (&set.score.w, "score_head.weight"),
        ] {
            assert_eq!(got, &by_name(name), "{name}");
        }
        // `each` walks the same order as `named`.
        let each = set.each();
        assert_eq!(each.len(), named.len());
        for (v, (name, _)) in each.iter().zip(&named) {
            assert_eq!(**v, by_name(name), "{name}");
        }
        // Borrowed slices are the same values; the round trip through tensors is exact.
        let locked = lock(&w);
        let slices = locked.slices().unwrap();
        for (a, b) in slices.each().iter().zip(&each) {
            assert_eq!(**a, &b[..]);
        }
        let back = set.to_weights(&cfg, &Device::Cpu).unwrap();
        assert_eq!(WeightSet::copy_of(&back).unwrap(), set);
        let zeros = set.zeros_like();
        assert!(zeros
            .each()
            .iter()
            .zip(&each)
            .all(|(z, v)| z.len() == v.len() && z.iter().all(|&x| x == 0.0)));
        // Other dtypes are not borrowed.
        let w64 = w
            .map(&cfg, |_, t| Ok(t.to_dtype(candle_core::DType::F64)?))
            .unwrap();
        assert!(lock(&w64).slices().is_none());
    }
}
