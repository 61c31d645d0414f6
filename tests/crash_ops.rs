//! Crash tests of the long operations: a child process (this test binary re-run with an
//! environment variable) repeats one operation — COPY FROM a CSV file, COPY FROM a Parquet
//! file, RESTORE of a snapshot, a bulk insert through `Database::write` + `insert_many`
//! (the path the Python binding's `insert` takes), or an INSERT followed by a checkpoint —
//! recording each acknowledged one in a side file; the parent kills it with SIGKILL at a
//! random moment, reopens the database (asserting that the open takes well under a bound)
//! and checks that each operation is there whole or not at all: every batch of objects
//! complete or absent, every restored map complete or absent, every acknowledged one
//! present, at most one unacknowledged one (the one in flight) present, and the objects
//! that were there before untouched. `cargo test --test crash_ops` runs 20 rounds; the
//! long form is `cargo test --release --test crash_ops -- --ignored` (520 rounds).
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, Object, Value};

const CHILD: &str = "TENSORMAP_CRASH_OPS_CHILD";
/// Objects in a batch (a COPY file, a bulk insert).
const BATCH: usize = 400;
/// Objects in the map before the child starts.
const BASE: usize = 300;
/// Objects of the snapshot RESTORE reads.
const RESTORED: usize = 500;
/// The longest a reopen after a kill may take (the usual is milliseconds).
const OPEN_BOUND: Duration = Duration::from_secs(5);

const OPS: [&str; 5] = ["copy_csv", "copy_parquet", "restore", "bulk", "checkpoint"];

fn object(id: String, i: usize) -> Object {
    let f = i as f32;
    Object::new(
        id,
        "t",
        [
            (f * 7.3) % 180.0 - 90.0,
            (f * 3.1) % 180.0 - 90.0,
            (f * 1.7) % 180.0 - 90.0,
        ],
        vec![(f % 11.0) / 11.0, 0.5, -0.25, 0.125],
    )
}

fn batch(k: u64) -> Vec<Object> {
    (0..BATCH).map(|i| object(format!("b{k}_{i}"), i)).collect()
}

fn create(db: &Database, name: &str) {
    db.execute(&format!(
        "CREATE MAP {name} WITH (channels = 4, resolution = 16, bounds = 100, splat_radius = 1)"
    ))
    .unwrap();
}

/// A file of `objects` written by COPY TO from a scratch database (format by extension).
fn export(objects: Vec<Object>, path: &Path) {
    let db = Database::open_in_memory().unwrap();
    create(&db, "x");
    db.write(|t| t.insert_many("x", objects)).unwrap();
    db.execute(&format!("COPY x TO '{}'", path.display()))
        .unwrap();
}

/// The child: repeats its operation until it is killed.
#[test]
fn crash_ops_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (op, dir) = spec.split_once(':').unwrap();
    let dir = Path::new(dir);
    let db = Database::open(dir.join("db")).unwrap();
    let mut acked = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("acked"))
        .unwrap();
    for k in 0u64.. {
        match op {
            "copy_csv" | "copy_parquet" => {
                let ext = if op == "copy_csv" { "csv" } else { "parquet" };
                let file = dir.join(format!("b{k}.{ext}"));
                export(batch(k), &file);
                db.execute(&format!("COPY m FROM '{}'", file.display()))
                    .unwrap();
            }
            "restore" => {
                let snap = dir.join("r.tensor3d");
                db.execute(&format!("RESTORE r{k} FROM '{}'", snap.display()))
                    .unwrap();
            }
            "bulk" => db.write(|t| t.insert_many("m", batch(k))).unwrap(),
            "checkpoint" => {
                db.write(|t| t.insert_many("m", batch(k))).unwrap();
                db.checkpoint().unwrap();
            }
            other => panic!("unknown operation {other}"),
        }
        // Acknowledged: it returned, so it must survive anything from here on.
        writeln!(acked, "{k}").unwrap();
        acked.sync_data().unwrap();
    }
}

fn ids(db: &Database, map: &str) -> Vec<String> {
    let r = db.execute(&format!("SELECT id FROM {map}")).unwrap();
    r[0].rows
        .iter()
        .map(|row| match &row[0] {
            Value::Text(s) => s.to_string(),
            v => panic!("id {v:?}"),
        })
        .collect()
}

/// One round of `op`; returns how many operations the child had acknowledged.
fn check_round(op: &str, round: u64, rng: &mut ChaCha8Rng) -> usize {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path().join("db")).unwrap();
        create(&db, "m");
        let base: Vec<Object> = (0..BASE).map(|i| object(format!("base_{i}"), i)).collect();
        db.write(|t| t.insert_many("m", base)).unwrap();
    }
    if op == "restore" {
        let src = Database::open_in_memory().unwrap();
        create(&src, "s");
        let objects = (0..RESTORED).map(|i| object(format!("s{i}"), i)).collect();
        src.write(|t| t.insert_many("s", objects)).unwrap();
        let snap = dir.path().join("r.tensor3d");
        src.execute(&format!("SNAPSHOT s TO '{}'", snap.display()))
            .unwrap();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_ops_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{op}:{}", dir.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let acked: Vec<u64> = std::fs::read_to_string(dir.path().join("acked"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let next = acked.last().map_or(0, |k| k + 1);
    let started = Instant::now();
    let db = Database::open(dir.path().join("db")).unwrap();
    let took = started.elapsed();
    assert!(
        took < OPEN_BOUND,
        "{op} round {round}: the reopen took {took:?}"
    );

    // The objects there before the child: all present.
    let m = ids(&db, "m");
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for id in &m {
        let (prefix, _) = id.split_once('_').unwrap();
        *groups.entry(prefix.to_string()).or_default() += 1;
    }
    assert_eq!(groups.remove("base"), Some(BASE), "{op} round {round}");
    if op == "restore" {
        assert!(groups.is_empty(), "{op} round {round}: {groups:?}");
        let maps = db.maps();
        for k in 0..=next {
            let name = format!("r{k}");
            let present = maps.iter().any(|i| i.name == name);
            if present {
                assert_eq!(
                    ids(&db, &name).len(),
                    RESTORED,
                    "{op} round {round}: {name} half restored"
                );
            }
            if k < next {
                assert!(present, "{op} round {round}: acknowledged {name} lost");
            }
        }
        assert!(
            maps.len() <= 2 + next as usize,
            "{op} round {round}: {} maps",
            maps.len()
        );
    } else {
        for k in 0..next {
            assert_eq!(
                groups.remove(&format!("b{k}")),
                Some(BATCH),
                "{op} round {round}: acknowledged batch {k} lost or partial"
            );
        }
        // The one in flight: whole or absent; nothing else.
        if let Some(n) = groups.remove(&format!("b{next}")) {
            assert_eq!(n, BATCH, "{op} round {round}: batch {next} half there");
        }
        assert!(groups.is_empty(), "{op} round {round}: {groups:?}");
    }
    // The database takes writes after the crash.
    db.execute(
        "INSERT INTO m (id, position, embedding) VALUES ('after_0', [0, 0, 0], [0, 0, 0, 0])",
    )
    .unwrap();
    acked.len()
}

fn rounds(per_op: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(0x0c0f_fee5);
    for op in OPS {
        let mut acked = 0;
        for round in 0..per_op {
            acked += check_round(op, round, &mut rng);
        }
        println!("{op}: {per_op} rounds, {acked} acknowledged operations, none lost or partial");
    }
}

#[test]
fn long_operations_are_whole_or_absent_after_sigkill() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    rounds(4);
}

#[test]
#[ignore = "long: 520 rounds (cargo test --release --test crash_ops -- --ignored)"]
fn long_operations_are_whole_or_absent_after_sigkill_long() {
    rounds(104);
}
