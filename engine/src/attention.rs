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

/// Calls `f(row, score)` for every row of the row-major `rows` (`n × channels`), where
/// `score = (row · query) · scale`.
pub fn score_rows(
    rows: &[f32],
    channels: usize,
    query: &[f32],
    scale: f32,
    f: &mut dyn FnMut(usize, f32),
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
        for (i, s) in scores[..len].iter().enumerate() {
            f(start + i, *s);
        }
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
        &mut |i, s| scores[i] = s,
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
    /// Running maximum score and `Σ exp(s - max)` over every score folded in.
    max: f32,
    sum: f64,
    /// Scores not yet folded into `max`/`sum` (folded a block at a time, one rescale each).
    pending: Vec<f32>,
}

impl<K: Ord, V> Ranked<K, V> {
    /// Keeps the best `k`.
    pub fn new(k: usize) -> Self {
        Ranked {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
            max: f32::NEG_INFINITY,
            sum: 0.0,
            pending: Vec::with_capacity(CHUNK),
        }
    }

    /// Offers one row; `key` is computed only when the row may enter the top k.
    pub fn offer(&mut self, score: f32, key: impl FnOnce() -> K, value: V) {
        self.pending.push(score);
        if self.pending.len() == CHUNK {
            self.fold();
        }
        if self.k == 0 {
            return;
        }
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

    fn fold(&mut self) {
        let block_max = self
            .pending
            .iter()
            .fold(f32::NEG_INFINITY, |m, s| m.max(*s));
        if block_max > self.max {
            if self.sum > 0.0 {
                self.sum *= ((self.max - block_max) as f64).exp();
            }
            self.max = block_max;
        }
        let max = self.max;
        self.sum += self.pending.iter().map(|s| (s - max).exp()).sum::<f32>() as f64;
        self.pending.clear();
    }

    /// Combines the rows offered to `other` into this one.
    pub fn merge(&mut self, mut other: Ranked<K, V>) {
        other.fold();
        self.fold();
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
    pub fn finish(mut self) -> Vec<(K, V, f32)> {
        self.fold();
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
        score_rows(&rows, ch, &q, scale, &mut |n, s| ranked.offer(s, || n, n));
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
        all.iter()
            .enumerate()
            .for_each(|(i, s)| one.offer(*s, || i, ()));
        let mut a = Ranked::new(5);
        let mut b = Ranked::new(5);
        all.iter().enumerate().for_each(|(i, s)| {
            if i % 2 == 0 {
                a.offer(*s, || i, ())
            } else {
                b.offer(*s, || i, ())
            }
        });
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
}
