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

/// Splats applied to the field after the last brick checkpoint, in the order they were
/// applied: key `map/<id>/journal/<seq>`. Replayed in `seq` order on open.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct JournalRecord {
    /// The splats of this record, in application order.
    pub splats: Vec<Splat>,
}

/// A [`JournalRecord`] borrowed for encoding: the same bytes, without copying the splats.
#[derive(Debug, Clone, Copy, PartialEq, bincode::Encode)]
pub struct JournalRecordRef<'a> {
    /// The splats of this record, in application order.
    pub splats: &'a [Splat],
}

/// Per-map bookkeeping: key `map/<id>/meta`.
///
/// Invariant: the journal holds exactly the records `journal_start..journal_next`, together
/// `journal_splats` splats, and the stored bricks plus those splats replayed in order are
/// the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct MapMetaRecord {
    /// First journal sequence number not folded into the stored bricks.
    pub journal_start: u64,
    /// The next sequence number to write.
    pub journal_next: u64,
    /// Splats in the journal records.
    pub journal_splats: u64,
}
