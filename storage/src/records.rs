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

/// One splat applied to the field after the last brick checkpoint:
/// key `map/<id>/journal/<seq>`. Replayed in `seq` order on open.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct JournalRecord {
    /// `true` adds the splat, `false` removes it.
    pub add: bool,
    /// The object's position when the splat was made.
    pub position: [f32; 3],
    /// The embedding that was splatted.
    pub embedding: Vec<f32>,
}

/// Per-map bookkeeping: key `map/<id>/meta`.
///
/// Invariant: the journal holds exactly the sequence numbers `journal_start..journal_next`,
/// and the stored bricks plus those splats replayed in order are the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct MapMetaRecord {
    /// First journal sequence number not folded into the stored bricks.
    pub journal_start: u64,
    /// The next sequence number to write.
    pub journal_next: u64,
}
