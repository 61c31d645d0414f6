//! Which segments of a map to merge: pure functions over a summary of its segment list,
//! shared by the background merger and by commits (when a database merges in commits, or
//! when the background merger falls behind).
//!
//! Two sets of rules, for two situations:
//! - *While writes go on* ([`while_writing`]), size-tiered, so a row is rewritten
//!   O(log n) times however the map grows: a segment file more than half dead is
//!   rewritten alone; the newest [`FAN_IN`] small files (below `large_rows` live rows) of
//!   about one size merge; large files merge only once more than `max_files` are durable
//!   (the [`FAN_IN`] adjacent ones holding the fewest live rows), so a bulk load of up to
//!   that many commits rewrites nothing. Volatile segments are left to commits. The
//!   background merger adds the [`levelled`] rule: once the first segment is large, it
//!   merges with the files after it when they hold an eighth of its live rows, so that a
//!   long load of small commits ends as one large segment and a small tail (at 1M rows
//!   sealed 17,000 at a time: 1 or 2 segments one second after the last commit, where
//!   the tiered rules alone left 21 whenever their final merge of every row was slow).
//! - *Once writes pause* ([`once_quiet`]), toward one segment: the suffix of the segment
//!   list from the first segment that either holds at most [`RATIO`] times the live rows
//!   of all the segments after it, or has a tenth of its rows deleted, merges into one
//!   file (volatile segments included). After a load from empty that is the whole map.
//!   A map of at most [`FINISH_ROWS`] live rows is *finished* with a larger ratio,
//!   [`FINISH_RATIO`]: its large segment takes in a tail of a 256th of it, so that the
//!   levelled rule's tail (up to an eighth) does not stay a second tree that every query
//!   descends (1.2–1.7× a query's time at 1M); a map that grows by trickles rewrites its
//!   rows about [`FINISH_RATIO`] times per level, only while no one writes. Larger maps
//!   keep one large segment and a tail at most an eighth of it, a row rewritten about
//!   [`RATIO`] times per level.
//!
//! Segments the field journal names are never chosen while writing (merging one would
//! force a checkpoint of the field); once quiet the merger folds the journal first.

/// Segments of about one size merged into one while writing.
pub use crate::index::FAN_IN;

/// Once quiet, a segment is merged with those after it when they hold at least one
/// [`RATIO`]th of its live rows.
pub const RATIO: usize = 8;

/// Once quiet, the segments of a map of at most [`FINISH_ROWS`] live rows merge with
/// those after them when these hold at least a [`FINISH_RATIO`]th of their live rows.
pub const FINISH_RATIO: usize = 256;

/// The live rows up to which a map once quiet is merged into one segment by the
/// [`FINISH_RATIO`] rule (a rewrite of about a second on one core; beyond, [`RATIO`]).
pub const FINISH_ROWS: usize = 1 << 22;

/// A segment as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    /// Rows, dead ones included.
    pub rows: usize,
    /// Dead rows.
    pub dead: usize,
    /// A segment file (else rows stored as records).
    pub durable: bool,
    /// Named by the map's field journal.
    pub named: bool,
}

impl Seg {
    fn live(&self) -> usize {
        self.rows - self.dead
    }

    fn mostly_dead(&self) -> bool {
        self.dead * 2 > self.rows
    }

    fn worth_rewriting(&self) -> bool {
        self.dead * 10 > self.rows
    }
}

/// The next merge while writes go on (indices into `segs`, ascending), if any. Named
/// segments are left alone, except that the bound on the count may take them when
/// `bound_named` (a commit, which then checkpoints the field).
pub fn while_writing(
    segs: &[Seg],
    large_rows: usize,
    max_files: usize,
    bound_named: bool,
) -> Option<Vec<usize>> {
    let durable: Vec<usize> = (0..segs.len()).filter(|i| segs[*i].durable).collect();
    let seg = |d: usize| &segs[durable[d]];
    if let Some(d) = (0..durable.len()).find(|d| seg(*d).mostly_dead() && !seg(*d).named) {
        return Some(vec![durable[d]]);
    }
    let n = durable.len();
    if n >= FAN_IN {
        let newest: Vec<&Seg> = (n - FAN_IN..n).map(seg).collect();
        let largest = newest.iter().map(|s| s.live()).max().unwrap_or(0);
        if newest[0].live() <= 2 * newest[FAN_IN - 1].live()
            && largest < large_rows
            && newest.iter().all(|s| !s.named)
        {
            return Some(durable[n - FAN_IN..].to_vec());
        }
    }
    over_bound(segs, max_files, bound_named)
}

/// The levelled merge while writing: once the first durable segment (the base) holds at
/// least `large_rows` live rows, the base and the durable segments after it up to the
/// first one the journal names, when those hold at least a [`RATIO`]th of the base's
/// live rows. The map then stays one large segment and a tail of at most an eighth of
/// it, so that the merge left when writes pause is the tail's (small, quick), not every
/// row's; a row is rewritten about [`RATIO`] times as the map grows.
pub fn levelled(segs: &[Seg], large_rows: usize) -> Option<Vec<usize>> {
    let run: Vec<usize> = (0..segs.len())
        .filter(|i| segs[*i].durable)
        .take_while(|i| !segs[*i].named)
        .collect();
    let (&base, tail) = run.split_first()?;
    let base_live = segs[base].live();
    let tail_live: usize = tail.iter().map(|i| segs[*i].live()).sum();
    (base_live >= large_rows && !tail.is_empty() && tail_live * RATIO >= base_live).then_some(run)
}

/// Past `max_files` durable segments, the [`FAN_IN`] adjacent ones holding the fewest
/// live rows (indices into `segs`), among those the journal does not name unless
/// `named_too`.
pub fn over_bound(segs: &[Seg], max_files: usize, named_too: bool) -> Option<Vec<usize>> {
    let durable: Vec<usize> = (0..segs.len()).filter(|i| segs[*i].durable).collect();
    let n = durable.len();
    if n <= max_files || n < FAN_IN {
        return None;
    }
    let window = |d: usize| durable[d..d + FAN_IN].iter().map(|i| &segs[*i]);
    let first = (0..=n - FAN_IN)
        .filter(|d| named_too || window(*d).all(|s| !s.named))
        .min_by_key(|d| window(*d).map(Seg::live).sum::<usize>())?;
    Some(durable[first..first + FAN_IN].to_vec())
}

/// The merge once writes pause (indices into `segs`, ascending), if any: see the module
/// header. Named segments may be among them (the journal must be folded first).
pub fn once_quiet(segs: &[Seg]) -> Option<Vec<usize>> {
    let n = segs.len();
    let mut after = 0usize; // live rows of the segments after `i`
    let mut first = None;
    for i in (0..n).rev() {
        let s = &segs[i];
        // A whole map of at most FINISH_ROWS ends as one segment unless its tail is
        // below a FINISH_RATIO-th of the rest.
        let ratio = if after + s.live() <= FINISH_ROWS {
            FINISH_RATIO
        } else {
            RATIO
        };
        if s.worth_rewriting() || (i + 1 < n && s.live() <= ratio * after) {
            first = Some(i);
        }
        after += s.live();
    }
    let first = first?;
    (n - first >= 2 || segs[first].worth_rewriting()).then(|| (first..n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(rows: usize, dead: usize) -> Seg {
        Seg {
            rows,
            dead,
            durable: true,
            named: false,
        }
    }

    #[test]
    fn quiet_merges_a_load_into_one_segment() {
        // What tiered merges leave after loads from empty: all of it merges.
        let loads = [
            vec![
                seg(65_536, 0),
                seg(65_536, 0),
                seg(65_536, 0),
                seg(3_392, 0),
            ],
            vec![seg(160_000, 0), seg(10_000, 0), seg(10_000, 0)],
            vec![seg(1000, 0), seg(1000, 0)],
        ];
        for segs in loads {
            assert_eq!(once_quiet(&segs), Some((0..segs.len()).collect()));
        }
        // One segment: nothing to do, unless a tenth of it is dead.
        assert_eq!(once_quiet(&[seg(1_000_000, 0)]), None);
        assert_eq!(once_quiet(&[seg(1_000_000, 90_000)]), None);
        assert_eq!(once_quiet(&[seg(1_000_000, 110_000)]), Some(vec![0]));
        assert_eq!(once_quiet(&[]), None);
    }

    #[test]
    fn quiet_keeps_a_large_segment_while_its_tail_is_small() {
        // Beyond FINISH_ROWS: a tail of an eighth (the tail's own files within it).
        assert_eq!(once_quiet(&[seg(8_000_000, 0), seg(900_000, 0)]), None);
        let segs = [seg(8_000_000, 0), seg(400_000, 0), seg(1_000, 0)];
        assert_eq!(once_quiet(&segs), None);
        let segs = [seg(8_000_000, 0), seg(400_000, 0), seg(10_000, 0)];
        assert_eq!(once_quiet(&segs), Some(vec![1, 2]));
        let segs = [seg(8_000_000, 0), seg(800_000, 0), seg(240_000, 0)];
        assert_eq!(once_quiet(&segs), Some(vec![0, 1, 2]));
        // Within it: a tail of a 256th.
        assert_eq!(once_quiet(&[seg(1_000_000, 0), seg(3_000, 0)]), None);
        let segs = [seg(1_000_000, 0), seg(3_000, 0), seg(100, 0)];
        assert_eq!(once_quiet(&segs), Some(vec![1, 2]));
        // A large segment with deletions is rewritten with what follows it.
        let segs = [seg(8_000_000, 1_000_000), seg(1_000, 0)];
        assert_eq!(once_quiet(&segs), Some(vec![0, 1]));
    }

    #[test]
    fn quiet_finishes_a_map_of_up_to_finish_rows_as_one_segment() {
        // What the levelled rule leaves after a 1M load of small commits: a large
        // segment and a tail under an eighth of it (31,000 rows, or only the last
        // commits' 14,000), all of it merged once quiet.
        for tail in [
            vec![31_000],
            vec![17_000, 14_000],
            vec![14_000],
            vec![4_000],
        ] {
            let mut segs = vec![seg(1_000_000 - tail.iter().sum::<usize>(), 0)];
            segs.extend(tail.iter().map(|n| seg(*n, 0)));
            assert_eq!(
                once_quiet(&segs),
                Some((0..segs.len()).collect()),
                "{segs:?}"
            );
        }
        // Not a tail below a 256th of the rest.
        assert_eq!(once_quiet(&[seg(1_000_000, 0), seg(3_900, 0)]), None);
        // Up to FINISH_ROWS rewritten, not beyond: there the eighth holds.
        let big = FINISH_ROWS - 100_000;
        assert_eq!(
            once_quiet(&[seg(big, 0), seg(100_000, 0)]),
            Some(vec![0, 1])
        );
        assert_eq!(once_quiet(&[seg(big + 1, 0), seg(100_000, 0)]), None);
        // A map that grows by trickles of 1,000 rows, quiet after each: rewritten
        // about FINISH_RATIO times over per level, never more.
        let mut segs = vec![seg(1_000_000, 0)];
        let mut rewritten = 0;
        for _ in 0..2_000 {
            segs.push(seg(1_000, 0));
            if let Some(pick) = once_quiet(&segs) {
                rewritten += merge(&mut segs, &pick);
            }
            assert!(segs.len() <= 2, "{segs:?}");
        }
        let written = 2_000 * 1_000;
        assert!(rewritten <= 2 * FINISH_RATIO * written, "{rewritten}");
        assert!(rewritten >= written, "{rewritten}");
    }

    /// Applies `pick`'s merge to `segs`: one segment of the picked live rows in place.
    fn merge(segs: &mut Vec<Seg>, pick: &[usize]) -> usize {
        let live: usize = pick.iter().map(|i| segs[*i].live()).sum();
        segs.drain(pick[0]..=pick[pick.len() - 1]);
        segs.insert(pick[0], seg(live, 0));
        live
    }

    /// The merger's plan while writing (`mod.rs`): the tiered rules, then the levelled one.
    fn writing_plan(segs: &[Seg]) -> Option<Vec<usize>> {
        while_writing(segs, 65_536, 16, false).or_else(|| levelled(segs, 65_536))
    }

    #[test]
    fn levelled_merges_the_tail_into_the_base_past_an_eighth() {
        assert_eq!(levelled(&[seg(1_000_000, 0)], 65_536), None);
        let segs = [seg(800_000, 0), seg(68_000, 0), seg(17_000, 0)];
        assert_eq!(levelled(&segs, 65_536), None);
        let segs = [seg(800_000, 0), seg(68_000, 0), seg(34_000, 0)];
        assert_eq!(levelled(&segs, 65_536), Some(vec![0, 1, 2]));
        // Not before the base is large; up to the first segment the journal names.
        assert_eq!(levelled(&[seg(30_000, 0), seg(30_000, 0)], 65_536), None);
        let mut segs = vec![seg(100_000, 0), seg(17_000, 0), seg(10_000, 0)];
        segs[2].named = true;
        assert_eq!(levelled(&segs, 65_536), Some(vec![0, 1]));
        segs[0].named = true;
        assert_eq!(levelled(&segs, 65_536), None);
        // Volatile segments are the commits' business.
        segs = vec![seg(100_000, 0), seg(17_000, 0)];
        segs[1].durable = false;
        assert_eq!(levelled(&segs, 65_536), None);
    }

    #[test]
    fn a_load_of_small_files_leaves_one_large_segment_and_a_small_tail() {
        // 1M rows sealed 17,000 at a time, the merger keeping up: after every file the
        // map is a large segment and a tail under an eighth of it, in a few files; each
        // row is rewritten a bounded number of times.
        let mut segs = Vec::new();
        let mut rewritten = 0;
        for _ in 0..59 {
            segs.push(seg(17_000, 0));
            while let Some(pick) = writing_plan(&segs) {
                rewritten += merge(&mut segs, &pick);
            }
            let tail: usize = segs[1..].iter().map(Seg::live).sum();
            if segs[0].live() >= 65_536 {
                assert!(tail * RATIO < segs[0].live(), "{segs:?}");
            }
            assert!(segs.len() <= 1 + 2 * (FAN_IN - 1), "{segs:?}");
        }
        assert!(rewritten <= 12 * 59 * 17_000, "{rewritten}");
        // Once quiet the whole map merges (FINISH_RATIO): one segment.
        let quiet = once_quiet(&segs).unwrap_or_default();
        assert_eq!(quiet, (0..segs.len()).collect::<Vec<_>>(), "{segs:?}");
    }

    #[test]
    fn writing_merges_small_files_of_one_size_and_bounds_the_count() {
        let small = |n| vec![seg(10_000, 0); n];
        let writing = |segs: &[Seg]| while_writing(segs, 65_536, 16, false);
        assert_eq!(writing(&small(3)), None);
        assert_eq!(writing(&small(4)), Some(vec![0, 1, 2, 3]));
        let mut named = small(4);
        named[3].named = true;
        assert_eq!(writing(&named), None);
        // Large files only past the bound: the four adjacent with the fewest live rows.
        let mut large = vec![seg(100_000, 0); 17];
        assert_eq!(writing(&large[..16]), None);
        large[5].dead = 40_000;
        assert_eq!(writing(&large), Some(vec![2, 3, 4, 5]));
        // Named ones only when asked.
        large[3].named = true;
        assert_eq!(writing(&large), Some(vec![4, 5, 6, 7]));
        assert_eq!(
            while_writing(&large, 65_536, 16, true),
            Some(vec![2, 3, 4, 5])
        );
        // A mostly dead file alone, first.
        large[9].dead = 60_000;
        assert_eq!(writing(&large), Some(vec![9]));
        // Volatile segments are the commits' business.
        let mut mixed = small(4);
        mixed[3].durable = false;
        assert_eq!(writing(&mixed), None);
    }
}
