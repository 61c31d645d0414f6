//! The records stored under each keyspace (see [`crate::keys`]).

use crate::MapConfig;

/// One entry of the map catalog: key `catalog/<name>`.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct CatalogRecord {
    /// The map's numeric id, the prefix of all its keys.
    pub map_id: u32,
    /// Its settings.
    pub config: MapConfig,
}

/// One stored model: key `model/<name>`. Its serialized form (a `.vllm` file's bytes
/// for kind `vllm`) is blob `blob`, written before the commit that stores this record.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct ModelRecord {
    /// What reads the bytes: `vllm`, later `bert`, ... (open: the engine does not know them).
    pub kind: String,
    /// The blob holding the model's bytes.
    pub blob: u64,
    /// The blob's length in bytes.
    pub bytes: u64,
    /// Parameters (weights) of the model.
    pub parameters: u64,
    /// Width of the vectors its embed function returns.
    pub output_width: u32,
    /// Training steps it has taken.
    pub steps: u64,
    /// Its last training loss, if it was trained.
    pub loss: Option<f32>,
}

/// One object: key `map/<id>/objects/<object id>`.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct ObjectRecord {
    /// `type` in the language.
    pub kind: String,
    /// World position.
    pub position: [f32; 3],
    /// `channels` values.
    pub embedding: Vec<f32>,
    /// In [0, 1].
    pub confidence: f32,
}

/// One splat: an object's embedding added to (or removed from) the field at its position.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Splat {
    /// `true` adds the splat, `false` removes it.
    pub add: bool,
    /// The object's position when the splat was made.
    pub position: [f32; 3],
    /// The embedding that was splatted.
    pub embedding: Vec<f32>,
}

/// One change to the field, as the journal records it.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub enum JournalEntry {
    /// One object's splat, with its data (objects of small commits, whose rows are records).
    Splat(Splat),
    /// Every row of segment `segment` added at once by the bulk splat (a bulk commit: the
    /// rows are in the segment file, so the journal names it instead of copying them).
    AddSegment {
        /// The segment's blob id.
        segment: u64,
    },
    /// The splat of row `slot` of segment `segment` removed (its data is in the file).
    RemoveRow {
        /// The segment's blob id.
        segment: u64,
        /// The row.
        slot: u32,
    },
}

/// Changes made to the field after the last brick checkpoint, in the order they were
/// applied: key `map/<id>/journal/<seq>`. Replayed in `seq` order when the field is loaded.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct JournalRecord {
    /// The entries of this record, in application order.
    pub entries: Vec<JournalEntry>,
}

/// A [`JournalRecord`] borrowed for encoding: the same bytes, without copying the entries.
#[derive(Debug, Clone, Copy, PartialEq, bincode::Encode)]
pub struct JournalRecordRef<'a> {
    /// The entries of this record, in application order.
    pub entries: &'a [JournalEntry],
}

/// Per-map bookkeeping: key `map/<id>/meta`.
///
/// Invariant: the journal holds exactly the records `journal_start..journal_next`, together
/// `journal_splats` single-row entries and `journal_bulk` segment entries, and the stored
/// bricks plus those entries replayed in order are the field. Every segment an entry names
/// is in `journal_segments`, and stays in the manifest until the next checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct MapMetaRecord {
    /// First journal sequence number not folded into the stored bricks.
    pub journal_start: u64,
    /// The next sequence number to write.
    pub journal_next: u64,
    /// `Splat` and `RemoveRow` entries in the journal records.
    pub journal_splats: u64,
    /// `AddSegment` entries in the journal records.
    pub journal_bulk: u64,
    /// The segments journal entries name, ascending.
    pub journal_segments: Vec<u64>,
}

/// A map's files, oldest first: key `map/<id>/manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct ManifestRecord {
    /// The segments of its object index.
    pub segments: Vec<SegmentMeta>,
    /// The brick files of its field, oldest first (a later one's bricks replace an earlier one's).
    pub brick_files: Vec<BrickFileMeta>,
}

/// One brick file of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BrickFileMeta {
    /// Its blob id.
    pub id: u64,
    /// Its entries.
    pub entries: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// One segment file of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SegmentMeta {
    /// Its blob id (file `segments/<id>.seg`).
    pub id: u64,
    /// Rows in it, dead ones included.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}
