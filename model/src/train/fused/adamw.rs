//! Gradient clipping and AdamW on f32 buffers, element for element the arithmetic of the
//! candle path (`clip` in `train/mod.rs`, then `candle_nn::AdamW::step`), so that the two
//! paths given the same gradients write the same weights.
//!
//! candle's AdamW, per element, with every `f64` constant rounded to f32 first (candle's
//! `tensor * f64` is `x · (f as f32) + 0`):
//! ```text
//! m ← m·β₁ + g·(1 − β₁)            v ← v·β₂ + g²·(1 − β₂)
//! θ ← θ·(1 − lr·λ) − (m·s_m) / (sqrt(v·s_v) + ε) · lr
//! s_m = 1 / (1 − β₁ᵗ),  s_v = 1 / (1 − β₂ᵗ)
//! ```
//! with candle-nn's defaults β₁ = 0.9, β₂ = 0.999, ε = 1e-8.

use crate::flat::WeightSet;
use crate::wide::{wide, Wide};

/// AdamW's state: the moments of every weight and the step count.
#[derive(Debug)]
pub struct AdamW {
    m: WeightSet<Vec<f32>>,
    v: WeightSet<Vec<f32>>,
    t: i32,
    weight_decay: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl AdamW {
    /// Zero moments for weights shaped as `like`, with decoupled weight decay `weight_decay`.
    pub fn new(like: &WeightSet<Vec<f32>>, weight_decay: f64) -> Self {
        AdamW {
            m: like.zeros_like(),
            v: like.zeros_like(),
            t: 0,
            weight_decay,
        }
    }

    /// One step at learning rate `lr`.
    pub fn step(&mut self, params: &mut WeightSet<Vec<f32>>, grads: &WeightSet<Vec<f32>>, lr: f64) {
        self.t = self.t.saturating_add(1);
        let f = |x: f64| x as f32;
        let (b1, b2) = (f(BETA1), f(BETA2));
        let (ob1, ob2) = (f(1.0 - BETA1), f(1.0 - BETA2));
        let sm = f(1.0 / (1.0 - BETA1.powi(self.t)));
        let sv = f(1.0 / (1.0 - BETA2.powi(self.t)));
        let decay = f(1.0 - lr * self.weight_decay);
        let (eps, lr) = (f(EPS), f(lr));
        let tensors = params
            .each_mut()
            .into_iter()
            .zip(grads.each())
            .zip(self.m.each_mut())
            .zip(self.v.each_mut());
        for (((theta, g), m), v) in tensors {
            wide(Update {
                theta,
                g,
                m,
                v,
                k: [b1, b2, ob1, ob2, sm, sv, decay, eps, lr],
            });
        }
    }
}

/// One tensor's AdamW update (module docs), run wide. `k`: β₁, β₂, 1 − β₁, 1 − β₂, s_m,
/// s_v, 1 − lr·λ, ε, lr, each in f32.
struct Update<'a> {
    theta: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    k: [f32; 9],
}

impl Wide for Update<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let [b1, b2, ob1, ob2, sm, sv, decay, eps, lr] = self.k;
        let n = self.theta.len();
        let (g, m, v) = (&self.g[..n], &mut self.m[..n], &mut self.v[..n]);
        for i in 0..n {
            let g = g[i];
            m[i] = m[i] * b1 + g * ob1;
            v[i] = v[i] * b2 + (g * g) * ob2;
            let adjusted = (m[i] * sm) / ((v[i] * sv).sqrt() + eps);
            self.theta[i] = self.theta[i] * decay - adjusted * lr;
        }
    }
}

/// Scales `grads` to a global L2 norm of at most `max_norm` (PyTorch's `clip_grad_norm_`:
/// by `max_norm / (norm + 1e-6)` when that is below 1). Returns the norm before clipping;
/// `None` when it is not finite.
pub fn clip(grads: &mut WeightSet<Vec<f32>>, max_norm: f64) -> Option<f64> {
    // Eight partial sums (in f64), so that the loop is not one long chain of additions.
    let mut acc = [0f64; 8];
    for g in grads.each() {
        let chunks = g.chunks_exact(8);
        for (i, &x) in chunks.remainder().iter().enumerate() {
            acc[i] += (x as f64) * (x as f64);
        }
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += (x as f64) * (x as f64);
            }
        }
    }
    let sq: f64 = acc.iter().sum();
    let norm = sq.sqrt();
    if !norm.is_finite() {
        return None;
    }
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        let factor = factor as f32;
        for g in grads.each_mut() {
            for x in g.iter_mut() {
                *x *= factor;
            }
        }
    }
    Some(norm)
}
