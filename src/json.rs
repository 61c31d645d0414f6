//! JSON output of query results, written straight into a byte sink (no string per row or
//! per field). The shell's `--format json` and the HTTP server's `POST /query` both write
//! rows with it, so the two agree byte for byte.
//!
//! Numbers follow the shell's rules (docs/LANGUAGE.md, "The shell"): stored f32 values print as the
//! shortest decimal that reads back as the same f32, computed numbers with at most 15
//! significant digits. JSON has no NaN or infinity: a non-finite number is `null`.

use std::io::{self, Write};

#[cfg(doc)]
use crate::format_f32;
use crate::{format_number, QueryResult, Value};

/// Writes `s` as a JSON string (quoted and escaped).
pub fn write_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

/// Writes a vector as a JSON array of numbers (a non-finite part as `null`), `, ` between
/// them as the shell always printed vectors.
pub fn write_f32s(out: &mut impl Write, v: &[f32]) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.write_all(b", ")?;
        }
        write_f32(out, *x)?;
    }
    out.write_all(b"]")
}

/// Writes a stored f32 as its shortest decimal (`null` if not finite): the text of
/// [`format_f32`], without its `String` (the server writes millions of these a second).
pub fn write_f32(out: &mut impl Write, x: f32) -> io::Result<()> {
    if !x.is_finite() {
        return out.write_all(b"null");
    }
    // As format_f32 (engine/src/value.rs): below 2^24 an integral f32 is exact and its
    // digits are its shortest form; otherwise the shortest round-trip digits, without a
    // trailing `.0` on the mantissa nor a `+` on the exponent.
    if x == x.trunc() && x.abs() < 16_777_216.0 {
        return write!(out, "{}", x as i64);
    }
    let mut buf = zmij::Buffer::new();
    let s = buf.format_finite(x).as_bytes();
    match s.iter().position(|&c| c == b'e') {
        Some(i) => {
            let (m, e) = (&s[..i], &s[i + 1..]);
            out.write_all(m.strip_suffix(b".0").unwrap_or(m))?;
            out.write_all(b"e")?;
            out.write_all(e.strip_prefix(b"+").unwrap_or(e))
        }
        None => out.write_all(s.strip_suffix(b".0").unwrap_or(s)),
    }
}

/// Writes one value: `null`, `true`/`false`, a number, a string or an array of numbers.
pub fn write_value(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Number(n) if n.is_finite() => out.write_all(format_number(*n).as_bytes()),
        Value::Number(_) => out.write_all(b"null"),
        Value::Text(s) => write_str(out, s),
        Value::Vector(x) => write_f32s(out, x),
    }
}

/// Writes a result's rows as one JSON array of row objects, the column names as keys
/// (`[{"id":"a","d":1.5},...]`, no line end). A result without rows is `[]`.
pub fn write_rows(out: &mut impl Write, r: &QueryResult) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, row) in r.rows.iter().enumerate() {
        out.write_all(if i > 0 { b",{" } else { b"{" })?;
        for (j, (c, v)) in r.columns.iter().zip(row).enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write_str(out, c)?;
            out.write_all(b":")?;
            write_value(out, v)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format_f32;

    #[test]
    fn write_f32_writes_what_format_f32_formats() {
        let mut special = vec![
            0.0f32,
            -0.0,
            1.0,
            -3.0,
            0.83,
            0.1,
            1e-7,
            1.5e-45,
            3.4e38,
            -2.5e20,
            16_777_216.0,
            16_777_217.0,
            1e10,
            123456.78,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
        ];
        // Bit patterns across the whole range, finite ones only.
        let mut bits = 0x9e37_79b9u32;
        for _ in 0..200_000 {
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            special.push(f32::from_bits(bits));
        }
        for x in special.into_iter().filter(|x| x.is_finite()) {
            let mut out = Vec::new();
            write_f32(&mut out, x).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), format_f32(x), "{x:e}");
        }
    }

    #[test]
    fn rows_are_an_array_of_objects_and_non_finite_numbers_are_null() {
        let r = QueryResult {
            columns: vec!["id".into(), "v".into(), "n".into(), "x".into()],
            rows: vec![
                vec![
                    Value::text("a\"b"),
                    Value::vector(&[0.83, f32::NAN]),
                    Value::Number(0.765),
                    Value::Null,
                ],
                vec![
                    Value::text("c"),
                    Value::vector(&[]),
                    Value::Number(f64::INFINITY),
                    Value::Bool(true),
                ],
            ],
            status: "SELECT 2".into(),
        };
        let mut out = Vec::new();
        write_rows(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"[{"id":"a\"b","v":[0.83, null],"n":0.765,"x":null},{"id":"c","v":[],"n":null,"x":true}]"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["id"], "a\"b");
    }
}
