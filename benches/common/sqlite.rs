//! The SQLite peer: what a program does today for spatial lookups, written well.
//!
//! Objects go into a table keyed by an integer id and into an R*Tree virtual table of
//! degenerate boxes (min = max: the points are f32, which the R*Tree stores exactly).
//! A radius query asks the R*Tree for the bounding box and checks the exact distance in
//! the same statement; nearest-k has no native form, so it grows a box around the point
//! until the k-th nearest hit provably lies inside it.

use std::path::Path;

use rusqlite::{params, Connection, Result};
use tensormap::Object;

#[derive(Debug)]
pub struct SqlitePeer {
    conn: Connection,
    /// Points in the R*Tree and their bounding box: size the first box of a k-NN search.
    count: usize,
    lo: [f64; 3],
    hi: [f64; 3],
}

const SCHEMA: &str = "
    CREATE TABLE objects(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                         kind TEXT NOT NULL, embedding BLOB NOT NULL);
    CREATE VIRTUAL TABLE points USING rtree(id, min_x, max_x, min_y, max_y, min_z, max_z);";

impl SqlitePeer {
    /// Opens (creating if needed) the database at `path`: WAL, every commit fsynced
    /// (`synchronous = FULL`: as durable as tensormap's commits), a 512 MiB page cache
    /// and memory-mapped reads.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA cache_size = -524288;
             PRAGMA mmap_size = 2147483648;",
        )?;
        let exists: bool = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'objects'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !exists {
            conn.execute_batch(SCHEMA)?;
        }
        let (count, lo, hi) = conn.query_row(
            "SELECT count(*), min(min_x), min(min_y), min(min_z),
                    max(max_x), max(max_y), max(max_z) FROM points",
            [],
            |r| {
                let v = |i| r.get::<_, Option<f64>>(i).map(|v| v.unwrap_or(0.0));
                Ok((
                    r.get::<_, i64>(0)?,
                    [v(1)?, v(2)?, v(3)?],
                    [v(4)?, v(5)?, v(6)?],
                ))
            },
        )?;
        Ok(SqlitePeer {
            conn,
            count: count as usize,
            lo,
            hi,
        })
    }

    /// Points per unit³ over the bounding box (1 for a flat set: any finite first box).
    fn density(&self) -> f64 {
        let volume: f64 = (0..3).map(|a| self.hi[a] - self.lo[a]).product();
        if volume > 0.0 {
            self.count as f64 / volume
        } else {
            1.0
        }
    }

    /// Inserts `objects` with ids `first_id..` in transactions of `batch` objects, each
    /// committed durably.
    pub fn load(&mut self, objects: &[Object], first_id: i64, batch: usize) -> Result<()> {
        let mut blob = Vec::new();
        for (b, chunk) in objects.chunks(batch.max(1)).enumerate() {
            // The bounding box and count as they will be once this batch commits.
            let (mut count, mut lo, mut hi) = (self.count, self.lo, self.hi);
            let txn = self.conn.transaction()?;
            {
                let mut insert_object = txn.prepare_cached(
                    "INSERT INTO objects(id, name, kind, embedding) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut insert_point =
                    txn.prepare_cached("INSERT INTO points VALUES (?1, ?2, ?2, ?3, ?3, ?4, ?4)")?;
                for (i, o) in chunk.iter().enumerate() {
                    let id = first_id + (b * batch + i) as i64;
                    blob.clear();
                    blob.extend(o.embedding.iter().flat_map(|v| v.to_le_bytes()));
                    insert_object.execute(params![id, o.id, o.kind, blob])?;
                    let p = o.position.map(f64::from);
                    insert_point.execute(params![id, p[0], p[1], p[2]])?;
                    for a in 0..3 {
                        if count == 0 {
                            (lo[a], hi[a]) = (p[a], p[a]);
                        }
                        lo[a] = lo[a].min(p[a]);
                        hi[a] = hi[a].max(p[a]);
                    }
                    count += 1;
                }
            }
            txn.commit()?;
            (self.count, self.lo, self.hi) = (count, lo, hi);
        }
        Ok(())
    }

    /// Ids of the points within `radius` of `center` (distance checked in f64).
    pub fn within(&self, center: [f32; 3], radius: f32) -> Result<Vec<i64>> {
        let [x, y, z] = center.map(f64::from);
        let r = f64::from(radius);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM points
             WHERE max_x >= ?1 - ?4 AND min_x <= ?1 + ?4
               AND max_y >= ?2 - ?4 AND min_y <= ?2 + ?4
               AND max_z >= ?3 - ?4 AND min_z <= ?3 + ?4
               AND (min_x - ?1) * (min_x - ?1) + (min_y - ?2) * (min_y - ?2)
                 + (min_z - ?3) * (min_z - ?3) <= ?4 * ?4",
        )?;
        let rows = stmt.query_map(params![x, y, z, r], |row| row.get(0))?;
        rows.collect()
    }

    /// The `k` points nearest `point` with their distances, nearest first, ties by id.
    ///
    /// Starts with the cube whose inscribed ball is expected to hold 2k points. When the
    /// cube of half-width `h` holds at least k points and the k-th distance `d ≤ h`, the
    /// ball of radius `d` lies inside the cube, so no point outside it is nearer. When
    /// `d > h`, a cube of half-width `d` is certain to succeed; with fewer than k hits the
    /// cube doubles.
    pub fn nearest(&self, point: [f32; 3], k: usize) -> Result<Vec<(i64, f64)>> {
        if k == 0 || self.count == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(self.count);
        let [x, y, z] = point.map(f64::from);
        let mut h = (3.0 * 2.0 * k as f64 / (4.0 * std::f64::consts::PI * self.density())).cbrt();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, min_x, min_y, min_z FROM points
             WHERE max_x >= ?1 - ?4 AND min_x <= ?1 + ?4
               AND max_y >= ?2 - ?4 AND min_y <= ?2 + ?4
               AND max_z >= ?3 - ?4 AND min_z <= ?3 + ?4",
        )?;
        let mut hits: Vec<(i64, f64)> = Vec::new();
        loop {
            hits.clear();
            let rows = stmt.query_map(params![x, y, z, h], |row| {
                let (px, py, pz): (f64, f64, f64) = (row.get(1)?, row.get(2)?, row.get(3)?);
                let d2 = (px - x) * (px - x) + (py - y) * (py - y) + (pz - z) * (pz - z);
                Ok((row.get(0)?, d2))
            })?;
            for hit in rows {
                hits.push(hit?);
            }
            if hits.len() < k {
                h *= 2.0;
                continue;
            }
            let by_distance =
                |a: &(i64, f64), b: &(i64, f64)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
            hits.select_nth_unstable_by(k - 1, by_distance);
            let kth = hits[k - 1].1.sqrt();
            if kth <= h {
                hits.truncate(k);
                hits.sort_unstable_by(by_distance);
                return Ok(hits.into_iter().map(|(id, d2)| (id, d2.sqrt())).collect());
            }
            h = kth;
        }
    }
}
