//! One background merge: the live rows of some segments of a map, as the version the
//! merger planned on holds them, rewritten into one segment file (built, written and
//! fsynced off every lock), then installed under the writer lock if its inputs are still
//! current, carrying over the rows deleted meanwhile.

use std::sync::Arc;

use tensormap_storage::{
    codec, keys, Batch, JournalEntry, JournalRecord, JournalRecordRef, SegmentFile, Splat,
};

use super::{allocate, publish, register, writer_lock, Outcome};
use crate::db::Inner;
use crate::index::segment::{self, Home, LiveRows, SegRef};
use crate::persist::{self, journal, DEAD_CHUNK_WORDS};

/// A merge to run: segments of map `map` as the planning version held them.
#[derive(Debug)]
pub(crate) struct Job {
    pub map: Arc<str>,
    pub map_id: u32,
    pub channels: usize,
    /// In the order of the map's segment list.
    pub inputs: Vec<SegRef>,
}

/// The merged file and how its slots map back to the inputs.
struct Output {
    id: u64,
    file: SegmentFile,
    /// `slot_of[k]` = the new slot of the `k`-th live input row (inputs in order, slots
    /// ascending).
    slot_of: Vec<u32>,
}

/// Runs `job`: build, write, install — calling `before_install` between the write and the
/// install (the fold of the field journal that runs beside the build). Ok(false) when it
/// was dropped (inputs no longer current, cancelled); its file is removed then.
pub(crate) fn run(inner: &Inner, job: Job, before_install: impl FnOnce() -> Outcome) -> Outcome {
    register(inner, job.inputs.iter().filter_map(SegRef::durable_id));
    let output = build(inner, &job)?;
    if inner.merge.cancelled() {
        return Ok(discard(inner, output));
    }
    if let Some(out) = &output {
        if let Err(e) = inner.backend.put_blob(out.id, out.file.blob().bytes()) {
            discard(inner, output);
            return Err(e.into());
        }
    }
    // Read the new file where it now lies (mapped), freeing the copy built in memory.
    let output = output.map(|mut out| {
        if let Ok(blob) = inner.backend.get_blob(out.id) {
            if blob.is_mapped() {
                if let Ok(file) = out.file.clone().rebind(out.id, blob) {
                    out.file = file;
                }
            }
        }
        out
    });
    if inner.merge.cancelled() {
        return Ok(discard(inner, output));
    }
    if let Err(e) = before_install() {
        discard(inner, output);
        return Err(e);
    }
    install(inner, &job, output)
}

/// Builds the merged file (None when no input row is live).
fn build(inner: &Inner, job: &Job) -> crate::Result<Option<Output>> {
    let live = LiveRows::of(&job.inputs);
    if tensormap_storage::segment::Rows::is_empty(&live) {
        return Ok(None);
    }
    let id = allocate(inner);
    let (file, order) = segment::build_live(job.map_id, job.channels, live, id)?;
    let mut slot_of = vec![0u32; order.len()];
    for (slot, k) in order.iter().enumerate() {
        slot_of[*k as usize] = slot as u32;
    }
    Ok(Some(Output { id, file, slot_of }))
}

/// Removes the file of a merge that is not installed; returns false (not installed).
fn discard(inner: &Inner, output: Option<Output>) -> bool {
    if let Some(out) = output {
        let _ = inner.backend.delete_blob(out.id);
    }
    false
}

/// Installs the merge if every input is still in the current version and no bulk entry
/// of the field journal names one of them: one sled batch (manifest, dead-slot chunks, the
/// records of volatile inputs, journal records rewritten by [`unname`]), then the new
/// version; the inputs' files are removed after.
fn install(inner: &Inner, job: &Job, output: Option<Output>) -> Outcome {
    let Some(_writer) = writer_lock(inner) else {
        return Ok(discard(inner, output));
    };
    let current = inner.current.read().clone();
    let Some(state) = current.maps.get(&*job.map).filter(|s| s.id == job.map_id) else {
        return Ok(discard(inner, output));
    };
    let mut at = Vec::with_capacity(job.inputs.len());
    for input in &job.inputs {
        match state.objects.locate(input) {
            Some(i) => at.push(i),
            None => return Ok(discard(inner, output)),
        }
    }
    let map_id = job.map_id;
    let mut batch = Batch::default();
    // Inputs the field journal names: removals of their rows are rewritten by value;
    // a bulk add of one needs the journal folded first (the merger does that first).
    let named: Vec<u64> = job
        .inputs
        .iter()
        .filter_map(SegRef::durable_id)
        .filter(|id| state.journal.journal_segments.binary_search(id).is_ok())
        .collect();
    if !named.is_empty() && !unname(inner, state, &job.inputs, &named, &mut batch)? {
        return Ok(discard(inner, output));
    }
    let merged = output.as_ref().map(|out| {
        let mut seg = SegRef::new(out.file.clone(), Home::Durable(out.id));
        rebase(job, &at, state.objects.segs(), out, &mut seg);
        seg
    });
    if let (Some(out), Some(seg)) = (&output, &merged) {
        for (chunk, words) in seg.dead.chunks(DEAD_CHUNK_WORDS).enumerate() {
            if words.iter().any(|w| *w != 0) {
                batch.put(
                    keys::dead(map_id, out.id, chunk as u32),
                    persist::dead_chunk(&seg.dead, chunk),
                );
            }
        }
    }
    let mut retired = Vec::new();
    for (input, i) in job.inputs.iter().zip(&at) {
        let now = &state.objects.segs()[*i];
        match input.home {
            Home::Durable(id) => {
                inner
                    .backend
                    .scan_prefix(&keys::dead_prefix(map_id, id), &mut |k, _| {
                        batch.delete(k.to_vec());
                        Ok(())
                    })?;
                retired.push(id);
            }
            Home::Volatile => {
                // Rows deleted since were deleted with their records (and an updated
                // row's new record belongs to its new row): only live rows' records go.
                for slot in (0..now.len() as u32).filter(|s| !now.is_dead(*s)) {
                    batch.delete(keys::object(map_id, now.file.id_of(slot as usize)));
                }
            }
            // Never an input: a merge reads a published version, which holds none.
            Home::Staged => {}
        }
    }
    let mut next = crate::map::MapState::clone(state);
    next.objects.replace_set(&at, merged);
    if !named.is_empty() {
        next.journal
            .journal_segments
            .retain(|s| named.binary_search(s).is_err());
        journal::put_meta(&next, &mut batch)?;
    }
    batch.put(
        keys::manifest(map_id),
        codec::encode(&persist::manifest_of(&next))?,
    );
    batch.put(
        keys::global(persist::NEXT_BLOB),
        codec::encode(&*inner.next_blob.lock())?,
    );
    if let Err(e) = inner.backend.commit(batch) {
        discard(inner, output);
        return Err(e.into());
    }
    publish(inner, &current, next);
    drop(_writer);
    // Readers holding earlier versions keep their mappings of the retired files.
    for id in retired {
        let _ = inner.backend.delete_blob(id);
    }
    Ok(true)
}

/// Largest journal record a rewrite may make (the codec reads records up to 16 MiB).
const MAX_REWRITTEN_RECORD: usize = 8 << 20;

/// Rewrites the journal records of `state` that remove rows of the segments `named` (in
/// `inputs`, sorted) by reference as removals by value — the same splat, so replay gives
/// the same field bit for bit — putting them into `batch`. False when that cannot be done:
/// a bulk add names one of them (the journal must be folded first), or a record would
/// grow too large.
fn unname(
    inner: &Inner,
    state: &crate::map::MapState,
    inputs: &[SegRef],
    named: &[u64],
    batch: &mut Batch,
) -> crate::Result<bool> {
    let j = &state.journal;
    for seq in j.journal_start..j.journal_next {
        let key = keys::journal(state.id, seq);
        let Some(bytes) = inner.backend.get(&key)? else {
            continue;
        };
        let mut record: JournalRecord = codec::decode(&key, &bytes)?;
        let mut changed = false;
        for e in &mut record.entries {
            match *e {
                JournalEntry::AddSegment { segment } if named.binary_search(&segment).is_ok() => {
                    return Ok(false);
                }
                JournalEntry::RemoveRow { segment, slot }
                    if named.binary_search(&segment).is_ok() =>
                {
                    let Some(file) = inputs
                        .iter()
                        .find(|s| s.durable_id() == Some(segment))
                        .map(|s| &s.file)
                        .filter(|f| (slot as usize) < f.rows())
                    else {
                        return Ok(false);
                    };
                    *e = JournalEntry::Splat(Splat {
                        add: false,
                        position: file.positions()[slot as usize],
                        embedding: file.embedding(slot as usize).to_vec(),
                    });
                    changed = true;
                }
                _ => {}
            }
        }
        if changed {
            let value = codec::encode(&JournalRecordRef {
                entries: &record.entries,
            })?;
            if value.len() > MAX_REWRITTEN_RECORD {
                return Ok(false);
            }
            batch.put(key, value);
        }
    }
    Ok(true)
}

/// Marks dead in `merged` every row deleted from an input since the merge read it: the
/// bits set in the current version's bitset and not in the one the merge read, mapped
/// to their slots in the merged file.
fn rebase(job: &Job, at: &[usize], now: &[SegRef], out: &Output, merged: &mut SegRef) {
    let mut base = 0usize; // live input rows before this input
    for (input, i) in job.inputs.iter().zip(at) {
        let cur = &now[*i];
        if !Arc::ptr_eq(&cur.dead, &input.dead) {
            // Live rows of this input before each of its bitset words.
            let mut before = 0usize;
            for (&then, &later) in input.dead.iter().zip(cur.dead.iter()) {
                let mut fresh = later & !then;
                while fresh != 0 {
                    let bit = fresh.trailing_zeros();
                    fresh &= fresh - 1;
                    // The row's rank among the input's live rows, when the merge read it.
                    let below = then & ((1u64 << bit) - 1);
                    let rank = before + bit as usize - below.count_ones() as usize;
                    merged.kill(out.slot_of[base + rank]);
                }
                before += 64 - then.count_ones() as usize;
            }
        }
        base += input.live();
    }
}
