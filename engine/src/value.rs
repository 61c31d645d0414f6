//! `Value`: what a query expression, a column or a user function produces.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// A value of the query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (the average of no rows, say).
    Null,
    /// A boolean (comparisons, `WITHIN`).
    Bool(bool),
    /// A number. Values read from f32 storage are widened exactly.
    Number(f64),
    /// Text.
    Text(Arc<str>),
    /// A vector of f32 (positions, embeddings, voxel values).
    Vector(Arc<[f32]>),
}

impl Value {
    /// A text value.
    pub fn text(s: &str) -> Self {
        Value::Text(Arc::from(s))
    }

    /// A vector value.
    pub fn vector(v: &[f32]) -> Self {
        Value::Vector(Arc::from(v))
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::Vector(_) => "vector",
        }
    }

    /// Whether the value counts as true in a WHERE clause.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::Text(_) => 3,
            Value::Vector(_) => 4,
        }
    }

    /// A total order: null < booleans < numbers < text < vectors; numbers by value
    /// (`total_cmp`), text by bytes, vectors element by element.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Number(a), Value::Number(b)) => a.total_cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Vector(a), Value::Vector(b)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len())),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Formats a number compactly: integers without a fraction, values that came from f32
/// storage with f32's shortest form (`0.1`, not `0.10000000149011612`).
pub fn format_number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if (v as f32) as f64 == v {
        format!("{}", v as f32)
    } else {
        format!("{v}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Text(s) => f.write_str(s),
            Value::Vector(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&format_number(*x as f64))?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_compactly() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(-3.5), "-3.5");
        assert_eq!(format_number(0.1f32 as f64), "0.1");
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(Value::vector(&[0.25, -1.0]).to_string(), "[0.25, -1]");
    }

    #[test]
    fn order_is_total_across_types() {
        let vals = [
            Value::Null,
            Value::Bool(true),
            Value::Number(2.0),
            Value::text("a"),
            Value::vector(&[1.0]),
        ];
        for w in vals.windows(2) {
            assert_eq!(w[0].total_cmp(&w[1]), Ordering::Less);
        }
    }
}
