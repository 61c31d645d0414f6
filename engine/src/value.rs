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
    /// A number. Values read from f32 storage are widened as their shortest decimal
    /// ([`widen_f32`]); computed ones print with at most 15 significant digits.
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

/// The f64 a number stored as f32 reads as: the shortest decimal that reads back as the
/// same f32, taken as an f64 (`0.83f32` reads as `0.83`, not `0.8299999833106995`).
///
/// This is how every f32 of the store (positions, confidences, voxel coordinates, attention
/// weights) enters an expression, so `confidence = 0.83` holds for a confidence inserted as
/// 0.83, sums and averages are those of the decimals the user wrote (the AVG of 0.7 and
/// 0.83 is 0.765), and printing shows the decimal. Converting back to f32 gives the same f32.
pub fn widen_f32(x: f32) -> f64 {
    // Integers below 2^24 are exact in both types: the common case, with no formatting.
    if x == x.trunc() && x.abs() < 16_777_216.0 {
        return x as f64;
    }
    if !x.is_finite() {
        return x as f64;
    }
    let mut buf = zmij::Buffer::new();
    buf.format_finite(x).parse().unwrap_or(x as f64)
}

/// Formats a computed number as sqlite3 prints a REAL, with at most 15 significant digits
/// (`0.1 + 0.2` prints `0.3`), integers without a fraction. Numbers read from f32 storage
/// were widened by [`widen_f32`], so they print as their shortest f32 decimal.
pub fn format_number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let mut buf = zmij::Buffer::new();
    let shortest = buf.format_finite(v);
    if significant_digits(shortest) <= 15 {
        return tidy(shortest);
    }
    // Round to 15 significant digits; the shortest form of that f64 has at most 15.
    let rounded: f64 = format!("{v:.14e}").parse().unwrap_or(v);
    if rounded == rounded.trunc() && rounded.abs() < 1e15 {
        return format!("{}", rounded as i64);
    }
    let mut buf = zmij::Buffer::new();
    tidy(buf.format_finite(rounded))
}

/// Formats an f32 as the shortest decimal that reads back as the same f32 (vector elements).
pub fn format_f32(x: f32) -> String {
    // Below 2^24 an integral f32 is exact and its digits are its shortest form.
    if x == x.trunc() && x.abs() < 16_777_216.0 {
        return format!("{}", x as i64);
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let mut buf = zmij::Buffer::new();
    tidy(buf.format_finite(x))
}

/// Digits of a decimal (the formatter's) from the first non-zero one to the last non-zero one
/// before any exponent.
fn significant_digits(s: &str) -> usize {
    let mantissa = s.split(['e', 'E']).next().unwrap_or(s);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let first = digits.iter().position(|d| *d != b'0');
    let last = digits.iter().rposition(|d| *d != b'0');
    match (first, last) {
        (Some(a), Some(b)) => b - a + 1,
        _ => 1,
    }
}

/// The formatter may write `1.0e+20` and `100.0`; we print `1e20` and `100`.
fn tidy(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => format!(
            "{}e{}",
            m.strip_suffix(".0").unwrap_or(m),
            e.strip_prefix('+').unwrap_or(e)
        ),
        None => s.strip_suffix(".0").unwrap_or(s).to_string(),
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
                    f.write_str(&format_f32(*x))?;
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
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number((0.7 + 0.83) / 2.0), "0.765");
        assert_eq!(format_number(2700f64.sqrt()), "51.9615242270663");
        assert_eq!(format_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_number(2.9999999999999996), "3");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_number(-1.5e-10), "-1.5e-10");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(
            Value::vector(&[0.25, -1.0, 0.1]).to_string(),
            "[0.25, -1, 0.1]"
        );
        assert_eq!(format_f32(0.33333334), "0.33333334");
        assert_eq!(format_f32(1e14), "1e14");
        assert_eq!(format_f32(-2.5e-7), "-2.5e-7");
    }

    #[test]
    fn f32_values_widen_as_their_shortest_decimal() {
        assert_eq!(widen_f32(0.83), 0.83);
        assert_eq!(widen_f32(0.7), 0.7);
        assert_eq!(
            format_number((widen_f32(0.7) + widen_f32(0.83)) / 2.0),
            "0.765"
        );
        assert_eq!(widen_f32(-3.0), -3.0);
        assert_eq!(widen_f32(1e30), 1e30);
        // Every f32 survives the trip: printed, widened, narrowed.
        let mut x: u32 = 0x3f00_0001;
        for _ in 0..100_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let f = f32::from_bits(x);
            if f.is_finite() {
                assert_eq!(widen_f32(f) as f32, f, "{f:e}");
                assert_eq!(
                    format_number(widen_f32(f)).parse::<f32>().unwrap(),
                    f,
                    "{f:e}"
                );
                assert_eq!(format_f32(f).parse::<f32>().unwrap(), f, "{f:e}");
            }
        }
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
