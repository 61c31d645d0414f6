//! A map's user columns in COPY's files: how each type is written and read back by every
//! format. They follow the built-in columns, named as the map names them (names match
//! exactly, as the language's column names do).
//!
//! | type | Parquet (Arrow) | CSV | JSON Lines |
//! |---|---|---|---|
//! | TEXT | Utf8 | the text | a string |
//! | REAL | Float64 | a decimal | a number |
//! | INTEGER | Int64 | digits | a number |
//! | BOOLEAN | Boolean | `true` / `false` | `true` / `false` |
//! | TIMESTAMP | Timestamp(µs, "UTC") | `YYYY-MM-DD HH:MM:SS[.ffffff]` | that text |
//! | BLOB | Binary | lowercase hex | a hex string |
//!
//! NULL is a Parquet null, an empty CSV field, a JSON `null`. Every Parquet column is
//! nullable. On import the readers take these and the sensible widenings: any integer
//! or float type for REAL, any integer type for INTEGER (an unsigned one up to
//! `i64::MAX`), any string type, and for TIMESTAMP any Arrow timestamp (one without a
//! zone read as UTC), a date, or text as the language reads it; text is parsed as an
//! INSERT parses the value (`TRUE`/`false`, `2026-05-01T12:30:00Z`, `00ff`, ...).

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, TimeUnit};
use tensormap_engine::user::{self, Cell, ColumnDef, ColumnType};
use tensormap_engine::Value;

/// The Arrow type of a column of type `ty`.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Real => DataType::Float64,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Blob => DataType::Binary,
    }
}

/// The Arrow field of column `def` (nullable, whatever its NOT NULL: a file is data, not
/// the map's rules).
pub fn field(def: &ColumnDef) -> Field {
    Field::new(&def.name, arrow_type(def.ty), true)
}

/// Builds the Arrow array of one user column, a row at a time.
#[derive(Debug)]
pub enum Builder {
    /// TEXT.
    Text(StringBuilder),
    /// REAL.
    Real(Float64Builder),
    /// INTEGER.
    Integer(Int64Builder),
    /// BOOLEAN.
    Boolean(BooleanBuilder),
    /// TIMESTAMP.
    Timestamp(TimestampMicrosecondBuilder),
    /// BLOB.
    Blob(BinaryBuilder),
}

impl Builder {
    /// A builder for a column of type `ty`, room for `n` rows.
    pub fn new(ty: ColumnType, n: usize) -> Self {
        match ty {
            ColumnType::Text => Builder::Text(StringBuilder::with_capacity(n, n * 8)),
            ColumnType::Real => Builder::Real(Float64Builder::with_capacity(n)),
            ColumnType::Integer => Builder::Integer(Int64Builder::with_capacity(n)),
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(n)),
            ColumnType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            ),
            ColumnType::Blob => Builder::Blob(BinaryBuilder::with_capacity(n, n * 8)),
        }
    }

    /// Appends `cell` (a stored cell is of its column's type; any other is a null).
    pub fn push(&mut self, cell: &Cell) {
        match (self, cell) {
            (Builder::Text(b), Cell::Text(s)) => b.append_value(s),
            (Builder::Real(b), Cell::Real(x)) => b.append_value(*x),
            (Builder::Integer(b), Cell::Integer(i)) => b.append_value(*i),
            (Builder::Boolean(b), Cell::Boolean(v)) => b.append_value(*v),
            (Builder::Timestamp(b), Cell::Timestamp(t)) => b.append_value(*t),
            (Builder::Blob(b), Cell::Blob(v)) => b.append_value(v),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Real(b), _) => b.append_null(),
            (Builder::Integer(b), _) => b.append_null(),
            (Builder::Boolean(b), _) => b.append_null(),
            (Builder::Timestamp(b), _) => b.append_null(),
            (Builder::Blob(b), _) => b.append_null(),
        }
    }

    /// The array.
    pub fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Real(mut b) => Arc::new(b.finish()),
            Builder::Integer(mut b) => Arc::new(b.finish()),
            Builder::Boolean(mut b) => Arc::new(b.finish()),
            Builder::Timestamp(mut b) => Arc::new(b.finish()),
            Builder::Blob(mut b) => Arc::new(b.finish()),
        }
    }
}

/// `cell` as CSV text; `None` for NULL (an empty field). TIMESTAMP and BLOB as the
/// language prints them.
pub fn text(cell: &Cell) -> Option<String> {
    Some(match cell {
        Cell::Null => return None,
        Cell::Text(s) => s.clone(),
        Cell::Real(x) => format!("{x:?}"),
        Cell::Integer(i) => i.to_string(),
        Cell::Boolean(b) => b.to_string(),
        Cell::Timestamp(_) | Cell::Blob(_) => match user::cell_value(cell) {
            Value::Text(s) => s.to_string(),
            _ => return None,
        },
    })
}

/// Appends `cell` as a JSON value to `out`.
pub fn push_json(out: &mut Vec<u8>, cell: &Cell) -> serde_json::Result<()> {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Text(s) => serde_json::to_writer(&mut *out, s)?,
        Cell::Real(x) => serde_json::to_writer(&mut *out, x)?,
        Cell::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Cell::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Timestamp(_) | Cell::Blob(_) => match text(cell) {
            Some(s) => serde_json::to_writer(&mut *out, &s)?,
            None => out.extend_from_slice(b"null"),
        },
    }
    Ok(())
}

/// The message of a value that is not of type `ty`.
fn expected(ty: ColumnType, found: impl std::fmt::Display) -> String {
    format!("expected {}, found {found}", ty.name())
}

/// Text `s` as a cell of type `ty`, parsed as INSERT would parse the value (a CSV
/// field; empty is NULL).
pub fn from_text(s: &str, ty: ColumnType) -> Result<Cell, String> {
    if s.is_empty() {
        return Ok(Cell::Null);
    }
    parse(s, ty)
}

/// Text `s` as a cell of type `ty` (an empty BLOB is no bytes).
fn parse(s: &str, ty: ColumnType) -> Result<Cell, String> {
    let shown = || format!("'{}'", crate::rows::clip(s));
    let t = s.trim();
    Ok(match ty {
        ColumnType::Text => Cell::Text(s.to_string()),
        ColumnType::Real => match t.parse::<f64>() {
            Ok(x) if x.is_finite() => Cell::Real(x),
            _ => return Err(expected(ty, shown())),
        },
        ColumnType::Integer => match t.parse::<i64>() {
            Ok(i) => Cell::Integer(i),
            Err(_) => match t.parse::<f64>() {
                Ok(x) => user::to_cell(&Value::Number(x), ty).map_err(|_| expected(ty, shown()))?,
                Err(_) => return Err(expected(ty, shown())),
            },
        },
        ColumnType::Boolean => {
            if t.eq_ignore_ascii_case("true") {
                Cell::Boolean(true)
            } else if t.eq_ignore_ascii_case("false") {
                Cell::Boolean(false)
            } else {
                return Err(expected(ty, shown()));
            }
        }
        ColumnType::Timestamp | ColumnType::Blob => user::to_cell(&Value::text(t), ty)
            .map_err(|m| format!("expected {}: {m}", ty.name()))?,
    })
}

/// A JSON value as a cell of type `ty`, as INSERT would take the value.
pub fn from_json(v: &serde_json::Value, ty: ColumnType) -> Result<Cell, String> {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => return Ok(Cell::Null),
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "an object",
    };
    Ok(match (ty, v) {
        (ColumnType::Text, J::String(s)) => Cell::Text(s.clone()),
        (ColumnType::Real, J::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Cell::Real(x),
            _ => return Err(expected(ty, n)),
        },
        (ColumnType::Integer, J::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Cell::Integer(i),
            (None, Some(x)) => user::to_cell(&Value::Number(x), ty).map_err(|_| expected(ty, n))?,
            _ => return Err(expected(ty, n)),
        },
        (ColumnType::Boolean, J::Bool(b)) => Cell::Boolean(*b),
        (ColumnType::Timestamp | ColumnType::Blob, J::String(s)) => parse(s, ty)?,
        _ => return Err(expected(ty, kind)),
    })
}

/// A getter of one Arrow array's values as cells of one column type.
type Get = fn(&dyn Array, usize) -> Result<Cell, String>;

/// Reads an Arrow column as cells of a user column.
#[derive(Debug)]
pub struct Reader<'a> {
    array: &'a dyn Array,
    get: Get,
}

macro_rules! number {
    ($t:ty, $cell:expr) => {
        (|a: &dyn Array, i: usize| ($cell)(a.as_primitive::<$t>().value(i))) as Get
    };
}

fn real(x: f64) -> Result<Cell, String> {
    if x.is_finite() {
        Ok(Cell::Real(x))
    } else {
        Err(expected(ColumnType::Real, x))
    }
}

fn integer(x: impl TryInto<i64> + Copy + std::fmt::Display) -> Result<Cell, String> {
    x.try_into()
        .map(Cell::Integer)
        .map_err(|_| expected(ColumnType::Integer, format!("{x} (past i64)")))
}

/// The first microsecond of the year 0000 and the last of 9999, UTC: the TIMESTAMPs the
/// language reads and prints (four-digit years, text that sorts in time order).
const TIMESTAMP_RANGE: std::ops::RangeInclusive<i64> =
    -62_167_219_200_000_000..=253_402_300_799_999_999;

fn timestamp(t: Option<i64>) -> Result<Cell, String> {
    match t {
        Some(t) if TIMESTAMP_RANGE.contains(&t) => Ok(Cell::Timestamp(t)),
        _ => Err("a timestamp outside the years 0000 to 9999".to_string()),
    }
}

fn text_of(a: &dyn Array, i: usize) -> Option<&str> {
    if let Some(s) = a.as_string_opt::<i32>() {
        Some(s.value(i))
    } else if let Some(s) = a.as_string_opt::<i64>() {
        Some(s.value(i))
    } else {
        a.as_string_view_opt().map(|s| s.value(i))
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl<'a> Reader<'a> {
    /// A reader of `array` as cells of type `ty`; `Err` says which Arrow types the column
    /// may have (the caller names the file, the row and the column).
    pub fn of(array: &'a dyn Array, ty: ColumnType) -> Result<Self, String> {
        use DataType as D;
        let t = array.data_type();
        let get: Get = match (ty, t) {
            (ColumnType::Text, t) if is_text(t) => {
                |a, i| Ok(Cell::Text(text_of(a, i).unwrap_or_default().to_string()))
            }
            (ColumnType::Real, D::Float64) => number!(Float64Type, real),
            (ColumnType::Real, D::Float32) => number!(Float32Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::Int8) => number!(Int8Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::Int16) => number!(Int16Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::Int32) => number!(Int32Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::Int64) => number!(Int64Type, |x| real(x as f64)),
            (ColumnType::Real, D::UInt8) => number!(UInt8Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::UInt16) => number!(UInt16Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::UInt32) => number!(UInt32Type, |x| real(f64::from(x))),
            (ColumnType::Real, D::UInt64) => number!(UInt64Type, |x| real(x as f64)),
            (ColumnType::Integer, D::Int64) => number!(Int64Type, |x| Ok(Cell::Integer(x))),
            (ColumnType::Integer, D::Int32) => number!(Int32Type, integer),
            (ColumnType::Integer, D::Int16) => number!(Int16Type, integer),
            (ColumnType::Integer, D::Int8) => number!(Int8Type, integer),
            (ColumnType::Integer, D::UInt8) => number!(UInt8Type, integer),
            (ColumnType::Integer, D::UInt16) => number!(UInt16Type, integer),
            (ColumnType::Integer, D::UInt32) => number!(UInt32Type, integer),
            (ColumnType::Integer, D::UInt64) => number!(UInt64Type, integer),
            (ColumnType::Boolean, D::Boolean) => |a, i| Ok(Cell::Boolean(a.as_boolean().value(i))),
            (ColumnType::Timestamp, D::Timestamp(unit, _)) => match unit {
                TimeUnit::Second => {
                    number!(TimestampSecondType, |x: i64| timestamp(
                        x.checked_mul(1_000_000)
                    ))
                }
                TimeUnit::Millisecond => {
                    number!(TimestampMillisecondType, |x: i64| timestamp(
                        x.checked_mul(1000)
                    ))
                }
                TimeUnit::Microsecond => {
                    number!(TimestampMicrosecondType, |x| timestamp(Some(x)))
                }
                TimeUnit::Nanosecond => {
                    number!(TimestampNanosecondType, |x: i64| timestamp(Some(
                        x.div_euclid(1000)
                    )))
                }
            },
            (ColumnType::Timestamp, D::Date32) => number!(Date32Type, |d: i32| timestamp(
                i64::from(d).checked_mul(86_400_000_000)
            )),
            (ColumnType::Timestamp, D::Date64) => {
                number!(Date64Type, |ms: i64| timestamp(ms.checked_mul(1000)))
            }
            (ColumnType::Timestamp, t) if is_text(t) => {
                |a, i| from_text(text_of(a, i).unwrap_or_default(), ColumnType::Timestamp)
            }
            (ColumnType::Blob, D::Binary) => {
                |a, i| Ok(Cell::Blob(a.as_binary::<i32>().value(i).to_vec()))
            }
            (ColumnType::Blob, D::LargeBinary) => {
                |a, i| Ok(Cell::Blob(a.as_binary::<i64>().value(i).to_vec()))
            }
            (ColumnType::Blob, D::BinaryView) => {
                |a, i| Ok(Cell::Blob(a.as_binary_view().value(i).to_vec()))
            }
            (ColumnType::Blob, D::FixedSizeBinary(_)) => {
                |a, i| Ok(Cell::Blob(a.as_fixed_size_binary().value(i).to_vec()))
            }
            _ => return Err(expected(ty, format!("a column of Arrow type {t}"))),
        };
        Ok(Reader { array, get })
    }

    /// Row `i` as a cell.
    pub fn get(&self, i: usize) -> Result<Cell, String> {
        if self.array.is_null(i) {
            return Ok(Cell::Null);
        }
        (self.get)(self.array, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_read_back_as_written() {
        let cells = [
            (Cell::Text("a, \"b\"".into()), ColumnType::Text),
            (Cell::Real(0.1), ColumnType::Real),
            (Cell::Real(-3.0), ColumnType::Real),
            (Cell::Integer(i64::MIN), ColumnType::Integer),
            (Cell::Boolean(false), ColumnType::Boolean),
            (
                Cell::Timestamp(1_700_000_000_000_001),
                ColumnType::Timestamp,
            ),
            (Cell::Blob(vec![0, 0xab, 0xff]), ColumnType::Blob),
        ];
        assert_eq!(
            from_json(&serde_json::json!(""), ColumnType::Blob),
            Ok(Cell::Blob(Vec::new()))
        );
        for (cell, ty) in &cells {
            let t = text(cell).unwrap();
            assert_eq!(from_text(&t, *ty).as_ref(), Ok(cell), "{t}");
            let mut j = Vec::new();
            push_json(&mut j, cell).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
            assert_eq!(from_json(&v, *ty).as_ref(), Ok(cell), "{v}");
        }
        assert_eq!(text(&Cell::Null), None);
        assert_eq!(from_text("", ColumnType::Integer), Ok(Cell::Null));
        assert_eq!(
            from_text("TRUE", ColumnType::Boolean),
            Ok(Cell::Boolean(true))
        );
        assert_eq!(from_text("3.0", ColumnType::Integer), Ok(Cell::Integer(3)));
        let e = from_text("fast", ColumnType::Real).unwrap_err();
        assert_eq!(e, "expected REAL, found 'fast'");
        let e = from_json(&serde_json::json!("x"), ColumnType::Integer).unwrap_err();
        assert_eq!(e, "expected INTEGER, found a string");
        assert!(from_text("2026-13-01", ColumnType::Timestamp)
            .unwrap_err()
            .starts_with("expected TIMESTAMP"));
    }

    #[test]
    fn arrow_columns_widen_and_refuse_other_types() {
        let a = arrow_array::Int32Array::from(vec![Some(7), None]);
        let r = Reader::of(&a, ColumnType::Integer).unwrap();
        assert_eq!(r.get(0), Ok(Cell::Integer(7)));
        assert_eq!(r.get(1), Ok(Cell::Null));
        let r = Reader::of(&a, ColumnType::Real).unwrap();
        assert_eq!(r.get(0), Ok(Cell::Real(7.0)));
        let s = arrow_array::StringArray::from(vec!["2026-05-01T12:30:00Z"]);
        let r = Reader::of(&s, ColumnType::Timestamp).unwrap();
        assert_eq!(
            r.get(0),
            Ok(Cell::Timestamp(
                user::parse_timestamp("2026-05-01 12:30:00").unwrap()
            ))
        );
        let e = Reader::of(&s, ColumnType::Boolean).err().unwrap();
        assert_eq!(e, "expected BOOLEAN, found a column of Arrow type Utf8");
        let u = arrow_array::UInt64Array::from(vec![u64::MAX]);
        assert!(Reader::of(&u, ColumnType::Integer).unwrap().get(0).is_err());
    }

    #[test]
    fn timestamps_outside_four_digit_years_are_refused() {
        let first = user::parse_timestamp("0000-01-01 00:00:00").unwrap();
        let last = user::parse_timestamp("9999-12-31 23:59:59.999999").unwrap();
        assert_eq!(TIMESTAMP_RANGE, first..=last);
        let t =
            arrow_array::TimestampMicrosecondArray::from(vec![first, last, first - 1, last + 1]);
        let r = Reader::of(&t, ColumnType::Timestamp).unwrap();
        assert_eq!(r.get(0), Ok(Cell::Timestamp(first)));
        assert_eq!(r.get(1), Ok(Cell::Timestamp(last)));
        for i in [2, 3] {
            assert_eq!(
                r.get(i),
                Err("a timestamp outside the years 0000 to 9999".to_string())
            );
        }
        let d = arrow_array::Date32Array::from(vec![-1_000_000, 0]);
        let r = Reader::of(&d, ColumnType::Timestamp).unwrap();
        assert!(r.get(0).is_err());
        assert_eq!(r.get(1), Ok(Cell::Timestamp(0)));
    }
}
