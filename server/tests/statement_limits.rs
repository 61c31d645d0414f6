//! The server's per-statement limits (`Config::statement_timeout`, `Config::memory_limit`,
//! `tmap serve --statement-timeout / --memory-limit`): a `/query` statement past them is
//! answered 400 naming the limit and changes nothing, and a limit an admin lifts
//! with `SET` in one request is back for the next request on the same pooled connection.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value as J};
use tensormap::{Database, MemoryBackend};
use tensormap_server::{Config, Server};

/// Objects in the map: enough rows for either limit to be passed by a full scan.
const N: usize = 3000;

fn db() -> Database {
    let db = Database::with_backend(std::sync::Arc::new(MemoryBackend::new())).unwrap();
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
    db
}

fn sql(agent: &ureq::Agent, base: &str, sql: &str) -> (u16, J) {
    let mut r = agent
        .post(format!("{base}/query"))
        .header("content-type", "application/json")
        .send(json!({ "sql": sql }).to_string().as_bytes())
        .unwrap();
    let status = r.status().as_u16();
    let body: J = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    (status, body)
}

fn serve(statement_timeout: Option<Duration>, memory_limit: Option<u64>) -> (Server, String) {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        // One worker: every request gets the one pooled connection back.
        workers: 1,
        statement_timeout,
        memory_limit,
        log: std::sync::Arc::new(|_: &str| {}),
        ..Config::default()
    };
    let server = Server::start(db(), config).unwrap();
    let base = format!("http://{}", server.addr());
    (server, base)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The map's objects, counted with both limits lifted for that one request.
fn count(agent: &ureq::Agent, base: &str) -> u64 {
    let (s, j) = sql(
        agent,
        base,
        "SET memory_limit = 0; SET statement_timeout = 0; SELECT COUNT(*) AS n FROM scene",
    );
    assert_eq!(s, 200, "{j}");
    j["results"][2]["rows"][0]["n"].as_u64().unwrap()
}

/// A 400 whose message names the limit passed (`memory_limit` or `statement_timeout`).
fn assert_limit(status: u16, body: &J, limit: &str, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(limit) && message.contains("nothing was changed"),
        "{what}: {body}"
    );
}

#[test]
fn memory_limit_stops_a_statement_and_a_set_does_not_outlive_its_request() {
    // 64 kB of rows: a full scan's 3,000 rows pass it, a count does not.
    let (server, base) = serve(None, Some(64 << 10));
    let a = agent();
    let (s, j) = sql(&a, &base, "SELECT id, position, embedding FROM scene");
    assert_limit(s, &j, "memory_limit", "a full scan");
    // A write past the limit changes nothing.
    let (s, j) = sql(
        &a,
        &base,
        "UPDATE scene SET confidence = 0.5 WHERE confidence > 0.9",
    );
    assert_limit(s, &j, "memory_limit", "an UPDATE of every row");
    let (s, j) = sql(
        &a,
        &base,
        "SET memory_limit = 0; SELECT COUNT(*) AS n FROM scene WHERE confidence < 0.9",
    );
    assert_eq!(s, 200, "{j}");
    assert_eq!(
        j["results"][1]["rows"][0]["n"], 0,
        "the UPDATE changed rows"
    );
    assert_eq!(count(&a, &base), N as u64);

    // Lifted within one request, the scan runs.
    let (s, j) = sql(
        &a,
        &base,
        "SET memory_limit = 0; SELECT id, position FROM scene",
    );
    assert_eq!(s, 200, "{j}");
    // The next request on the same connection has the server's limit again.
    let (s, j) = sql(&a, &base, "SELECT id, position, embedding FROM scene");
    assert_limit(
        s,
        &j,
        "memory_limit",
        "a full scan after a SET in an earlier request",
    );
    server.shutdown().unwrap();
}

#[test]
fn statement_timeout_stops_a_statement() {
    // A nanosecond: any statement doing more than a few hundred steps of work passes it.
    let (server, base) = serve(Some(Duration::from_nanos(1)), None);
    let a = agent();
    let (s, j) = sql(
        &a,
        &base,
        "SELECT id FROM scene WHERE DISTANCE(position, [0, 0, 0]) > 1 ORDER BY id",
    );
    assert_limit(s, &j, "statement_timeout", "a scan");
    let (s, j) = sql(
        &a,
        &base,
        "DELETE FROM scene WHERE DISTANCE(position, [0, 0, 0]) > 1",
    );
    assert_limit(s, &j, "statement_timeout", "a DELETE");
    let (s, j) = sql(
        &a,
        &base,
        "SET statement_timeout = 0; SELECT COUNT(*) AS n FROM scene",
    );
    assert_eq!(s, 200, "{j}");
    assert_eq!(
        j["results"][1]["rows"][0]["n"], N as u64,
        "the DELETE changed rows"
    );
    server.shutdown().unwrap();
}
