//! A value as a hash key (DISTINCT, set operations, `IN (SELECT ...)`, the cache of
//! correlated subqueries): equal keys for values that compare equal, NULL equal to NULL
//! (as DISTINCT and UNION treat it).

use std::sync::Arc;

use tensormap_engine::Value;

/// A value as a hash key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number by its bits (-0.0 as 0.0).
    Number(u64),
    /// Text.
    Text(Arc<str>),
    /// A vector by its elements' bits.
    Vector(Vec<u32>),
}

impl Key {
    /// The key of `v`.
    pub fn of(v: &Value) -> Key {
        // -0.0 and 0.0 are one number.
        let bits = |x: f64| if x == 0.0 { 0 } else { x.to_bits() };
        match v {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Number(x) => Key::Number(bits(*x)),
            Value::Text(s) => Key::Text(s.clone()),
            Value::Vector(x) => Key::Vector(x.iter().map(|f| f.to_bits()).collect()),
        }
    }

    /// The key of a row.
    pub fn row(values: &[Value]) -> Vec<Key> {
        values.iter().map(Key::of).collect()
    }
}
