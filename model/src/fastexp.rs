//! `eˣ` for `x ≤ 0` in f32 without a call: relative error below 3e-7, as `2ᵏ · e^r` with
//! `k = round(x / ln 2)` and `e^r` a degree-6 Taylor polynomial on `|r| ≤ ln 2 / 2`.
//!
//! std's `exp` calls libm's `expf` once per element, so a loop over it cannot vectorize;
//! this one has no branch and no call. Its users' arguments are all at most 0: the GELU's
//! derivative `exp(−z²/2)` in the fused trainer (one per feed-forward activation, most of a
//! step's exponentials), and softmaxes after their row's maximum is subtracted (the
//! trainer's output head, generation's confidence).

/// `eˣ` for `x ≤ 0` (module docs); arguments above 0 give 1, below −87 give `e⁻⁸⁷`.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding then subtracting 1.5 · 2²³ rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 0.0);
    let k = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = r * (1.0 / 720.0) + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // k ∈ [−126, 0]: 2ᵏ is a normal float.
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_3e_7_of_the_exact_value() {
        for i in 0..=200_000 {
            let x = -(i as f32) * 87.0 / 200_000.0;
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            assert!(
                (got - want).abs() <= 3e-7 * want,
                "exp({x}): {got} vs {want}"
            );
        }
        assert_eq!(exp_nonpositive(-1000.0), exp_nonpositive(-87.0));
    }
}
