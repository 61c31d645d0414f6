//! A small scene built and queried through the API: the main job until the shell lands.
//!
//! Run with `cargo run --release --example quickstart [DB_PATH]` (default `./tensormap.db`).
//! Running it again reopens the same database and shows the objects are still there.

use std::time::Instant;

use tensormap::{Candidates, Database, MapConfig, Object};

fn embedding(seed: u64, channels: usize) -> Vec<f32> {
    // A small deterministic generator (SplitMix64), so the scene is the same on every run.
    let mut s = seed;
    (0..channels)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tensormap.db".into());
    let db = Database::open(&path)?;
    println!("opened {path}");
    if db.maps().iter().all(|m| m.name != "scene") {
        db.create_map("scene", MapConfig::default())?;
        let kinds = ["cube", "sphere", "pyramid", "torus", "point"];
        let start = Instant::now();
        let mut txn = db.begin_write()?;
        for i in 0..500u64 {
            let t = i as f32 * 0.37;
            let position = [
                (t.cos() * (50.0 + i as f32 * 0.8)).clamp(-499.0, 499.0),
                ((i % 40) as f32 - 20.0) * 10.0,
                (t.sin() * (50.0 + i as f32 * 0.8)).clamp(-499.0, 499.0),
            ];
            let kind = kinds[(i % 5) as usize];
            txn.insert(
                "scene",
                Object::new(format!("{kind}_{i}"), kind, position, embedding(i, 32))
                    .with_confidence(0.5 + (i % 50) as f32 / 100.0),
            )?;
        }
        txn.commit()?;
        println!(
            "built the scene: 500 objects in {:.1?} (durable)",
            start.elapsed()
        );
    }

    let read = db.begin_read()?;
    let scene = read.map("scene")?;
    let stats = scene.stats()?;
    println!(
        "map 'scene': {} objects, {} bricks, {} covered cells, max cell norm {:.3}",
        stats.objects, stats.bricks, stats.covered_cells, stats.max_norm
    );

    let hits = scene.within([0.0, 0.0, 0.0], 100.0)?;
    println!("\nwithin 100 of the origin: {} objects", hits.len());
    for o in hits.iter().take(5) {
        println!("  {:<12} {:<8} {:?}", o.id(), o.kind(), o.position());
    }

    println!("\n5 nearest to [200, 0, 0]:");
    for (o, d) in scene.nearest([200.0, 0.0, 0.0], 5)? {
        println!("  {:<12} distance {d:.2}", o.id());
    }

    let query = embedding(7, 32);
    println!("\nattention top 5 over all objects:");
    for (o, w) in scene.attention(&query, Candidates::All, 5)? {
        println!("  {:<12} weight {w:.4}", o.id());
    }

    let voxels = scene.voxels_within([0.0, 0.0, 0.0], 100.0)?;
    println!(
        "\nvoxels within 100 of the origin: {} occupied cells",
        voxels.len()
    );
    for (n, w) in voxels.attention(&query, 3) {
        println!("  cell {:?} weight {w:.4}", voxels.cells[n]);
    }
    println!("\ndatabase size on disk: {} bytes", db.size_on_disk()?);
    Ok(())
}
