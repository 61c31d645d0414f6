//! `_tensormap.json`: the manifest at the root of a partitioned export — what a reader
//! needs to prune and to route points without opening a Parquet file (docs/scale-out.md,
//! "The layout", is its reference).
//!
//! ```json
//! {"format": "tensormap-octree-parquet", "version": 1, "rows": 1000,
//!  "map": {"name": "scene", "resolution": 64, "channels": 4, "bounds": 500.0,
//!          "dtype": "f32", "sigma": 2.0, "splat_radius": 3},
//!  "scheme": {"kind": "octree", "column": "cell", "key": "morton", "depth": 2,
//!             "cells_per_axis": 4, "bounds": [-500.0, 500.0], "max_rows_per_file": 1048576},
//!  "cells": [{"cell": 0, "folder": "cell=0", "index": [0, 0, 0],
//!             "box": [-500, -500, -500, -250, -250, -250], "rows": 10,
//!             "bbox": [...], "files": [0], "split": {"file": 0}}],
//!  "files": [{"path": "cell=0/part-0.parquet", "cell": 0, "rows": 10, "bbox": [...],
//!             "region": [...]}]}
//! ```
//!
//! Boxes are `[xmin, ymin, zmin, xmax, ymax, zmax]` (GeoParquet's order): `box` the cell's
//! cube of space, `region` the part of it a file's piece owns (the cube cut by the splits
//! above the piece), `bbox` the tight box of the rows. `split` is the cut tree of
//! [`crate::kdb`]: `{"file": i}` or `{"axis": a, "at": v, "below": {...}, "above": {...}}`,
//! a point going below when its coordinate on `a` is `< v`. The manifest is written last:
//! a folder without it is an unfinished (or foreign) export.

use serde_json::{json, Value};
use tensormap_engine::MapConfig;

use crate::geo::BBox;
use crate::kdb::Split;

/// The manifest's file name, at the export's root.
pub const FILE: &str = "_tensormap.json";

/// The value of its `format` key.
pub const FORMAT: &str = "tensormap-octree-parquet";

/// The layout version written (a reader refuses another).
pub const VERSION: u64 = 1;

/// One file of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Its path under the root, `/`-separated.
    pub path: String,
    /// Its cell's Morton code.
    pub cell: u64,
    /// Rows in it.
    pub rows: u64,
    /// The tight box of its points.
    pub bbox: BBox,
    /// The space its piece owns: `[min, max]` per axis.
    pub region: [[f64; 3]; 2],
}

/// One occupied cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellEntry {
    /// Its Morton code.
    pub cell: u64,
    /// Its index on each axis.
    pub index: [u32; 3],
    /// Its cube: `[min, max]` per axis.
    pub cube: [[f64; 3]; 2],
    /// Rows in it.
    pub rows: u64,
    /// The tight box of its points.
    pub bbox: BBox,
    /// The cut tree, its pieces numbered by their index in the manifest's `files`.
    pub split: Split,
    /// The index in `files` of its first piece (pieces are numbered in order).
    pub first_file: usize,
}

fn boxed(b: [[f64; 3]; 2]) -> Value {
    json!([b[0][0], b[0][1], b[0][2], b[1][0], b[1][1], b[1][2]])
}

fn bbox(b: &BBox) -> Value {
    boxed([b.min.map(f64::from), b.max.map(f64::from)])
}

/// The tree as JSON, pieces renumbered from `first` in order.
fn tree(s: &Split, next: &mut usize) -> Value {
    match s {
        Split::Piece { .. } => {
            let v = json!({ "file": *next });
            *next += 1;
            v
        }
        Split::Cut {
            axis,
            at,
            below,
            above,
        } => {
            let below = tree(below, next);
            let above = tree(above, next);
            json!({ "axis": axis, "at": *at as f64, "below": below, "above": above })
        }
    }
}

/// The manifest of an export of map `name` (settings `config`) at `depth`.
pub fn render(
    name: &str,
    config: &MapConfig,
    depth: u32,
    max_rows_per_file: u64,
    cells: &[CellEntry],
    files: &[FileEntry],
) -> String {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            let mut next = c.first_file;
            let split = tree(&c.split, &mut next);
            json!({
                "cell": c.cell,
                "folder": crate::partition::folder(c.cell),
                "index": c.index,
                "box": boxed(c.cube),
                "rows": c.rows,
                "bbox": bbox(&c.bbox),
                "files": (c.first_file..next).collect::<Vec<_>>(),
                "split": split,
            })
        })
        .collect();
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "cell": f.cell,
                "rows": f.rows,
                "bbox": bbox(&f.bbox),
                "region": boxed(f.region),
            })
        })
        .collect();
    let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap_or(0)).sum();
    let v = json!({
        "format": FORMAT,
        "version": VERSION,
        "rows": rows,
        "map": {
            "name": name,
            "resolution": config.resolution,
            "channels": config.channels,
            "bounds": config.bounds,
            "dtype": config.dtype.name(),
            "sigma": config.sigma,
            "splat_radius": config.splat_radius,
        },
        "scheme": {
            "kind": "octree",
            "column": crate::partition::COLUMN,
            "key": "morton",
            "depth": depth,
            "cells_per_axis": 1u64 << depth,
            "bounds": [-config.bounds, config.bounds],
            "max_rows_per_file": max_rows_per_file,
        },
        "cells": cells,
        "files": files,
    });
    // serde_json's pretty printer cannot fail on a Value.
    serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
}
