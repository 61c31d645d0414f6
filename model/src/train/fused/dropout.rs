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
use crate::wide::{wide, Wide};

/// One layer's masks for a run of sequences, padded layouts (module docs): values 0 or
/// `1/(1 − p)`.
#[derive(Debug, Default)]
pub struct LayerMasks {
    /// `(n, H, s, s)`.
    pub attention: Vec<f32>,
    /// `(n·s, F)`.
    pub hidden: Vec<f32>,
    /// `(n·s, D)`.
    pub output: Vec<f32>,
}

/// Every mask of a run of `n` sequences of a step.
#[derive(Debug, Default)]
pub struct Masks {
    /// Padded length `s`.
    pub s: usize,
    /// `(n·s, D)`.
    pub input: Vec<f32>,
    /// Per layer.
    pub layers: Vec<LayerMasks>,
}

/// Where a step's masks lie in the run's stream. Every sequence's share of each mask is a
/// contiguous run of draws (the layouts are sequence-major), so each part of the batch
/// draws its own share on its own thread from a copy of the stream set to the right word
/// ([`Plan::draw`]): the same values as drawing everything in order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The stream as the step found it.
    start: ChaCha8Rng,
    p: f64,
    s: usize,
    /// Draws per sequence of the input mask, and of a layer's three masks.
    input: usize,
    attention: usize,
    hidden: usize,
    output: usize,
    /// Sequences in the batch.
    b: usize,
    layers: usize,
}

impl Plan {
    /// The factor of a kept activation, `1/(1 − p)` in f32.
    fn keep(&self) -> f32 {
        (1.0 / (1.0 - self.p)) as f32
    }

    /// The masks of a step over `b` sequences padded to `s` with probability `p`, and `rng`
    /// moved past them; `None` (and no draw) when `p` is 0, as candle's path draws nothing
    /// then.
    pub fn new(
        rng: &mut ChaCha8Rng,
        p: f64,
        cfg: &ModelConfig,
        b: usize,
        s: usize,
    ) -> Option<Self> {
        if p <= 0.0 {
            return None;
        }
        let plan = Plan {
            start: rng.clone(),
            p,
            s,
            input: s * cfg.dim,
            attention: cfg.heads * s * s,
            hidden: s * cfg.hidden,
            output: s * cfg.dim,
            b,
            layers: cfg.layers,
        };
        let per_layer = (plan.attention + plan.hidden + plan.output) as u128;
        let draws = b as u128 * (plan.input as u128 + cfg.layers as u128 * per_layer);
        // A draw is one u64: two of the stream's 32-bit words.
        rng.set_word_pos(plan.start.get_word_pos() + 2 * draws);
        Some(plan)
    }

    /// The masks of sequences `seqs` (their part of each layout, in order).
    #[cfg(test)]
    pub fn draw(&self, seqs: std::ops::Range<usize>) -> Masks {
        let mut m = Masks::default();
        self.draw_into(seqs, &mut m);
        m
    }

    /// [`Plan::draw`] into `masks`' buffers.
    pub fn draw_into(&self, seqs: std::ops::Range<usize>, masks: &mut Masks) {
        let keep = self.keep();
        let mut rng = self.start.clone();
        let base = self.start.get_word_pos();
        // `at` counts draws from the step's first; each mask starts at its tensor's first
        // draw plus the draws of the sequences before `seqs`.
        let mut at = 0u128;
        let mut take = |per_seq: usize, out: &mut Vec<f32>| {
            let first = at + (seqs.start * per_seq) as u128;
            at += (self.b * per_seq) as u128;
            rng.set_word_pos(base + 2 * first);
            draw(&mut rng, self.p, keep, seqs.len() * per_seq, out);
        };
        masks.s = self.s;
        take(self.input, &mut masks.input);
        masks.layers.resize_with(self.layers, LayerMasks::default);
        for l in &mut masks.layers {
            take(self.attention, &mut l.attention);
            take(self.hidden, &mut l.hidden);
            take(self.output, &mut l.output);
        }
    }
}

/// `n` mask values into `out`: 0 where the draw is below `p`, else `keep`.
///
/// A draw `u = (x >> 11) · 2⁻⁵³` is below `p` exactly when the integer `x >> 11` is below
/// `⌈p · 2⁵³⌉` (`p · 2⁵³` is exact in f64), which is cheaper to test than to convert.
fn draw(rng: &mut ChaCha8Rng, p: f64, keep: f32, n: usize, out: &mut Vec<f32>) {
    let threshold = (p * (1u64 << 53) as f64).ceil() as u64;
    out.clear();
    out.reserve(n);
    // In pieces of 4 KiB of draws, so that they stay in L1.
    let mut words = [0u64; 512];
    let mut left = n;
    while left > 0 {
        let take = left.min(words.len());
        let buf = &mut words[..take];
        rng.fill(buf);
        let at = out.len();
        out.resize(at + take, 0.0);
        wide(Threshold {
            words: buf,
            out: &mut out[at..],
            threshold,
            keep,
        });
        left -= take;
    }
}

/// Mask values of draws, run wide: 0 where `x >> 11 < threshold`, else `keep`.
struct Threshold<'a> {
    words: &'a [u64],
    out: &'a mut [f32],
    threshold: u64,
    keep: f32,
}

impl Wide for Threshold<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (o, &x) in self.out.iter_mut().zip(self.words) {
            *o = if x >> 11 < self.threshold {
                0.0
            } else {
                self.keep
            };
        }
    }
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
            let mut bulk = Vec::new();
            draw(&mut a, p, keep, 1500, &mut bulk);
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
        rng.next_u32();
        let before = rng.clone();
        assert!(Plan::new(&mut rng, 0.0, &cfg, 4, 5).is_none());
        assert_eq!(rng, before, "no draw without dropout");
        // The plan's parts are the slices of the masks drawn whole, in order, and the
        // stream ends where drawing them all in order ends.
        let plan = Plan::new(&mut rng, 0.1, &cfg, 4, 5).unwrap();
        let mut whole = before.clone();
        let (s, d, f, h) = (5, 12, 48, 3);
        let mut next = |n: usize| {
            let mut v = Vec::new();
            draw(&mut whole, 0.1, plan.keep(), n, &mut v);
            v
        };
        let input = next(4 * s * d);
        let layers: Vec<[Vec<f32>; 3]> = (0..2)
            .map(|_| [next(4 * h * s * s), next(4 * s * f), next(4 * s * d)])
            .collect();
        assert_eq!(rng, whole);
        for seqs in [0..4, 0..1, 1..4, 2..3] {
            let m = plan.draw(seqs.clone());
            let (a, z) = (seqs.start, seqs.end);
            assert_eq!(m.input, input[a * s * d..z * s * d]);
            for (l, want) in m.layers.iter().zip(&layers) {
                assert_eq!(l.attention, want[0][a * h * s * s..z * h * s * s]);
                assert_eq!(l.hidden, want[1][a * s * f..z * s * f]);
                assert_eq!(l.output, want[2][a * s * d..z * s * d]);
            }
        }
    }
}
