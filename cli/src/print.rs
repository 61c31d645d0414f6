//! Printing results: `table` (comfy-table, for people), `csv` and `json` (for programs,
//! written straight into the output buffer: no string per row or per field; the JSON
//! encoder is the library's [`tensormap::json`], shared with `tmap serve`).

use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, Table};
use tensormap::{format_f32, format_number, QueryResult, Value};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table and a row count; a status line for statements without rows.
    Table,
    /// A header line, then one line per row.
    Csv,
    /// One JSON array of row objects per statement, on one line.
    Json,
}

/// Prints one statement's result in `format`.
pub fn result(out: &mut impl Write, r: &QueryResult, format: Format) -> io::Result<()> {
    match format {
        Format::Table => table(out, r),
        // Statements without rows print nothing in csv and json.
        _ if !r.has_rows() => Ok(()),
        Format::Csv => csv(out, r),
        Format::Json => json(out, r),
    }
}

fn table(out: &mut impl Write, r: &QueryResult) -> io::Result<()> {
    if !r.has_rows() {
        return writeln!(out, "{}", r.status);
    }
    let mut table = Table::new();
    table.load_preset(presets::ASCII_MARKDOWN);
    table.set_header(r.columns.clone());
    for row in &r.rows {
        table.add_row(row.iter().map(|v| {
            let cell = comfy_table::Cell::new(v.to_string());
            if matches!(v, Value::Number(_)) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    writeln!(out, "{table}")?;
    let n = r.rows.len();
    writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" })
}

/// A csv field: quoted when it holds a comma, a quote or a line end.
fn csv_text(out: &mut impl Write, s: &str) -> io::Result<()> {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.write_all(b"\"")?;
        out.write_all(s.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(s.as_bytes())
    }
}

fn vector(out: &mut impl Write, v: &[f32], null: &str) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.write_all(b", ")?;
        }
        if x.is_finite() {
            out.write_all(format_f32(*x).as_bytes())?;
        } else {
            out.write_all(null.as_bytes())?;
        }
    }
    out.write_all(b"]")
}

/// A number as [`format_number`] writes it; a whole one (a count, an integer column)
/// straight into `out`, without a string.
fn number(out: &mut impl Write, n: f64) -> io::Result<()> {
    // `format_number`'s own rule for the numbers it prints as integers.
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        write!(out, "{}", n as i64)
    } else {
        out.write_all(format_number(n).as_bytes())
    }
}

fn csv(out: &mut impl Write, r: &QueryResult) -> io::Result<()> {
    for (i, c) in r.columns.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        csv_text(out, c)?;
    }
    out.write_all(b"\n")?;
    for row in &r.rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            match v {
                Value::Null => {}
                Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" })?,
                Value::Number(n) => number(out, *n)?,
                Value::Text(s) => csv_text(out, s)?,
                Value::Vector(x) => {
                    // Vectors hold commas: always quoted.
                    out.write_all(b"\"")?;
                    vector(out, x, "inf")?;
                    out.write_all(b"\"")?;
                }
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn json(out: &mut impl Write, r: &QueryResult) -> io::Result<()> {
    tensormap::json::write_rows(out, r)?;
    out.write_all(b"\n")
}
