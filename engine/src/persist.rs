//! How maps reach the store and come back: loading a database version on open, and the
//! brick checkpoint that folds the splat journal into stored bricks.
//!
//! Between checkpoints each commit stores its objects and one journal record per splat it
//! made (small, sequential), not the bricks it touched (large). A checkpoint writes every
//! brick changed since the last one and deletes the journal, in the same atomic batch as
//! the commit that triggers it. On open the bricks are read and the journal replayed in
//! sequence order, which repeats the exact float operations: the field comes back bit for bit.

use std::collections::BTreeSet;
use std::sync::Arc;

use tensormap_storage::brick::{self, EDGE};
use tensormap_storage::keys::{self, Keyspace};
use tensormap_storage::{
    codec, Backend, Batch, CatalogRecord, Dtype, Error as StorageError, JournalRecord,
    JournalRecordRef, MapMetaRecord, ObjectRecord, Op, Splat,
};

use crate::field::octree::{morton, unmorton};
use crate::field::Field;
use crate::index::{IndexBuilder, ObjectIndex};
use crate::map::MapState;
use crate::object::check_record;
use crate::Result;

/// Journaled splats after which a commit checkpoints whatever the sizes: bounds the replay
/// work of an open (about 1 µs a splat).
pub const MAX_JOURNAL_SPLATS: u64 = 1 << 16;

/// Bytes of splats packed into one journal record (well under the codec's decode limit).
const JOURNAL_RECORD_BYTES: usize = 1 << 20;

/// The global key holding the next map id.
pub const NEXT_MAP_ID: &str = "next_map_id";

/// Everything loaded from the store.
pub struct Loaded {
    pub maps: Vec<MapState>,
    pub next_map_id: u32,
}

/// Reads every map of the store.
pub fn load(backend: &dyn Backend) -> Result<Loaded> {
    let next_key = keys::global(NEXT_MAP_ID);
    let next_map_id = match backend.get(&next_key)? {
        Some(bytes) => codec::decode::<u32>(&next_key, &bytes)?,
        None => 0,
    };
    let mut catalog = Vec::new();
    backend.scan_prefix(&keys::catalog_prefix(), &mut |k, v| {
        let name = std::str::from_utf8(&k[1..])
            .map_err(|_| StorageError::corrupt(k, "map name is not UTF-8"))?
            .to_string();
        let rec: CatalogRecord = codec::decode(k, v)?;
        rec.config
            .validate()
            .map_err(|e| StorageError::corrupt(k, e.to_string()))?;
        if rec.map_id >= next_map_id {
            return Err(StorageError::corrupt(
                k,
                format!(
                    "map id {} is not below next_map_id {next_map_id}",
                    rec.map_id
                ),
            ));
        }
        catalog.push((name, rec));
        Ok(())
    })?;
    let mut maps = Vec::with_capacity(catalog.len());
    for (name, rec) in catalog {
        maps.push(load_map(backend, &name, rec)?);
    }
    Ok(Loaded { maps, next_map_id })
}

fn load_map(backend: &dyn Backend, name: &str, rec: CatalogRecord) -> Result<MapState> {
    let mut state = MapState::new(rec.map_id, name, rec.config);
    let id = rec.map_id;
    let meta_key = keys::map_meta(id);
    let meta: MapMetaRecord = match backend.get(&meta_key)? {
        Some(bytes) => codec::decode(&meta_key, &bytes)?,
        None => return Err(StorageError::corrupt(&meta_key, "missing map meta record").into()),
    };
    if meta.journal_start > meta.journal_next {
        return Err(StorageError::corrupt(&meta_key, "journal start after its end").into());
    }
    state.journal = meta;
    let config = state.config.clone();
    // Objects and bricks are independent: load them on two threads.
    let mut dirty = BTreeSet::new();
    let (objects, field) = std::thread::scope(|s| {
        let objects = s.spawn(|| load_objects(backend, id, &config));
        let mut field = state.field.clone();
        let field_result =
            load_field(backend, id, &config, meta, &mut field, &mut dirty).map(|_| field);
        let objects = objects
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (objects, field_result)
    });
    state.objects = objects?;
    state.field = field?;
    state.dirty_bricks = Arc::new(dirty);
    Ok(state)
}

/// Entries handed from the scanning thread to the decoding thread at a time.
const LOAD_CHUNK: usize = 4096;

/// A run of scanned entries packed in one buffer: `(key end, value end)` offsets into `bytes`.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<(usize, usize)>,
}

/// Reads a map's objects: this thread scans the store while a second decodes, validates
/// and indexes what it has scanned, so the two overlap.
fn load_objects(
    backend: &dyn Backend,
    map_id: u32,
    config: &tensormap_storage::MapConfig,
) -> Result<ObjectIndex> {
    let prefix = keys::keyspace_prefix(map_id, Keyspace::Objects);
    let (send, receive) = std::sync::mpsc::sync_channel::<Chunk>(4);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(|| -> Result<ObjectIndex> {
            let mut builder = IndexBuilder::new(config.channels as usize, 0);
            for chunk in receive {
                let mut start = 0;
                for &(key_end, value_end) in &chunk.ends {
                    let k = &chunk.bytes[start..key_end];
                    let v = &chunk.bytes[key_end..value_end];
                    start = value_end;
                    let id = std::str::from_utf8(&k[prefix.len()..])
                        .map_err(|_| StorageError::corrupt(k, "object id is not UTF-8"))?;
                    let rec: ObjectRecord = codec::decode(k, v)?;
                    check_record(id, &(&rec).into(), config)
                        .map_err(|e| StorageError::corrupt(k, e))?;
                    builder.push(id, &rec.kind, rec.position, &rec.embedding, rec.confidence);
                }
            }
            Ok(builder.finish())
        });
        let mut chunk = Chunk::default();
        let scanned = backend.scan_prefix(&prefix, &mut |k, v| {
            chunk.bytes.extend_from_slice(k);
            let key_end = chunk.bytes.len();
            chunk.bytes.extend_from_slice(v);
            chunk.ends.push((key_end, chunk.bytes.len()));
            if chunk.ends.len() == LOAD_CHUNK {
                // A closed channel means the decoder stopped on an error, reported below.
                let _ = send.send(std::mem::take(&mut chunk));
            }
            Ok(())
        });
        let _ = send.send(chunk);
        drop(send);
        let decoded = decoder
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        scanned?;
        decoded
    })
}

fn load_field(
    backend: &dyn Backend,
    map_id: u32,
    config: &tensormap_storage::MapConfig,
    meta: MapMetaRecord,
    field: &mut crate::field::Field,
    dirty: &mut BTreeSet<u64>,
) -> Result<()> {
    let channels = config.channels as usize;
    let bricks_per_axis = config.resolution / EDGE as u32;
    backend.scan_prefix(
        &keys::keyspace_prefix(map_id, Keyspace::Bricks),
        &mut |k, v| {
            let m = keys::trailing_u64(k)
                .filter(|_| k.len() == keys::brick(map_id, 0).len())
                .ok_or_else(|| StorageError::corrupt(k, "malformed brick key"))?;
            let b = unmorton(m);
            if b.iter().any(|v| *v >= bricks_per_axis) || crate::field::octree::morton(b) != m {
                return Err(StorageError::corrupt(k, "brick outside the grid"));
            }
            let data = brick::decode(k, v, channels, config.dtype)?;
            field.load_brick(b, data.values, data.counts);
            Ok(())
        },
    )?;
    let mut expected = meta.journal_start;
    let mut splats = 0u64;
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
            for s in &j.splats {
                crate::object::check_position(&s.position, config)
                    .and_then(|_| crate::object::check_vector("embedding", &s.embedding, channels))
                    .map_err(|e| StorageError::corrupt(k, e))?;
                // Bricks the journal touches differ from their stored copy until the next
                // checkpoint.
                if !field.splat(s.position, &s.embedding, s.add, &mut |m| {
                    dirty.insert(m);
                }) {
                    return Err(StorageError::corrupt(
                        k,
                        "journal removes a splat the field does not hold",
                    ));
                }
            }
            splats += j.splats.len() as u64;
            Ok(())
        },
    )?;
    if expected != meta.journal_next || splats != meta.journal_splats {
        return Err(StorageError::corrupt(
            &keys::map_meta(map_id),
            format!(
                "journal holds records up to {expected} with {splats} splats, meta says {} with {}",
                meta.journal_next, meta.journal_splats
            ),
        )
        .into());
    }
    field.refresh();
    Ok(())
}

/// Whether `state` should fold its journal into bricks at this commit: when the journal
/// would replay slower than the dirty bricks can be read, or is simply long. Asked before
/// the commit journals its own splats.
pub fn wants_checkpoint(state: &MapState) -> bool {
    let splats = state.journal.journal_splats;
    let splat_bytes = 16 + 4 * state.config.channels as u64;
    let brick_bytes = (brick::CELLS as u64) * (4 + 4 * state.config.channels as u64);
    splats >= MAX_JOURNAL_SPLATS
        || (splats > 0 && splats * splat_bytes >= state.dirty_bricks.len() as u64 * brick_bytes)
}

/// Orders the transaction's pending splats by the brick of their centre (stable, so an
/// object's removal never precedes its addition), so that consecutive splats touch the same
/// few bricks, and journals them in that order. Returns them for [`apply_splats`], which
/// must apply them in the same order before the field is read or checkpointed.
pub fn journal_pending(state: &mut MapState, batch: &mut Batch) -> Result<Vec<Splat>> {
    let mut splats = std::mem::take(&mut state.pending);
    if splats.is_empty() {
        return Ok(splats);
    }
    let edge = EDGE as u32;
    let key = |s: &Splat| morton(state.field.cell_of(s.position).map(|c| c / edge));
    splats.sort_by_cached_key(key);
    state.journal.journal_splats += splats.len() as u64;
    let per_record = (JOURNAL_RECORD_BYTES / (16 + 4 * state.config.channels as usize)).max(1);
    for chunk in splats.chunks(per_record) {
        let record = codec::encode(&JournalRecordRef { splats: chunk })?;
        batch.put(keys::journal(state.id, state.journal.journal_next), record);
        state.journal.journal_next += 1;
    }
    Ok(splats)
}

/// Applies journaled splats to `field`, noting the bricks they touch in `dirty`.
pub fn apply_splats(field: &mut Field, dirty: &mut Arc<BTreeSet<u64>>, splats: &[Splat]) {
    if splats.is_empty() {
        return;
    }
    let dirty = Arc::make_mut(dirty);
    for s in splats {
        // A removal always finds the cells its object's addition covered.
        field.splat(s.position, &s.embedding, s.add, &mut |m| {
            dirty.insert(m);
        });
    }
}

/// Journals and applies the pending splats (see [`journal_pending`]).
pub fn apply_pending(state: &mut MapState, batch: &mut Batch) -> Result<()> {
    let splats = journal_pending(state, batch)?;
    apply_splats(&mut state.field, &mut state.dirty_bricks, &splats);
    Ok(())
}

/// Adds to `batch` the writes of a checkpoint of `state` (already refreshed): every dirty
/// brick stored (or deleted when empty) and the journal dropped; then resets the journal
/// range. For f16/i8 maps the in-memory bricks are rounded to what was stored, so the field
/// in memory stays exactly what a reopen would load.
///
/// `committed_next` is the journal end already in the store (entries from there on were
/// put by this batch).
pub fn checkpoint(state: &mut MapState, committed_next: u64, batch: &mut Batch) -> Result<()> {
    let id = state.id;
    let channels = state.config.channels as usize;
    let dtype = state.config.dtype;
    let mut rounded = false;
    for &m in state.dirty_bricks.iter() {
        let key = keys::brick(id, m);
        let b = unmorton(m);
        let Some((brick, _)) = state.field.brick(b) else {
            batch.delete(key);
            continue;
        };
        let stored = brick::encode(&brick.values, &brick.counts, channels, dtype)?;
        if dtype != Dtype::F32 {
            let back = brick::decode(&key, &stored, channels, dtype)?;
            state.field.load_brick(b, back.values, back.counts);
            rounded = true;
        }
        batch.put(key, stored);
    }
    if rounded {
        state.field.refresh();
    }
    // Journal records written earlier in this batch are dropped rather than written and
    // deleted; the ones already stored are deleted.
    let journal_prefix = keys::keyspace_prefix(id, Keyspace::Journal);
    batch.retain(|op| !matches!(op, Op::Put(k, _) if k.starts_with(&journal_prefix)));
    for seq in state.journal.journal_start..committed_next.min(state.journal.journal_next) {
        batch.delete(keys::journal(id, seq));
    }
    state.journal.journal_start = state.journal.journal_next;
    state.journal.journal_splats = 0;
    state.dirty_bricks = Arc::new(BTreeSet::new());
    Ok(())
}

/// The map's meta record write.
pub fn put_meta(state: &MapState, batch: &mut Batch) -> Result<()> {
    batch.put(keys::map_meta(state.id), codec::encode(&state.journal)?);
    Ok(())
}
