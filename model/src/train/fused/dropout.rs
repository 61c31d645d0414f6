//! The dropout masks of one training step, drawn from the run's stream exactly as candle's
//! path draws them (`network.rs`'s `Mode::dropout`), so that both paths drop the same
//! activations and leave the stream in the same state.
//!
//! That path draws one `f64` per element of each dropped tensor, in this order: the input
//! rows `(b·s, D)`, then per layer the attention weights `(b, H, s, s)`, the feed-forward
//! activations `(b·s, F)` and the feed-forward output `(b·s, D)`, over the *padded* batch
//! (`b` sequences of `s` tokens, padding included). An element is zeroed when its draw is
//! below `p`, else scaled by `1/(1 − p)`. Here the same draws fill the same padded layouts
//! and the fused trainer reads the rows of real tokens only.
//!
//! The draws are taken in bulk: filling `n` words of `u64` yields the words of `n` calls of
//! `next_u64` (both read ChaCha's block buffer in order, little-endian; a test checks it,
//! across block boundaries and from an odd word), and `random::<f64>()` is
//! `(x >> 11) · 2⁻⁵³` of the `next_u64` word `x`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::ModelConfig;

/// One layer's masks, padded layouts (module docs): values 0 or `1/(1 − p)`.
#[derive(Debug)]
pub struct LayerMasks {
    /// `(b, H, s, s)`.
    pub attention: Vec<f32>,
    /// `(b·s, F)`.
    pub hidden: Vec<f32>,
    /// `(b·s, D)`.
    pub output: Vec<f32>,
}

/// Every mask of a step.
#[derive(Debug)]
pub struct Masks {
    /// Padded length `s`.
    pub s: usize,
    /// `(b·s, D)`.
    pub input: Vec<f32>,
    /// Per layer.
    pub layers: Vec<LayerMasks>,
}

impl Masks {
    /// Draws the masks of a step over `b` sequences padded to `s` with probability `p`;
    /// `None` (and no draw) when `p` is 0, as candle's path draws nothing then.
    pub fn draw(
        rng: &mut ChaCha8Rng,
        p: f64,
        cfg: &ModelConfig,
        b: usize,
        s: usize,
    ) -> Option<Self> {
        if p <= 0.0 {
            return None;
        }
        let keep = (1.0 / (1.0 - p)) as f32;
        let (d, f, h) = (cfg.dim, cfg.hidden, cfg.heads);
        let input = draw(rng, p, keep, b * s * d);
        let layers = (0..cfg.layers)
            .map(|_| LayerMasks {
                attention: draw(rng, p, keep, b * h * s * s),
                hidden: draw(rng, p, keep, b * s * f),
                output: draw(rng, p, keep, b * s * d),
            })
            .collect();
        Some(Masks { s, input, layers })
    }
}

/// `n` mask values: 0 where the draw is below `p`, else `keep`.
///
/// A draw `u = (x >> 11) · 2⁻⁵³` is below `p` exactly when the integer `x >> 11` is below
/// `⌈p · 2⁵³⌉` (`p · 2⁵³` is exact in f64), which is cheaper to test than to convert.
fn draw(rng: &mut ChaCha8Rng, p: f64, keep: f32, n: usize) -> Vec<f32> {
    let threshold = (p * (1u64 << 53) as f64).ceil() as u64;
    let mut out = Vec::with_capacity(n);
    // In pieces of 4 KiB of draws, so that they stay in L1.
    let mut words = [0u64; 512];
    let mut left = n;
    while left > 0 {
        let take = left.min(words.len());
        let buf = &mut words[..take];
        rng.fill(buf);
        out.extend(
            buf.iter()
                .map(|&x| if x >> 11 < threshold { 0.0 } else { keep }),
        );
        left -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn bulk_draws_are_the_stream_of_single_draws() {
        let p = 0.3;
        let keep = (1.0 / (1.0 - p)) as f32;
        for offset in [0usize, 1, 7] {
            let mut a = ChaCha8Rng::seed_from_u64(11);
            // Leave the stream at an odd word: a draw of a u32 before the masks.
            for _ in 0..offset {
                a.next_u32();
            }
            let mut b = a.clone();
            // 1,500 draws: several 64-word blocks, and a buffer of 512 draws refilled.
            let bulk = draw(&mut a, p, keep, 1500);
            let single: Vec<f32> = (0..1500)
                .map(|_| if b.random::<f64>() < p { 0.0 } else { keep })
                .collect();
            assert_eq!(bulk, single, "offset {offset}");
            assert_eq!(a.next_u64(), b.next_u64(), "the stream goes on in step");
            let zeros = bulk.iter().filter(|&&x| x == 0.0).count();
            assert!((350..550).contains(&zeros), "{zeros}");
        }
        let cfg = ModelConfig::small(2, 12, 3, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let before = rng.clone();
        assert!(Masks::draw(&mut rng, 0.0, &cfg, 4, 5).is_none());
        assert_eq!(rng, before, "no draw without dropout");
        let m = Masks::draw(&mut rng, 0.1, &cfg, 4, 5).unwrap();
        assert_eq!(m.input.len(), 4 * 5 * 12);
        assert_eq!(m.layers[1].attention.len(), 4 * 3 * 25);
        assert_eq!(m.layers[0].hidden.len(), 4 * 5 * 48);
    }
}
