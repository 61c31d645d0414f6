//! CSV: a header line `id,type,x,y,z,embedding,confidence` and the map's user columns,
//! then one object a line; `embedding` is a bracketed list `"[0.5, -1, 0.25]"` (quoted, as
//! tensormap's shell, DuckDB and pandas write lists). Numbers are the shortest decimals
//! that read back as the same f32; user columns as [`crate::user_columns`] writes them
//! (NULL an empty field). Parsing is the `csv` crate's (RFC 4180 quoting); an import's
//! columns may come in any order (the header names them), `type`, `confidence` and user
//! columns may be left out.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tensormap_engine::user::ColumnDef;
use tensormap_engine::{MapConfig, MapView, Object};
use tensormap_query::copy::{CopyError, Exported, Imported, StartProgress};
use tensormap_query::Progress;

use crate::files::{show, write_error, AtomicFile};
use crate::rows::{layout, parse_number, parse_vector, push_f32, COLUMNS};
use crate::user_columns;

/// Rows between progress reports.
const REPORT_EVERY: u64 = 16_384;

/// `COPY map TO 'file.csv'`.
pub fn write(map: &MapView<'_>, path: &Path, progress: &Progress) -> Result<Exported, CopyError> {
    let mut file = AtomicFile::create(path)?;
    let mut rows = 0u64;
    {
        let mut w = csv::WriterBuilder::new().from_writer(&mut file.out);
        let user = map.columns();
        let header = COLUMNS
            .iter()
            .copied()
            .chain(user.iter().map(|c| c.name.as_str()));
        w.write_record(header).map_err(|e| write_error(path, e))?;
        let mut texts: Vec<Vec<u8>> = vec![Vec::new(); user.len()];
        let mut x = [Vec::new(), Vec::new(), Vec::new()];
        let mut emb = Vec::new();
        let mut conf = Vec::new();
        for o in map.objects() {
            for (buf, v) in x.iter_mut().zip(o.position()) {
                buf.clear();
                push_f32(buf, v);
            }
            emb.clear();
            emb.push(b'[');
            for (i, v) in o.embedding().iter().enumerate() {
                if i > 0 {
                    emb.extend_from_slice(b", ");
                }
                push_f32(&mut emb, *v);
            }
            emb.push(b']');
            conf.clear();
            push_f32(&mut conf, o.confidence());
            let table = o.user_table();
            for (t, d) in texts.iter_mut().zip(user) {
                t.clear();
                if let Some(s) = user_columns::text(table.cell(o.id(), d)) {
                    t.extend_from_slice(s.as_bytes());
                }
            }
            let fields: [&[u8]; 7] = [
                o.id().as_bytes(),
                o.kind().as_bytes(),
                &x[0],
                &x[1],
                &x[2],
                &emb,
                &conf,
            ];
            w.write_record(fields.into_iter().chain(texts.iter().map(Vec::as_slice)))
                .map_err(|e| write_error(path, e))?;
            rows += 1;
            if rows.is_multiple_of(REPORT_EVERY) {
                progress.set(rows);
            }
        }
        w.flush().map_err(|e| write_error(path, e))?;
    }
    progress.set(rows);
    let bytes = file.commit()?;
    Ok(Exported {
        rows,
        files: 1,
        bytes,
    })
}

/// `COPY map FROM 'file.csv'`.
pub fn read(
    path: &Path,
    config: &MapConfig,
    user: &[ColumnDef],
    progress: StartProgress<'_>,
) -> Result<Imported, CopyError> {
    let name = show(path);
    let file = File::open(path).map_err(|e| CopyError::io(&name, format!("cannot open: {e}")))?;
    let progress = progress(0);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let header = r
        .headers()
        .map_err(|e| CopyError::file(&name, format!("cannot read the header line: {e}")))?
        .clone();
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    if names.iter().all(|n| n.is_empty()) {
        return Err(CopyError::file(&name, "the file is empty (no header line)"));
    }
    let l = layout(&name, &names, user)?;
    let channels = config.channels as usize;
    let mut objects = Vec::new();
    let mut cells = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut row = 0u64;
    loop {
        let start_line = r.position().line();
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(CopyError::at(
                    &name,
                    row + 1,
                    None,
                    format!("malformed CSV: {e}"),
                ))
            }
        }
        row += 1;
        let end_line = r.position().line();
        // A record over several lines has a quoted field with line breaks in it: maybe
        // one whose closing quote is missing. Said with every error of such a row.
        let spans = |msg: String| {
            if end_line > start_line + 1 {
                format!(
                    "{msg} (this row runs from line {} to line {end_line}: is a quote left open?)",
                    start_line.max(1)
                )
            } else {
                msg
            }
        };
        if rec.len() != header.len() {
            return Err(CopyError::at(
                &name,
                row,
                None,
                spans(format!(
                    "{} fields, the header has {}",
                    rec.len(),
                    header.len()
                )),
            ));
        }
        let text = |i: usize, column: &str| {
            std::str::from_utf8(&rec[i]).map_err(|_| {
                CopyError::at(&name, row, Some(column), spans("not UTF-8 text".into()))
            })
        };
        let number = |i: usize, column: &str| {
            parse_number(text(i, column)?)
                .map_err(|m| CopyError::at(&name, row, Some(column), spans(m)))
        };
        let id = text(l.id, "id")?;
        let kind = match l.kind {
            Some(k) => text(k, "type")?,
            None => "",
        };
        let position = [
            number(l.xyz[0], "x")?,
            number(l.xyz[1], "y")?,
            number(l.xyz[2], "z")?,
        ];
        let embedding = parse_vector(text(l.embedding, "embedding")?, channels)
            .map_err(|m| CopyError::at(&name, row, Some("embedding"), spans(m)))?;
        let confidence = match l.confidence {
            Some(c) if !rec[c].is_empty() => number(c, "confidence")?,
            Some(_) => {
                return Err(CopyError::at(
                    &name,
                    row,
                    Some("confidence"),
                    "empty (a value in [0, 1] is needed; leave the column out for 1.0)",
                ))
            }
            None => 1.0,
        };
        if id.is_empty() {
            return Err(CopyError::at(&name, row, Some("id"), "empty"));
        }
        let first = cells.len();
        cells.resize(first + user.len(), None);
        for &(i, u) in &l.user {
            let d = &user[u];
            let cell = user_columns::from_text(text(i, &d.name)?, d.ty)
                .map_err(|m| CopyError::at(&name, row, Some(&d.name), spans(m)))?;
            cells[first + u] = Some(cell);
        }
        objects.push(Object {
            id: id.to_string(),
            kind: kind.to_string(),
            position,
            embedding,
            confidence,
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
