//! Committing a write transaction.
//!
//! Per changed map, in order:
//! 1. the field changes: removals queued by deletes and updates, then the memtable's new
//!    rows — a single journal entry naming the new segment on the bulk path, one entry per
//!    object otherwise;
//! 2. the memtable's rows are stored: as a new segment file when there are at least
//!    `bulk_rows` of them (the bulk path; a batch staged as a segment when it was inserted
//!    is that file already), else as object records in a volatile segment;
//!    when the records of the map reach `seal_rows` they are sealed into a segment file
//!    with the memtable's rows instead;
//! 3. segment files are merged only when this commit must: a checkpoint merges them all,
//!    and a map past [`MAX_FILES`] files (twice that with the background merger, which
//!    normally keeps far fewer) merges the [`FAN_IN`] adjacent ones holding the fewest
//!    live rows; without the background merger commits also apply the size-tiered rules
//!    of `merge/policy.rs`. Files that did not change are not rewritten, and a merge drops
//!    dead rows;
//! 4. changed dead-slot chunks, the manifest, the journal (or, at a checkpoint, the dirty
//!    bricks) and the meta record go into the batch.
//!
//! The blobs of models the transaction stored join the new files (their records are in
//! the batch already; see `models.rs`).
//!
//! Then the new segment files are written and fsynced and the batch committed (one atomic,
//! durable sled batch that names them) while the field changes are applied in memory on
//! another thread; only then is the new version published, the background merger told,
//! and are retired files removed. On any error nothing is published and the files this
//! commit wrote are removed.
//!
//! A removal of a row of a segment the background merger is rewriting is journaled by
//! value (the row's splat), not by reference: the journal must not name a segment a
//! merge is about to retire.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use tensormap_storage::keys;
use tensormap_storage::{codec, Batch, Blob, JournalEntry, Splat};

use crate::merge::{policy, MAX_FILES};

use crate::db::Inner;
use crate::field::Field;
use crate::index::segment::{self, LiveRows, SegRef};
use crate::index::{Chain, ObjectIndex};
use crate::map::{FieldSlot, LazyField, LoadedField, MapState};
use crate::persist::journal::{self, SegmentsById};
use crate::persist::{self, dead_chunk, DEAD_CHUNK_WORDS};
use crate::txn::WriteTransaction;
use crate::{Error, Result};

#[cfg(doc)]
use crate::index::FAN_IN;

/// What the commit does once every map is prepared.
#[derive(Default)]
struct Work {
    /// New segment files to write before the batch.
    new_blobs: Vec<(u64, Blob)>,
    /// Segment files no longer named once the batch is durable.
    retired: Vec<u64>,
    /// The last blob id handed out, when this commit took any.
    last_blob: Option<u64>,
}

/// Field changes journaled by the commit and applied in memory while the store writes.
struct Deferred {
    entries: Vec<JournalEntry>,
    segments: SegmentsById,
}

pub(crate) fn commit(mut txn: WriteTransaction) -> Result<()> {
    let inner = txn.inner.clone();
    let mut changed = std::mem::take(&mut txn.changed);
    let mut work = Work::default();
    let mut deferred = Vec::new();
    for state in changed.values_mut().flatten() {
        // By id: a map renamed by this transaction has its base under its old name.
        let base = match txn.base.maps.get(state.name.as_ref()) {
            Some(b) if b.id == state.id => Some(b.as_ref()),
            _ => txn
                .base
                .maps
                .values()
                .find(|b| b.id == state.id)
                .map(|b| b.as_ref()),
        };
        deferred.push(prepare(
            state,
            base,
            &mut txn.batch,
            &mut work,
            &inner,
            txn.force_checkpoint,
        )?);
    }
    // The models' blobs (ids taken when they were put) are written with the segment files.
    work.new_blobs.append(&mut txn.model_blobs);
    work.last_blob = work.last_blob.max(txn.last_blob);
    if let Some(last) = work.last_blob {
        txn.batch.put(
            keys::global(persist::NEXT_BLOB),
            codec::encode(&(last + 1))?,
        );
    }
    // The store writes the files and the batch while this thread applies the field
    // changes: neither feeds the other.
    let batch = std::mem::take(&mut txn.batch);
    let backend = &inner.backend;
    let new_blobs = &work.new_blobs;
    let stored = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<Vec<u64>> {
            let mut written = Vec::new();
            for (id, blob) in new_blobs {
                backend.put_shared_blob(*id, blob)?;
                written.push(*id);
            }
            if !batch.is_empty() {
                backend.commit(batch)?;
            }
            Ok(written)
        });
        for (state, d) in changed.values_mut().flatten().zip(deferred.iter_mut()) {
            if let Some(d) = d.take_if(|d| d.is_bulk()) {
                apply_in_background(state, d);
                continue;
            }
            if let Some(d) = d {
                if let Ok((field, dirty)) = state.field_and_dirty() {
                    // Entries of a consistent state always apply (a removal finds the
                    // cells its addition covered); replay checks them against the store.
                    let _ = journal::apply(field, dirty, &d.entries, &d.segments);
                }
            }
            if let Ok((field, _)) = state.field_and_dirty() {
                field.refresh();
            }
        }
        match writer.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let written = match stored {
        Ok(w) => w,
        Err(e) => {
            // Files the failed commit wrote are named by nothing: remove them now.
            for (id, _) in &work.new_blobs {
                let _ = inner.backend.delete_blob(*id);
            }
            return Err(e);
        }
    };
    // Read the new files where they now lie (mapped), freeing the copies built in memory.
    for id in written {
        if let Ok(blob) = inner.backend.get_blob(id) {
            if blob.is_mapped() {
                for state in changed.values_mut().flatten() {
                    state.objects.rebind(id, &blob);
                    for f in &mut state.brick_files {
                        if f.id() == id {
                            if let Ok(file) = (**f).clone().rebind(blob.clone()) {
                                *f = Arc::new(file);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut version = (*txn.base).clone();
    version.next_map_id = txn.next_map_id;
    for (name, model) in std::mem::take(&mut txn.changed_models) {
        match model {
            Some(m) => {
                // Read the committed bytes where they now lie (mapped), as for segments.
                let m = match inner.backend.get_blob(m.blob_id()) {
                    Ok(blob) if blob.is_mapped() && blob.len() == m.bytes().len() => {
                        Arc::new(m.rebound(blob))
                    }
                    _ => m,
                };
                version.models.insert(name, m)
            }
            None => version.models.remove(&name),
        };
    }
    for (name, state) in changed {
        match state {
            Some(state) => version.maps.insert(name, Arc::new(state)),
            None => version.maps.remove(&name),
        };
    }
    *inner.current.write() = Arc::new(version);
    inner.merge.committed();
    // Readers holding earlier versions keep their mappings of retired files.
    for id in work.retired.iter().chain(&txn.dropped_blobs) {
        let _ = inner.backend.delete_blob(*id);
    }
    Ok(())
}

impl Deferred {
    /// Whether the changes add a whole segment (the bulk path): worth a thread.
    fn is_bulk(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, JournalEntry::AddSegment { .. }))
    }
}

/// Applies a bulk commit's field changes on a thread of their own, so that the commit
/// returns once its files and batch are durable: the version it publishes holds the
/// field as pending, and the first reader or the next writer waits for it. The field is
/// the one the commit would have made itself (the same entries on the same field); a
/// bulk load's next batch is checked and built meanwhile.
fn apply_in_background(state: &mut MapState, d: Deferred) {
    if state.field_mut().is_err() {
        return; // the field failed to load: every reader will say so
    }
    let empty = FieldSlot::Ready(Field::new(state.config.clone()));
    let FieldSlot::Ready(field) = std::mem::replace(&mut state.field, empty) else {
        return;
    };
    let dirty = Arc::unwrap_or_clone(std::mem::take(&mut state.dirty_bricks));
    let mut loaded = LoadedField { field, dirty };
    let job = std::thread::Builder::new()
        .name("tensormap-field".into())
        .spawn(move || {
            // Entries of a consistent state always apply (see `commit`).
            let _ = journal::apply(
                &mut loaded.field,
                &mut loaded.dirty,
                &d.entries,
                &d.segments,
            );
            loaded.field.refresh();
            loaded
        });
    let job = match job {
        Ok(job) => parking_lot::Mutex::new(Some(job)),
        Err(e) => {
            let reason = format!("cannot start the thread that updates the field: {e}");
            state.field = FieldSlot::Lazy(Arc::new(LazyField::new(Box::new(move || {
                Err(Error::InvalidArgument(reason.clone()))
            }))));
            return;
        }
    };
    let name = state.name.clone();
    state.field = FieldSlot::Lazy(Arc::new(LazyField::pending(Box::new(move || {
        let failed = || Error::InvalidArgument(format!("map '{name}': the field update failed"));
        let handle = job.lock().take().ok_or_else(failed)?;
        handle.join().map_err(|_| failed())
    }))));
}

/// Hands out a new blob id.
fn allocate(inner: &Inner, work: &mut Work) -> u64 {
    let mut next = inner.next_blob.lock();
    let id = *next;
    *next += 1;
    work.last_blob = Some(id);
    id
}

/// Prepares one map's part of the commit (steps 1–4 of the module header).
fn prepare(
    state: &mut MapState,
    base: Option<&MapState>,
    batch: &mut Batch,
    work: &mut Work,
    inner: &Inner,
    force: bool,
) -> Result<Option<Deferred>> {
    let opts = inner.options;
    let map_id = state.id;
    let channels = state.config.channels as usize;

    // 1. Field changes: removals, then the memtable's unapplied rows.
    let mut entries = std::mem::take(&mut state.pending);
    by_value(&mut entries, state, inner);
    // A staged segment (a large batch built when it was inserted) stands for memtable rows.
    let n = state.objects.memtable_rows().slots.len() + state.objects.staged_rows();
    let bulk = n >= opts.bulk_rows;
    if !bulk {
        state.objects.unstage();
    }
    let add_by_segment = bulk && state.objects.nothing_applied();
    if !add_by_segment {
        let adds = state.objects.take_unapplied();
        entries.extend(adds.into_iter().map(|(position, embedding)| {
            JournalEntry::Splat(Splat {
                add: true,
                position,
                embedding,
            })
        }));
    }
    sort_entries(&mut entries, state);

    // 2. Store the memtable.
    if bulk {
        let id = allocate(inner, work);
        let file = match state.objects.take_staged() {
            Some(staged) => {
                let blob = staged.blob().clone();
                staged.rebind(id, blob)?
            }
            None => segment::build(map_id, channels, &state.objects.memtable_rows(), id)?,
        };
        work.new_blobs.push((id, file.blob().clone()));
        if add_by_segment {
            entries.push(JournalEntry::AddSegment { segment: id });
        }
        state.objects.install_memtable(file);
    } else {
        let records: usize = state.objects.volatile().map(SegRef::live).sum();
        if records + n >= opts.seal_rows.max(1) || (force && records + n > 0) {
            seal_records(state, batch, work, inner)?;
        } else {
            let rows = state.objects.memtable_rows();
            for &slot in &rows.slots {
                let o = state.objects.memtable_object(slot);
                batch.put(
                    keys::object(map_id, o.id()),
                    codec::encode(&o.to_object().to_record())?,
                );
            }
            state.objects.seal_volatile(map_id)?;
        }
    }
    // Every segment the entries can name, before compaction retires any.
    let segments: SegmentsById = state
        .objects
        .durable()
        .filter_map(|s| Some((s.durable_id()?, s.file.clone())))
        .collect();

    // Segments the journal will name: merging one forces a checkpoint.
    let mut named: BTreeSet<u64> = state.journal.journal_segments.iter().copied().collect();
    named.extend(journal::named_segments(&entries));

    // 3. Compaction.
    let mut retired = BTreeSet::new();
    while let Some(group) = next_group(&state.objects, &named, opts, force) {
        let old: Vec<u64> = state.objects.segs()[group.clone()]
            .iter()
            .filter_map(SegRef::durable_id)
            .collect();
        let live = LiveRows::of(&state.objects.segs()[group.clone()]);
        let file = if tensormap_storage::segment::Rows::is_empty(&live) {
            None
        } else {
            let id = allocate(inner, work);
            let file = segment::build(map_id, channels, &live, id)?;
            work.new_blobs.push((id, file.blob().clone()));
            Some(file)
        };
        drop(live);
        state.objects.replace(group, file);
        retired.extend(old);
    }
    for id in &retired {
        let prefix = keys::dead_prefix(map_id, *id);
        inner.backend.scan_prefix(&prefix, &mut |k, _| {
            batch.delete(k.to_vec());
            Ok(())
        })?;
    }
    work.retired.extend(retired.iter().copied());

    // 4. Dead-slot chunks, field journal or checkpoint, manifest, meta.
    put_dead_chunks(state, base, batch);
    let checkpoint = force
        || state.restored
        || journal::wants_checkpoint(state)
        || named.iter().any(|s| retired.contains(s));
    state.restored = false;
    let base_journal = base.map(|b| b.journal.clone()).unwrap_or_default();
    let deferred = if checkpoint {
        let name = state.name.clone();
        let (field, dirty) = state.field_and_dirty()?;
        journal::apply(field, dirty, &entries, &segments).map_err(|reason| {
            Error::InvalidArgument(format!("map '{name}': field change failed: {reason}"))
        })?;
        field.refresh();
        let mut store = |blob: Blob| {
            let id = allocate(inner, work);
            work.new_blobs.push((id, blob));
            id
        };
        let old = journal::checkpoint(state, base_journal.journal_next, batch, &mut store)?;
        work.retired.extend(old);
        None
    } else {
        journal::write(state, &entries, batch)?;
        Some(Deferred { entries, segments })
    };
    let files_base = base.map(persist::files_of);
    if files_base.as_ref() != Some(&persist::files_of(state)) {
        batch.put(
            keys::manifest(map_id),
            codec::encode(&persist::manifest_of(state))?,
        );
    }
    if state.journal != base_journal {
        journal::put_meta(state, batch)?;
    }
    Ok(deferred)
}

/// Seals the map's records (volatile segments) and the memtable into one segment file,
/// deleting the records.
fn seal_records(
    state: &mut MapState,
    batch: &mut Batch,
    work: &mut Work,
    inner: &Inner,
) -> Result<()> {
    let map_id = state.id;
    let first = state.objects.durable().count();
    let volatile = &state.objects.segs()[first..];
    for s in volatile {
        for slot in (0..s.len() as u32).filter(|slot| !s.is_dead(*slot)) {
            batch.delete(keys::object(map_id, s.file.id_of(slot as usize)));
        }
    }
    let live = LiveRows::of(volatile);
    let mem = state.objects.memtable_rows();
    let id = allocate(inner, work);
    let file = segment::build(
        map_id,
        state.config.channels as usize,
        &Chain { a: &live, b: &mem },
        id,
    )?;
    work.new_blobs.push((id, file.blob().clone()));
    drop((live, mem));
    state.objects.install_sealed(file);
    Ok(())
}

/// The next durable segments this commit merges (a range of the segment list), if any:
/// every one at a checkpoint; else past the bound on their count (see the module
/// header); else, without the background merger, what the size-tiered rules pick.
/// Segments in `named` may be taken only by the bound (the commit then checkpoints).
fn next_group(
    index: &ObjectIndex,
    named: &BTreeSet<u64>,
    opts: crate::Options,
    force: bool,
) -> Option<Range<usize>> {
    let n = index.durable().count();
    if force {
        return (n > 1 || index.durable().any(|s| s.dead_count > 0)).then_some(0..n);
    }
    let segs: Vec<policy::Seg> = index
        .segs()
        .iter()
        .map(|s| policy::Seg {
            rows: s.len(),
            dead: s.dead_count,
            durable: s.durable_id().is_some(),
            named: s.durable_id().is_some_and(|id| named.contains(&id)),
        })
        .collect();
    let pick = if opts.background_merge {
        policy::over_bound(&segs, 2 * MAX_FILES, true)
    } else {
        policy::while_writing(&segs, opts.large_rows, MAX_FILES, true)
    }?;
    // Durable segments come first and the picks are adjacent among them.
    Some(pick[0]..pick[pick.len() - 1] + 1)
}

/// Rewrites the removals among `entries` of rows of segments the background merger is
/// rewriting as removals by value (see the module header).
fn by_value(entries: &mut [JournalEntry], state: &MapState, inner: &Inner) {
    if !entries
        .iter()
        .any(|e| matches!(e, JournalEntry::RemoveRow { .. }))
    {
        return;
    }
    let merging = inner.merge.merging();
    if merging.is_empty() {
        return;
    }
    for e in entries.iter_mut() {
        let JournalEntry::RemoveRow { segment, slot } = *e else {
            continue;
        };
        if !merging.contains(&segment) {
            continue;
        }
        let Some(s) = state
            .objects
            .durable()
            .find(|s| s.durable_id() == Some(segment))
        else {
            continue;
        };
        let slot = slot as usize;
        if slot < s.len() {
            *e = JournalEntry::Splat(Splat {
                add: false,
                position: s.positions()[slot],
                embedding: s.file.embedding(slot).to_vec(),
            });
        }
    }
}

/// Puts the dead-slot chunks of durable segments that changed since `base`.
fn put_dead_chunks(state: &MapState, base: Option<&MapState>, batch: &mut Batch) {
    let before: HashMap<u64, &SegRef> = base.map_or(HashMap::new(), |b| {
        b.objects
            .durable()
            .filter_map(|s| Some((s.durable_id()?, s)))
            .collect()
    });
    for s in state.objects.durable() {
        let Some(id) = s.durable_id() else { continue };
        let old = before.get(&id).map(|b| b.dead.as_slice());
        if old.is_some_and(|o| std::ptr::eq(o, s.dead.as_slice())) {
            continue;
        }
        for chunk in 0..s.dead.len().div_ceil(DEAD_CHUNK_WORDS) {
            let range =
                chunk * DEAD_CHUNK_WORDS..((chunk + 1) * DEAD_CHUNK_WORDS).min(s.dead.len());
            let changed = match old {
                Some(o) => o[range.clone()] != s.dead[range.clone()],
                None => s.dead[range].iter().any(|w| *w != 0),
            };
            if changed {
                batch.put(
                    keys::dead(state.id, id, chunk as u32),
                    dead_chunk(&s.dead, chunk),
                );
            }
        }
    }
}

/// Orders entries by the brick of their centre (see [`journal::sort_by_brick`]).
fn sort_entries(entries: &mut [JournalEntry], state: &MapState) {
    if entries.len() < 2 {
        return;
    }
    let files: HashMap<u64, &SegRef> = state
        .objects
        .durable()
        .filter_map(|s| Some((s.durable_id()?, s)))
        .collect();
    journal::sort_by_brick(entries, &state.config, |e| match e {
        JournalEntry::Splat(s) => Some(s.position),
        JournalEntry::RemoveRow { segment, slot } => files
            .get(segment)
            .and_then(|s| s.positions().get(*slot as usize).copied()),
        JournalEntry::AddSegment { .. } => None,
    });
}

/// Journals and applies the field changes a transaction has made so far, so that it can
/// read its own field (`WriteTransaction::map`).
pub(crate) fn apply_now(state: &mut MapState, batch: &mut Batch, inner: &Inner) -> Result<()> {
    let mut entries = std::mem::take(&mut state.pending);
    by_value(&mut entries, state, inner);
    entries.extend(
        state
            .objects
            .take_unapplied()
            .into_iter()
            .map(|(position, embedding)| {
                JournalEntry::Splat(Splat {
                    add: true,
                    position,
                    embedding,
                })
            }),
    );
    if entries.is_empty() {
        return Ok(());
    }
    sort_entries(&mut entries, state);
    let segments: SegmentsById = state
        .objects
        .durable()
        .filter_map(|s| Some((s.durable_id()?, s.file.clone())))
        .collect();
    journal::write(state, &entries, batch)?;
    let (field, dirty) = state.field_and_dirty()?;
    journal::apply(field, dirty, &entries, &segments)
        .map_err(|reason| Error::InvalidArgument(format!("field change failed: {reason}")))?;
    Ok(())
}
