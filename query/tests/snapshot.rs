//! `SNAPSHOT` and `RESTORE` in TensorQL (docs/LANGUAGE.md, "Snapshots"): the
//! restored map answers every query as its source does; settings are checked; a failing
//! statement changes nothing, inside `BEGIN` too; progress is reported.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use tensormap_engine::{Database, Value};
use tensormap_query::{ProgressSink, QueryResult, Session, Unit};

fn run(s: &mut Session, sql: &str) -> Vec<QueryResult> {
    s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    run(s, sql).pop().unwrap().rows
}

fn session_with_scene() -> Session {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    run(
        &mut s,
        "CREATE MAP scene WITH (resolution = 32, channels = 4, bounds = 100)",
    );
    let mut sql =
        String::from("INSERT INTO scene (id, type, position, embedding, confidence) VALUES ");
    for i in 0..300 {
        let f = i as f32;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "('o{i}', '{}', [{}, {}, {}], [{}, {}, {}, {}], {})",
            ["cube", "sphere", "torus"][i % 3],
            (f * 7.3) % 190.0 - 95.0,
            (f * 3.1) % 190.0 - 95.0,
            (f * 5.7) % 190.0 - 95.0,
            (f * 0.1).sin(),
            (f * 0.2).cos(),
            (f * 0.3).sin(),
            (f * 0.05).cos(),
            (i % 10) as f32 / 10.0
        ));
    }
    run(&mut s, &sql);
    run(&mut s, "DELETE FROM scene WHERE id IN ('o3', 'o4')");
    s
}

/// Queries whose answers must be the same on a map and on its restored copy.
const QUERIES: [&str; 5] = [
    "SELECT id, type, x, y, z, embedding, confidence FROM {} ORDER BY id",
    "SELECT id FROM {} WHERE WITHIN(position, [10, -20, 5], 40) ORDER BY id",
    "SELECT id, DISTANCE(position, [0, 0, 0]) AS d FROM {} ORDER BY d LIMIT 7",
    "SELECT id FROM {} ORDER BY ATTENTION([0.3, -0.2, 0.9, 0.1]) DESC LIMIT 5",
    "SELECT i, j, k, value FROM VOXELS({}) WHERE WITHIN(center, [0, 0, 0], 30) ORDER BY i, j, k",
];

#[test]
fn a_restored_map_answers_as_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_scene();
    for (n, with) in [
        "",
        " WITH (compression = 'none')",
        " WITH (format = 'json')",
        " WITH (dtype = 'f32', compression = 'zstd', threads = 2)",
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("s{n}.tensor3d"));
        let file = file.to_str().unwrap();
        let r = run(&mut s, &format!("SNAPSHOT scene TO '{file}'{with}"));
        assert!(
            r[0].status.starts_with("SNAPSHOT 298 objects"),
            "{}",
            r[0].status
        );
        let r = run(&mut s, &format!("RESTORE copy{n} FROM '{file}'"));
        assert!(
            r[0].status.starts_with("RESTORE 298 objects"),
            "{}",
            r[0].status
        );
        for q in QUERIES {
            assert_eq!(
                rows(&mut s, &q.replace("{}", "scene")),
                rows(&mut s, &q.replace("{}", &format!("copy{n}"))),
                "{q} with{with}"
            );
        }
    }
    // A file named .json is written as JSON.
    let json = dir.path().join("s.json");
    run(&mut s, &format!("SNAPSHOT scene TO '{}'", json.display()));
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.trim_start().starts_with('{'), "{}", &text[..40]);
}

#[test]
fn a_lossy_snapshot_stays_within_its_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session_with_scene();
    let file = dir.path().join("i8.tensor3d");
    run(
        &mut s,
        &format!("SNAPSHOT scene TO '{}' WITH (dtype = 'i8')", file.display()),
    );
    run(&mut s, &format!("RESTORE q FROM '{}'", file.display()));
    // Objects are exact whatever the field's dtype.
    assert_eq!(
        rows(&mut s, &QUERIES[0].replace("{}", "scene")),
        rows(&mut s, &QUERIES[0].replace("{}", "q"))
    );
    let a = rows(&mut s, "SELECT value FROM VOXELS(scene) ORDER BY i, j, k");
    let b = rows(&mut s, "SELECT value FROM VOXELS(q) ORDER BY i, j, k");
    assert_eq!(a.len(), b.len());
    let peak = a
        .iter()
        .flat_map(|r| match &r[0] {
            Value::Vector(v) => v.iter().map(|x| x.abs()).collect::<Vec<_>>(),
            _ => vec![],
        })
        .fold(0.0f32, f32::max);
    for (x, y) in a.iter().zip(&b) {
        let (Value::Vector(x), Value::Vector(y)) = (&x[0], &y[0]) else {
            panic!("voxel values are vectors")
        };
        for (p, q) in x.iter().zip(y.iter()) {
            assert!((p - q).abs() <= peak / 254.0 + 1e-6, "{p} vs {q}");
        }
    }
}

#[test]
fn mistakes_are_errors_that_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.tensor3d");
    let file = file.to_str().unwrap();
    let mut s = session_with_scene();
    for (sql, says) in [
        (
            format!("SNAPSHOT nothing TO '{file}'"),
            "no map named 'nothing'",
        ),
        (
            format!("SNAPSHOT scene TO '{file}' WITH (dtype = 'u8')"),
            "dtype must be",
        ),
        (
            format!("SNAPSHOT scene TO '{file}' WITH (compression = 'lz4')"),
            "compression must be",
        ),
        (
            format!("SNAPSHOT scene TO '{file}' WITH (level = 3)"),
            "unknown snapshot setting 'level'",
        ),
        (
            format!("SNAPSHOT scene TO '{file}' WITH (format = 'csv')"),
            "format must be",
        ),
        (format!("RESTORE other FROM '{file}'"), "s.tensor3d"),
    ] {
        let e = s.execute(&sql).unwrap_err();
        assert!(e.to_string().contains(says), "{sql}: {e}");
        assert!(!std::path::Path::new(file).exists(), "{sql} wrote a file");
    }
    run(&mut s, &format!("SNAPSHOT scene TO '{file}'"));
    let e = s
        .execute(&format!("RESTORE scene FROM '{file}'"))
        .unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");

    // Inside BEGIN: a damaged file fails, the transaction goes on; ROLLBACK undoes a
    // restore; a SNAPSHOT sees the transaction's own changes.
    let damaged = dir.path().join("damaged.tensor3d");
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&damaged, &bytes).unwrap();
    run(&mut s, "BEGIN");
    run(&mut s, "DELETE FROM scene WHERE id = 'o5'");
    let e = s
        .execute(&format!("RESTORE broken FROM '{}'", damaged.display()))
        .unwrap_err();
    assert!(e.to_string().contains("damaged snapshot"), "{e}");
    assert!(s.in_transaction());
    run(&mut s, &format!("RESTORE inside FROM '{file}'"));
    let own = dir.path().join("own.tensor3d");
    run(&mut s, &format!("SNAPSHOT scene TO '{}'", own.display()));
    run(&mut s, "ROLLBACK");
    let maps = rows(&mut s, "SHOW MAPS");
    assert_eq!(maps.len(), 1, "{maps:?}");
    run(&mut s, &format!("RESTORE own FROM '{}'", own.display()));
    assert_eq!(
        rows(&mut s, "SELECT COUNT(*) FROM own"),
        [[Value::Number(297.0)]]
    );
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl ProgressSink for Log {
    fn start(&self, label: &str, total: u64, unit: Unit) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {label} {total} {unit:?}"));
    }
    fn total(&self, total: u64) {
        self.0.lock().unwrap().push(format!("total {total}"));
    }
    fn set(&self, done: u64, _message: Option<&str>) {
        self.0.lock().unwrap().push(format!("set {done}"));
    }
    fn finish(&self) {
        self.0.lock().unwrap().push("finish".into());
    }
}

#[test]
fn snapshot_and_restore_report_progress() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.tensor3d");
    let mut s = session_with_scene();
    let log = Arc::new(Log::default());
    s.set_progress(Some(log.clone()));
    run(&mut s, &format!("SNAPSHOT scene TO '{}'", file.display()));
    run(&mut s, &format!("RESTORE r FROM '{}'", file.display()));
    let log = log.0.lock().unwrap().clone();
    let finishes: Vec<usize> = (0..log.len()).filter(|i| log[*i] == "finish").collect();
    assert_eq!(finishes.len(), 2, "{log:?}");
    assert_eq!(log[0], "start snapshot scene 0 Bytes");
    let restore = finishes[0] + 1;
    assert_eq!(log[restore], "start restore r 0 Items");
    // Each task's last report is its total, and reports never go back.
    for (from, to) in [(0, finishes[0]), (restore, finishes[1])] {
        let total: u64 = log[from..to]
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("total "))
            .unwrap()
            .parse()
            .unwrap();
        let done: Vec<u64> = log[from..to]
            .iter()
            .filter_map(|l| l.strip_prefix("set ")?.parse().ok())
            .collect();
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
        assert_eq!(done.last(), Some(&total), "{log:?}");
    }
}
