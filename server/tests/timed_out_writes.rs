//! A request that runs past the server's timeout either committed nothing (answered 503)
//! or committed and says so (answered as usual) — docs/api.md, "Timeouts":
//! - a write stopped before its commit point — waiting for the writer lock past its
//!   deadline, or running a statement longer than the timeout — is answered 503, and once
//!   its work has ended (the server shut down: the blocking pool drained) nothing of it is
//!   in the database;
//! - a write whose commit began before the deadline and ends after it (a store whose
//!   commits take longer than the timeout) is answered 200 with its normal body, and is
//!   there.
//!
//! The database is the test's own (a `MemoryBackend` behind a wrapper that can slow its
//! commits); the server serves a clone of the connection, so the test reads what the
//! server's requests left without reopening anything.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};
use tensormap::storage::{Batch, Blob, Visitor};
use tensormap::{Backend, Database, MemoryBackend, Options};
use tensormap_server::{Config, Server};

/// The server's request timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(200);

/// Objects in the map: a join of the map with itself compares N² pairs, seconds of work.
const N: usize = 3000;

/// An in-memory store whose commits sleep `delay_ms` first (0: none).
#[derive(Debug, Clone, Default)]
struct SlowCommits {
    inner: MemoryBackend,
    delay_ms: Arc<AtomicU64>,
}

impl Backend for SlowCommits {
    fn get(&self, key: &[u8]) -> tensormap::storage::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> tensormap::storage::Result<()> {
        self.inner.scan_prefix(prefix, f)
    }
    fn commit(&self, batch: Batch) -> tensormap::storage::Result<()> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        self.inner.commit(batch)
    }
    fn size_on_disk(&self) -> tensormap::storage::Result<u64> {
        self.inner.size_on_disk()
    }
    fn put_blob(&self, id: u64, bytes: &[u8]) -> tensormap::storage::Result<()> {
        self.inner.put_blob(id, bytes)
    }
    fn get_blob(&self, id: u64) -> tensormap::storage::Result<Blob> {
        self.inner.get_blob(id)
    }
    fn delete_blob(&self, id: u64) -> tensormap::storage::Result<()> {
        self.inner.delete_blob(id)
    }
    fn blob_ids(&self) -> tensormap::storage::Result<Vec<u64>> {
        self.inner.blob_ids()
    }
}

/// A database with map `scene` of [`N`] objects (confidence 1), its store, and a server
/// on a connection to it.
fn start() -> (Database, SlowCommits, Server, String) {
    let backend = SlowCommits::default();
    // No background merger: every commit of the store is a request's.
    let options = Options {
        background_merge: false,
        ..Options::default()
    };
    let db = Database::with_backend_options(Arc::new(backend.clone()), options).unwrap();
    db.execute("CREATE MAP scene WITH (channels = 4, resolution = 16, bounds = 100)")
        .unwrap();
    let rows: Vec<String> = (0..N)
        .map(|i| {
            let x = (i % 100) as f32 - 50.0;
            let y = (i / 100) as f32 - 15.0;
            format!("('o{i}', [{x}, {y}, 0], [1, 0, 0, 0])")
        })
        .collect();
    db.execute(&format!(
        "INSERT INTO scene (id, position, embedding) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        timeout: TIMEOUT,
        // Far above the work below: only the request's deadline can stop it.
        statement_timeout: Some(Duration::from_secs(120)),
        memory_limit: None,
        log: Arc::new(|_: &str| {}),
        ..Config::default()
    };
    let server = Server::start(db.clone(), config).unwrap();
    let base = format!("http://{}", server.addr());
    (db, backend, server, base)
}

/// `body` posted to `route`: the status and the JSON answer.
fn post(base: &str, route: &str, body: J) -> (u16, J) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut r = agent
        .post(format!("{base}{route}"))
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

fn sql(base: &str, sql: &str) -> (u16, J) {
    post(base, "/query", json!({ "sql": sql }))
}

fn embed(base: &str, id: &str) -> (u16, J) {
    post(
        base,
        "/tensor/embed",
        json!({"map": "scene", "id": id, "position": [1, 2, 3], "features": [0, 1, 0, 0]}),
    )
}

fn insert(id: &str) -> String {
    format!("INSERT INTO scene (id, position, embedding) VALUES ('{id}', [3, 2, 1], [0, 0, 1, 0])")
}

/// A 503 that says the request timed out.
fn assert_timed_out(status: u16, body: &J, what: &str) {
    assert_eq!(status, 503, "{what}: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("timeout"), "{what}: {body}");
}

/// Whether object `id` is in map `scene`, as committed.
fn present(db: &Database, id: &str) -> bool {
    let read = db.begin_read().unwrap();
    let scene = read.map("scene").unwrap();
    scene.get(id).is_some()
}

/// Object `o1`'s confidence, as committed.
fn confidence_of_o1(db: &Database) -> f32 {
    let read = db.begin_read().unwrap();
    let scene = read.map("scene").unwrap();
    scene.get("o1").unwrap().confidence()
}

#[test]
fn writes_that_wait_past_the_deadline_are_answered_503_and_never_commit() {
    let (db, _backend, server, base) = start();
    // The test holds the writer lock: every write below waits for it past its deadline.
    let held = db.begin_write().unwrap();
    let (s, j) = sql(&base, &insert("late_sql"));
    assert_timed_out(s, &j, "an INSERT waiting for the writer lock");
    // The statement limit lifted: only the request's commit gate can stop this one.
    let (s, j) = sql(
        &base,
        &format!("SET statement_timeout = 0; {}", insert("late_unlimited")),
    );
    assert_timed_out(s, &j, "an INSERT without a statement limit");
    let (s, j) = sql(&base, &format!("BEGIN; {}; COMMIT", insert("late_commit")));
    assert_timed_out(s, &j, "BEGIN, INSERT, COMMIT");
    let (s, j) = embed(&base, "late_embed");
    assert_timed_out(s, &j, "/tensor/embed waiting for the writer lock");
    // The writes get the lock and run to their commit points — after their answers.
    held.abort();
    // Shutting down waits for the blocking pool: every write has ended, one way or the
    // other, when it returns.
    server.shutdown().unwrap();
    for id in ["late_sql", "late_unlimited", "late_commit", "late_embed"] {
        assert!(
            !present(&db, id),
            "{id} was answered 503 but committed afterwards"
        );
    }
    assert_eq!(db.begin_read().unwrap().map("scene").unwrap().len(), N);
}

/// A statement that counts the N² pairs of the map: seconds of work.
const PAIRS: &str = "(SELECT COUNT(*) FROM scene a, scene b WHERE a.confidence + b.confidence > 0)";

#[test]
fn a_write_whose_statement_runs_past_the_deadline_is_stopped_and_rolled_back() {
    let (db, _backend, server, base) = start();
    // How long the work takes here, without a deadline.
    let started = Instant::now();
    let r = db.execute(&format!("SELECT {PAIRS} AS n")).unwrap();
    let work = started.elapsed();
    assert_eq!(r[0].rows[0][0].to_string(), (N * N).to_string());
    assert!(
        work > TIMEOUT * 2,
        "the work ({work:?}) must take well over the timeout ({TIMEOUT:?})"
    );

    // A read: 503 at the deadline, as ever.
    let started = Instant::now();
    let (s, j) = sql(&base, &format!("SELECT {PAIRS} AS n"));
    assert_timed_out(s, &j, "a long SELECT");
    assert!(started.elapsed() < work, "{:?}", started.elapsed());

    // A write whose statement runs past the deadline before its commit: 503, rolled back.
    let (s, j) = sql(
        &base,
        &format!("UPDATE scene SET confidence = 0.5 WHERE id = 'o1' AND {PAIRS} > 0"),
    );
    assert_timed_out(s, &j, "an UPDATE whose WHERE runs past the deadline");
    server.shutdown().unwrap();
    assert_eq!(
        confidence_of_o1(&db),
        1.0,
        "the UPDATE was answered 503 but committed afterwards"
    );
}

#[test]
fn writes_whose_commit_ends_past_the_deadline_are_answered_as_committed() {
    let (db, backend, server, base) = start();
    // Every commit of the store now takes three timeouts: each write below passes its
    // commit point well before its deadline and ends well after it.
    let slow = TIMEOUT * 3;
    backend
        .delay_ms
        .store(slow.as_millis() as u64, Ordering::SeqCst);

    let started = Instant::now();
    let (s, j) = sql(&base, &insert("slow_sql"));
    assert_eq!(s, 200, "an INSERT whose commit ends past the deadline: {j}");
    assert_eq!(j["results"][0]["status"], "INSERT 1", "{j}");
    assert!(started.elapsed() >= slow, "{:?}", started.elapsed());
    assert!(present(&db, "slow_sql"));

    let (s, j) = sql(&base, &format!("BEGIN; {}; COMMIT", insert("slow_commit")));
    assert_eq!(s, 200, "a COMMIT that ends past the deadline: {j}");
    assert_eq!(j["results"][2]["status"], "COMMIT", "{j}");
    assert!(present(&db, "slow_commit"));

    let (s, j) = embed(&base, "slow_embed");
    assert_eq!(
        s, 200,
        "/tensor/embed whose commit ends past the deadline: {j}"
    );
    assert_eq!(j["object_id"], "slow_embed", "{j}");
    assert!(present(&db, "slow_embed"));

    backend.delay_ms.store(0, Ordering::SeqCst);
    server.shutdown().unwrap();
    assert_eq!(db.begin_read().unwrap().map("scene").unwrap().len(), N + 3);
}
