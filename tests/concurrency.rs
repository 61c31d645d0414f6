//! Eight reader threads run radius queries, counts and field checks while a writer commits
//! batches: no reader ever sees part of a batch, and a reader's version never changes.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tensormap::{Database, MapConfig, Object};

const BATCH: u64 = 50;

/// Every object has embedding [1, 0.5, ...] and sits far from the grid's faces, so each
/// contributes exactly the kernel's total weight to the field's channel-0 sum.
fn kernel_total(cfg: &MapConfig) -> f64 {
    let r = cfg.splat_radius as i64;
    let mut total = 0.0;
    for dx in -r..=r {
        for dy in -r..=r {
            for dz in -r..=r {
                total +=
                    (-((dx * dx + dy * dy + dz * dz) as f64) / (2.0 * cfg.sigma * cfg.sigma)).exp();
            }
        }
    }
    total
}

fn run(db: Database, seconds: f64, readers: usize) {
    let cfg = MapConfig {
        channels: 4,
        ..Default::default()
    };
    db.create_map("m", cfg.clone()).unwrap();
    let k = kernel_total(&cfg);
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..readers)
        .map(|_| {
            let (db, stop, checks) = (db.clone(), stop.clone(), checks.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let read = db.begin_read().unwrap();
                    let view = read.map("m").unwrap();
                    let n = view.len() as u64;
                    assert_eq!(n % BATCH, 0, "a reader saw part of a batch");
                    let hits = view.within([0.0; 3], 1000.0).unwrap().len() as u64;
                    assert_eq!(hits, n, "the R*-tree and the count disagree");
                    let sum = view
                        .field()
                        .unwrap()
                        .root_agg()
                        .map_or(0.0, |a| a.sum[0] as f64);
                    let want = n as f64 * k;
                    assert!(
                        (sum - want).abs() <= 1e-3 * want.max(1.0),
                        "field {sum} vs {want}"
                    );
                    // The version a reader holds never changes.
                    std::thread::yield_now();
                    assert_eq!(view.len() as u64, n);
                    assert_eq!(view.within([0.0; 3], 1000.0).unwrap().len() as u64, n);
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut batches = 0u64;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        let mut txn = db.begin_write().unwrap();
        for i in 0..BATCH {
            let n = batches * BATCH + i;
            let p = [
                (n % 97) as f32 * 8.0 - 380.0,
                ((n / 97) % 89) as f32 * 8.0 - 350.0,
                ((n / 8633) % 80) as f32 * 8.0 - 320.0,
            ];
            txn.insert(
                "m",
                Object::new(format!("o{n}"), "t", p, vec![1.0, 0.5, 0.5, 0.5]),
            )
            .unwrap();
        }
        // Every third batch also moves and deletes objects of an earlier batch, in pairs that
        // keep the count a multiple of the batch size: delete BATCH, insert BATCH.
        if batches % 3 == 2 {
            for i in 0..BATCH {
                txn.delete("m", &format!("o{}", (batches - 2) * BATCH + i))
                    .unwrap();
                let n = 1_000_000 + batches * BATCH + i;
                txn.insert(
                    "m",
                    Object::new(
                        format!("o{n}"),
                        "t",
                        [0.0, 0.0, (i as f32) - 25.0],
                        vec![1.0, 0.5, 0.5, 0.5],
                    ),
                )
                .unwrap();
            }
        }
        txn.commit().unwrap();
        batches += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert!(batches > 10, "only {batches} batches");
    assert!(checks.load(Ordering::Relaxed) > 10);
}

#[test]
fn readers_never_see_a_partial_batch_in_memory() {
    run(Database::open_in_memory().unwrap(), 2.0, 8);
}

/// Eight readers and one writer on sled for 5 s (the long form: 30 s, `--ignored`).
#[test]
fn readers_never_see_a_partial_batch_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    run(Database::open(dir.path().join("db")).unwrap(), 5.0, 8);
}

#[test]
#[ignore = "long: 30 s (cargo test --release --test concurrency -- --ignored)"]
fn readers_never_see_a_partial_batch_on_disk_long() {
    let dir = tempfile::tempdir().unwrap();
    run(Database::open(dir.path().join("db")).unwrap(), 30.0, 8);
}
