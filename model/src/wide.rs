//! Running a loop with the CPU's widest vectors.
//!
//! The crate is compiled for the baseline x86-64 (SSE2: four f32 lanes), so the plain loops
//! of the fused paths (the GELU, layer norms, AdamW) vectorize four wide. [`wide`] runs a
//! closure through pulp's dispatch (the crate faer's kernels use), which compiles it once
//! more with AVX2 enabled (eight lanes) and picks that copy when the CPU has it. The
//! arithmetic is the same IEEE operations either way — Rust never fuses `a · b + c` into
//! one rounding, and the loops' order of operations is fixed — so results do not depend on
//! the CPU.
//!
//! A loop is a [`Wide`] implementation whose `run` is `#[inline(always)]` and does all its
//! work inline (`#[inline(always)]` helpers): a call to an ordinary function, or a closure
//! the compiler chooses not to inline, leaves the wide copy.

/// A loop to run wide: `run` must be `#[inline(always)]` (module docs).
pub trait Wide {
    /// What the loop returns.
    type Output;
    /// The loop.
    fn run(self) -> Self::Output;
}

/// Runs `op` compiled for the widest vectors the CPU has (module docs).
#[inline(always)]
pub fn wide<W: Wide>(op: W) -> W::Output {
    struct Dispatch<W>(W);
    impl<W: Wide> pulp::WithSimd for Dispatch<W> {
        type Output = W::Output;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> W::Output {
            self.0.run()
        }
    }
    pulp::Arch::new().dispatch(Dispatch(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Poly<'a>(&'a [f32]);

    impl Wide for Poly<'_> {
        type Output = Vec<f32>;
        #[inline(always)]
        fn run(self) -> Vec<f32> {
            self.0
                .iter()
                .map(|&a| a * 1.7 + a * a * 0.3 - 0.1)
                .collect()
        }
    }

    #[test]
    fn the_wide_copy_computes_the_same_values() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        assert_eq!(wide(Poly(&x)), Poly(&x).run());
    }
}
