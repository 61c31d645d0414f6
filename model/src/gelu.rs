//! The exact GELU, `gelu(x) = x · Φ(x) = x/2 · (1 + erf(x / √2))`, fast on the CPU in f32.
//!
//! candle's `gelu_erf` calls a scalar `erff` per element: ~13 % of an `m_embed` profile
//! (the feed-forward block is 4× as wide as the model). Here erf is a rational function,
//! `x · P(x²) / Q(x²)` with `P` of degree 6 and `Q` of degree 4 in `x²` (Eigen's
//! `generic_fast_erf_float` coefficients), on `x` clamped to `[-4, 4]` (outside it erf is
//! ±1 in f32). The loop has no branch and no call (`mul_add` would call
//! `fmaf` without a target feature), so it vectorizes; its absolute error against
//! candle's `gelu_erf` is below 1e-6 · max(1, |x|) (test below), under the 1e-4 the model
//! tests allow against the NumPy reference.
//!
//! Only inference uses it: f32 tensors on the CPU. Other dtypes and devices, and training
//! (which needs the gradient), take candle's op.

use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Tensor};

use crate::fastexp::exp_nonpositive;

use crate::error::Result;

/// `gelu(h)` of every element (module docs), computed in `h`'s own memory when it is a
/// contiguous f32 tensor on the CPU: a feed-forward block's 4×-wide activations are the
/// largest tensors of a pass, and a fresh buffer for them costs more in page faults than
/// the arithmetic. `h` must be a freshly computed tensor whose storage no other tensor
/// shares (the output of a linear layer): its values are overwritten.
pub fn gelu_erf_in_place(h: Tensor) -> Result<Tensor> {
    if h.dtype() != DType::F32 || !h.device().is_cpu() {
        return Ok(h.gelu_erf()?);
    }
    if !h.is_contiguous() {
        return gelu_erf_in_place(h.contiguous()?);
    }
    h.inplace_op1(&FastGelu)?;
    Ok(h)
}

/// `gelu(x)` of one value (module docs).
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// [`gelu`] and its derivative `Φ(x) + x · φ(x)`, with `Φ(x) = (1 + erf(x/√2)) / 2` and
/// `φ(x) = exp(−x²/2) / √(2π)` the normal density (the fused trainer keeps the derivative
/// from its forward pass for its backward pass). The GELU is the same value as [`gelu`]'s.
#[inline(always)]
pub(crate) fn gelu_and_derivative(x: f32) -> (f32, f32) {
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    (
        x * cdf,
        cdf + x * FRAC_1_SQRT_2PI * exp_nonpositive(-0.5 * x * x),
    )
}

/// `(g, d) = (gelu(z), gelu'(z))` for every `z` of `g`, in place, with the CPU's widest
/// vectors (the fused trainer's forward pass).
pub(crate) struct GeluAndDerivative<'a> {
    /// In: `z`; out: `gelu(z)`.
    pub g: &'a mut [f32],
    /// Out: the derivative at `z`.
    pub d: &'a mut [f32],
}

impl crate::wide::Wide for GeluAndDerivative<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (g, d) in self.g.iter_mut().zip(self.d.iter_mut()) {
            (*g, *d) = gelu_and_derivative(*g);
        }
    }
}

/// erf of `x`, absolute error below ~2e-7 (module docs).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_4e-5;
    p = x2 * p - 7.349_906_3e-4;
    p = x2 * p - 2.954_600_2e-3;
    p = x2 * p - 1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329e-3;
    q = x2 * q - 1.426_474e-2;
    x * p / q
}

struct FastGelu;

impl InplaceOp1 for FastGelu {
    fn name(&self) -> &'static str {
        "fast-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(
                "fast gelu: a contiguous f32 tensor is required".into(),
            ));
        };
        for x in &mut data[start..end] {
            *x = gelu(*x);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_candles_exact_gelu() {
        // Every 1/1024 over [-12, 12], then values around the clamp and the extremes.
        let mut xs: Vec<f32> = (-12 * 1024..=12 * 1024)
            .map(|i| i as f32 / 1024.0)
            .collect();
        xs.extend([5.656, 5.657, 5.658, -5.657, 1e-30, -1e-30, 1e30, -1e30, 0.0]);
        let t = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu).unwrap();
        let fast = gelu_erf_in_place(t.copy().unwrap())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let exact = t.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        for ((x, f), e) in xs.iter().zip(&fast).zip(&exact) {
            let tol = 1e-6 * x.abs().max(1.0);
            assert!((f - e).abs() <= tol, "gelu({x}): {f} against {e}");
        }
    }

    #[test]
    fn the_derivative_matches_finite_differences() {
        // Central differences of the f32 function at a step of 1e-2: their error is about
        // h² times the third derivative (below 1e-4) plus rounding (~1e-5).
        for i in -800..=800 {
            let x = i as f64 / 100.0;
            let h = 1e-2;
            let fd = (gelu((x + h) as f32) as f64 - gelu((x - h) as f32) as f64) / (2.0 * h);
            let (g, d) = gelu_and_derivative(x as f32);
            assert_eq!(g, gelu(x as f32));
            let d = d as f64;
            assert!((fd - d).abs() < 2e-4, "gelu derivative at {x}: {d} vs {fd}");
        }
    }

    #[test]
    fn a_view_is_copied_and_other_dtypes_take_candles_op() {
        let t = Tensor::arange(-8f32, 8.0, &Device::Cpu)
            .unwrap()
            .reshape((4, 4))
            .unwrap();
        let tt = t.t().unwrap();
        let fast = gelu_erf_in_place(tt.clone())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let exact = tt.gelu_erf().unwrap().to_vec2::<f32>().unwrap();
        for (a, b) in fast.iter().flatten().zip(exact.iter().flatten()) {
            assert!((a - b).abs() <= 1e-5, "{a} against {b}");
        }
        // The transposed view was copied, not written through.
        let before: Vec<f32> = (-8..8).map(|i| i as f32).collect();
        assert_eq!(t.flatten_all().unwrap().to_vec1::<f32>().unwrap(), before);
        let d = t.to_dtype(DType::F64).unwrap();
        assert_eq!(
            gelu_erf_in_place(d.copy().unwrap())
                .unwrap()
                .to_vec2::<f64>()
                .unwrap(),
            d.gelu_erf().unwrap().to_vec2::<f64>().unwrap()
        );
    }
}
