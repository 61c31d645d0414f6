//! LayerNorm of one row and its gradient, on f32 slices (the fused generation step and the
//! fused trainer). The definition is the training mode's of `network.rs`:
//! `y = (x − μ) / σ · γ + β` with `μ` the row's mean and `σ = sqrt(var + eps)`, `var` the
//! biased variance `mean((x − μ)²)`.

/// `Σ x` with eight partial sums, so that it vectorizes (the order differs from a left to
/// right sum by rounding only).
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Writes `x̂ = (x − μ) / σ` into `xhat` and returns `σ`.
#[inline(always)]
pub fn normalize(xhat: &mut [f32], x: &[f32], eps: f32) -> f32 {
    let n = x.len().max(1) as f32;
    let mean = sum(x) / n;
    for (h, &v) in xhat.iter_mut().zip(x) {
        *h = v - mean;
    }
    let mut acc = [0f32; 8];
    let chunks = xhat.chunks_exact(8);
    let mut var: f32 = chunks.remainder().iter().map(|c| c * c).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v * v;
        }
    }
    var += acc.iter().sum::<f32>();
    let sigma = (var / n + eps).sqrt();
    for h in xhat.iter_mut() {
        *h /= sigma;
    }
    sigma
}

/// `y = x̂ · γ + β`.
#[inline(always)]
pub fn scale_shift(y: &mut [f32], xhat: &[f32], gain: &[f32], bias: &[f32]) {
    for (((y, &h), &g), &b) in y.iter_mut().zip(xhat).zip(gain).zip(bias) {
        *y = h * g + b;
    }
}

/// The whole LayerNorm of one row: `y = LN(x)`.
#[inline(always)]
pub fn layer_norm(y: &mut [f32], x: &[f32], gain: &[f32], bias: &[f32], eps: f32) {
    normalize(y, x, eps);
    for ((y, &g), &b) in y.iter_mut().zip(gain).zip(bias) {
        *y = *y * g + b;
    }
}

/// Back through one row: from `dy` and the forward pass's `x̂` and `σ`, adds `dy · x̂` to
/// `dgain` and `dy` to `dbias`, and writes
/// `dx = (d − mean(d) − x̂ · mean(d · x̂)) / σ` with `d = dy · γ`.
#[inline(always)]
pub fn backward(
    dx: &mut [f32],
    dy: &[f32],
    xhat: &[f32],
    gain: &[f32],
    sigma: f32,
    dgain: &mut [f32],
    dbias: &mut [f32],
) {
    let n = dy.len().max(1) as f32;
    let len = dy.len();
    let (dx, xhat, gain) = (&mut dx[..len], &xhat[..len], &gain[..len]);
    let (dgain, dbias) = (&mut dgain[..len], &mut dbias[..len]);
    for i in 0..len {
        dgain[i] += dy[i] * xhat[i];
        dbias[i] += dy[i];
        dx[i] = dy[i] * gain[i];
    }
    let mean_d = sum(dx) / n;
    let mut acc = [0f32; 8];
    let (dc, hc) = (dx.chunks_exact(8), xhat.chunks_exact(8));
    let mut mean_dx: f32 = dc
        .remainder()
        .iter()
        .zip(hc.remainder())
        .map(|(d, h)| d * h)
        .sum();
    for (d, h) in dc.zip(hc) {
        for l in 0..8 {
            acc[l] += d[l] * h[l];
        }
    }
    mean_dx = (mean_dx + acc.iter().sum::<f32>()) / n;
    for (dx, &h) in dx.iter_mut().zip(xhat) {
        *dx = (*dx - mean_d - h * mean_dx) / sigma;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_matches_finite_differences() {
        let x = [0.3f32, -1.2, 2.5, 0.0, 0.7, -0.4];
        let gain = [1.0f32, 0.5, -2.0, 1.5, 0.9, 1.1];
        let bias = [0.1f32, 0.0, -0.3, 0.2, 0.0, 0.4];
        let w = [0.7f32, -0.2, 0.4, 1.0, -0.8, 0.3]; // loss = Σ w · y
        let loss = |x: &[f32]| -> f64 {
            let mut y = [0f32; 6];
            layer_norm(&mut y, x, &gain, &bias, 1e-5);
            y.iter().zip(&w).map(|(a, b)| (a * b) as f64).sum()
        };
        let mut xhat = [0f32; 6];
        let sigma = normalize(&mut xhat, &x, 1e-5);
        let (mut dx, mut dg, mut db) = ([0f32; 6], [0f32; 6], [0f32; 6]);
        backward(&mut dx, &w, &xhat, &gain, sigma, &mut dg, &mut db);
        for i in 0..6 {
            let h = 1e-3;
            let (mut up, mut down) = (x, x);
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            assert!(
                (fd - dx[i] as f64).abs() < 2e-3,
                "dx[{i}]: {} vs {fd}",
                dx[i]
            );
            assert!((dg[i] - w[i] * xhat[i]).abs() < 1e-7 && db[i] == w[i]);
        }
    }
}
