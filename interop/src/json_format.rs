//! JSON Lines: one object per line,
//! `{"id":"a","type":"cube","x":1,"y":2,"z":3,"embedding":[0.5,-1],"confidence":0.9}`,
//! as DuckDB's `COPY … TO 'x.json'`, pandas' `to_json(orient='records', lines=True)` and
//! Spark's JSON source write and read. The map's user columns follow, by name
//! ([`crate::user_columns`]: `null`, numbers, booleans, strings). On import `type`,
//! `confidence` and user columns may be left out; any other key is an error, as an unknown
//! column of INSERT is.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::Deserialize;
use tensormap_engine::user::ColumnDef;
use tensormap_engine::{MapConfig, MapView, Object};
use tensormap_query::copy::{CopyError, Exported, Imported, StartProgress};
use tensormap_query::Progress;

use crate::files::{show, write_error, AtomicFile};
use crate::rows::push_f32;
use crate::user_columns;

/// Rows between progress reports.
const REPORT_EVERY: u64 = 16_384;

/// The longest line read (a row of 1024 channels is under 20 KiB).
const MAX_LINE_BYTES: u64 = 16 << 20;

/// `COPY map TO 'file.json'`.
pub fn write(map: &MapView<'_>, path: &Path, progress: &Progress) -> Result<Exported, CopyError> {
    let mut file = AtomicFile::create(path)?;
    let mut rows = 0u64;
    let mut line = Vec::with_capacity(1024);
    for o in map.objects() {
        line.clear();
        line.extend_from_slice(b"{\"id\":");
        serde_json::to_writer(&mut line, o.id()).map_err(|e| write_error(path, e))?;
        line.extend_from_slice(b",\"type\":");
        serde_json::to_writer(&mut line, o.kind()).map_err(|e| write_error(path, e))?;
        for (key, v) in [b"x", b"y", b"z"].iter().zip(o.position()) {
            line.extend_from_slice(b",\"");
            line.extend_from_slice(*key);
            line.extend_from_slice(b"\":");
            push_f32(&mut line, v);
        }
        line.extend_from_slice(b",\"embedding\":[");
        for (i, v) in o.embedding().iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            push_f32(&mut line, *v);
        }
        line.extend_from_slice(b"],\"confidence\":");
        push_f32(&mut line, o.confidence());
        let table = o.user_table();
        for d in map.columns() {
            line.push(b',');
            serde_json::to_writer(&mut line, &d.name).map_err(|e| write_error(path, e))?;
            line.push(b':');
            user_columns::push_json(&mut line, table.cell(o.id(), d))
                .map_err(|e| write_error(path, e))?;
        }
        line.extend_from_slice(b"}\n");
        file.out
            .write_all(&line)
            .map_err(|e| write_error(path, e))?;
        rows += 1;
        if rows.is_multiple_of(REPORT_EVERY) {
            progress.set(rows);
        }
    }
    progress.set(rows);
    let bytes = file.commit()?;
    Ok(Exported {
        rows,
        files: 1,
        bytes,
    })
}

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    x: f32,
    y: f32,
    z: f32,
    embedding: Vec<f32>,
    #[serde(default = "one")]
    confidence: f32,
}

fn one() -> f32 {
    1.0
}

/// One line of the file for a map with user columns: the other keys are kept to be
/// matched against the map's columns (slower than [`Row`]: only such maps pay for it).
#[derive(Debug, Deserialize)]
struct RowWithColumns {
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    x: f32,
    y: f32,
    z: f32,
    embedding: Vec<f32>,
    #[serde(default = "one")]
    confidence: f32,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `COPY map FROM 'file.json'` (JSON Lines; blank lines are skipped).
pub fn read(
    path: &Path,
    _config: &MapConfig,
    user: &[ColumnDef],
    progress: StartProgress<'_>,
) -> Result<Imported, CopyError> {
    let name = show(path);
    let file = File::open(path).map_err(|e| CopyError::io(&name, format!("cannot open: {e}")))?;
    let progress = progress(0);
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut objects = Vec::new();
    let mut cells = Vec::new();
    let mut line = String::new();
    let mut row = 0u64;
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = (&mut input)
            .take(MAX_LINE_BYTES)
            .read_line(&mut line)
            .map_err(|e| {
                CopyError::at(
                    &name,
                    row + 1,
                    None,
                    format!("cannot read line {}: {e}", line_no + 1),
                )
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if n as u64 == MAX_LINE_BYTES && !line.ends_with('\n') {
            return Err(CopyError::at(
                &name,
                row + 1,
                None,
                format!("line {line_no} is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if row == 0 && text.starts_with('[') {
            return Err(CopyError::file(
                &name,
                "a JSON array: COPY reads JSON Lines, one object per line (DuckDB writes them by default; pandas: to_json(orient='records', lines=True))",
            ));
        }
        row += 1;
        let malformed = |e: serde_json::Error| {
            CopyError::at(
                &name,
                row,
                None,
                format!("line {line_no}: {}", describe(&e)),
            )
        };
        let r: Row = if user.is_empty() {
            serde_json::from_str(text).map_err(malformed)?
        } else {
            let r: RowWithColumns = serde_json::from_str(text).map_err(malformed)?;
            let first = cells.len();
            cells.resize(first + user.len(), None);
            for (key, value) in &r.rest {
                let Some(u) = user.iter().position(|c| c.name == *key) else {
                    let mut known = String::from("id, type, x, y, z, embedding, confidence");
                    for c in user {
                        known.push_str(", ");
                        known.push_str(&c.name);
                    }
                    return Err(CopyError::at(
                        &name,
                        row,
                        None,
                        format!("line {line_no}: unknown field `{key}` (the columns are {known})"),
                    ));
                };
                let cell = user_columns::from_json(value, user[u].ty).map_err(|m| {
                    CopyError::at(
                        &name,
                        row,
                        Some(&user[u].name),
                        format!("line {line_no}: {m}"),
                    )
                })?;
                cells[first + u] = Some(cell);
            }
            Row {
                id: r.id,
                kind: r.kind,
                x: r.x,
                y: r.y,
                z: r.z,
                embedding: r.embedding,
                confidence: r.confidence,
            }
        };
        objects.push(Object {
            id: r.id,
            kind: r.kind,
            position: [r.x, r.y, r.z],
            embedding: r.embedding,
            confidence: r.confidence,
        });
        if row.is_multiple_of(REPORT_EVERY) {
            progress.set(row);
        }
    }
    progress.set(row);
    Ok(Imported {
        objects,
        columns: user.iter().map(|c| c.id).collect(),
        cells,
        parts: vec![(name, row as usize)],
    })
}

/// serde_json's message without its " at line 1 column N" (the line is the file's, given
/// separately), keeping the column.
fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &msg[..i], e.column()),
        None => msg,
    }
}
