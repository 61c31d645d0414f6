//! Partitioned exports: one Hive-style folder `cell=<m>/` per occupied octree cell at a
//! depth `d`, `m` the Morton code of the cell among the `2^d × 2^d × 2^d` cells over the
//! map's bounds (bit `3i + axis` is bit `i` of the cell's coordinate on that axis, x = 0,
//! as `tensormap_storage::brick::morton`). DuckDB's `hive_partitioning` and Spark read
//! `cell` as a column, so `WHERE cell = m` reads one folder.
//!
//! A cell's rows go to `part-0.parquet`, or, past `max_rows_per_file`, to `part-<i>` pieces
//! cut KDB-style ([`crate::kdb`]), so that no reader's task gets a giant file. The
//! manifest `_tensormap.json` ([`crate::manifest`]) is written last, at the root.

use std::io::Write;
use std::path::Path;

use tensormap_engine::{ErrorKind, MapView, ObjectRef};
use tensormap_query::copy::{CopyError, Exported};
use tensormap_query::Progress;

use crate::files::{show, write_error, AtomicFile};
use crate::geo::BBox;
use crate::kdb::{self, Split};
use crate::manifest::{self, CellEntry, FileEntry};
use crate::parquet_write::write_rows;
use crate::rows::{sorted_rows, KEY_BITS};

/// The Hive column name of the partition.
pub const COLUMN: &str = "cell";

/// The depth-`depth` cell of a row with Morton key `key` (see [`crate::rows::morton_key`]).
pub fn cell_of_key(key: u64, depth: u32) -> u64 {
    let depth = depth.min(KEY_BITS);
    key >> (3 * (KEY_BITS - depth))
}

/// The folder name of cell `m`.
pub fn folder(m: u64) -> String {
    format!("{COLUMN}={m}")
}

/// The depth-`depth` cell of world position `p` in a map of `bounds`: what a reader
/// computes to pick the folder of a point (docs/interop.md shows it in SQL).
pub fn cell_of(p: [f32; 3], bounds: f64, depth: u32) -> u64 {
    cell_of_key(crate::rows::morton_key(p, bounds), depth)
}

/// The index on each axis of the cell with Morton code `m` (the inverse of the storage
/// crate's `morton`).
pub fn cell_index(m: u64) -> [u32; 3] {
    let mut c = [0u32; 3];
    for bit in 0..KEY_BITS {
        for (axis, v) in c.iter_mut().enumerate() {
            *v |= (((m >> (3 * bit + axis as u32)) & 1) as u32) << bit;
        }
    }
    c
}

/// The cube of space of the cell with index `c` at `depth`: `[min, max]` per axis.
pub fn cell_cube(c: [u32; 3], bounds: f64, depth: u32) -> [[f64; 3]; 2] {
    let side = 2.0 * bounds / (1u64 << depth.min(KEY_BITS)) as f64;
    [
        c.map(|i| -bounds + i as f64 * side),
        c.map(|i| -bounds + (i as f64 + 1.0) * side),
    ]
}

/// The regions of a cut tree's pieces, in order, within `cube`.
fn regions(s: &Split, cube: [[f64; 3]; 2], out: &mut Vec<[[f64; 3]; 2]>) {
    match s {
        Split::Piece { .. } => out.push(cube),
        Split::Cut {
            axis,
            at,
            below,
            above,
        } => {
            let (mut lo, mut hi) = (cube, cube);
            lo[1][*axis] = *at as f64;
            hi[0][*axis] = *at as f64;
            regions(below, lo, out);
            regions(above, hi, out);
        }
    }
}

fn bbox_of(rows: &[(u64, ObjectRef<'_>)]) -> BBox {
    let mut b = BBox::default();
    for (_, o) in rows {
        b.add(o.position());
    }
    b
}

/// `COPY map TO 'dir' WITH (format = 'parquet', partition_by = 'octree', depth = d,
/// max_rows_per_file = n)`: `dir/cell=<m>/part-<i>.parquet` for every occupied cell `m`
/// at depth `d`, then `dir/_tensormap.json`. The folder must be new or empty (a leftover
/// file from another export would be read as part of this one).
pub fn write_partitioned(
    map: &MapView<'_>,
    dir: &Path,
    depth: u32,
    max_rows_per_file: u64,
    row_group_size: usize,
    progress: &Progress,
) -> Result<Exported, CopyError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| {
            CopyError::io(show(dir), format!("cannot export into this folder: {e}"))
        })?;
        if entries.next().is_some() {
            return Err(CopyError::new(
                ErrorKind::Conflict,
                show(dir),
                "the folder is not empty (a partitioned export writes into a new or empty folder)",
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let mut rows = sorted_rows(map);
    let config = map.config();
    let channels = config.channels as usize;
    let max = usize::try_from(max_rows_per_file).unwrap_or(usize::MAX);
    let mut out = Exported::default();
    let mut cells = Vec::new();
    let mut files = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let cell = cell_of_key(rows[start].0, depth);
        // Rows are sorted by key, and a cell's keys share their top bits: a cell is a run.
        let len = rows[start..].partition_point(|r| cell_of_key(r.0, depth) == cell);
        let run = &mut rows[start..start + len];
        let split = kdb::split(run, max);
        let index = cell_index(cell);
        let cube = cell_cube(index, config.bounds, depth);
        let mut piece_regions = Vec::new();
        regions(&split, cube, &mut piece_regions);
        let folder = dir.join(folder(cell));
        std::fs::create_dir_all(&folder).map_err(|e| write_error(&folder, e))?;
        let first_file = files.len();
        for (i, ((a, b), region)) in split.pieces().into_iter().zip(piece_regions).enumerate() {
            let name = format!("part-{i}.parquet");
            let piece = &run[a..b];
            out.bytes += write_rows(
                &folder.join(&name),
                piece,
                channels,
                map.columns(),
                row_group_size,
                progress,
                (start + a) as u64,
            )?;
            out.files += 1;
            files.push(FileEntry {
                path: format!("{}/{name}", self::folder(cell)),
                cell,
                rows: piece.len() as u64,
                bbox: bbox_of(piece),
                region,
            });
        }
        cells.push(CellEntry {
            cell,
            index,
            cube,
            rows: len as u64,
            bbox: bbox_of(run),
            split,
            first_file,
        });
        start += len;
    }
    let text = manifest::render(map.name(), config, depth, max_rows_per_file, &cells, &files);
    let path = dir.join(manifest::FILE);
    let mut file = AtomicFile::create(&path)?;
    file.out
        .write_all(text.as_bytes())
        .map_err(|e| write_error(&path, e))?;
    out.bytes += file.commit()?;
    out.rows = rows.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_match_the_storage_morton_of_the_cell_coordinates() {
        let bounds = 500.0;
        for (p, depth) in [
            ([-499.0f32, 10.0, 260.0], 2u32),
            ([499.0, -499.0, 0.0], 3),
            ([0.0, 0.0, 0.0], 0),
            ([123.0, -77.0, 401.0], 8),
        ] {
            let n = 1u32 << depth;
            let c = p.map(|v| {
                (((v as f64 + bounds) / (2.0 * bounds) * n as f64).floor() as u32).min(n - 1)
            });
            assert_eq!(
                cell_of(p, bounds, depth),
                tensormap_storage::brick::morton(c),
                "{p:?} at depth {depth}"
            );
        }
        assert_eq!(folder(5), "cell=5");
        for m in [0u64, 1, 5, 63, 511, 4095] {
            assert_eq!(tensormap_storage::brick::morton(cell_index(m)), m);
        }
        let cube = cell_cube([1, 0, 3], 500.0, 2);
        assert_eq!(cube, [[-250.0, -500.0, 250.0], [0.0, -250.0, 500.0]]);
    }
}
