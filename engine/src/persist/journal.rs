//! The field's durability: the journal of field changes since the last brick checkpoint,
//! replaying it when a field is loaded, and the checkpoint that folds it into stored bricks.
//!
//! Between checkpoints each commit stores its field changes as journal entries (small,
//! sequential), not the bricks they touched (large): a single object's splat with its data,
//! or a reference to rows that are already stored in a segment file (a bulk add of a whole
//! new segment, the removal of one segment row). A checkpoint writes every brick changed
//! since the last one into a new brick file and deletes the journal, in the commit that
//! triggers it. Loading a field reads the brick files and replays the journal in sequence
//! order through [`apply`], the very function the commit used: the same float operations
//! in the same order, so the field comes back bit for bit.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tensormap_storage::brick::{self, EDGE};
use tensormap_storage::keys::{self, Keyspace};
use tensormap_storage::{
    brickfile, codec, Backend, Batch, Blob, BrickFile, Dtype, Error as StorageError, JournalEntry,
    JournalRecord, JournalRecordRef, MapConfig, MapMetaRecord, Op, SegmentFile,
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
pub const MAX_JOURNAL_BULK: u64 = 16;

/// Rows of the segments the journal names after which a commit checkpoints: bounds the
/// replay of bulk adds (about 0.6 µs of CPU a row on a dense 64³ × 32 field), so that a
/// bulk load of up to this many rows writes no bricks until it ends.
pub const MAX_JOURNAL_BULK_ROWS: u64 = 1 << 21;

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
        || journal_rows(state) >= MAX_JOURNAL_BULK_ROWS
        || (j.journal_splats > 0
            && j.journal_bulk == 0
            && j.journal_splats * splat_bytes >= state.dirty_bricks.len() as u64 * brick_bytes)
}

/// Rows of the durable segments the journal names (an upper bound on what it replays).
fn journal_rows(state: &MapState) -> u64 {
    let named = &state.journal.journal_segments;
    if named.is_empty() {
        return 0;
    }
    state
        .objects
        .durable()
        .filter(|s| s.durable_id().is_some_and(|id| named.contains(&id)))
        .map(|s| s.len() as u64)
        .sum()
}

/// Most brick files a map keeps: a checkpoint that would make more rewrites the whole
/// field into one file instead.
const MAX_BRICK_FILES: usize = 4;

/// Bricks by Morton code, encoded for a brick file (None: the brick is empty).
type Encoded = Vec<(u64, Option<Vec<u8>>)>;

/// Encodes bricks for storage on every core (zstd is the cost), in the order given.
fn encode_bricks(field: &Field, mortons: &[u64], channels: usize, dtype: Dtype) -> Result<Encoded> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let per = mortons.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Encoded>> = std::thread::scope(|s| {
        let workers: Vec<_> = mortons
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&m| {
                            let encoded = match field.brick(unmorton(m)) {
                                Some((b, _)) => {
                                    Some(brick::encode(&b.values, &b.counts, channels, dtype)?)
                                }
                                None => None,
                            };
                            Ok((m, encoded))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = Vec::with_capacity(mortons.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// What a checkpoint writes, computed from a field without changing anything: the new
/// brick file, which of the old ones it leaves in use, and (f16/i8 maps) the changed
/// bricks as stored, for the field in memory to hold exactly what a reload gives.
pub struct BrickFold {
    /// The new brick file; None when no brick changed since the last checkpoint.
    pub file: Option<Blob>,
    /// Per old brick file (in order): whether the map still needs it.
    pub keep: Vec<bool>,
    /// The changed bricks rounded to the map's dtype (empty for f32 maps).
    pub rounded: Vec<([u32; 3], brick::BrickData)>,
}

/// Computes the checkpoint of `field` (refreshed): a brick file of the bricks in `dirty`,
/// or — when the map would otherwise keep more than [`MAX_BRICK_FILES`] files or its
/// files would hold more than twice the bytes still current — of every brick of the
/// field, which then replaces `old_files`. Reads `field` only, so a background fold can
/// run beside readers and writers.
pub fn fold_bricks(
    field: &Field,
    dirty: &BTreeSet<u64>,
    old_files: &[Arc<BrickFile>],
    config: &MapConfig,
    map_id: u32,
) -> Result<BrickFold> {
    let channels = config.channels as usize;
    let dtype = config.dtype;
    let dirty: Vec<u64> = dirty.iter().copied().collect();
    if dirty.is_empty() {
        return Ok(BrickFold {
            file: None,
            keep: vec![true; old_files.len()],
            rounded: Vec::new(),
        });
    }
    let mut entries = encode_bricks(field, &dirty, channels, dtype)?;
    let new_bytes: u64 = entries
        .iter()
        .map(|e| e.1.as_ref().map_or(0, |b| b.len() as u64))
        .sum();
    // Bytes of each existing file that no newer file (nor this one) replaces.
    let mut shadowed: BTreeSet<u64> = dirty.iter().copied().collect();
    let mut live = vec![0u64; old_files.len()];
    for (i, f) in old_files.iter().enumerate().rev() {
        for (m, len) in f.entries() {
            if !shadowed.contains(&m) {
                live[i] += len;
            }
        }
        shadowed.extend(f.entries().map(|e| e.0));
    }
    let total: u64 = old_files.iter().map(|f| f.len() as u64).sum::<u64>() + new_bytes;
    let current: u64 = live.iter().sum::<u64>() + new_bytes;
    let full = !old_files.is_empty() && (old_files.len() >= MAX_BRICK_FILES || total > 2 * current);
    if full {
        let mut all = Vec::new();
        field.for_each_brick(&mut |b, _, _| all.push(morton(b)));
        let clean: Vec<u64> = all
            .iter()
            .copied()
            .filter(|m| dirty.binary_search(m).is_err())
            .collect();
        entries.retain(|e| e.1.is_some());
        entries.extend(encode_bricks(field, &clean, channels, dtype)?);
        entries.sort_unstable_by_key(|e| e.0);
    }
    let mut rounded = Vec::new();
    if dtype != Dtype::F32 {
        for (m, bytes) in &entries {
            if let (Some(bytes), Ok(_)) = (bytes, dirty.binary_search(m)) {
                rounded.push((unmorton(*m), brick::decode(&[], bytes, channels, dtype)?));
            }
        }
    }
    Ok(BrickFold {
        file: Some(brickfile::build(map_id, channels, dtype, &entries)?),
        keep: live.iter().map(|l| !full && *l > 0).collect(),
        rounded,
    })
}

/// Installs `fold` (with `file`, its brick file opened under the id it was stored as)
/// into `state`, whose field and brick files are the ones it was computed from: the
/// field takes the rounded bricks, the brick files the new one, the journal records go
/// from `batch` and the journal range is reset. Returns the brick files no longer needed.
///
/// `committed_next` is the journal end already in the store (entries from there on were
/// put by this batch, and are dropped from it rather than written and deleted).
pub fn install_fold(
    state: &mut MapState,
    fold: BrickFold,
    file: Option<BrickFile>,
    committed_next: u64,
    batch: &mut Batch,
) -> Result<Vec<u64>> {
    let id = state.id;
    if !fold.rounded.is_empty() {
        let field = state.field_mut()?;
        for (b, brick) in fold.rounded {
            field.load_brick(b, brick.values, brick.counts);
        }
        field.refresh();
    }
    let mut retired = Vec::new();
    if let Some(file) = file {
        let old = std::mem::take(&mut state.brick_files);
        for (f, keep) in old.into_iter().zip(&fold.keep) {
            if *keep {
                state.brick_files.push(f);
            } else {
                retired.push(f.id());
            }
        }
        state.brick_files.push(Arc::new(file));
    }
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
    Ok(retired)
}

/// Folds the journal of `state` (its field `Ready` and refreshed) into a new brick file
/// in this commit ([`fold_bricks`], then [`install_fold`]); `store` registers the new file
/// for writing and returns its id. For f16/i8 maps the in-memory bricks are rounded to
/// what was stored, so memory stays exactly what a reload would give.
pub fn checkpoint(
    state: &mut MapState,
    committed_next: u64,
    batch: &mut Batch,
    store: &mut dyn FnMut(Blob) -> u64,
) -> Result<Vec<u64>> {
    let dirty = std::mem::take(&mut state.dirty_bricks);
    let config = state.config.clone();
    let old_files = state.brick_files.clone();
    let map_id = state.id;
    let field = state.field_mut()?;
    let mut fold = fold_bricks(field, &dirty, &old_files, &config, map_id)?;
    let file = match fold.file.take() {
        Some(blob) => {
            let file_id = store(blob.clone());
            Some(BrickFile::open(
                file_id,
                blob,
                state.id,
                config.channels as usize,
                config.dtype,
            )?)
        }
        None => None,
    };
    install_fold(state, fold, file, committed_next, batch)
}

/// Reads a map's field: its brick files oldest first, then the journal replayed.
/// `segments` holds every segment the journal may name (`meta.journal_segments`).
pub fn load_field(
    backend: &dyn Backend,
    map_id: u32,
    config: Arc<MapConfig>,
    meta: &MapMetaRecord,
    brick_files: &[Arc<BrickFile>],
    segments: &SegmentsById,
) -> Result<LoadedField> {
    let mut field = Field::new(config.clone());
    let mut dirty = BTreeSet::new();
    let channels = config.channels as usize;
    let bricks_per_axis = config.resolution / EDGE as u32;
    for f in brick_files {
        f.for_each(&mut |m, data| {
            let b = unmorton(m);
            if b.iter().any(|v| *v >= bricks_per_axis) || morton(b) != m {
                return Err(StorageError::CorruptSegment {
                    segment: f.id(),
                    offset: 0,
                    reason: format!("brick file: brick {m} lies outside the grid"),
                });
            }
            match data {
                Some(d) => field.load_brick(b, d.values, d.counts),
                None => field.clear_brick(b),
            }
            Ok(())
        })?;
    }
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
