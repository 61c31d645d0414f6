//! The rules every object of a map obeys (docs/LANGUAGE.md, "Objects"): one place for
//! them, below the engine, so that the engine (inserts, updates, records read back) and the
//! snapshot reader and writer check the same things with the same words.
//!
//! An object has an id of 1 to [`MAX_TEXT_BYTES`] bytes, a type of at most that many, a
//! position that is finite and inside the map's `[-bounds, bounds]` on every axis, an
//! embedding of exactly `channels` finite values of magnitude at most [`MAX_COMPONENT`],
//! and a confidence in [0, 1]. Each check returns the reason a value breaks its rule,
//! starting with the field it is about (`id`, `type`, `position x`, `embedding`,
//! `confidence`), which callers turn into their errors.

use crate::MapConfig;

/// The longest id or type accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;

/// The largest magnitude accepted in an embedding or query vector: far beyond any real
/// embedding, small enough that no sum or dot product of the engine overflows f32.
pub const MAX_COMPONENT: f32 = 1e15;

/// An id must be 1..=[`MAX_TEXT_BYTES`] bytes.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "id must be 1..={MAX_TEXT_BYTES} bytes, found {}",
            id.len()
        ));
    }
    Ok(())
}

/// A type must be at most [`MAX_TEXT_BYTES`] bytes.
pub fn check_kind(kind: &str) -> Result<(), String> {
    if kind.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "type must be at most {MAX_TEXT_BYTES} bytes, found {}",
            kind.len()
        ));
    }
    Ok(())
}

/// A position must be finite and inside `[-bounds, bounds]` on every axis.
pub fn check_position(p: &[f32; 3], config: &MapConfig) -> Result<(), String> {
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

/// A vector (`what`: an embedding, a query) must have `len` finite values of magnitude at
/// most [`MAX_COMPONENT`].
pub fn check_vector(what: &str, v: &[f32], len: usize) -> Result<(), String> {
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

/// A confidence must be in [0, 1].
pub fn check_confidence(c: f32) -> Result<(), String> {
    if !(c.is_finite() && (0.0..=1.0).contains(&c)) {
        return Err(format!("confidence must be in [0, 1], found {c}"));
    }
    Ok(())
}

/// Every rule of one object of a map of `config`, in the order above.
pub fn check_object(
    id: &str,
    kind: &str,
    position: &[f32; 3],
    embedding: &[f32],
    confidence: f32,
    config: &MapConfig,
) -> Result<(), String> {
    check_id(id)?;
    check_kind(kind)?;
    check_position(position, config)?;
    check_vector("embedding", embedding, config.channels as usize)?;
    check_confidence(confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_field() {
        let cfg = MapConfig {
            channels: 2,
            ..Default::default()
        };
        let ok = |id: &str, kind: &str, p: [f32; 3], e: &[f32], c: f32| {
            check_object(id, kind, &p, e, c, &cfg)
        };
        ok("a", "cube", [0.0, 500.0, -500.0], &[1.0, 2.0], 1.0).unwrap();
        for (r, starts) in [
            (ok("", "", [0.0; 3], &[0.0; 2], 1.0), "id must be"),
            (
                ok("a", &"x".repeat(2000), [0.0; 3], &[0.0; 2], 1.0),
                "type must be",
            ),
            (
                ok("a", "", [f32::NAN, 0.0, 0.0], &[0.0; 2], 1.0),
                "position x is not finite",
            ),
            (
                ok("a", "", [0.0, 500.1, 0.0], &[0.0; 2], 1.0),
                "position y = 500.1 is outside",
            ),
            (ok("a", "", [0.0; 3], &[0.0], 1.0), "embedding has 1 values"),
            (ok("a", "", [0.0; 3], &[0.0, 1e30], 1.0), "embedding[1] = "),
            (
                ok("a", "", [0.0; 3], &[0.0; 2], 1.5),
                "confidence must be in [0, 1]",
            ),
            (
                ok("a", "", [0.0; 3], &[0.0; 2], f32::NAN),
                "confidence must be",
            ),
        ] {
            let e = r.unwrap_err();
            assert!(e.starts_with(starts), "{e}");
        }
    }
}
