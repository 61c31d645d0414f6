//! `RENDER SELECT ... TO 'scene.html'`: the interactive view (tensormap-render's `html`
//! module) fed from a SELECT — each object's id, type, position and confidence, every other
//! column of the SELECT by its name (numbers can colour the view, text is shown on hover),
//! the map's user columns the SELECT does not name, and the norm of the map's voxel field
//! brick by brick.
//!
//! Everything is checked and encoded before the file is created, and the file is written
//! under a temporary name in the same folder and renamed into place, so a refused statement
//! or a failed write leaves no file (and no half-written one) behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tensormap_engine::{MapView, Value};
use tensormap_render::html::{
    ColumnValues, FieldBrick, HtmlDocument, HtmlError, HtmlOptions, ViewColumn, ViewField,
    ViewObjects, ViewScene, BRICK_CELLS, BUILT_IN_COLUMNS,
};
use tensormap_render::OptionValue;

use crate::ast::{Expr, ExprKind, Select, SelectItem, Setting, Span};
use crate::error::{Error, Pos, Result};
use crate::run::Ctx;

/// True when a `RENDER ... TO` file name asks for the HTML view (`.html` or `.htm`, any case).
pub fn is_html(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// The HTML view's options from `WITH (...)`, each checked by the render crate's table and
/// refused where it is written.
pub fn options(settings: &[(String, Setting, Span)]) -> Result<HtmlOptions> {
    let mut o = HtmlOptions::default();
    for (key, value, at) in settings {
        let value = match value {
            Setting::Number(n) => OptionValue::Number(*n),
            Setting::Word(w) if w == "true" => OptionValue::Bool(true),
            Setting::Word(w) if w == "false" => OptionValue::Bool(false),
            Setting::Word(w) => OptionValue::Word(w),
            Setting::Str(s) => OptionValue::Text(s),
            Setting::Vector(v) => OptionValue::Vector(v),
        };
        o.set(key, value)
            .map_err(|e| Error::invalid(at.0, e.to_string()))?;
    }
    Ok(o)
}

fn column(name: &str, pos: Pos) -> SelectItem {
    SelectItem::Expr(
        Expr {
            kind: ExprKind::Column(name.into()),
            pos,
        },
        None,
    )
}

/// The objects `sel` selects from the one map of `views`, with the SELECT's other columns,
/// and that map's field.
pub fn view_scene(ctx: &Ctx<'_, '_>, sel: &Select) -> Result<ViewScene> {
    let (view, pos) = crate::render::one_map(ctx, sel, "the view shows its field")?;
    // The SELECT's own items as written, then the map's user columns (shown on hover; one
    // the SELECT already gives by that name is kept once, the SELECT's), then the built-in
    // columns (last, so that an ordinal in ORDER BY or GROUP BY still names the item it
    // named).
    let mut query = sel.clone();
    query
        .items
        .extend(view.columns().iter().map(|c| column(&c.name, pos)));
    query
        .items
        .extend(BUILT_IN_COLUMNS.iter().map(|c| column(c, pos)));
    query.distinct = false;
    let result = ctx.query(&query, &[], &[])?;
    let objects = objects(&result.columns, result.rows, pos)?;
    Ok(ViewScene {
        map: view.name().to_string(),
        objects,
        field: field(&view, pos)?,
    })
}

/// Columns of the result: the last four are id, type, position, confidence; of the others,
/// every column whose name is new and whose values are numbers (or NULL) becomes a number
/// column, one of text (numbers among them printed) a text column; vectors are left out.
fn objects(names: &[String], rows: Vec<Vec<Value>>, pos: Pos) -> Result<ViewObjects> {
    let n = rows.len();
    let own = names.len().saturating_sub(BUILT_IN_COLUMNS.len());
    let mut o = ViewObjects {
        ids: Vec::with_capacity(n),
        kinds: Vec::with_capacity(n),
        positions: Vec::with_capacity(n),
        confidence: Vec::with_capacity(n),
        columns: Vec::new(),
    };
    let mut keep: Vec<usize> = Vec::new();
    for (k, name) in names.iter().enumerate().take(own) {
        let seen = BUILT_IN_COLUMNS.contains(&name.as_str())
            || keep.iter().any(|&j| names[j] == *name)
            || name.is_empty();
        if !seen {
            keep.push(k);
        }
    }
    let mut numeric = vec![true; keep.len()];
    let mut vector = vec![false; keep.len()];
    for row in &rows {
        for (c, &k) in keep.iter().enumerate() {
            match &row[k] {
                Value::Number(_) | Value::Bool(_) | Value::Null => {}
                Value::Text(_) => numeric[c] = false,
                Value::Vector(_) => vector[c] = true,
            }
        }
    }
    let mut columns: Vec<(usize, ViewColumn)> = keep
        .iter()
        .enumerate()
        .filter(|&(c, _)| !vector[c])
        .map(|(c, &k)| {
            let values = if numeric[c] {
                ColumnValues::Number(Vec::with_capacity(n))
            } else {
                ColumnValues::Text(Vec::with_capacity(n))
            };
            (
                k,
                ViewColumn {
                    name: names[k].clone(),
                    values,
                },
            )
        })
        .collect();
    for row in rows {
        let (Value::Text(id), Value::Text(kind), Value::Vector(p), c) =
            (&row[own], &row[own + 1], &row[own + 2], &row[own + 3])
        else {
            return Err(Error::internal(
                pos,
                "RENDER: a row without id, type and position",
            ));
        };
        let [x, y, z] = p[..] else {
            return Err(Error::internal(
                pos,
                "RENDER: a position of other than 3 values",
            ));
        };
        o.ids.push(id.to_string());
        o.kinds.push(kind.to_string());
        o.positions.push([x, y, z]);
        o.confidence.push(match c {
            Value::Number(c) => *c as f32,
            _ => f32::NAN,
        });
        for (k, col) in &mut columns {
            match (&mut col.values, &row[*k]) {
                (ColumnValues::Number(v), Value::Number(x)) => v.push(*x),
                (ColumnValues::Number(v), Value::Bool(b)) => v.push(f64::from(u8::from(*b))),
                (ColumnValues::Number(v), _) => v.push(f64::NAN),
                (ColumnValues::Text(v), Value::Null) => v.push(None),
                (ColumnValues::Text(v), x) => v.push(Some(x.to_string())),
            }
        }
    }
    o.columns = columns.into_iter().map(|(_, c)| c).collect();
    Ok(o)
}

/// The norm of each stored cell of the map's field, as read at the map's dtype; `None` when
/// nothing is splatted.
fn field(view: &MapView<'_>, pos: Pos) -> Result<Option<ViewField>> {
    let f = view.field().map_err(|e| Error::engine(pos, e))?;
    let config = view.config();
    let channels = config.channels as usize;
    let dtype = f.dtype();
    let mut bricks = Vec::new();
    f.for_each_brick(&mut |coords, brick, _| {
        let scale = brick.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let norms: Vec<f32> = (0..BRICK_CELLS)
            .map(|cell| {
                let values = brick.values.get(cell * channels..(cell + 1) * channels);
                values
                    .unwrap_or(&[])
                    .iter()
                    .map(|&v| {
                        let q = f64::from(dtype.quantize(v, scale));
                        q * q
                    })
                    .sum::<f64>()
                    .sqrt() as f32
            })
            .collect();
        if norms.iter().any(|&v| v > 0.0) {
            bricks.push(FieldBrick { coords, norms });
        }
    });
    if bricks.is_empty() {
        return Ok(None);
    }
    Ok(Some(ViewField {
        resolution: config.resolution,
        bounds: config.bounds,
        bricks,
    }))
}

/// Checks and encodes the view; an error names the setting it comes from when it has one
/// (`at` finds a setting's position by name).
pub fn document(
    scene: &ViewScene,
    opts: &HtmlOptions,
    pos: Pos,
    at: &dyn Fn(&[&str]) -> Option<Pos>,
) -> Result<HtmlDocument> {
    HtmlDocument::new(scene, opts).map_err(|e| {
        let place = |keys: &[&str]| at(keys).unwrap_or(pos);
        match e {
            HtmlError::TooManyObjects { .. } | HtmlError::FileTooLarge { .. } => {
                Error::limit(pos, e.to_string())
            }
            HtmlError::UnknownColumn { .. } | HtmlError::NotNumeric { .. } => {
                Error::invalid(place(&["color_by"]), e.to_string())
            }
            HtmlError::NoField | HtmlError::SliceOutsideField { .. } => {
                Error::invalid(place(&["slice_at", "slice"]), e.to_string())
            }
            HtmlError::Io(io) => Error::io(pos, io.to_string()),
            other => Error::invalid(pos, other.to_string()),
        }
    })
}

/// Where the setting named one of `keys` is written in `settings`.
pub fn setting_pos(settings: &[(String, Setting, Span)], keys: &[&str]) -> Option<Pos> {
    keys.iter()
        .find_map(|k| settings.iter().find(|(name, _, _)| name == k))
        .map(|(_, _, at)| at.0)
}

/// Writes `doc` to `path`: into a new temporary file beside it, flushed and synced, then
/// renamed over `path`. On any failure the temporary file is removed and `path` is as it was.
pub fn write_file(path: &str, doc: &HtmlDocument) -> std::io::Result<u64> {
    write_beside(Path::new(path), |out| doc.write_to(out))?;
    Ok(doc.len())
}

/// A temporary name in the folder of `target` that no other writer of this process uses.
fn temporary_beside(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Writes through `write` into a temporary file beside `target`, then renames it over
/// `target`.
pub fn write_beside(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary_beside(target);
    let written = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_names() {
        assert!(is_html("a/b/Scene.HTML") && is_html("x.htm"));
        assert!(!is_html("x.svg") && !is_html("html"));
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("v.html");
        std::fs::write(&target, "old").unwrap();
        let e = write_beside(&target, |out: &mut dyn Write| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_beside(&target, |out: &mut dyn Write| out.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
