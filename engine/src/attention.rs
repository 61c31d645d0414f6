//! Scaled dot-product attention over rows of embeddings: scores by faer matrix-vector
//! products over contiguous memory, a streaming softmax, and a top-k heap.
//!
//! `weight_i = exp(s_i - max) / Σ_j exp(s_j - max)` with `s_i = q · e_i / sqrt(channels)`,
//! over every row offered. The top k are ranked by score descending, ties by key ascending.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use faer::linalg::matmul::matmul;
use faer::{Accum, ColMut, ColRef, MatRef, Par};

/// Rows scored per matrix-vector product: large enough to amortise the call, small enough
/// for the scores to stay in L1.
const CHUNK: usize = 1024;

/// Calls `f(first, scores)` for blocks of consecutive rows of the row-major `rows`
/// (`n × channels`), where `scores[i] = (row_{first+i} · query) · scale`. The block is the
/// caller's to change (to mask rows out, say).
pub fn score_rows(
    rows: &[f32],
    channels: usize,
    query: &[f32],
    scale: f32,
    f: &mut dyn FnMut(usize, &mut [f32]),
) {
    if channels == 0 {
        return;
    }
    let n = rows.len() / channels;
    let q = ColRef::from_slice(query);
    let mut scores = vec![0.0f32; CHUNK.min(n)];
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let block = MatRef::from_row_major_slice(
            &rows[start * channels..(start + len) * channels],
            len,
            channels,
        );
        let out = ColMut::from_slice_mut(&mut scores[..len]);
        matmul(
            out.as_mat_mut(),
            Accum::Replace,
            block,
            q.as_mat(),
            scale,
            Par::Seq,
        );
        f(start, &mut scores[..len]);
        start += len;
    }
}

/// The softmax weight of every row of `rows` (`n × channels`) for `query`:
/// `exp(s_i - max) / Σ exp(s_j - max)` with `s_i = row_i · query / √channels`.
pub fn attention_weights(rows: &[f32], channels: usize, query: &[f32]) -> Vec<f32> {
    let n = rows.len().checked_div(channels).unwrap_or(0);
    let mut scores = vec![0.0f32; n];
    score_rows(
        rows,
        channels,
        query,
        1.0 / (channels as f32).sqrt(),
        &mut |first, block| scores[first..first + block.len()].copy_from_slice(block),
    );
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, s| m.max(*s));
    let sum: f64 = scores.iter().map(|s| ((s - max) as f64).exp()).sum();
    scores
        .iter()
        .map(|s| (((s - max) as f64).exp() / sum) as f32)
        .collect()
}

/// One candidate in the top-k heap, ordered worst first (low score, then high key).
struct Entry<K, V> {
    score: f32,
    key: K,
    value: V,
}

impl<K: Ord, V> Entry<K, V> {
    /// `Greater` means better: higher score, then lower key.
    fn rank(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.key.cmp(&self.key))
    }
}

impl<K: Ord, V> PartialEq for Entry<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl<K: Ord, V> Eq for Entry<K, V> {}
impl<K: Ord, V> PartialOrd for Entry<K, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord, V> Ord for Entry<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// A streaming softmax and top-k selection.
pub struct Ranked<K, V> {
    k: usize,
    heap: BinaryHeap<Reverse<Entry<K, V>>>,
    /// Running maximum score and `Σ exp(s - max)` over every score offered.
    max: f32,
    sum: f64,
}

impl<K: Ord, V> Ranked<K, V> {
    /// Keeps the best `k`.
    pub fn new(k: usize) -> Self {
        Ranked {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
            max: f32::NEG_INFINITY,
            sum: 0.0,
        }
    }

    /// Offers the rows `first .. first + scores.len()`; a row scored −∞ counts for nothing
    /// (a deleted row). `key` and `value` are asked for only of rows that may enter the
    /// top k.
    pub fn offer_block(
        &mut self,
        first: usize,
        scores: &[f32],
        key: impl Fn(usize) -> K,
        value: impl Fn(usize) -> V,
    ) {
        self.fold(scores);
        if self.k == 0 {
            return;
        }
        // Below the worst of a full heap nothing enters: one compare per row.
        let mut floor = self.floor();
        for (i, &s) in scores.iter().enumerate() {
            if s >= floor && s != f32::NEG_INFINITY {
                self.offer_one(s, || key(first + i), value(first + i));
                floor = self.floor();
            }
        }
    }

    fn floor(&self) -> f32 {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() >= self.k => worst.score,
            _ => f32::NEG_INFINITY,
        }
    }

    fn offer_one(&mut self, score: f32, key: impl FnOnce() -> K, value: V) {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(Entry {
                score,
                key: key(),
                value,
            }));
            return;
        }
        let Some(Reverse(worst)) = self.heap.peek() else {
            return;
        };
        if score < worst.score {
            return;
        }
        let entry = Entry {
            score,
            key: key(),
            value,
        };
        if entry > *worst {
            self.heap.pop();
            self.heap.push(Reverse(entry));
        }
    }

    /// Folds `scores` into the running maximum and `Σ exp(s − max)`: one rescale per block.
    fn fold(&mut self, scores: &[f32]) {
        let block_max = scores
            .iter()
            .fold(f32::NEG_INFINITY, |m, &s| if s > m { s } else { m });
        if block_max == f32::NEG_INFINITY {
            return;
        }
        if block_max > self.max {
            if self.sum > 0.0 {
                self.sum *= ((self.max - block_max) as f64).exp();
            }
            self.max = block_max;
        }
        self.sum += f64::from(exp_sum(scores, self.max));
    }

    /// Combines the rows offered to `other` into this one.
    pub fn merge(&mut self, other: Ranked<K, V>) {
        if other.max > self.max {
            self.sum *= ((self.max - other.max) as f64).exp();
            self.max = other.max;
        }
        if other.sum > 0.0 {
            self.sum += other.sum * ((other.max - self.max) as f64).exp();
        }
        for Reverse(e) in other.heap {
            if self.heap.len() < self.k {
                self.heap.push(Reverse(e));
            } else if self.heap.peek().is_some_and(|Reverse(w)| e > *w) {
                self.heap.pop();
                self.heap.push(Reverse(e));
            }
        }
    }

    /// The number of rows offered is not kept; this is the softmax denominator's state.
    /// Returns the top k as `(key, value, weight)`, best first.
    pub fn finish(self) -> Vec<(K, V, f32)> {
        let (max, sum) = (self.max, self.sum);
        let mut top: Vec<Entry<K, V>> = self.heap.into_iter().map(|Reverse(e)| e).collect();
        top.sort_by(|a, b| b.rank(a));
        top.into_iter()
            .map(|e| {
                let w = if sum > 0.0 {
                    (((e.score - max) as f64).exp() / sum) as f32
                } else {
                    0.0
                };
                (e.key, e.value, w)
            })
            .collect()
    }
}

/// `Σ exp(s − max)` over `scores`, all ≤ `max`, in eight lanes the compiler vectorizes.
fn exp_sum(scores: &[f32], max: f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = scores.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().map(|&s| exp_le0(s - max)).sum();
    for c in chunks {
        for (lane, &s) in lanes.iter_mut().zip(c) {
            *lane += exp_le0(s - max);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// `e^x` for `x ≤ 0`, within 2e-7 relative; 0 below −87 (and for −∞). Branch-free so that
/// loops over it vectorize: Cephes' `expf`, `e^x = 2^n · e^r` with `n = round(x·log₂e)`,
/// `|r| ≤ ln2/2` and a degree-5 polynomial for `e^r`.
#[inline(always)]
fn exp_le0(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let xc = if x > -87.0 { x } else { -87.0 };
    let t = xc * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let ni = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = 1.0 + r + r * r * p;
    let pow2 = f32::from_bits(((ni + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        y * pow2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_direct_softmax() {
        let ch = 3;
        let rows: Vec<f32> = (0..30 * ch)
            .map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0)
            .collect();
        let q = [0.5, -1.0, 2.0];
        let scale = 1.0 / (ch as f32).sqrt();
        let mut ranked = Ranked::new(4);
        score_rows(&rows, ch, &q, scale, &mut |first, block| {
            ranked.offer_block(first, block, |n| n, |n| n)
        });
        let got = ranked.finish();

        let scores: Vec<f64> = rows
            .chunks(ch)
            .map(|r| r.iter().zip(&q).map(|(a, b)| (a * b) as f64).sum::<f64>() * scale as f64)
            .collect();
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
        assert_eq!(got.len(), 4);
        for (rank, (key, _, w)) in got.iter().enumerate() {
            let want = order[rank];
            assert!((scores[*key] - scores[want]).abs() < 1e-5, "rank {rank}");
            let expect = (scores[want] - max).exp() / sum;
            assert!((*w as f64 - expect).abs() < 1e-5);
        }
    }

    #[test]
    fn merging_two_halves_equals_one_pass() {
        let all: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
            .collect();
        let mut one = Ranked::new(5);
        one.offer_block(0, &all, |i| i, |_| ());
        let mut a = Ranked::new(5);
        let mut b = Ranked::new(5);
        for (n, block) in all.chunks(700).enumerate() {
            let half = if n % 2 == 0 { &mut a } else { &mut b };
            half.offer_block(n * 700, block, |i| i, |_| ());
        }
        a.merge(b);
        let (x, y) = (one.finish(), a.finish());
        assert_eq!(
            x.iter().map(|e| e.0).collect::<Vec<_>>(),
            y.iter().map(|e| e.0).collect::<Vec<_>>()
        );
        for (p, q) in x.iter().zip(&y) {
            assert!((p.2 - q.2).abs() < 1e-6);
        }
    }

    #[test]
    fn exp_is_within_two_ten_millionths_of_f64() {
        let mut worst = 0.0f64;
        for i in 0..=2_000_000 {
            let x = -87.0 * i as f32 / 2_000_000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp_le0(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2e-7, "relative error {worst}");
        assert_eq!(exp_le0(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_le0(-100.0), 0.0);
        assert_eq!(exp_le0(0.0), 1.0);
    }

    #[test]
    fn rows_scored_minus_infinity_count_for_nothing() {
        let mut masked = Ranked::new(2);
        masked.offer_block(0, &[1.0, f32::NEG_INFINITY, 0.5, 3.0], |i| i, |i| i);
        let mut kept = Ranked::new(2);
        kept.offer_block(0, &[1.0, 0.5, 3.0], |i| [0, 2, 3][i], |i| [0, 2, 3][i]);
        let (x, y) = (masked.finish(), kept.finish());
        assert_eq!(x.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 0]);
        assert_eq!(
            x.iter().map(|e| e.0).collect::<Vec<_>>(),
            y.iter().map(|e| e.0).collect::<Vec<_>>()
        );
        for (p, q) in x.iter().zip(&y) {
            assert!((p.2 - q.2).abs() < 1e-7);
        }
        let mut none = Ranked::<usize, usize>::new(3);
        none.offer_block(0, &[f32::NEG_INFINITY; 4], |i| i, |i| i);
        assert!(none.finish().is_empty());
    }
}
