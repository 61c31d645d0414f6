//! KDB-style splitting of a skewed cell of a partitioned export: a cell holding more than
//! `max_rows_per_file` rows is cut at the median of its longest axis (of its points'
//! bounding box), and each half again, until every piece holds at most that many rows.
//!
//! The rule is position-only, so a reader can send any point to its piece: a point goes
//! `below` a split when its coordinate on `axis` is `< at`, else `above` (`at` is one of
//! the points' own f32 coordinates). Pieces keep the rows' order (a stable partition of a
//! Morton-sorted run stays Morton-sorted). Points that all share one position cannot be
//! split; nor can a piece at [`MAX_LEVELS`] splits deep — such a piece stays larger.

use tensormap_engine::ObjectRef;

use crate::geo::BBox;

/// The most splits on a path from a cell to a piece (2^24 pieces of a cell at most).
pub const MAX_LEVELS: usize = 24;

/// How a cell's rows are cut into pieces.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// A piece: the rows `start..end` of the cell after [`split`] reordered them.
    Piece {
        /// First row.
        start: usize,
        /// One past the last row.
        end: usize,
    },
    /// A cut: coordinate `axis` `< at` goes below, else above.
    Cut {
        /// 0 = x, 1 = y, 2 = z.
        axis: usize,
        /// The plane (a coordinate of one of the points).
        at: f32,
        /// Rows with a smaller coordinate.
        below: Box<Split>,
        /// The others.
        above: Box<Split>,
    },
}

impl Split {
    /// The pieces, in order (their row ranges tile the cell's rows).
    pub fn pieces(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut todo = vec![self];
        while let Some(s) = todo.pop() {
            match s {
                Split::Piece { start, end } => out.push((*start, *end)),
                Split::Cut { below, above, .. } => {
                    todo.push(above);
                    todo.push(below);
                }
            }
        }
        out
    }
}

/// Splits `rows` (one cell's, in Morton order) into pieces of at most `max` rows,
/// reordering them so that each piece is a run; returns the cuts.
pub fn split(rows: &mut [(u64, ObjectRef<'_>)], max: usize) -> Split {
    split_run(rows, 0, max.max(1), 0)
}

fn split_run(rows: &mut [(u64, ObjectRef<'_>)], offset: usize, max: usize, level: usize) -> Split {
    let piece = Split::Piece {
        start: offset,
        end: offset + rows.len(),
    };
    if rows.len() <= max || level >= MAX_LEVELS {
        return piece;
    }
    let Some((axis, at)) = plane(rows) else {
        return piece;
    };
    // Stable partition: below first, each side in its former order.
    let (below, above): (Vec<_>, Vec<_>) = rows
        .iter()
        .copied()
        .partition(|r| r.1.position()[axis] < at);
    let n_below = below.len();
    for (slot, row) in rows.iter_mut().zip(below.into_iter().chain(above)) {
        *slot = row;
    }
    let (lo, hi) = rows.split_at_mut(n_below);
    Split::Cut {
        axis,
        at,
        below: Box::new(split_run(lo, offset, max, level + 1)),
        above: Box::new(split_run(hi, offset + n_below, max, level + 1)),
    }
}

/// The cut of `rows`: the longest axis of their box on which they are not all equal, at
/// the median coordinate — or, when the values below the median are all equal to it, at
/// the next larger value, so that both sides are non-empty. None when every point is the
/// same.
fn plane(rows: &[(u64, ObjectRef<'_>)]) -> Option<(usize, f32)> {
    let mut bbox = BBox::default();
    for r in rows {
        bbox.add(r.1.position());
    }
    let mut axes = [0usize, 1, 2];
    axes.sort_by(|&a, &b| {
        let ea = bbox.max[a] - bbox.min[a];
        let eb = bbox.max[b] - bbox.min[b];
        eb.total_cmp(&ea)
    });
    for axis in axes {
        if bbox.max[axis] <= bbox.min[axis] {
            continue;
        }
        let mut v: Vec<f32> = rows.iter().map(|r| r.1.position()[axis]).collect();
        v.sort_unstable_by(f32::total_cmp);
        let mid = v[v.len() / 2];
        if v[0] < mid {
            return Some((axis, mid));
        }
        // Everything up to the median equals the smallest value: cut just above it.
        if let Some(&next) = v.iter().find(|&&x| x > mid) {
            return Some((axis, next));
        }
    }
    None
}
