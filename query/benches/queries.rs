//! Subquery, WITH, compound and window-function queries on 100k objects against SQLite
//! (in memory, the same rows, an index on `type` for its correlated subquery) in the same
//! run: every statement returns all its rows on both sides, read to values.
//!
//! `cargo bench -p tensormap-query --bench queries`; figures in BENCHMARKS.md.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{Database, MapConfig, Object};
use tensormap_query::Session;

const N: usize = 100_000;
const KINDS: [&str; 8] = [
    "cube", "sphere", "cone", "torus", "pyramid", "ring", "disc", "rod",
];

/// The statements, each written for both (they are plain SQL here).
const QUERIES: [(&str, &str); 6] = [
    (
        "in_subquery",
        "SELECT id, x FROM s WHERE type IN (SELECT type FROM t WHERE confidence > 0.95) AND x > 0.0",
    ),
    (
        "correlated_scalar",
        "SELECT id FROM s WHERE confidence > (SELECT AVG(confidence) FROM t WHERE t.type = s.type)",
    ),
    (
        "from_subquery_group",
        "SELECT k, COUNT(*), AVG(v) FROM (SELECT type AS k, x + y AS v FROM s WHERE z > 0.0) AS q GROUP BY k",
    ),
    (
        "with_union",
        "WITH a AS (SELECT type, x FROM s WHERE x > 50.0), b AS (SELECT type, x FROM s WHERE y > 50.0) \
         SELECT type, x FROM a UNION SELECT type, x FROM b",
    ),
    (
        "row_number_partition",
        "SELECT id, ROW_NUMBER() OVER (PARTITION BY type ORDER BY confidence DESC, id) FROM s",
    ),
    (
        "running_sum_frame",
        "SELECT id, SUM(x) OVER (ORDER BY id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW), \
         RANK() OVER (ORDER BY type) FROM s",
    ),
];

fn setup() -> (Session, rusqlite::Connection) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let db = Database::open_in_memory().unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    for (name, n) in [("s", N), ("t", 2_000)] {
        db.create_map(
            name,
            MapConfig {
                channels: 1,
                resolution: 8,
                bounds: 100.0,
                ..Default::default()
            },
        )
        .unwrap();
        lite.execute_batch(&format!(
            "CREATE TABLE {name} (id TEXT PRIMARY KEY, type TEXT, x REAL, y REAL, z REAL, confidence REAL);
             CREATE INDEX {name}_type ON {name}(type);"
        ))
        .unwrap();
        let mut objects = Vec::with_capacity(n);
        let txn = lite.unchecked_transaction().unwrap();
        {
            let mut ins = txn
                .prepare(&format!(
                    "INSERT INTO {name} VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))
                .unwrap();
            for i in 0..n {
                let p: [f32; 3] = std::array::from_fn(|_| rng.random_range(-99.0..99.0f32));
                let kind = KINDS[rng.random_range(0..KINDS.len())];
                let c = rng.random_range(0..=100) as f32 / 100.0;
                let id = format!("{name}{i:06}");
                ins.execute(rusqlite::params![
                    id,
                    kind,
                    tensormap_engine::widen_f32(p[0]),
                    tensormap_engine::widen_f32(p[1]),
                    tensormap_engine::widen_f32(p[2]),
                    tensormap_engine::widen_f32(c)
                ])
                .unwrap();
                objects.push(Object::new(&id, kind, p, vec![0.0]).with_confidence(c));
            }
        }
        txn.commit().unwrap();
        let mut w = db.begin_write().unwrap();
        w.insert_many(name, objects).unwrap();
        w.commit().unwrap();
    }
    (Session::new(db), lite)
}

fn sqlite_rows(lite: &rusqlite::Connection, sql: &str) -> usize {
    let mut stmt = lite.prepare_cached(sql).unwrap();
    let width = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut n = 0;
    while let Some(r) = rows.next().unwrap() {
        for i in 0..width {
            black_box(r.get_ref(i).unwrap());
        }
        n += 1;
    }
    n
}

fn queries(c: &mut Criterion) {
    let (mut session, lite) = setup();
    let mut g = c.benchmark_group("queries_100k");
    g.sample_size(10);
    for (name, sql) in QUERIES {
        let ours = session.execute(sql).unwrap()[0].rows.len();
        let theirs = sqlite_rows(&lite, sql);
        assert_eq!(
            ours, theirs,
            "{name}: tensormap {ours} rows, SQLite {theirs}"
        );
        g.bench_function(format!("{name}_tensormap"), |b| {
            b.iter(|| black_box(session.execute(sql).unwrap()[0].rows.len()))
        });
        g.bench_function(format!("{name}_sqlite"), |b| {
            b.iter(|| black_box(sqlite_rows(&lite, sql)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = queries
}
criterion_main!(benches);
