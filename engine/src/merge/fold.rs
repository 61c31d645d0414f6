//! The background fold of a map's field journal into a brick file — the checkpoint a
//! commit makes when its journal grows long, made here when writes have paused and the
//! journal's bulk adds name segments a merge wants (merging such a segment would lose
//! the rows the journal replays from it).
//!
//! The bricks are encoded from the version the merger read, off every lock; the install
//! takes the writer lock and goes ahead only if that map's journal and brick files are
//! still what they were (no commit changed the field since), else the file is removed.

use tensormap_storage::{codec, keys, Batch, BrickFile};

use super::{allocate, publish, writer_lock, Outcome};
use crate::db::Inner;
use crate::map::{FieldSlot, MapState};
use crate::persist::{self, journal};

/// Folds the journal of map `name` (id `id`).
pub(crate) fn run(inner: &Inner, name: &str, id: u32) -> Outcome {
    let version = inner.current.read().clone();
    let Some(state) = version.maps.get(name).filter(|s| s.id == id) else {
        return Ok(false);
    };
    if state.journal.journal_next == state.journal.journal_start {
        return Ok(false);
    }
    // The field as this version holds it (read now if still on disk, or waited for if a
    // bulk commit's thread computes it) and its bricks changed since the last checkpoint.
    let (field, dirty) = match &state.field {
        FieldSlot::Ready(f) => (f, &*state.dirty_bricks),
        FieldSlot::Lazy(lazy) => {
            let loaded = lazy.get()?;
            (&loaded.field, &loaded.dirty)
        }
    };
    let mut fold = journal::fold_bricks(field, dirty, &state.brick_files, &state.config, id)?;
    if inner.merge.cancelled() {
        return Ok(false);
    }
    let file = match fold.file.take() {
        Some(blob) => {
            let file_id = allocate(inner);
            inner.backend.put_blob(file_id, blob.bytes())?;
            let blob = match inner.backend.get_blob(file_id) {
                Ok(mapped) if mapped.is_mapped() => mapped,
                _ => blob,
            };
            let channels = state.config.channels as usize;
            match BrickFile::open(file_id, blob, id, channels, state.config.dtype) {
                Ok(f) => Some(f),
                Err(e) => {
                    let _ = inner.backend.delete_blob(file_id);
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let discard = |file: Option<BrickFile>| -> Outcome {
        if let Some(f) = file {
            let _ = inner.backend.delete_blob(f.id());
        }
        Ok(false)
    };
    if inner.merge.cancelled() {
        return discard(file);
    }
    let Some(_writer) = writer_lock(inner) else {
        return discard(file);
    };
    let current = inner.current.read().clone();
    let unchanged = |c: &MapState| {
        c.id == id
            && c.journal == state.journal
            && c.brick_files.len() == state.brick_files.len()
            && c.brick_files
                .iter()
                .zip(&state.brick_files)
                .all(|(a, b)| a.id() == b.id())
    };
    let Some(now) = current.maps.get(name).filter(|c| unchanged(c)) else {
        return discard(file);
    };
    let mut next = MapState::clone(now);
    // The same field (no commit changed it), made writable: the fold resets its dirty
    // set, and rounds its bricks for f16/i8 maps.
    next.field_mut()?;
    let mut batch = Batch::default();
    let committed_next = next.journal.journal_next;
    let new_file = file.as_ref().map(BrickFile::id);
    let retired = match journal::install_fold(&mut next, fold, file, committed_next, &mut batch) {
        Ok(r) => r,
        Err(e) => {
            if let Some(f) = new_file {
                let _ = inner.backend.delete_blob(f);
            }
            return Err(e);
        }
    };
    batch.put(
        keys::manifest(id),
        codec::encode(&persist::manifest_of(&next))?,
    );
    journal::put_meta(&next, &mut batch)?;
    batch.put(
        keys::global(persist::NEXT_BLOB),
        codec::encode(&*inner.next_blob.lock())?,
    );
    if let Err(e) = inner.backend.commit(batch) {
        if let Some(f) = new_file {
            let _ = inner.backend.delete_blob(f);
        }
        return Err(e.into());
    }
    publish(inner, &current, next);
    drop(_writer);
    for f in retired {
        let _ = inner.backend.delete_blob(f);
    }
    Ok(true)
}
