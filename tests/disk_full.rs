//! A full disk: a database on a 40 MB tmpfs (mounted by the test, which needs root) is
//! filled during INSERT, COPY FROM, SNAPSHOT and a checkpoint. Each must fail within a
//! bound (never hang) with an error that says "no space left" and names the operation;
//! everything committed before is still there; once space is freed the same database
//! handle, and a new one opened on the same folder, accept writes again without repair.
//!
//! Without root (or without `mount`), the test prints a loud message and returns; with
//! `TENSORMAP_REQUIRE_DISK_FULL=1` (set by CI, which runs as root) it fails instead.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tensormap::Database;

/// The filesystem's size: small enough to fill in a second.
const SIZE: &str = "40m";
/// Longest an operation may take to fail on a full disk (it used to hang).
const BOUND: Duration = Duration::from_secs(30);

/// A tmpfs mounted at a temporary folder, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Some(Tmpfs { dir })
        } else {
            let msg = "DISK-FULL TEST SKIPPED: cannot mount a tmpfs here (not root, or no \
                       mount); run as root to test a full disk";
            assert!(
                std::env::var("TENSORMAP_REQUIRE_DISK_FULL").as_deref() != Ok("1"),
                "{msg} (TENSORMAP_REQUIRE_DISK_FULL=1 forbids skipping)"
            );
            eprintln!("\n!!!!! {msg} !!!!!\n");
            None
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem at `fs` with a filler file until at most `leave` bytes are free.
fn fill(fs: &Path, leave: u64) -> PathBuf {
    let filler = fs.join("filler");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&filler)
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    loop {
        if free_bytes(fs) <= leave {
            break;
        }
        use std::io::Write;
        let want = (free_bytes(fs) - leave).min(chunk.len() as u64) as usize;
        if f.write_all(&chunk[..want.max(1)]).is_err() {
            break;
        }
    }
    filler
}

fn free_bytes(fs: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(fs)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Runs `sql` on `db` on another thread and waits at most [`BOUND`] for its answer.
fn bounded(db: &Database, sql: String) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let db2 = db.clone();
    let sql2 = sql.clone();
    std::thread::spawn(move || {
        let r = db2.execute(&sql2).map(|_| ()).map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let started = Instant::now();
    match rx.recv_timeout(BOUND) {
        Ok(r) => r,
        Err(_) => panic!(
            "'{}' neither failed nor finished within {:?} on a full disk",
            &sql[..sql.len().min(60)],
            started.elapsed()
        ),
    }
}

/// An INSERT of `n` objects with ids `prefix0..`, 8-channel embeddings.
fn insert(prefix: &str, n: usize) -> String {
    let mut sql = String::from("INSERT INTO m (id, type, position, embedding) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        let f = i as f32;
        sql.push_str(&format!(
            "('{prefix}{i}', 't', [{}, {}, {}], [{}, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])",
            (f * 7.3) % 400.0 - 200.0,
            (f * 3.1) % 400.0 - 200.0,
            (f * 1.7) % 400.0 - 200.0,
            (f % 13.0) / 13.0,
        ));
    }
    sql
}

fn count(db: &Database) -> f64 {
    let r = db.execute("SELECT count(*) FROM m").unwrap();
    match &r[0].rows[0][0] {
        tensormap::Value::Number(n) => *n,
        v => panic!("count is {v:?}"),
    }
}

/// One operation of the matrix: `setup` runs with space, `op` with the disk full.
struct Case {
    name: &'static str,
    /// What the error must name.
    names: &'static str,
    op: fn(&Path) -> String,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "INSERT",
            names: "INSERT",
            op: |_| insert("full", 20_000),
        },
        Case {
            name: "COPY FROM",
            names: "COPY",
            op: |side| format!("COPY m FROM '{}'", side.join("big.csv").display()),
        },
        Case {
            name: "SNAPSHOT",
            names: "SNAPSHOT",
            op: |fs| {
                format!(
                    "SNAPSHOT m TO '{}' WITH (compression = 'none')",
                    fs.join("m.tensor3d").display()
                )
            },
        },
    ]
}

/// The CSV COPY FROM reads (on the ordinary disk: only the database's disk is full).
fn write_csv(dir: &Path, n: usize) {
    let mut text = String::from("id,type,x,y,z,embedding\n");
    for i in 0..n {
        let f = i as f32;
        text.push_str(&format!(
            "c{i},t,{},{},{},\"[{}, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]\"\n",
            (f * 7.3) % 400.0 - 200.0,
            (f * 3.1) % 400.0 - 200.0,
            (f * 1.7) % 400.0 - 200.0,
            (f % 13.0) / 13.0,
        ));
    }
    std::fs::write(dir.join("big.csv"), text).unwrap();
}

#[test]
fn a_full_disk_fails_each_write_clearly_and_loses_nothing() {
    let side = tempfile::tempdir().unwrap();
    write_csv(side.path(), 40_000);
    let mut matrix = Vec::new();
    // A database whose filesystem is already full cannot be opened: a clear error, and
    // the folder opens once there is room (sled's half-written snapshot is not left behind).
    if let Some(fs) = Tmpfs::mount() {
        let path = fs.path().join("db");
        {
            let db = Database::open(&path).unwrap();
            db.execute("CREATE MAP m WITH (channels = 8)").unwrap();
            db.execute(&insert("o", 100)).unwrap();
        }
        let filler = fill(fs.path(), 0);
        let err = Database::open(&path).err().map(|e| e.to_string());
        let err = err.expect("opened on a full disk");
        assert!(err.contains("no space left on device"), "{err}");
        std::fs::remove_file(filler).unwrap();
        let db = Database::open(&path).unwrap();
        assert_eq!(count(&db), 100.0);
    }
    for case in cases().into_iter().chain(std::iter::once(Case {
        name: "checkpoint",
        // `Database::checkpoint` is a call, not a statement: its error is the store's,
        // which names what it was writing (a segment file, a commit).
        names: "no space left on device: ",
        op: |_| String::new(),
    })) {
        let Some(fs) = Tmpfs::mount() else { return };
        let path = fs.path().join("db");
        let db = Database::open(&path).unwrap();
        db.execute("CREATE MAP m WITH (resolution = 32, channels = 8, bounds = 500)")
            .unwrap();
        for b in 0..4 {
            db.execute(&insert(&format!("base{b}_"), 2_000)).unwrap();
        }
        let before = count(&db);
        assert_eq!(before, 8_000.0);
        // Leave room for a little more than the store's reserve: the operation itself
        // runs the disk out of space half-way.
        // SNAPSHOT writes a file of its own, not the store: it gets less room.
        let leave = if case.name == "SNAPSHOT" {
            64 << 10
        } else {
            tensormap::storage::RESERVE + (1 << 20)
        };
        let filler = fill(fs.path(), leave);
        let started = Instant::now();
        let err = if case.name == "checkpoint" {
            // Writes that fit, then a checkpoint that rewrites every segment.
            let mut i = 0;
            while bounded(&db, insert(&format!("small{i}_"), 20)).is_ok() && i < 2_000 {
                i += 1;
            }
            let (tx, rx) = mpsc::channel();
            let db2 = db.clone();
            std::thread::spawn(move || {
                let _ = tx.send(db2.checkpoint().map_err(|e| e.to_string()));
            });
            match rx.recv_timeout(BOUND) {
                Ok(r) => r.err(),
                Err(_) => panic!("checkpoint neither failed nor finished on a full disk"),
            }
        } else {
            let dir = if case.name == "COPY FROM" {
                side.path()
            } else {
                fs.path()
            };
            bounded(&db, (case.op)(dir)).err()
        };
        let took = started.elapsed();
        let err = err.unwrap_or_else(|| panic!("{} succeeded on a full disk", case.name));
        let lower = err.to_lowercase();
        assert!(
            lower.contains("no space left") && err.contains(case.names),
            "{}: the error must say 'no space left' and name the operation: {err}",
            case.name
        );
        if case.name == "SNAPSHOT" {
            let partial = fs.path().join("m.tensor3d");
            assert!(!partial.exists(), "a failed SNAPSHOT left its partial file");
        }
        // Nothing committed is lost (the checkpoint case committed some small inserts).
        let kept = count(&db);
        assert!(kept >= before, "{}: {kept} objects of {before}", case.name);
        // Space freed: the same handle writes again, without a reopen.
        std::fs::remove_file(&filler).unwrap();
        db.execute(&insert("after", 100))
            .unwrap_or_else(|e| panic!("{}: a write after freeing space failed: {e}", case.name));
        if case.name == "checkpoint" {
            db.checkpoint().unwrap();
        }
        assert_eq!(count(&db), kept + 100.0);
        drop(db);
        // A new handle on the same folder: the same objects, and it writes.
        let db = Database::open(&path).unwrap();
        assert_eq!(count(&db), kept + 100.0, "{}: after a reopen", case.name);
        db.execute(&insert("again", 10)).unwrap();
        assert_eq!(count(&db), kept + 110.0);
        drop(db);
        matrix.push(format!("{:10} failed in {took:.2?}: {err}", case.name));
    }
    for line in matrix {
        eprintln!("{line}");
    }
}
