//! JSON output of query results, written straight into a byte sink (no string per row or
//! per field). The shell's `--format json` and the HTTP server's `POST /query` both write
//! rows with it, so the two agree byte for byte.
//!
//! Numbers follow the shell's rules (LANGUAGE.md, "Shell"): stored f32 values print as the
//! shortest decimal that reads back as the same f32, computed numbers with at most 15
//! significant digits. JSON has no NaN or infinity: a non-finite number is `null`.

use std::io::{self, Write};

use crate::{format_f32, format_number, QueryResult, Value};

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

/// Writes a stored f32 as its shortest decimal (`null` if not finite).
pub fn write_f32(out: &mut impl Write, x: f32) -> io::Result<()> {
    if x.is_finite() {
        out.write_all(format_f32(x).as_bytes())
    } else {
        out.write_all(b"null")
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
