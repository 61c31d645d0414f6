//! The user columns section of a `.tensor3d` file: a map's user column schema and the
//! values of its objects (docs/FORMATS.md, "User columns section").
//!
//! It is present only when header flag bit 0 is set, between the field and the footer, as
//! one tagged section `UCOL | u64 length | payload | CRC32`. A map without user columns
//! writes neither the flag nor the section, so its file is byte for byte what it was before
//! the section existed; a file without it reads as a map without user columns.
//!
//! Every length and count read from the section is checked against the bytes left before
//! anything is allocated from it, and every rule the engine keeps is checked here (column
//! ids below `next_id` and unique, names unique, defaults and values of their column's
//! type, each column at most once per row, row ids unique), so that whatever decodes is a
//! table the engine may hold. Whether each row's id is an object of the file is left to
//! the restorer, whose id index knows them.

use std::collections::HashSet;

use tensormap_bytes::{put_section, ReadError, Reader};

use crate::{Cell, ColumnDef, ColumnType, SchemaRecord};

use super::objects::MAX_TEXT_BYTES;

/// The tag of the section.
pub const COLUMNS_TAG: [u8; 4] = *b"UCOL";

/// Header flag bit 0: the file has a user columns section.
pub const FLAG_USER_COLUMNS: u32 = 1;

/// A map's user columns as a snapshot carries them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserColumns {
    /// The schema: the columns in declared order and the next column id.
    pub schema: SchemaRecord,
    /// `(object id, its cells)` for the objects that store values (the others read the
    /// columns' defaults); a cell names a column of the schema by its id.
    pub rows: Vec<(String, Vec<(u32, Cell)>)>,
}

fn type_code(t: ColumnType) -> u8 {
    match t {
        ColumnType::Text => 0,
        ColumnType::Real => 1,
        ColumnType::Integer => 2,
        ColumnType::Boolean => 3,
        ColumnType::Timestamp => 4,
        ColumnType::Blob => 5,
    }
}

fn type_from_code(code: u8) -> Option<ColumnType> {
    Some(match code {
        0 => ColumnType::Text,
        1 => ColumnType::Real,
        2 => ColumnType::Integer,
        3 => ColumnType::Boolean,
        4 => ColumnType::Timestamp,
        5 => ColumnType::Blob,
        _ => return None,
    })
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    // Names and ids were checked to be at most MAX_TEXT_BYTES (< 2^16) by the caller.
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_cell(out: &mut Vec<u8>, c: &Cell) {
    match c {
        Cell::Null => out.push(0),
        Cell::Text(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Cell::Real(x) => {
            out.push(2);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Cell::Integer(i) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Cell::Boolean(b) => {
            out.push(4);
            out.push(u8::from(*b));
        }
        Cell::Timestamp(t) => {
            out.push(5);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Cell::Blob(b) => {
            out.push(6);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

fn text<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a str, ReadError> {
    let len = r.u16(what)? as usize;
    if len == 0 || len > MAX_TEXT_BYTES {
        return Err(r.error(format!(
            "{what} of {len} bytes: 1 to {MAX_TEXT_BYTES} allowed"
        )));
    }
    let at = r.offset();
    let bytes = r.take(len, what)?;
    std::str::from_utf8(bytes).map_err(|_| ReadError {
        offset: at,
        message: format!("{what} is not UTF-8"),
    })
}

fn cell(r: &mut Reader<'_>) -> Result<Cell, ReadError> {
    let at = r.offset();
    Ok(match r.u8("cell type")? {
        0 => Cell::Null,
        1 => {
            let n = r.u32("text length")? as usize;
            let at = r.offset();
            let bytes = r.take(n, "text")?;
            Cell::Text(
                std::str::from_utf8(bytes)
                    .map_err(|_| ReadError {
                        offset: at,
                        message: "a TEXT value is not UTF-8".into(),
                    })?
                    .to_string(),
            )
        }
        2 => {
            let x = f64::from_bits(r.u64("REAL value")?);
            if !x.is_finite() {
                return Err(ReadError {
                    offset: at + 1,
                    message: format!("REAL value {x} is not finite"),
                });
            }
            Cell::Real(x)
        }
        3 => Cell::Integer(r.u64("INTEGER value")? as i64),
        4 => match r.u8("BOOLEAN value")? {
            0 => Cell::Boolean(false),
            1 => Cell::Boolean(true),
            b => {
                return Err(ReadError {
                    offset: at + 1,
                    message: format!("BOOLEAN value {b}, not 0 or 1"),
                })
            }
        },
        5 => Cell::Timestamp(r.u64("TIMESTAMP value")? as i64),
        6 => {
            let n = r.u32("blob length")? as usize;
            Cell::Blob(r.take(n, "blob")?.to_vec())
        }
        t => {
            return Err(ReadError {
                offset: at,
                message: format!("unknown cell type {t} (0 to 6 defined)"),
            })
        }
    })
}

impl UserColumns {
    /// The whole section (tag, length, payload, CRC32). The caller has checked the table
    /// with [`UserColumns::decode`]'s rules (the writer decodes what it encoded).
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&self.schema.next_id.to_le_bytes());
        p.extend_from_slice(&(self.schema.columns.len() as u32).to_le_bytes());
        for c in &self.schema.columns {
            p.extend_from_slice(&c.id.to_le_bytes());
            put_text(&mut p, &c.name);
            p.push(type_code(c.ty));
            p.push(u8::from(c.not_null));
            put_cell(&mut p, &c.default);
        }
        p.extend_from_slice(&(self.rows.len() as u64).to_le_bytes());
        for (id, cells) in &self.rows {
            put_text(&mut p, id);
            p.extend_from_slice(&(cells.len() as u32).to_le_bytes());
            for (c, v) in cells {
                p.extend_from_slice(&c.to_le_bytes());
                put_cell(&mut p, v);
            }
        }
        let mut out = Vec::with_capacity(p.len() + 16);
        put_section(&mut out, &COLUMNS_TAG, &p);
        out
    }

    /// Decodes and checks the section in `bytes` (exactly the section), which starts at
    /// file offset `base`; an error names the file offset of what failed.
    pub fn decode(bytes: &[u8], base: u64) -> Result<Self, ReadError> {
        let mut outer = Reader::at(bytes, base);
        let mut r = outer.section(&COLUMNS_TAG)?;
        outer.finish("the user columns section")?;

        let next_id = r.u32("next column id")?;
        let count = r.u32("column count")?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        for _ in 0..count {
            let at = r.offset();
            let id = r.u32("column id")?;
            let name = text(&mut r, "column name")?;
            let ty_at = r.offset();
            let ty = type_from_code(r.u8("column type")?).ok_or_else(|| ReadError {
                offset: ty_at,
                message: "unknown column type (0 to 5 defined)".into(),
            })?;
            let not_null = match r.u8("NOT NULL")? {
                0 => false,
                1 => true,
                b => return Err(r.error(format!("NOT NULL byte {b}, not 0 or 1"))),
            };
            let default = cell(&mut r)?;
            let bad = |message: String| ReadError {
                offset: at,
                message,
            };
            if id >= next_id {
                return Err(bad(format!(
                    "column '{name}' has id {id}, not below the next id {next_id}"
                )));
            }
            if let Some(c) = columns.iter().find(|c| c.id == id || c.name == name) {
                return Err(bad(format!(
                    "column '{name}' (id {id}) repeats column '{}' (id {})",
                    c.name, c.id
                )));
            }
            if !default.fits(ty) {
                return Err(bad(format!(
                    "the default of column '{name}' is not of its type {}",
                    ty.name()
                )));
            }
            columns.push(ColumnDef {
                id,
                name: name.to_string(),
                ty,
                not_null,
                default,
            });
        }

        let count = r.u64("row count")?;
        let mut rows = Vec::new();
        let mut ids = HashSet::new();
        for _ in 0..count {
            let at = r.offset();
            let id = text(&mut r, "object id")?;
            if !ids.insert(id) {
                return Err(ReadError {
                    offset: at,
                    message: format!("object '{id}' has two rows of values"),
                });
            }
            let n = r.u32("cell count")?;
            let mut cells: Vec<(u32, Cell)> = Vec::new();
            for _ in 0..n {
                let at = r.offset();
                let c = r.u32("column id")?;
                let v = cell(&mut r)?;
                let bad = |message: String| ReadError {
                    offset: at,
                    message: format!("object '{id}': {message}"),
                };
                let def = columns
                    .iter()
                    .find(|d| d.id == c)
                    .ok_or_else(|| bad(format!("no column has id {c}")))?;
                if cells.iter().any(|(e, _)| *e == c) {
                    return Err(bad(format!("column '{}' is given twice", def.name)));
                }
                if !v.fits(def.ty) {
                    return Err(bad(format!(
                        "column '{}' holds {}, the value is not one",
                        def.name,
                        def.ty.name()
                    )));
                }
                if def.not_null && v == Cell::Null {
                    return Err(bad(format!("column '{}' is NOT NULL", def.name)));
                }
                cells.push((c, v));
            }
            rows.push((id.to_string(), cells));
        }
        r.finish("the user columns")?;
        Ok(UserColumns {
            schema: SchemaRecord { next_id, columns },
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> UserColumns {
        let col = |id, name: &str, ty, not_null, default| ColumnDef {
            id,
            name: name.into(),
            ty,
            not_null,
            default,
        };
        UserColumns {
            schema: SchemaRecord {
                next_id: 7,
                columns: vec![
                    col(0, "t", ColumnType::Text, false, Cell::Null),
                    col(2, "r", ColumnType::Real, true, Cell::Real(0.5)),
                    col(3, "i", ColumnType::Integer, false, Cell::Integer(-3)),
                    col(4, "b", ColumnType::Boolean, false, Cell::Boolean(true)),
                    col(5, "ts", ColumnType::Timestamp, false, Cell::Null),
                    col(6, "bl", ColumnType::Blob, false, Cell::Blob(vec![0, 255])),
                ],
            },
            rows: vec![
                (
                    "a".into(),
                    vec![
                        (0, Cell::Text("é".into())),
                        (2, Cell::Real(-1.25)),
                        (3, Cell::Integer(i64::MIN)),
                        (4, Cell::Boolean(false)),
                        (5, Cell::Timestamp(-1)),
                        (6, Cell::Blob(vec![])),
                    ],
                ),
                ("b".into(), vec![(0, Cell::Null), (6, Cell::Null)]),
                ("c".into(), vec![]),
            ],
        }
    }

    #[test]
    fn the_section_round_trips() {
        let s = sample();
        let bytes = s.encode();
        assert_eq!(&bytes[..4], b"UCOL");
        assert_eq!(UserColumns::decode(&bytes, 1000).unwrap(), s);
        let empty = UserColumns::default();
        assert_eq!(UserColumns::decode(&empty.encode(), 0).unwrap(), empty);
    }

    #[test]
    fn every_damaged_byte_and_every_truncation_is_an_error_at_an_offset_in_the_section() {
        let bytes = sample().encode();
        let base = 5000u64;
        for i in 0..bytes.len() {
            let mut d = bytes.clone();
            d[i] ^= 0x41;
            let e = UserColumns::decode(&d, base).unwrap_err();
            assert!(
                e.offset >= base && e.offset <= base + bytes.len() as u64,
                "{e:?}"
            );
            let e = UserColumns::decode(&bytes[..i], base).unwrap_err();
            assert!(e.offset >= base && e.offset <= base + i as u64, "{e:?}");
        }
    }

    #[test]
    fn a_file_with_the_section_reads_back_and_a_resealed_rule_break_names_its_offset() {
        use crate::snapshot::{reseal, SnapshotOptions, SnapshotReader, SnapshotWriter};
        let config = crate::MapConfig {
            resolution: 8,
            channels: 1,
            ..crate::MapConfig::default()
        };
        let options = SnapshotOptions::default();
        let s = sample();
        let w = SnapshotWriter::new_with_columns(Vec::new(), "t", &config, &options, &s).unwrap();
        let bytes = w.finish_into().unwrap().1;
        let r = SnapshotReader::from_bytes(bytes.clone(), "t").unwrap();
        assert_eq!(r.user_columns(), Some(&s));
        // next_id 0: every column id is past it. With the CRCs made valid again, the
        // rule behind them is what fails, at the first column.
        let at = bytes.windows(4).rposition(|w| w == b"UCOL").unwrap();
        let mut bad = bytes.clone();
        bad[at + 12..at + 16].copy_from_slice(&0u32.to_le_bytes());
        reseal(&mut bad);
        let e = SnapshotReader::from_bytes(bad, "t")
            .unwrap_err()
            .to_string();
        let want = format!("user columns at offset {}", at + 20);
        assert!(
            e.contains(&want) && e.contains("not below the next id"),
            "{e}"
        );
        // The JSON form refuses them.
        let json = SnapshotOptions {
            format: crate::snapshot::Format::Json,
            ..SnapshotOptions::default()
        };
        let e = SnapshotWriter::new_with_columns(Vec::new(), "t", &config, &json, &s).unwrap_err();
        assert!(e.to_string().contains("JSON form"), "{e}");
    }

    #[test]
    fn contents_that_break_a_rule_behind_a_valid_checksum_are_refused() {
        let mut s = sample();
        s.rows[1].1.push((0, Cell::Text("twice".into())));
        let e = UserColumns::decode(&s.encode(), 0).unwrap_err();
        assert!(e.message.contains("'t' is given twice"), "{e}");
        let mut s = sample();
        s.rows[2].1.push((1, Cell::Null));
        let e = UserColumns::decode(&s.encode(), 0).unwrap_err();
        assert!(e.message.contains("no column has id 1"), "{e}");
        let mut s = sample();
        s.rows[0].1[1] = (2, Cell::Text("x".into()));
        let e = UserColumns::decode(&s.encode(), 0).unwrap_err();
        assert!(e.message.contains("holds REAL"), "{e}");
        let mut s = sample();
        s.schema.next_id = 6;
        let e = UserColumns::decode(&s.encode(), 0).unwrap_err();
        assert!(e.message.contains("not below the next id"), "{e}");
        let mut s = sample();
        s.rows.push(("a".into(), vec![]));
        let e = UserColumns::decode(&s.encode(), 0).unwrap_err();
        assert!(e.message.contains("two rows"), "{e}");
    }
}
