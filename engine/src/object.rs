//! Objects: what a map indexes, and the rules a new or updated object must pass.

use tensormap_storage::{MapConfig, ObjectRecord};

use crate::{Error, Result};

/// The longest id or type accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;

/// The largest magnitude accepted in an embedding or query vector: far beyond any real
/// embedding, small enough that no sum or dot product of the engine overflows f32.
pub const MAX_COMPONENT: f32 = 1e15;

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

    /// Checks the object against the rules of LANGUAGE.md for a map of `config`.
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

/// The rules of LANGUAGE.md for one object of a map of `config`.
pub(crate) fn check_record(
    id: &str,
    r: &RecordRef<'_>,
    config: &MapConfig,
) -> std::result::Result<(), String> {
    if id.is_empty() || id.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "id must be 1..={MAX_TEXT_BYTES} bytes, found {}",
            id.len()
        ));
    }
    if r.kind.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "type must be at most {MAX_TEXT_BYTES} bytes, found {}",
            r.kind.len()
        ));
    }
    check_position(r.position, config)?;
    check_vector("embedding", r.embedding, config.channels as usize)?;
    if !(r.confidence.is_finite() && (0.0..=1.0).contains(&r.confidence)) {
        return Err(format!(
            "confidence must be in [0, 1], found {}",
            r.confidence
        ));
    }
    Ok(())
}

/// A position must be finite and inside `[-bounds, bounds]` on every axis.
pub(crate) fn check_position(p: &[f32; 3], config: &MapConfig) -> std::result::Result<(), String> {
    for (axis, v) in ["x", "y", "z"].iter().zip(p) {
        if !v.is_finite() {
            return Err(format!("position {axis} is not finite ({v})"));
        }
        if (*v as f64).abs() > config.bounds {
            return Err(format!(
                "position {axis} = {v} is outside the bounds [-{b}, {b}]",
                b = config.bounds
            ));
        }
    }
    Ok(())
}

/// A vector must have `len` finite values of magnitude at most [`MAX_COMPONENT`].
pub(crate) fn check_vector(what: &str, v: &[f32], len: usize) -> std::result::Result<(), String> {
    if v.len() != len {
        return Err(format!(
            "{what} has {} values, the map has {len} channels",
            v.len()
        ));
    }
    if let Some((i, x)) = v
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite() || x.abs() > MAX_COMPONENT)
    {
        return Err(format!(
            "{what}[{i}] = {x} is not a finite value of magnitude at most {MAX_COMPONENT:e}"
        ));
    }
    Ok(())
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
