//! Times one bulk `insert_columns` of N objects × 32 channels (the Python `db.insert`
//! path without Python), in memory or into a database folder, split into staging (the
//! insert call) and the commit, then the field update that follows it. For profiling:
//!
//!     cargo run --release -p tensormap-engine --example bulk_insert -- [N] [path]

use std::time::Instant;

use tensormap_engine::{Database, MapConfig, ObjectColumns};

fn cpu() -> f64 {
    // CPU time of the process (all threads), seconds.
    let t = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = t
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let path = args.get(2);
    let channels = 32;
    let mut x: u32 = 12345;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as f32 / u32::MAX as f32
    };
    let positions: Vec<f32> = (0..3 * n).map(|_| next() * 960.0 - 480.0).collect();
    let embeddings: Vec<f32> = (0..channels * n).map(|_| next() - 0.5).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("obj_{i}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let db = match path {
        Some(p) => Database::open(p)?,
        None => Database::open_in_memory()?,
    };
    db.create_map("scene", MapConfig::default())?;
    let (w0, c0) = (Instant::now(), cpu());
    let mut txn = db.begin_write()?;
    txn.insert_columns(
        "scene",
        ObjectColumns {
            ids: &id_refs,
            kinds: &["cube"],
            positions: &positions,
            embeddings: &embeddings,
            confidences: &[1.0],
        },
    )?;
    let (w1, c1) = (Instant::now(), cpu());
    txn.commit()?;
    let (w2, c2) = (Instant::now(), cpu());
    db.begin_read()?.voxel("scene", 0, 0, 0)?;
    let (w3, c3) = (Instant::now(), cpu());
    let total = (w2 - w0).as_secs_f64();
    println!(
        "{n} objects: staging {:.3} s ({:.2} CPU), commit {:.3} s ({:.2} CPU), \
         insert {total:.3} s = {:.2}M/s ({:.2}M/s CPU); then the field {:.3} s ({:.2} CPU)",
        (w1 - w0).as_secs_f64(),
        c1 - c0,
        (w2 - w1).as_secs_f64(),
        c2 - c1,
        n as f64 / total / 1e6,
        n as f64 / (c2 - c0) / 1e6,
        (w3 - w2).as_secs_f64(),
        c3 - c2,
    );
    Ok(())
}
