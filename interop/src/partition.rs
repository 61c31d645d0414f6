//! Partitioned exports: one Hive-style folder `cell=<m>/` per occupied octree cell at a
//! depth `d`, `m` the Morton code of the cell among the `2^d × 2^d × 2^d` cells over the
//! map's bounds (bit `3i + axis` is bit `i` of the cell's coordinate on that axis, x = 0,
//! as `tensormap_storage::brick::morton`). DuckDB's `hive_partitioning` and Spark read
//! `cell` as a column, so `WHERE cell = m` reads one folder.

use crate::rows::KEY_BITS;

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
    }
}
