//! Linear layers for inference on the CPU in f32: the product, then the bias (and, for a
//! feed-forward block's first layer, the exact GELU of gelu.rs) applied in the product's
//! own memory.
//!
//! candle's `broadcast_add` writes a fresh tensor: for an embed batch's feed-forward
//! activations (8,192 rows × 512) that is 16 MB of new pages a call, and their page faults
//! cost more than the addition (most of an `m_embed` profile's page faults were there).
//! Other dtypes and devices, and training (which needs the gradient), use
//! [`Linear::forward`] and candle's GELU.

use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Tensor};

use crate::error::Result;
use crate::gelu::gelu;
use crate::weights::Linear;

/// What follows the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing.
    Nothing,
    /// The exact GELU.
    Gelu,
}

/// `then(x Wᵀ + b)` for `x` `(n, in)`: the inference form of [`Linear::forward`].
pub fn forward(layer: &Linear, x: &Tensor, then: Then) -> Result<Tensor> {
    if x.dtype() != DType::F32 || !x.device().is_cpu() || layer.b.dtype() != DType::F32 {
        let y = layer.forward(x)?;
        return Ok(match then {
            Then::Nothing => y,
            Then::Gelu => y.gelu_erf()?,
        });
    }
    // The product is a new contiguous tensor that nothing else holds: safe to overwrite.
    let y = x.matmul(&layer.w.t()?)?;
    let bias: Vec<f32> = layer.b.to_vec1()?;
    y.inplace_op1(&BiasThen { bias: &bias, then })?;
    Ok(y)
}

/// Adds `bias` to every row, then applies `then`.
struct BiasThen<'a> {
    bias: &'a [f32],
    then: Then,
}

impl InplaceOp1 for BiasThen<'_> {
    fn name(&self) -> &'static str {
        "bias-then"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let width = self.bias.len();
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(
                "bias: a contiguous f32 tensor is required".into(),
            ));
        };
        let data = &mut data[start..end];
        if width == 0 || data.len() % width != 0 {
            return Err(candle_core::Error::Msg(format!(
                "bias: {} values are not rows of {width}",
                data.len()
            )));
        }
        let apply = |rows: &mut [f32]| {
            for row in rows.chunks_exact_mut(width) {
                match self.then {
                    Then::Nothing => {
                        for (x, b) in row.iter_mut().zip(self.bias) {
                            *x += b;
                        }
                    }
                    Then::Gelu => {
                        for (x, b) in row.iter_mut().zip(self.bias) {
                            *x = gelu(*x + b);
                        }
                    }
                }
            }
        };
        // Large tensors are split by rows between candle's worker count of threads (below
        // ~256k values a thread costs more to start than it saves).
        let threads = if data.len() < 1 << 18 {
            1
        } else {
            candle_core::utils::get_num_threads().max(1)
        };
        let rows_per = (data.len() / width).div_ceil(threads).max(1);
        crate::par::for_chunks(data, rows_per * width, |_, rows| apply(rows));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn equals_the_composed_layer() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (37, 24), &dev).unwrap();
        let layer = Linear {
            w: Tensor::randn(0f32, 0.5, (40, 24), &dev).unwrap(),
            b: Tensor::randn(0f32, 1.0, 40, &dev).unwrap(),
        };
        let plain = layer.forward(&x).unwrap();
        for (then, want) in [
            (Then::Nothing, plain.clone()),
            (Then::Gelu, plain.gelu_erf().unwrap()),
        ] {
            let got = forward(&layer, &x, then).unwrap();
            let diff = (got - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "{then:?}: {diff}");
        }
        // The layer's own tensors are untouched.
        assert_eq!(
            layer.forward(&x).unwrap().to_vec2::<f32>().unwrap(),
            plain.to_vec2::<f32>().unwrap()
        );
    }
}
