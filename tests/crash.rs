//! Crash testing: a child process (this test binary re-run with an environment variable)
//! commits random transactions to a sled database and records each acknowledged commit in
//! a side file; the parent kills it with SIGKILL at a random moment, reopens the database
//! and checks that every acknowledged commit is there, that no transaction is half there,
//! that the voxel field is the splat of the objects, and that the packed R-trees answer
//! as brute force does. Odd rounds use storage options small enough that most commits
//! write segment files (the bulk path) and seal records into files; every round also
//! inserts in bulk (`insert_many`) and checkpoints now and then. The background merger
//! runs with no pause before merging toward one segment (and folding the field journal
//! when it names segments to merge), and the child sleeps a little now and then, so kills
//! land during segment writes, merges, their installs, folds and checkpoints. After the
//! reopen (without a merger) the segment folder holds exactly the files the database
//! uses; opened again with the merger, the map converges to few segments with the same
//! objects. `cargo test --test crash` runs 200 rounds; the long form is
//! `cargo test --release --test crash -- --ignored` (5,000 rounds).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Object, Options};

const CHILD: &str = "TENSORMAP_CRASH_CHILD";

/// The storage options of round `round`: small in odd rounds, the background merger
/// merging as soon as it can.
fn options(round: u64) -> Options {
    let merging = Options {
        merge_quiet: Duration::ZERO,
        ..Options::default()
    };
    if round % 2 == 1 {
        Options {
            bulk_rows: 16,
            seal_rows: 50,
            large_rows: 40,
            ..merging
        }
    } else {
        merging
    }
}

fn config() -> MapConfig {
    // Small bricks and few channels: the journal reaches a checkpoint within a round.
    MapConfig {
        resolution: 16,
        channels: 4,
        bounds: 100.0,
        sigma: 1.0,
        splat_radius: 2,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Object),
    Update(Object),
    Delete(String),
}

/// Transaction `i` of round `round`, drawn from the state before it (deterministic).
fn transaction(round: u64, i: u64, model: &BTreeMap<String, Object>) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(round * 1_000_003 + i);
    let cfg = config();
    let mut ops = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let object = |rng: &mut ChaCha8Rng, id: String| {
        let p = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
        let e = (0..cfg.channels)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        Object::new(id, "t", p, e)
    };
    for j in 0..rng.random_range(1..40) {
        ops.push(Op::Put(object(&mut rng, format!("r{i}-{j}"))));
    }
    let ids: Vec<&String> = model.keys().collect();
    for _ in 0..rng.random_range(0..10usize).min(ids.len()) {
        let id = ids[rng.random_range(0..ids.len())].clone();
        if taken.contains(&id) {
            continue;
        }
        taken.push(id.clone());
        ops.push(if rng.random_bool(0.5) {
            Op::Delete(id)
        } else {
            Op::Update(object(&mut rng, id))
        });
    }
    ops
}

fn apply(model: &mut BTreeMap<String, Object>, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(o) | Op::Update(o) => {
                model.insert(o.id.clone(), o.clone());
            }
            Op::Delete(id) => {
                model.remove(id);
            }
        }
    }
}

/// The child: commits transactions until it is killed, recording each acknowledged one.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let round: u64 = std::env::var("TENSORMAP_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let dir = Path::new(&dir);
    let db = Database::open_with(dir.join("db"), options(round)).unwrap();
    if db.maps().is_empty() {
        db.create_map("m", config()).unwrap();
    }
    let mut acked = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("acked"))
        .unwrap();
    let mut model = BTreeMap::new();
    for i in 0.. {
        let ops = transaction(round, i, &model);
        let mut txn = db.begin_write().unwrap();
        if i % 3 == 2 {
            // The puts in one bulk call, the rest after.
            let puts: Vec<Object> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Put(o) => Some(o.clone()),
                    _ => None,
                })
                .collect();
            txn.insert_many("m", puts).unwrap();
        }
        for op in &ops {
            match op {
                Op::Put(o) if i % 3 != 2 => txn.insert("m", o.clone()).unwrap(),
                Op::Put(_) => {}
                Op::Update(o) => txn.update("m", o.clone()).unwrap(),
                Op::Delete(id) => txn.delete("m", id).unwrap(),
            }
        }
        txn.commit().unwrap();
        // Acknowledged: the commit returned, so it must survive anything from here on.
        writeln!(acked, "{i}").unwrap();
        acked.sync_data().unwrap();
        apply(&mut model, &ops);
        if i % 5 == 4 {
            db.checkpoint().unwrap();
        }
        if i % 7 == 3 {
            // A pause: the merger works toward one segment meanwhile.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// Waits (at most `limit`) until the child has acknowledged a commit in `acked`.
fn wait_for_first_ack(acked: &Path, limit: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if std::fs::metadata(acked).is_ok_and(|m| m.len() > 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One round; returns how many commits the child had acknowledged.
fn check_round(round: u64, rng: &mut ChaCha8Rng) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .env("TENSORMAP_CRASH_ROUND", round.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Three rounds in four start the kill's clock at the child's first acknowledged commit,
    // so that a loaded machine (a slow start of the child) still kills mid-work; the
    // fourth kills blind, also before or during the map's creation.
    if !round.is_multiple_of(4) {
        wait_for_first_ack(&dir.path().join("acked"), Duration::from_secs(30));
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(20..150)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let acked: Vec<u64> = std::fs::read_to_string(dir.path().join("acked"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    // Opened without a merger, so that nothing changes the files while they are counted.
    let quiet = Options {
        background_merge: false,
        ..options(round)
    };
    let db = Database::open_with(dir.path().join("db"), quiet)
        .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
    // Files a killed commit or merge wrote but never named are gone.
    let files =
        std::fs::read_dir(dir.path().join("db").join("segments")).map_or(0, |d| d.count()) as u64;
    let read = db.begin_read().unwrap();
    let Ok(view) = read.map("m") else {
        assert!(
            acked.is_empty(),
            "round {round}: the map is gone after {} commits",
            acked.len()
        );
        return 0;
    };
    let stored: BTreeMap<String, Object> = view
        .objects()
        .map(|o| (o.id().to_string(), o.to_object()))
        .collect();
    let segments = view.stats().unwrap().index_segments;
    assert!(
        files <= segments + 4,
        "round {round}: {files} files for {segments} segments"
    );

    // The store holds exactly the acknowledged transactions, or those and the one in flight.
    let mut model = BTreeMap::new();
    let mut matched = acked.is_empty() && stored.is_empty();
    for i in 0..acked.len() as u64 + 1 {
        let ops = transaction(round, i, &model);
        apply(&mut model, &ops);
        if i + 1 >= acked.len() as u64 && stored == model {
            matched = true;
            break;
        }
    }
    assert!(matched, "round {round}: {} acknowledged commits, the store holds {} objects matching no prefix of them", acked.len(), stored.len());

    // The field is the splat of the objects (every covered cell within f32 tolerance).
    let cfg = config();
    let all = view.voxels_within([0.0; 3], 1000.0).unwrap();
    let mut naive: BTreeMap<[u32; 3], Vec<f64>> = BTreeMap::new();
    let r = cfg.splat_radius as i64;
    for o in stored.values() {
        let c = o.position.map(|p| cfg.cell_of(p) as i64);
        for dx in -r..=r {
            for dy in -r..=r {
                for dz in -r..=r {
                    let n = [c[0] + dx, c[1] + dy, c[2] + dz];
                    if n.iter().any(|v| *v < 0 || *v >= cfg.resolution as i64) {
                        continue;
                    }
                    let w = (-((dx * dx + dy * dy + dz * dz) as f64)
                        / (2.0 * cfg.sigma * cfg.sigma))
                        .exp();
                    let cell = naive
                        .entry(n.map(|v| v as u32))
                        .or_insert_with(|| vec![0.0; 4]);
                    for (a, e) in cell.iter_mut().zip(&o.embedding) {
                        *a += w * *e as f64;
                    }
                }
            }
        }
    }
    for n in 0..all.len() {
        let want = naive
            .get(&all.cells[n])
            .unwrap_or_else(|| panic!("round {round}: stray cell {:?}", all.cells[n]));
        for (g, w) in all.value(n).iter().zip(want) {
            assert!(
                (*g as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
                "round {round}: cell {:?}: {g} vs {w}",
                all.cells[n]
            );
        }
    }

    // The packed R-trees agree with brute force.
    for _ in 0..5 {
        let c = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
        let radius = rng.random_range(0.0f32..60.0);
        let mut got: Vec<&str> = view
            .within(c, radius)
            .unwrap()
            .iter()
            .map(|o| o.id())
            .collect();
        got.sort_unstable();
        let want: Vec<&str> = stored
            .values()
            .filter(|o| dist2(o.position, c) <= radius * radius)
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(got, want, "round {round}");
    }
    drop(read);
    drop(db);
    // Opened with the merger: once it settles the map is a large segment and at most a
    // small tail (each segment more than eight times the rows of those after it),
    // holding the same.
    let db = Database::open_with(dir.path().join("db"), options(round)).unwrap();
    db.wait_for_merges();
    assert_eq!(db.merge_error(), None, "round {round}");
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    assert!(view.stats().unwrap().index_segments <= 3, "round {round}");
    assert_eq!(view.len(), stored.len(), "round {round}");
    let c = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
    let mut got: Vec<&str> = view
        .within(c, 50.0)
        .unwrap()
        .iter()
        .map(|o| o.id())
        .collect();
    got.sort_unstable();
    let want: Vec<&str> = stored
        .values()
        .filter(|o| dist2(o.position, c) <= 2500.0)
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(got, want, "round {round}, merged");
    acked.len()
}

fn rounds(n: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut acked = 0;
    for round in 0..n {
        acked += check_round(round, &mut rng);
    }
    // The children got far enough for the test to mean something.
    assert!(
        acked as u64 > n,
        "only {acked} acknowledged commits in {n} rounds"
    );
    println!("{n} rounds, {acked} acknowledged commits, none lost");
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    rounds(200);
}

#[test]
#[ignore = "long: 5,000 rounds (cargo test --release --test crash -- --ignored)"]
fn acknowledged_commits_survive_sigkill_long() {
    rounds(5000);
}
