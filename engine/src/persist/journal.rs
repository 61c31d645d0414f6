//! The field's durability: the journal of field changes since the last brick checkpoint,
//! replaying it when a field is loaded, and the checkpoint that folds it into stored bricks.
//!
//! Between checkpoints each commit stores its field changes as journal entries (small,
//! sequential), not the bricks they touched (large): a single object's splat with its data,
//! or a reference to rows that are already stored in a segment file (a bulk add of a whole
//! new segment, the removal of one segment row). A checkpoint writes every brick changed
//! since the last one and deletes the journal, in the same atomic batch as the commit that
//! triggers it. Loading a field reads the bricks and replays the journal in sequence order
//! through [`apply`], the very function the commit used: the same float operations in the
//! same order, so the field comes back bit for bit.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tensormap_storage::brick::{self, EDGE};
use tensormap_storage::keys::{self, Keyspace};
use tensormap_storage::{
    codec, Backend, Batch, Dtype, Error as StorageError, JournalEntry, JournalRecord,
    JournalRecordRef, MapConfig, MapMetaRecord, Op, SegmentFile,
};

use crate::field::octree::{morton, unmorton};
use crate::field::Field;
use crate::map::{LoadedField, MapState};
use crate::Result;

/// Single-row journal entries after which a commit checkpoints whatever the sizes: bounds
/// the replay work of a field load (about 1 µs a splat).
pub const MAX_JOURNAL_SPLATS: u64 = 1 << 16;

/// Bulk-add entries after which a commit checkpoints: each replays as one bulk splat
/// (tens of milliseconds for a dense field).
pub const MAX_JOURNAL_BULK: u64 = 8;

/// Bytes of entries packed into one journal record (well under the codec's decode limit).
const JOURNAL_RECORD_BYTES: usize = 1 << 20;

/// The segments journal entries can name, by blob id.
pub type SegmentsById = HashMap<u64, Arc<SegmentFile>>;

/// Applies `entries` in order to `field`, noting the bricks they touch in `dirty`. Used by
/// commits and by replay alike (see the module header). Fails on an entry that cannot be
/// applied: a removal the field does not hold, a segment or slot that does not exist.
pub fn apply(
    field: &mut Field,
    dirty: &mut BTreeSet<u64>,
    entries: &[JournalEntry],
    segments: &SegmentsById,
) -> std::result::Result<(), String> {
    let mut touch = |m| {
        dirty.insert(m);
    };
    for e in entries {
        match e {
            JournalEntry::Splat(s) => {
                if !field.splat(s.position, &s.embedding, s.add, &mut touch) {
                    return Err("a removal the field does not hold".into());
                }
            }
            JournalEntry::AddSegment { segment } => {
                let f = segments
                    .get(segment)
                    .ok_or_else(|| format!("names segment {segment:016x}, which is not stored"))?;
                field.add_bulk(f.positions(), f.embeddings(), &mut touch);
            }
            JournalEntry::RemoveRow { segment, slot } => {
                let f = segments
                    .get(segment)
                    .ok_or_else(|| format!("names segment {segment:016x}, which is not stored"))?;
                let s = *slot as usize;
                if s >= f.rows() {
                    return Err(format!(
                        "names row {slot} of segment {segment:016x}, which has {}",
                        f.rows()
                    ));
                }
                if !field.splat(f.positions()[s], f.embedding(s), false, &mut touch) {
                    return Err("a removal the field does not hold".into());
                }
            }
        }
    }
    Ok(())
}

/// The segments `entries` name.
pub fn named_segments(entries: &[JournalEntry]) -> BTreeSet<u64> {
    entries
        .iter()
        .filter_map(|e| match e {
            JournalEntry::Splat(_) => None,
            JournalEntry::AddSegment { segment } | JournalEntry::RemoveRow { segment, .. } => {
                Some(*segment)
            }
        })
        .collect()
}

/// Appends `entries` to the map's journal: records put into `batch`, the range and
/// counts in `state.journal` advanced.
pub fn write(state: &mut MapState, entries: &[JournalEntry], batch: &mut Batch) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let splat_bytes = 16 + 4 * state.config.channels as usize;
    let mut start = 0;
    let mut bytes = 0;
    let mut flush = |state: &mut MapState, chunk: &[JournalEntry]| -> Result<()> {
        let record = codec::encode(&JournalRecordRef { entries: chunk })?;
        batch.put(keys::journal(state.id, state.journal.journal_next), record);
        state.journal.journal_next += 1;
        Ok(())
    };
    for (i, e) in entries.iter().enumerate() {
        bytes += match e {
            JournalEntry::Splat(_) => splat_bytes,
            _ => 16,
        };
        if bytes >= JOURNAL_RECORD_BYTES {
            flush(state, &entries[start..=i])?;
            start = i + 1;
            bytes = 0;
        }
    }
    if start < entries.len() {
        flush(state, &entries[start..])?;
    }
    let j = &mut state.journal;
    for e in entries {
        match e {
            JournalEntry::AddSegment { .. } => j.journal_bulk += 1,
            _ => j.journal_splats += 1,
        }
    }
    let mut named: BTreeSet<u64> = j.journal_segments.iter().copied().collect();
    named.extend(named_segments(entries));
    j.journal_segments = named.into_iter().collect();
    Ok(())
}

/// Whether `state` should fold its journal into bricks at this commit: when the journal
/// would replay slower than the dirty bricks can be read, or is simply long. Asked before
/// the commit journals its own changes.
pub fn wants_checkpoint(state: &MapState) -> bool {
    let j = &state.journal;
    let splat_bytes = 16 + 4 * state.config.channels as u64;
    let brick_bytes = (brick::CELLS as u64) * (4 + 4 * state.config.channels as u64);
    j.journal_splats >= MAX_JOURNAL_SPLATS
        || j.journal_bulk >= MAX_JOURNAL_BULK
        || (j.journal_splats > 0
            && j.journal_bulk == 0
            && j.journal_splats * splat_bytes >= state.dirty_bricks.len() as u64 * brick_bytes)
}

/// Adds to `batch` the writes of a checkpoint of `state` (its field `Ready` and refreshed):
/// every dirty brick stored (or deleted when empty) and the journal dropped; then resets
/// the journal range. For f16/i8 maps the in-memory bricks are rounded to what was stored,
/// so the field in memory stays exactly what a reload would give.
///
/// `committed_next` is the journal end already in the store (entries from there on were
/// put by this batch).
pub fn checkpoint(state: &mut MapState, committed_next: u64, batch: &mut Batch) -> Result<()> {
    let id = state.id;
    let channels = state.config.channels as usize;
    let dtype = state.config.dtype;
    let dirty = std::mem::take(&mut state.dirty_bricks);
    let field = state.field_mut()?;
    let mut rounded = false;
    for &m in dirty.iter() {
        let key = keys::brick(id, m);
        let b = unmorton(m);
        let Some((brick, _)) = field.brick(b) else {
            batch.delete(key);
            continue;
        };
        let stored = brick::encode(&brick.values, &brick.counts, channels, dtype)?;
        if dtype != Dtype::F32 {
            let back = brick::decode(&key, &stored, channels, dtype)?;
            field.load_brick(b, back.values, back.counts);
            rounded = true;
        }
        batch.put(key, stored);
    }
    if rounded {
        field.refresh();
    }
    // Journal records written earlier in this batch are dropped rather than written and
    // deleted; the ones already stored are deleted.
    let journal_prefix = keys::keyspace_prefix(id, Keyspace::Journal);
    batch.retain(|op| !matches!(op, Op::Put(k, _) if k.starts_with(&journal_prefix)));
    for seq in state.journal.journal_start..committed_next.min(state.journal.journal_next) {
        batch.delete(keys::journal(id, seq));
    }
    let j = &mut state.journal;
    j.journal_start = j.journal_next;
    j.journal_splats = 0;
    j.journal_bulk = 0;
    j.journal_segments.clear();
    state.dirty_bricks = Arc::new(BTreeSet::new());
    Ok(())
}

/// Reads a map's field: its stored bricks, then the journal replayed. `segments` holds
/// every segment the journal may name (`meta.journal_segments`).
pub fn load_field(
    backend: &dyn Backend,
    map_id: u32,
    config: Arc<MapConfig>,
    meta: &MapMetaRecord,
    segments: &SegmentsById,
) -> Result<LoadedField> {
    let mut field = Field::new(config.clone());
    let mut dirty = BTreeSet::new();
    let channels = config.channels as usize;
    let bricks_per_axis = config.resolution / EDGE as u32;
    backend.scan_prefix(
        &keys::keyspace_prefix(map_id, Keyspace::Bricks),
        &mut |k, v| {
            let m = keys::trailing_u64(k)
                .filter(|_| k.len() == keys::brick(map_id, 0).len())
                .ok_or_else(|| StorageError::corrupt(k, "malformed brick key"))?;
            let b = unmorton(m);
            if b.iter().any(|v| *v >= bricks_per_axis) || morton(b) != m {
                return Err(StorageError::corrupt(k, "brick outside the grid"));
            }
            let data = brick::decode(k, v, channels, config.dtype)?;
            field.load_brick(b, data.values, data.counts);
            Ok(())
        },
    )?;
    let mut expected = meta.journal_start;
    let (mut splats, mut bulk) = (0u64, 0u64);
    backend.scan_prefix(
        &keys::keyspace_prefix(map_id, Keyspace::Journal),
        &mut |k, v| {
            let seq = keys::trailing_u64(k)
                .filter(|_| k.len() == keys::journal(map_id, 0).len())
                .ok_or_else(|| StorageError::corrupt(k, "malformed journal key"))?;
            if seq != expected || seq >= meta.journal_next {
                return Err(StorageError::corrupt(
                    k,
                    format!(
                        "journal entry {seq} out of sequence (expected {expected} below {})",
                        meta.journal_next
                    ),
                ));
            }
            expected += 1;
            let j: JournalRecord = codec::decode(k, v)?;
            for e in &j.entries {
                match e {
                    JournalEntry::Splat(s) => {
                        splats += 1;
                        crate::object::check_position(&s.position, &config)
                            .and_then(|_| {
                                crate::object::check_vector("embedding", &s.embedding, channels)
                            })
                            .map_err(|e| StorageError::corrupt(k, e))?;
                    }
                    JournalEntry::RemoveRow { segment, .. } | JournalEntry::AddSegment { segment } => {
                        if matches!(e, JournalEntry::AddSegment { .. }) {
                            bulk += 1;
                        } else {
                            splats += 1;
                        }
                        if meta.journal_segments.binary_search(segment).is_err() {
                            return Err(StorageError::corrupt(
                                k,
                                format!("names segment {segment:016x}, which the meta record does not list"),
                            ));
                        }
                    }
                }
            }
            // Bricks the journal touches differ from their stored copy until the next
            // checkpoint.
            apply(&mut field, &mut dirty, &j.entries, segments)
                .map_err(|reason| StorageError::corrupt(k, format!("journal {reason}")))?;
            Ok(())
        },
    )?;
    if expected != meta.journal_next || splats != meta.journal_splats || bulk != meta.journal_bulk {
        return Err(StorageError::corrupt(
            &keys::map_meta(map_id),
            format!(
                "journal holds records up to {expected} with {splats} row and {bulk} bulk entries, meta says {} with {} and {}",
                meta.journal_next, meta.journal_splats, meta.journal_bulk
            ),
        )
        .into());
    }
    field.refresh();
    Ok(LoadedField { field, dirty })
}

/// The map's meta record write.
pub fn put_meta(state: &MapState, batch: &mut Batch) -> Result<()> {
    batch.put(keys::map_meta(state.id), codec::encode(&state.journal)?);
    Ok(())
}

/// Orders `entries` by the brick of their centre (stable, so an object's removal never
/// follows its re-addition), so that consecutive splats touch the same few bricks.
/// `position` gives an entry's position (None for bulk entries, which stay in place
/// relative to each other at the end).
pub fn sort_by_brick(
    entries: &mut [JournalEntry],
    config: &MapConfig,
    position: impl Fn(&JournalEntry) -> Option<[f32; 3]>,
) {
    let edge = EDGE as u32;
    entries.sort_by_cached_key(|e| match position(e) {
        Some(p) => morton(p.map(|x| config.cell_of(x) / edge)),
        None => u64::MAX,
    });
}
