//! The interactive view: a self-contained HTML file with a WebGL viewer (three.js, bundled
//! and embedded in the binary), and the data routes of the same viewer served live.
//!
//! A file carries a small JSON manifest and the data as base64 typed-array blocks
//! ([`blocks`] describes them), then the viewer script; it opens offline by double-click and
//! its content security policy forbids every request. The objects are written in octree-cell
//! order ([`CellIndex`]) so the page can draw the first objects of each cell in view and keep
//! to a point budget; a sample (`sample = N`) keeps a proportional prefix of every cell.
//!
//! ```
//! use tensormap_render::html::{HtmlDocument, HtmlOptions, ViewObjects, ViewScene};
//! let mut objects = ViewObjects::default();
//! objects.push("cube_1", "cube", [0.0, 0.0, 0.0], 0.9);
//! let scene = ViewScene { map: "scene".into(), objects, field: None };
//! let doc = HtmlDocument::new(&scene, &HtmlOptions::default()).unwrap();
//! let html = doc.to_string();
//! assert_eq!(html.len() as u64, doc.len());
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("\"count\":1"));
//! ```

pub mod blocks;
mod cells;
mod error;
mod field;
mod input;
mod options;
mod page;
mod served;

use serde_json::{json, Value};

pub use cells::{id_hash, morton, Cell, CellIndex};
pub use error::{HtmlError, Result};
pub use field::PageField;
pub use input::{
    ColumnValues, FieldBrick, ViewColumn, ViewField, ViewObjects, BRICK_CELLS, BRICK_EDGE,
    BUILT_IN_COLUMNS,
};
pub use options::{
    Axis, ColorBy, HtmlOptions, OptionValue, SliceChoice, DEFAULT_FIELD_RESOLUTION,
    DEFAULT_POINT_BUDGET, KNOWN_OPTIONS,
};
pub use page::{iframe, VIEWER_JS};
pub use served::{served_page, ServedMap, MAX_BRICKS_PER_REQUEST, MAX_POINTS_PER_REQUEST};

use blocks::{objects_json, script_safe_json, Blocks};

/// Most objects one HTML file holds; past it, an error suggests LIMIT, `sample` or the
/// served viewer.
pub const MAX_OBJECTS: usize = 1_000_000;
/// Largest file written (256 MiB): browsers keep the whole page in memory, twice.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The manifest's format name and version; the page refuses others.
pub const FORMAT: &str = "tensormap-view";
/// See [`FORMAT`].
pub const FORMAT_VERSION: u32 = 1;

/// What a view shows: a map's name, the objects of a result, and the map's field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewScene {
    /// The map the objects come from.
    pub map: String,
    /// The result's objects.
    pub objects: ViewObjects,
    /// The norm of the map's field; `None` when it has none (nothing splatted).
    pub field: Option<ViewField>,
}

/// A checked and encoded HTML view, ready to write: its size is known before a byte is
/// written, so a caller can refuse or create its file only then.
#[derive(Debug)]
pub struct HtmlDocument {
    title: String,
    manifest: String,
    blocks: Blocks,
    len: u64,
}

impl HtmlDocument {
    /// Checks `scene` and `options` and encodes the page; every error comes from here.
    pub fn new(scene: &ViewScene, options: &HtmlOptions) -> Result<HtmlDocument> {
        Self::with_limit(scene, options, MAX_FILE_BYTES)
    }

    /// [`HtmlDocument::new`] with another size limit (tests).
    pub(crate) fn with_limit(
        scene: &ViewScene,
        options: &HtmlOptions,
        limit: u64,
    ) -> Result<HtmlDocument> {
        let objects = &scene.objects;
        objects.validate()?;
        if let Some(f) = &scene.field {
            f.validate()?;
        }
        options.validate(objects, scene.field.as_ref())?;
        let n = objects.len();
        let drawn = options.sample.unwrap_or(n).min(n);
        if drawn > MAX_OBJECTS {
            return Err(HtmlError::TooManyObjects {
                objects: n,
                limit: MAX_OBJECTS,
            });
        }
        let index = CellIndex::new(objects);
        let counts = index.sample_counts(drawn);
        let mut order = Vec::with_capacity(drawn);
        for (c, &k) in index.cells.iter().zip(&counts) {
            let start = c.start as usize;
            order.extend_from_slice(&index.order[start..start + k as usize]);
        }
        let mut blocks = Blocks::default();
        // A string block past 4 GiB cannot be addressed by u32 offsets.
        let too_large = || HtmlError::FileTooLarge {
            bytes: 4 << 30,
            limit: MAX_FILE_BYTES,
        };
        let objects_value = objects_json(&mut blocks, objects, &order).ok_or_else(too_large)?;
        let kept: Vec<usize> = (0..index.cells.len()).filter(|&k| counts[k] > 0).collect();
        let cells = json!({
            "origin": index.origin,
            "size": index.size,
            "depth": index.depth,
            "codes": blocks.u32s(kept.iter().map(|&k| index.cells[k].code)),
            "counts": blocks.u32s(kept.iter().map(|&k| counts[k])),
        });
        let field = scene
            .field
            .as_ref()
            .map(|f| field_json(&mut blocks, &PageField::new(f, options.field_resolution)));
        let title = options
            .title
            .clone()
            .unwrap_or_else(|| format!("tensormap · {}", scene.map));
        let manifest = json!({
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "mode": "file",
            "title": title,
            "map": scene.map,
            "count": n,
            "drawn": drawn,
            "sampled": drawn < n,
            "bbox": bbox(objects),
            "cells": cells,
            "objects": objects_value,
            "field": field,
            "options": options_json(options, objects, scene.field.is_some()),
        });
        let manifest = script_safe_json(&manifest);
        let len = page::document_len(&title, &manifest, &blocks.list, false);
        if len > limit {
            return Err(HtmlError::FileTooLarge { bytes: len, limit });
        }
        Ok(HtmlDocument {
            title,
            manifest,
            blocks,
            len,
        })
    }

    /// The bytes [`HtmlDocument::write_to`] writes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never: a page always has its head and viewer.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The manifest's JSON text (as embedded: `<` written `\u003c`).
    pub fn manifest(&self) -> &str {
        &self.manifest
    }

    /// Writes the page.
    pub fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        page::write_document(out, &self.title, &self.manifest, &self.blocks.list, false)
    }
}

impl std::fmt::Display for HtmlDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = Vec::with_capacity(self.len as usize);
        self.write_to(&mut bytes).map_err(|_| std::fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

/// Checks and writes the view of `scene` to `out`; returns the bytes written. Nothing is
/// written when it fails a check.
pub fn write_html(
    out: &mut dyn std::io::Write,
    scene: &ViewScene,
    options: &HtmlOptions,
) -> Result<u64> {
    let doc = HtmlDocument::new(scene, options)?;
    doc.write_to(out)?;
    Ok(doc.len())
}

/// `[[min x, y, z], [max x, y, z]]` of the positions (`null` when there are none).
pub(crate) fn bbox(objects: &ViewObjects) -> Value {
    let Some(first) = objects.positions.first() else {
        return Value::Null;
    };
    let (mut lo, mut hi) = (*first, *first);
    for p in &objects.positions {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    json!([lo, hi])
}

/// The field's description; its bricks' coordinates as u16 triples, norms as u16 in units
/// of `normScale` (half the bytes of f32; the heat map and the gradient need no more).
pub(crate) fn field_json(blocks: &mut Blocks, f: &PageField) -> Value {
    json!({
        "resolution": f.resolution,
        "sourceResolution": f.source_resolution,
        "bounds": f.bounds,
        "maxNorm": f.max_norm,
        "brickEdge": BRICK_EDGE,
        "coords": blocks.u16s(f.coords.iter().flatten().map(|&c| c as u16)),
        "norms": blocks.u16s(f.norms.iter().map(|&v| f.quantize(v))),
        "normScale": f.quantum(),
    })
}

/// The options as the page reads them. `color_by = 'distance'` picks a numeric column of
/// that name when the SELECT has one (the distance the query computed).
fn options_json(o: &HtmlOptions, objects: &ViewObjects, has_field: bool) -> Value {
    let (color_by, column) = match &o.color_by {
        ColorBy::Type => ("type", None),
        ColorBy::Confidence => ("confidence", None),
        ColorBy::Distance if objects.number_column("distance").is_some() => {
            ("column", Some("distance"))
        }
        ColorBy::Distance => ("distance", None),
        ColorBy::Column(c) => ("column", Some(c.as_str())),
    };
    let slice = o
        .slice_axis(has_field)
        .map(|a| json!({"axis": a.letter().to_string(), "at": o.slice_at.unwrap_or(0.0)}));
    json!({
        "colorBy": color_by,
        "colorColumn": column,
        "distanceFrom": o.distance_from,
        "liquid": o.liquid,
        "pointBudget": o.point_budget,
        "slice": slice,
        "glow": o.glow,
        "fieldLines": o.field_lines,
    })
}

#[cfg(test)]
mod tests;
