//! Objects: what a map indexes, and the rules a new or updated object must pass (written
//! once, in tensormap-storage's `rules`, which the snapshot format checks too).

use tensormap_storage::{MapConfig, ObjectRecord};

use crate::{Error, Result};

pub(crate) use tensormap_storage::rules::{check_position, check_vector};
pub use tensormap_storage::rules::{MAX_COMPONENT, MAX_TEXT_BYTES};

/// An object embedded in a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Unique in its map.
    pub id: String,
    /// `type` in TensorQL.
    pub kind: String,
    /// World position, inside the map's bounds.
    pub position: [f32; 3],
    /// `channels` values.
    pub embedding: Vec<f32>,
    /// In [0, 1]; 1.0 unless given.
    pub confidence: f32,
}

impl Object {
    /// An object with confidence 1.0.
    pub fn new(
        id: impl Into<String>,
        kind: impl Into<String>,
        position: [f32; 3],
        embedding: Vec<f32>,
    ) -> Self {
        Object {
            id: id.into(),
            kind: kind.into(),
            position,
            embedding,
            confidence: 1.0,
        }
    }

    /// The same object with `confidence`.
    pub fn with_confidence(mut self, confidence: f32) -> Self {
        self.confidence = confidence;
        self
    }

    /// Checks the object against the rules of a map of `config` (docs/LANGUAGE.md,
    /// "Objects").
    pub fn validate(&self, config: &MapConfig) -> Result<()> {
        check_record(&self.id, &self.to_record_ref(), config).map_err(|reason| {
            Error::InvalidObject {
                id: self.id.clone(),
                reason,
            }
        })
    }

    fn to_record_ref(&self) -> RecordRef<'_> {
        RecordRef {
            kind: &self.kind,
            position: &self.position,
            embedding: &self.embedding,
            confidence: self.confidence,
        }
    }

    pub(crate) fn to_record(&self) -> ObjectRecord {
        ObjectRecord {
            kind: self.kind.clone(),
            position: self.position,
            embedding: self.embedding.clone(),
            confidence: self.confidence,
        }
    }
}

/// The fields of an object, borrowed from an `Object` or a stored record.
pub(crate) struct RecordRef<'a> {
    pub kind: &'a str,
    pub position: &'a [f32; 3],
    pub embedding: &'a [f32],
    pub confidence: f32,
}

impl<'a> From<&'a ObjectRecord> for RecordRef<'a> {
    fn from(r: &'a ObjectRecord) -> Self {
        RecordRef {
            kind: &r.kind,
            position: &r.position,
            embedding: &r.embedding,
            confidence: r.confidence,
        }
    }
}

/// The rules of one object of a map of `config` (tensormap-storage's `rules`: the one
/// place they are written; the snapshot reader and writer check the same).
pub(crate) fn check_record(
    id: &str,
    r: &RecordRef<'_>,
    config: &MapConfig,
) -> std::result::Result<(), String> {
    tensormap_storage::rules::check_object(
        id,
        r.kind,
        r.position,
        r.embedding,
        r.confidence,
        config,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_of_the_language_hold() {
        let cfg = MapConfig {
            channels: 2,
            ..Default::default()
        };
        let ok = Object::new("a", "cube", [0.0, 500.0, -500.0], vec![1.0, 2.0]);
        ok.validate(&cfg).unwrap();
        let bad = [
            Object {
                id: String::new(),
                ..ok.clone()
            },
            Object {
                position: [f32::NAN, 0.0, 0.0],
                ..ok.clone()
            },
            Object {
                position: [0.0, 500.1, 0.0],
                ..ok.clone()
            },
            Object {
                position: [0.0, 0.0, f32::NEG_INFINITY],
                ..ok.clone()
            },
            Object {
                embedding: vec![1.0],
                ..ok.clone()
            },
            Object {
                embedding: vec![1.0, f32::NAN],
                ..ok.clone()
            },
            Object {
                embedding: vec![1.0, 1e30],
                ..ok.clone()
            },
            ok.clone().with_confidence(1.5),
            ok.clone().with_confidence(-0.1),
            ok.clone().with_confidence(f32::NAN),
            Object {
                kind: "x".repeat(2000),
                ..ok.clone()
            },
        ];
        for o in bad {
            assert!(o.validate(&cfg).is_err(), "{o:?} accepted");
        }
    }
}
