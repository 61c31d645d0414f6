//! Disk space and memory at scale: the bytes on disk of a database after 1M inserts, and
//! after 500k deletes and a checkpoint, against the logical size of what it holds
//! ([`Database::map_logical_bytes`]: the live objects and the field's bricks); and the
//! resident memory of a process that opens it and answers a query. A report with the
//! storage targets (BENCHMARKS.md) as checks (about a minute in release):
//! `cargo test --release --test space -- --ignored --nocapture`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Object};

/// Resident memory of this process (kB): current and peak, from /proc.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
#[ignore = "report: 1M inserts and 500k deletes on disk (about a minute in release)"]
fn space_after_a_million_inserts_and_half_a_million_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for batch in 0..100 {
        let objects = (0..10_000)
            .map(|i| {
                let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
                let e = (0..32).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                Object::new(format!("o{:07}", batch * 10_000 + i), "t", p, e)
            })
            .collect();
        let mut txn = db.begin_write().unwrap();
        txn.insert_many("m", objects).unwrap();
        txn.commit().unwrap();
    }
    // Once writes pause the background merger folds the field journal and merges the
    // segments; the figure is that steady state.
    db.wait_for_merges();
    let loaded = (
        db.size_on_disk().unwrap(),
        db.map_logical_bytes("m").unwrap(),
    );
    for batch in 0..50 {
        let mut txn = db.begin_write().unwrap();
        for i in 0..10_000 {
            txn.delete("m", &format!("o{:07}", 2 * (batch * 10_000 + i)))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    db.checkpoint().unwrap();
    let compacted = (
        db.size_on_disk().unwrap(),
        db.map_logical_bytes("m").unwrap(),
    );
    drop(db);
    let reopened = Database::open(&path).unwrap();
    let after_reopen = reopened.size_on_disk().unwrap();
    let mb = |b: u64| b as f64 / 1e6;
    let ratio = |(disk, logical): (u64, u64)| disk as f64 / logical as f64;
    println!(
        "1M inserts: {:.0} MB on disk for {:.0} MB of data ({:.2}×)",
        mb(loaded.0),
        mb(loaded.1),
        ratio(loaded)
    );
    println!(
        "then 500k deletes and a checkpoint: {:.0} MB on disk for {:.0} MB of data ({:.2}×); after a reopen {:.0} MB",
        mb(compacted.0),
        mb(compacted.1),
        ratio(compacted),
        mb(after_reopen)
    );
    assert_eq!(reopened.maps()[0].objects, 500_000);
    assert!(ratio(loaded) <= 1.3, "after loading: {:.2}×", ratio(loaded));
    assert!(
        ratio(compacted) <= 1.5,
        "after compacting: {:.2}×",
        ratio(compacted)
    );
}

#[test]
#[ignore = "report: resident memory of a process holding a 1M-object database open (release)"]
fn resident_memory_of_an_open_million_object_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let child = std::env::var("TENSORMAP_RSS_CHILD");
    if let Ok(path) = child {
        // The child: open, answer one radius query, report memory.
        let db = Database::open(&path).unwrap();
        let hits = db
            .begin_read()
            .unwrap()
            .within("m", [0.0; 3], 28.8)
            .unwrap()
            .len();
        let (rss, peak) = rss_kb();
        println!("RSS {rss} {peak} {hits}");
        return;
    }
    {
        let db = Database::open(&path).unwrap();
        db.create_map("m", MapConfig::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for batch in 0..10 {
            let objects = (0..100_000)
                .map(|i| {
                    let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
                    let e = (0..32).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                    Object::new(format!("o{:07}", batch * 100_000 + i), "t", p, e)
                })
                .collect();
            let mut txn = db.begin_write().unwrap();
            txn.insert_many("m", objects).unwrap();
            txn.commit().unwrap();
        }
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resident_memory_of_an_open_million_object_database",
            "--ignored",
            "--nocapture",
        ])
        .env("TENSORMAP_RSS_CHILD", &path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("RSS ")).unwrap();
    let v: Vec<u64> = line[4..]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    println!(
        "a process that opened the 1M-object database and answered a radius query ({} hits): {:.0} MB resident, peak {:.0} MB",
        v[2],
        v[0] as f64 / 1e3,
        v[1] as f64 / 1e3
    );
    assert!(v[0] <= 350_000, "{} kB resident", v[0]);
}
