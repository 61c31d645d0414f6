//! A static, packed R-tree over points: the spatial index of one immutable segment.
//!
//! The points are put in *tree order* by a top-down sort-tile-recursive partition: every
//! aligned run of `B^(l+1)` points is the subtree of one node of level `l`, and its
//! children are the `B` runs of `B^l` points inside it. So the tree stores no pointers
//! and no slots: level `l` is a flat array of bounding boxes, node `n`'s children are
//! nodes `n·B .. n·B + B` of level `l − 1`, and leaf `n` holds points `n·B .. n·B + B`.
//! A segment keeps its columns in this order, so a slot *is* a position in the tree and
//! a query's hits lie together in memory.
//!
//! Measured against rstar 0.14's bulk-loaded tree on 1M uniform points (1024 random
//! centers, radius holding ~100, 2-core EPYC): radius 5–6 µs against 12.5–17 µs, nearest 10
//! 3.5 µs against 7.3–8.3 µs. rstar's nodes are vectors of enums reached by pointer and its
//! queries are generic iterators; here a node's children are 16 boxes in one array.
//!
//! Distances are squared f32 sums in the order x, y, z, the same as a point's. Rounding
//! is monotonic, so a box's distance never exceeds that of a point inside it, and its
//! farthest distance never falls short of one: pruning by box and accepting a whole box
//! give exactly the points a brute-force check with the same formula gives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Children per node and points per leaf (the segment format's fan-out).
const B: usize = tensormap_storage::segment::TREE_FANOUT;

/// A bounding box: min x, y, z then max x, y, z.
pub type Aabb = tensormap_storage::segment::Aabb;

const EMPTY: Aabb = [
    f32::INFINITY,
    f32::INFINITY,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NEG_INFINITY,
    f32::NEG_INFINITY,
];

/// A packed tree viewed in place: the boxes of every level (leaves first, as the segment
/// file stores them) over `len` points in tree order.
#[derive(Debug, Clone, Copy)]
pub struct PackedTree<'a> {
    /// `levels[0]` bounds the leaves; the last level holds at most `B` nodes.
    levels: &'a [std::ops::Range<usize>],
    boxes: &'a [Aabb],
    len: usize,
}

/// Points below which tree order is computed on one thread.
const PARALLEL_POINTS: usize = 1 << 16;

/// The permutation that puts `points` in tree order: `order[i]` is the index in `points`
/// of the `i`-th point of the tree. Large inputs are split between the cores (the result
/// does not depend on how many there are: each part is ordered as one thread would).
pub fn tree_order(points: &[[f32; 3]]) -> Vec<u32> {
    let mut items: Vec<([f32; 3], u32)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u32))
        .collect();
    let mut cap = B;
    while cap < items.len() {
        cap = cap.saturating_mul(B);
    }
    let threads = if items.len() >= PARALLEL_POINTS {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    } else {
        1
    };
    partition(&mut items, cap, threads);
    items.into_iter().map(|(_, i)| i).collect()
}

/// Orders `items`, the points of one subtree holding at most `cap` (a power of `B`), so
/// that each run of `cap / B` is a compact child: slabs by x, columns by y, runs by z.
/// Which points each run holds is what matters, so the runs are split off by selection,
/// not sorted; a leaf's points are then sorted by z (a query's inside/outside tests
/// along a leaf then change once or twice: branches it predicts). Up to `threads`
/// threads share the slabs.
fn partition(items: &mut [([f32; 3], u32)], cap: usize, threads: usize) {
    if items.len() <= B {
        items.sort_unstable_by(|a, b| a.0[2].total_cmp(&b.0[2]));
        return;
    }
    let child = cap / B;
    let children = items.len().div_ceil(child);
    let slabs = (children as f64).cbrt().ceil() as usize;
    let slab_len = children.div_ceil(slabs) * child;
    split_runs(items, slab_len, 0, threads);
    let order_slab = |slab: &mut [([f32; 3], u32)]| {
        let in_slab = slab.len().div_ceil(child);
        let columns = (in_slab as f64).sqrt().ceil() as usize;
        let column_len = in_slab.div_ceil(columns) * child;
        split_runs(slab, column_len, 1, 1);
        for column in slab.chunks_mut(column_len) {
            split_runs(column, child, 2, 1);
            for run in column.chunks_mut(child) {
                partition(run, child, 1);
            }
        }
    };
    let mut slabs: Vec<&mut [([f32; 3], u32)]> = items.chunks_mut(slab_len).collect();
    if threads > 1 && slabs.len() > 1 {
        let per = slabs.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for group in slabs.chunks_mut(per) {
                scope.spawn(|| group.iter_mut().for_each(|slab| order_slab(slab)));
            }
        });
    } else {
        slabs.iter_mut().for_each(|slab| order_slab(slab));
    }
}

/// Reorders `items` so that each run of `run` items (the last may be shorter) holds
/// none greater along `axis` than any item of the runs after it: the runs a sort would
/// give, in O(n log(runs)) by recursive selection. Deterministic: no random pivots. The
/// two halves of a large split go to two threads while `threads` allows.
fn split_runs(items: &mut [([f32; 3], u32)], run: usize, axis: usize, threads: usize) {
    let runs = items.len().div_ceil(run);
    if runs <= 1 {
        return;
    }
    let mid = runs / 2 * run;
    items.select_nth_unstable_by(mid, |a, b| a.0[axis].total_cmp(&b.0[axis]));
    let (low, high) = items.split_at_mut(mid);
    if threads > 1 && low.len() + high.len() >= PARALLEL_POINTS {
        std::thread::scope(|scope| {
            scope.spawn(|| split_runs(low, run, axis, threads / 2));
            split_runs(high, run, axis, threads - threads / 2);
        });
    } else {
        split_runs(low, run, axis, 1);
        split_runs(high, run, axis, 1);
    }
}

fn bound(boxes: impl Iterator<Item = Aabb>) -> Aabb {
    boxes.fold(EMPTY, |mut acc, b| {
        for a in 0..3 {
            acc[a] = acc[a].min(b[a]);
            acc[a + 3] = acc[a + 3].max(b[a + 3]);
        }
        acc
    })
}

/// Squared distance between two points, summed x, y, z.
#[inline(always)]
pub fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// Squared distance from `c` to the nearest point of box `b` (0 inside it). Written out
/// per axis: `[0, 1, 2].map(..)` was not inlined (7 % of a nearest query's time).
#[inline(always)]
fn near2(b: &Aabb, c: &[f32; 3]) -> f32 {
    let dx = (b[0] - c[0]).max(c[0] - b[3]).max(0.0);
    let dy = (b[1] - c[1]).max(c[1] - b[4]).max(0.0);
    let dz = (b[2] - c[2]).max(c[2] - b[5]).max(0.0);
    dx * dx + dy * dy + dz * dz
}

/// Squared distance from `c` to the farthest corner of box `b`.
#[inline(always)]
fn far2(b: &Aabb, c: &[f32; 3]) -> f32 {
    let dx = (c[0] - b[0]).max(b[3] - c[0]);
    let dy = (c[1] - b[1]).max(b[4] - c[1]);
    let dz = (c[2] - b[2]).max(b[5] - c[2]);
    dx * dx + dy * dy + dz * dz
}

/// The boxes of a packed tree over `points` (in the order [`tree_order`] gives): node
/// counts per level, leaves first, and every level's boxes concatenated in that order.
pub fn build(points: &[[f32; 3]]) -> (Vec<usize>, Vec<Aabb>) {
    let mut level: Vec<Aabb> = points
        .chunks(B)
        .map(|leaf| bound(leaf.iter().map(|p| [p[0], p[1], p[2], p[0], p[1], p[2]])))
        .collect();
    let mut lens = Vec::new();
    let mut boxes = Vec::new();
    loop {
        lens.push(level.len());
        boxes.extend_from_slice(&level);
        if level.len() <= B {
            break;
        }
        level = level.chunks(B).map(|c| bound(c.iter().copied())).collect();
    }
    (lens, boxes)
}

impl<'a> PackedTree<'a> {
    /// A view of a tree over `len` points: `levels` ranges of `boxes`, leaves first.
    pub fn new(levels: &'a [std::ops::Range<usize>], boxes: &'a [Aabb], len: usize) -> Self {
        PackedTree { levels, boxes, len }
    }

    /// The boxes of one level.
    fn level(&self, l: usize) -> &'a [Aabb] {
        &self.boxes[self.levels[l].clone()]
    }

    /// The points (by index in tree order) of node `n` of level `level`.
    fn span(&self, level: usize, n: usize) -> std::ops::Range<usize> {
        let width = B.pow(level as u32 + 1);
        n * width..((n + 1) * width).min(self.len)
    }

    /// The children of node `n` of level `level ≥ 1`, as node numbers of `level − 1`.
    fn children(&self, level: usize, n: usize) -> std::ops::Range<usize> {
        n * B..((n + 1) * B).min(self.level(level - 1).len())
    }

    /// Calls `hit` with the index of every point within `r2` (squared) of `c`; `points`
    /// are the ones the tree was built over, in tree order.
    pub fn within(&self, points: &[[f32; 3]], c: [f32; 3], r2: f32, hit: &mut impl FnMut(u32)) {
        // Depth-first; a node is pushed only once its box is known to meet the ball, and
        // a leaf is scanned at once. At most B nodes wait per level.
        let mut stack = [(0u32, 0u32); STACK];
        let mut len = 0;
        let top = self.levels.len() - 1;
        let mut visit =
            |level: usize, n: usize, stack: &mut [(u32, u32); STACK], len: &mut usize| {
                let b = &self.level(level)[n];
                if near2(b, &c) > r2 {
                    return;
                }
                if far2(b, &c) <= r2 {
                    self.span(level, n).for_each(|i| hit(i as u32));
                } else if level == 0 {
                    for i in self.span(0, n) {
                        if dist2(&points[i], &c) <= r2 {
                            hit(i as u32);
                        }
                    }
                } else {
                    stack[*len] = (level as u32, n as u32);
                    *len += 1;
                }
            };
        for n in 0..self.level(top).len() {
            visit(top, n, &mut stack, &mut len);
        }
        while len > 0 {
            len -= 1;
            let (level, n) = (stack[len].0 as usize, stack[len].1 as usize);
            for m in self.children(level, n) {
                visit(level - 1, m, &mut stack, &mut len);
            }
        }
    }
}

/// Room for the nodes waiting in a depth-first walk: B per level, for more levels than
/// 2³² points need.
const STACK: usize = B * 9;

/// Best-first nearest-neighbour search over several trees at once (the segments of one
/// index version), keeping the `k` nearest and everything tied with the `k`-th.
#[derive(Debug)]
pub struct Nearest {
    k: usize,
    /// `(squared distance, tree, index)`, nearest first.
    best: Vec<(f32, u32, u32)>,
}

/// A node waiting in the search's queue: its box distance, tree, level and number.
type Pending = Reverse<(OrdF32, u32, u32, u32)>;

impl Nearest {
    pub fn new(k: usize) -> Self {
        Nearest {
            k,
            // `k` may be far beyond the points there are (`usize::MAX`, say).
            best: Vec::with_capacity(k.min(1 << 12) + 1),
        }
    }

    /// The squared distance beyond which nothing can enter: the k-th best so far.
    fn bound(&self) -> f32 {
        if self.best.len() >= self.k {
            self.best[self.k - 1].0
        } else {
            f32::INFINITY
        }
    }

    /// Offers point `index` of tree `tree` at squared distance `d2`.
    #[inline]
    pub fn offer(&mut self, d2: f32, tree: u32, index: u32) {
        if self.k == 0 || d2 > self.bound() {
            return;
        }
        let k = self.k;
        // The common case once full: `d2` beats the k-th, which ties with nothing before
        // it, so the k-th leaves and `d2` takes its place in order (no push, no pop).
        if self.best.len() == k
            && d2 < self.best[k - 1].0
            && (k == 1 || self.best[k - 2].0 < self.best[k - 1].0)
        {
            let mut at = k - 1;
            while at > 0 && self.best[at - 1].0 > d2 {
                self.best[at] = self.best[at - 1];
                at -= 1;
            }
            self.best[at] = (d2, tree, index);
            return;
        }
        // Insertion after every entry at most as far (a few shifts: a call to memmove
        // for them cost 8 % of the query).
        self.best.push((d2, tree, index));
        let mut at = self.best.len() - 1;
        while at > 0 && self.best[at - 1].0 > d2 {
            self.best.swap(at - 1, at);
            at -= 1;
        }
        // Drop what lies beyond the k-th; ties with it stay for the caller to order.
        while self.best.len() > self.k && self.best[self.best.len() - 1].0 > self.best[self.k - 1].0
        {
            self.best.pop();
        }
    }

    /// Searches `trees` (each with its points in tree order); `live(tree, index)` says
    /// whether a point counts.
    pub fn search(
        &mut self,
        trees: &[(PackedTree<'_>, &[[f32; 3]])],
        c: [f32; 3],
        live: &impl Fn(u32, u32) -> bool,
    ) {
        if self.k == 0 {
            return;
        }
        // A first bound from one descent per tree to the leaf nearest by box at each step,
        // that leaf scanned. Every other node met on the way waits with its distance, so
        // no box is measured twice and the scanned leaf never enters the queue: together
        // with the descended ones the waiting nodes cover every point.
        let mut waiting: Vec<Pending> = Vec::with_capacity(64);
        for (t, (tree, points)) in trees.iter().enumerate() {
            if tree.len == 0 {
                continue;
            }
            let mut level = tree.levels.len() - 1;
            let mut nodes = 0..tree.level(level).len();
            loop {
                let boxes = tree.level(level);
                // The nearest node goes on; the others wait. A distance that is not below
                // infinity (NaN from a damaged box, or an overflow) never goes on: when
                // none does, every node waits and the descent ends.
                let mut best = (f32::INFINITY, usize::MAX);
                for m in nodes.clone() {
                    let d = near2(&boxes[m], &c);
                    let wait = if d < best.0 {
                        std::mem::replace(&mut best, (d, m))
                    } else {
                        (d, m)
                    };
                    if wait.1 != usize::MAX {
                        waiting.push(Reverse((
                            OrdF32(wait.0),
                            t as u32,
                            level as u32,
                            wait.1 as u32,
                        )));
                    }
                }
                if best.1 == usize::MAX {
                    break;
                }
                if level == 0 {
                    self.scan_leaf(*tree, points, t as u32, best.1, c, live);
                    break;
                }
                nodes = tree.children(level, best.1);
                level -= 1;
            }
        }
        let bound = self.bound();
        waiting.retain(|Reverse((d, ..))| d.0 <= bound);
        let mut queue = BinaryHeap::from(waiting);
        while let Some(Reverse((OrdF32(d), t, level, n))) = queue.pop() {
            if d > self.bound() {
                break;
            }
            let (tree, points) = trees[t as usize];
            let (level, n) = (level as usize, n as usize);
            if level == 0 {
                self.scan_leaf(tree, points, t, n, c, live);
                continue;
            }
            let boxes = tree.level(level - 1);
            if level == 1 {
                // The leaves of this node are scanned here, nearest first, each only while
                // it can still hold a point within the bound: no trip through the queue.
                let mut leaves = [(0f32, 0u32); B];
                let mut m = 0;
                for leaf in tree.children(level, n) {
                    let d = near2(&boxes[leaf], &c);
                    if d <= self.bound() {
                        leaves[m] = (d, leaf as u32);
                        m += 1;
                    }
                }
                let leaves = &mut leaves[..m];
                leaves.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                warm_leaves(tree, points, leaves);
                for &(d, leaf) in leaves.iter() {
                    if d > self.bound() {
                        break;
                    }
                    self.scan_leaf(tree, points, t, leaf as usize, c, live);
                }
                continue;
            }
            for m in tree.children(level, n) {
                let d = near2(&boxes[m], &c);
                if d <= self.bound() {
                    queue.push(Reverse((OrdF32(d), t, level as u32 - 1, m as u32)));
                }
            }
        }
    }

    /// Offers the live points of leaf `leaf`: their distances first (one pass over the
    /// leaf's 16 points, no branch), then each within the bound, the bound re-read only
    /// when an offer changed it.
    fn scan_leaf(
        &mut self,
        tree: PackedTree<'_>,
        points: &[[f32; 3]],
        t: u32,
        leaf: usize,
        c: [f32; 3],
        live: &impl Fn(u32, u32) -> bool,
    ) {
        let span = tree.span(0, leaf);
        let first = span.start;
        let Some(points) = points.get(span) else {
            return;
        };
        let mut d2 = [0f32; B];
        for (d, p) in d2.iter_mut().zip(points) {
            *d = dist2(p, &c);
        }
        let mut bound = self.bound();
        for (j, d) in d2.iter().take(points.len()).enumerate() {
            let i = (first + j) as u32;
            if *d <= bound && live(t, i) {
                self.offer(*d, t, i);
                bound = self.bound();
            }
        }
    }

    /// `(squared distance, tree, index)` of the k nearest and any tied with the k-th,
    /// nearest first.
    pub fn into_vec(self) -> Vec<(f32, u32, u32)> {
        self.best
    }
}

/// Reads one coordinate from each cache line of the points of `leaves` (each 16 points,
/// 192 bytes) before they are scanned one after the other: the loads do not depend on
/// one another, so their cache misses overlap, where the scans would wait for each in
/// turn (the first load of a leaf was two thirds of a scan's time in a profile).
fn warm_leaves(tree: PackedTree<'_>, points: &[[f32; 3]], leaves: &[(f32, u32)]) {
    let mut sum = 0f32;
    for &(_, leaf) in leaves {
        let first = tree.span(0, leaf as usize).start;
        for i in [first, first + 6, first + 11] {
            if let Some(p) = points.get(i) {
                sum += p[0];
            }
        }
    }
    std::hint::black_box(sum);
}

/// f32 ordered by `total_cmp`, for heaps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrdF32(pub f32);
impl Eq for OrdF32 {}
impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Point sets of awkward sizes and shapes: empty, one, around powers of B, on a grid
    /// (many ties), flat, and clustered.
    fn point_sets() -> Vec<Vec<[f32; 3]>> {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut sets = Vec::new();
        for n in [0, 1, 2, 15, 16, 17, 255, 256, 257, 4097, 20_000] {
            sets.push(
                (0..n)
                    .map(|_| [0; 3].map(|_| rng.random_range(-100.0f32..100.0)))
                    .collect(),
            );
        }
        sets.push(
            (0..1000)
                .map(|i| [(i % 10) as f32, (i / 10 % 10) as f32, (i / 100) as f32])
                .collect(),
        );
        sets.push(
            (0..3000)
                .map(|_| {
                    [
                        rng.random_range(-5.0f32..5.0),
                        0.0,
                        rng.random_range(-5.0f32..5.0),
                    ]
                })
                .collect(),
        );
        sets.push(
            (0..3000)
                .map(|i| {
                    let c = (i % 3) as f32 * 50.0;
                    [0; 3].map(|_| c + rng.random_range(-1.0f32..1.0))
                })
                .collect(),
        );
        sets.push(vec![[7.0, 7.0, 7.0]; 100]);
        sets
    }

    /// A tree over some points: its level ranges, boxes and the points in tree order.
    struct Owned {
        levels: Vec<std::ops::Range<usize>>,
        boxes: Vec<Aabb>,
        points: Vec<[f32; 3]>,
    }

    impl Owned {
        fn tree(&self) -> PackedTree<'_> {
            PackedTree::new(&self.levels, &self.boxes, self.points.len())
        }
    }

    /// A tree over `points` and the points in tree order.
    fn build_tree(points: &[[f32; 3]]) -> Owned {
        let order = tree_order(points);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert!(
            sorted.iter().enumerate().all(|(i, v)| i as u32 == *v),
            "not a permutation"
        );
        let ordered: Vec<[f32; 3]> = order.iter().map(|i| points[*i as usize]).collect();
        let (lens, boxes) = build(&ordered);
        let mut start = 0;
        let levels = lens
            .iter()
            .map(|n| {
                start += n;
                start - n..start
            })
            .collect();
        Owned {
            levels,
            boxes,
            points: ordered,
        }
    }

    #[test]
    fn within_and_nearest_match_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for points in point_sets() {
            let owned = build_tree(&points);
            let (tree, ordered) = (owned.tree(), &owned.points);
            for _ in 0..50 {
                let c = [0; 3].map(|_| rng.random_range(-120.0f32..120.0));
                let r = rng.random_range(0.0f32..60.0);
                let r2 = r * r;
                let mut got = Vec::new();
                tree.within(ordered, c, r2, &mut |i| got.push(i));
                got.sort_unstable();
                let want: Vec<u32> = (0..ordered.len() as u32)
                    .filter(|i| dist2(&ordered[*i as usize], &c) <= r2)
                    .collect();
                assert_eq!(got, want, "within {c:?} {r} over {} points", points.len());

                // Every third point is dead.
                let live = |_: u32, i: u32| !i.is_multiple_of(3);
                let k = rng.random_range(0..40);
                let mut search = Nearest::new(k);
                search.search(&[(tree, ordered.as_slice())], c, &live);
                let got: Vec<f32> = search.into_vec().iter().map(|b| b.0).collect();
                let mut all: Vec<f32> = (0..ordered.len() as u32)
                    .filter(|i| live(0, *i))
                    .map(|i| dist2(&ordered[i as usize], &c))
                    .collect();
                all.sort_by(f32::total_cmp);
                // The k nearest distances, plus every one tied with the k-th.
                let cut = match all.get(k.wrapping_sub(1)) {
                    Some(kth) if k > 0 => all.partition_point(|d| d <= kth),
                    _ if k == 0 => 0,
                    _ => all.len(),
                };
                assert_eq!(
                    got,
                    all[..cut],
                    "nearest {k} to {c:?} over {} points",
                    points.len()
                );
            }
        }
    }

    #[test]
    fn nearest_searches_several_trees_as_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let sets: Vec<Vec<[f32; 3]>> = [5000, 300, 17]
            .iter()
            .map(|n| {
                (0..*n)
                    .map(|_| [0; 3].map(|_| rng.random_range(-50.0f32..50.0)))
                    .collect()
            })
            .collect();
        let built: Vec<_> = sets.iter().map(|s| build_tree(s)).collect();
        let trees: Vec<_> = built
            .iter()
            .map(|o| (o.tree(), o.points.as_slice()))
            .collect();
        for _ in 0..100 {
            let c = [0; 3].map(|_| rng.random_range(-60.0f32..60.0));
            let mut search = Nearest::new(10);
            search.search(&trees, c, &|_, _| true);
            let got: Vec<(u32, u32)> = search.into_vec().iter().map(|b| (b.1, b.2)).collect();
            let mut all: Vec<(f32, u32, u32)> = trees
                .iter()
                .enumerate()
                .flat_map(|(t, (_, p))| {
                    p.iter()
                        .enumerate()
                        .map(move |(i, q)| (dist2(q, &c), t as u32, i as u32))
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want: Vec<(u32, u32)> = all[..10].iter().map(|b| (b.1, b.2)).collect();
            assert_eq!(got, want);
        }
    }
}
