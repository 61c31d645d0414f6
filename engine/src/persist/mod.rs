//! How maps reach the store and come back.
//!
//! Open reads, per map, the catalog record, the meta record, the manifest and the segment
//! files it names — memory-mapped and checked (CRCs, structure), never decoded row by row,
//! sorted or rebuilt — the dead-slot bitsets of those segments, and the few object records
//! of recent small commits (built into one volatile segment). The voxel field is not read
//! until first used (see [`journal`]). Blob files no manifest names (a crash came between
//! writing one and the commit that would have named it) are removed.

pub mod journal;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tensormap_storage::keys::{self, Keyspace};
use tensormap_storage::{
    codec, Backend, Batch, BrickFile, BrickFileMeta, CatalogRecord, Error as StorageError,
    ManifestRecord, MapConfig, MapMetaRecord, ModelRecord, ObjectRecord, SegmentFile, SegmentMeta,
};

use crate::index::segment::{self, Home, SegRef};
use crate::index::ObjectIndex;
use crate::map::{FieldSlot, LazyField, MapState};
use crate::object::check_record;
use crate::Result;

pub use self::journal::{MAX_JOURNAL_BULK, MAX_JOURNAL_SPLATS};

/// The global key holding the next map id.
pub const NEXT_MAP_ID: &str = "next_map_id";
/// The global key holding the next blob id.
pub const NEXT_BLOB: &str = "next_blob";
/// The global key holding the store's format version.
pub const FORMAT_KEY: &str = "format";
/// The store format this build writes and reads: 2 = segment files (1 was one record per
/// object, rebuilt on every open).
pub const FORMAT: u32 = 2;

/// Tombstone words per dead-slot chunk record (512 Ki slots).
pub const DEAD_CHUNK_WORDS: usize = 8192;

/// Everything loaded from the store.
pub struct Loaded {
    pub maps: Vec<MapState>,
    pub models: Vec<crate::StoredModel>,
    pub next_map_id: u32,
    /// The first blob id not in use.
    pub next_blob: u64,
}

/// Reads every map of the store, and removes orphan blobs.
pub fn load(backend: &Arc<dyn Backend>) -> Result<Loaded> {
    check_format(backend.as_ref())?;
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
    let models = load_models(backend.as_ref())?;
    let mut named: BTreeSet<u64> = maps.iter().flat_map(files_of).collect();
    named.extend(models.iter().map(|m| m.blob_id()));
    let stored = backend.blob_ids()?;
    for id in &stored {
        if !named.contains(id) {
            backend.delete_blob(*id)?;
        }
    }
    let blob_key = keys::global(NEXT_BLOB);
    let next_blob = match backend.get(&blob_key)? {
        Some(bytes) => codec::decode::<u64>(&blob_key, &bytes)?,
        None => 1,
    };
    let next_blob = next_blob.max(stored.last().map_or(1, |l| l + 1));
    Ok(Loaded {
        maps,
        models,
        next_map_id,
        next_blob,
    })
}

/// The model catalog: every record with its blob (whose length must be the record's).
fn load_models(backend: &dyn Backend) -> Result<Vec<crate::StoredModel>> {
    let mut records = Vec::new();
    backend.scan_prefix(&keys::model_prefix(), &mut |k, v| {
        let name = std::str::from_utf8(&k[1..])
            .map_err(|_| StorageError::corrupt(k, "model name is not UTF-8"))?
            .to_string();
        let rec: ModelRecord = codec::decode(k, v)?;
        records.push((k.to_vec(), name, rec));
        Ok(())
    })?;
    let mut models = Vec::with_capacity(records.len());
    for (key, name, rec) in records {
        let blob = backend.get_blob(rec.blob).map_err(|e| {
            StorageError::corrupt(&key, format!("cannot read its blob {:016x}: {e}", rec.blob))
        })?;
        models.push(crate::StoredModel::loaded(&name, &key, rec, blob)?);
    }
    Ok(models)
}

/// The blob ids of every file a map's manifest names: segments and brick files.
pub fn files_of(state: &MapState) -> Vec<u64> {
    let mut ids: Vec<u64> = state
        .objects
        .durable()
        .filter_map(SegRef::durable_id)
        .collect();
    ids.extend(state.brick_files.iter().map(|f| f.id()));
    ids
}

/// The manifest record of a map's current files.
pub fn manifest_of(state: &MapState) -> ManifestRecord {
    ManifestRecord {
        segments: state
            .objects
            .durable()
            .map(|s| SegmentMeta {
                id: s.file.id(),
                rows: s.len() as u64,
                bytes: s.file.blob().len() as u64,
            })
            .collect(),
        brick_files: state
            .brick_files
            .iter()
            .map(|f| BrickFileMeta {
                id: f.id(),
                entries: f.entries().count() as u64,
                bytes: f.len() as u64,
            })
            .collect(),
    }
}

/// Checks the store's format version; marks an empty store with this build's.
fn check_format(backend: &dyn Backend) -> Result<()> {
    let key = keys::global(FORMAT_KEY);
    match backend.get(&key)? {
        Some(bytes) => {
            let format: u32 = codec::decode(&key, &bytes)?;
            if format != FORMAT {
                return Err(StorageError::corrupt(
                    &key,
                    format!("store format {format}; this build reads format {FORMAT}"),
                )
                .into());
            }
        }
        None => {
            // Every store that ever held a map has this key.
            if backend.get(&keys::global(NEXT_MAP_ID))?.is_some() {
                return Err(StorageError::corrupt(
                    &key,
                    format!(
                        "no format version: the store was written by an older tensormap (format 1); this build reads format {FORMAT}"
                    ),
                )
                .into());
            }
            let mut batch = Batch::default();
            batch.put(key, codec::encode(&FORMAT)?);
            backend.commit(batch)?;
        }
    }
    Ok(())
}

fn load_map(backend: &Arc<dyn Backend>, name: &str, rec: CatalogRecord) -> Result<MapState> {
    let mut state = MapState::new(rec.map_id, name, rec.config);
    let id = rec.map_id;
    let config = state.config.clone();
    let meta_key = keys::map_meta(id);
    let meta: MapMetaRecord = match backend.get(&meta_key)? {
        Some(bytes) => codec::decode(&meta_key, &bytes)?,
        None => return Err(StorageError::corrupt(&meta_key, "missing map meta record").into()),
    };
    if meta.journal_start > meta.journal_next {
        return Err(StorageError::corrupt(&meta_key, "journal start after its end").into());
    }
    let manifest_key = keys::manifest(id);
    let manifest: ManifestRecord = match backend.get(&manifest_key)? {
        Some(bytes) => codec::decode(&manifest_key, &bytes)?,
        None => return Err(StorageError::corrupt(&manifest_key, "missing manifest").into()),
    };
    let mut durable = load_segments(backend.as_ref(), id, &config, &manifest)?;
    state.brick_files = load_brick_files(backend.as_ref(), id, &config, &manifest)?;
    let brick_files = state.brick_files.clone();
    load_dead(backend.as_ref(), id, &mut durable)?;
    let volatile = load_volatile(backend.as_ref(), id, &config)?;
    let by_id: HashMap<u64, Arc<SegmentFile>> = durable
        .iter()
        .filter(|s| meta.journal_segments.contains(&s.file.id()))
        .map(|s| (s.file.id(), s.file.clone()))
        .collect();
    if let Some(missing) = meta
        .journal_segments
        .iter()
        .find(|s| !by_id.contains_key(s))
    {
        return Err(StorageError::corrupt(
            &meta_key,
            format!("the journal names segment {missing:016x}, which the manifest does not"),
        )
        .into());
    }
    state.objects = ObjectIndex::loaded(config.channels as usize, durable, volatile);
    state.objects.user = crate::user::load(backend.as_ref(), id)?;
    let loader_backend = backend.clone();
    let loader_meta = meta.clone();
    state.field = FieldSlot::Lazy(Arc::new(LazyField::new(Box::new(move || {
        journal::load_field(
            loader_backend.as_ref(),
            id,
            config.clone(),
            &loader_meta,
            &brick_files,
            &by_id,
        )
    }))));
    state.journal = meta;
    Ok(state)
}

/// Maps and checks the segment files of a manifest.
fn load_segments(
    backend: &dyn Backend,
    map_id: u32,
    config: &MapConfig,
    manifest: &ManifestRecord,
) -> Result<Vec<SegRef>> {
    let mut segs = Vec::with_capacity(manifest.segments.len());
    let mut seen = BTreeSet::new();
    for m in &manifest.segments {
        let bad = |offset: u64, reason: String| StorageError::CorruptSegment {
            segment: m.id,
            offset,
            reason,
        };
        if !seen.insert(m.id) {
            return Err(bad(0, "named twice in the manifest".into()).into());
        }
        let blob = backend
            .get_blob(m.id)
            .map_err(|e| bad(0, format!("cannot read the file the manifest names: {e}")))?;
        if blob.len() as u64 != m.bytes {
            return Err(bad(
                blob.len() as u64,
                format!(
                    "the file holds {} bytes, the manifest says {}",
                    blob.len(),
                    m.bytes
                ),
            )
            .into());
        }
        let file = SegmentFile::open(m.id, blob)?;
        if file.rows() as u64 != m.rows
            || file.map_id() != map_id
            || file.channels() != config.channels as usize
        {
            return Err(bad(
                0,
                format!(
                    "holds {} rows of {} channels for map {}, the manifest expects {} rows of {} for map {map_id}",
                    file.rows(),
                    file.channels(),
                    file.map_id(),
                    m.rows,
                    config.channels
                ),
            )
            .into());
        }
        segs.push(SegRef::new(file, Home::Durable(m.id)));
    }
    Ok(segs)
}

/// Maps and checks the directories of a manifest's brick files.
fn load_brick_files(
    backend: &dyn Backend,
    map_id: u32,
    config: &MapConfig,
    manifest: &ManifestRecord,
) -> Result<Vec<Arc<BrickFile>>> {
    let mut files = Vec::with_capacity(manifest.brick_files.len());
    for m in &manifest.brick_files {
        let bad = |reason: String| StorageError::CorruptSegment {
            segment: m.id,
            offset: 0,
            reason: format!("brick file: {reason}"),
        };
        let blob = backend
            .get_blob(m.id)
            .map_err(|e| bad(format!("cannot read the file the manifest names: {e}")))?;
        if blob.len() as u64 != m.bytes {
            return Err(bad(format!(
                "the file holds {} bytes, the manifest says {}",
                blob.len(),
                m.bytes
            ))
            .into());
        }
        let file = BrickFile::open(m.id, blob, map_id, config.channels as usize, config.dtype)?;
        if file.entries().count() as u64 != m.entries {
            return Err(bad(format!(
                "{} entries, the manifest says {}",
                file.entries().count(),
                m.entries
            ))
            .into());
        }
        files.push(Arc::new(file));
    }
    Ok(files)
}

/// Reads the dead-slot chunks of a map into its durable segments.
fn load_dead(backend: &dyn Backend, map_id: u32, segs: &mut [SegRef]) -> Result<()> {
    let by_id: HashMap<u64, usize> = segs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((s.durable_id()?, i)))
        .collect();
    backend.scan_prefix(
        &keys::keyspace_prefix(map_id, Keyspace::Dead),
        &mut |k, v| {
            let (seg, chunk) = keys::parse_dead(k)
                .filter(|_| k.len() == keys::dead(map_id, 0, 0).len())
                .ok_or_else(|| StorageError::corrupt(k, "malformed dead-slot key"))?;
            let Some(&i) = by_id.get(&seg) else {
                return Err(StorageError::corrupt(
                    k,
                    "names a segment the manifest does not",
                ));
            };
            let s = &mut segs[i];
            let words = std::sync::Arc::make_mut(&mut s.dead);
            let first = chunk as usize * DEAD_CHUNK_WORDS;
            let payload = codec::unframe(k, v)?;
            let n = payload.len() / 8;
            if payload.len() % 8 != 0 || n > DEAD_CHUNK_WORDS || first + n > words.len() {
                return Err(StorageError::corrupt(
                    k,
                    "dead-slot chunk of the wrong size",
                ));
            }
            for (w, b) in words[first..first + n]
                .iter_mut()
                .zip(payload.chunks_exact(8))
            {
                let mut x = [0u8; 8];
                x.copy_from_slice(b);
                *w = u64::from_le_bytes(x);
            }
            Ok(())
        },
    )?;
    for s in segs.iter_mut() {
        let rows = s.len();
        let tail = rows % 64;
        if tail != 0 && s.dead.last().is_some_and(|w| w >> tail != 0) {
            return Err(StorageError::CorruptSegment {
                segment: s.file.id(),
                offset: 0,
                reason: "its dead-slot bitset marks slots past its rows".into(),
            }
            .into());
        }
        s.dead_count = s.dead.iter().map(|w| w.count_ones() as usize).sum();
    }
    Ok(())
}

/// The words of chunk `chunk` of a dead-slot bitset, framed for the store.
pub fn dead_chunk(words: &[u64], chunk: usize) -> Vec<u8> {
    let first = chunk * DEAD_CHUNK_WORDS;
    let end = (first + DEAD_CHUNK_WORDS).min(words.len());
    let mut payload = Vec::with_capacity((end - first) * 8);
    for w in &words[first..end] {
        payload.extend_from_slice(&w.to_le_bytes());
    }
    codec::frame(&payload)
}

/// The map's object records (rows of recent small commits), as one volatile segment.
fn load_volatile(
    backend: &dyn Backend,
    map_id: u32,
    config: &MapConfig,
) -> Result<Option<SegmentFile>> {
    let prefix = keys::keyspace_prefix(map_id, Keyspace::Objects);
    let mut rows = crate::index::RecordRows::default();
    backend.scan_prefix(&prefix, &mut |k, v| {
        let id = std::str::from_utf8(&k[prefix.len()..])
            .map_err(|_| StorageError::corrupt(k, "object id is not UTF-8"))?;
        let rec: ObjectRecord = codec::decode(k, v)?;
        check_record(id, &(&rec).into(), config).map_err(|e| StorageError::corrupt(k, e))?;
        rows.push(id, rec);
        Ok(())
    })?;
    if tensormap_storage::segment::Rows::is_empty(&rows) {
        return Ok(None);
    }
    Ok(Some(segment::build(
        map_id,
        config.channels as usize,
        &rows,
        0,
    )?))
}
