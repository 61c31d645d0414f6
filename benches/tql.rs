//! Criterion benchmarks of TensorQL (issue 14): the executor's overhead over the engine
//! call, parsing and applying a 10k-row INSERT, and the distance join of 10k × 1M objects
//! against a nested loop and SQLite's R*Tree doing the same join. Figures in
//! BENCHMARKS.md. Run: `cargo bench --bench tql` (a subset: `-- join/`).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

mod common;

use common::{objects, MILLION};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Value};

/// In a 1000³ cube holding 1M objects, a ball of this radius holds ~10 of them.
const RADIUS_10_HITS: f32 = 13.4;

/// The 1M-object map "m" and a 10k-object map "r" over the same cube, in memory.
fn db() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| {
        let db = Database::open_in_memory().unwrap();
        db.create_map("m", MapConfig::default()).unwrap();
        db.create_map("r", MapConfig::default()).unwrap();
        for (map, objs) in [("m", objects(MILLION, 7)), ("r", objects(10_000, 8))] {
            let mut txn = db.begin_write().unwrap();
            for o in objs {
                txn.insert(map, o).unwrap();
            }
            txn.commit().unwrap();
        }
        db.checkpoint().unwrap();
        db
    })
}

/// A 10k-row INSERT of 32-channel objects in the format of `scripts/gen-inserts`.
fn insert_text(rows: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut s =
        String::from("INSERT INTO big (id, type, position, embedding, confidence) VALUES\n");
    for i in 0..rows {
        if i > 0 {
            s.push_str(",\n");
        }
        let p: Vec<String> = (0..3)
            .map(|_| format!("{:.2}", rng.random_range(-500.0..500.0)))
            .collect();
        let e: Vec<String> = (0..32)
            .map(|_| format!("{:.3}", rng.random_range(-1.0..1.0)))
            .collect();
        s.push_str(&format!(
            "('o{i:07}', 'cube', [{}], [{}], {})",
            p.join(", "),
            e.join(", "),
            rng.random_range(0..=100) as f64 / 100.0
        ));
    }
    s
}

fn statements(c: &mut Criterion) {
    let text = insert_text(10_000, 1);
    let mut g = c.benchmark_group("tql");
    g.sample_size(20);
    g.bench_function("parse_insert_10k_rows_32ch", |b| {
        b.iter(|| black_box(tensormap::query::parse_statement(black_box(&text)).unwrap()))
    });
    // Parse, evaluate, validate and stage 10k objects in a transaction (then roll back):
    // the shell's share of a bulk load, without the engine's commit.
    let mem = Database::open_in_memory().unwrap();
    mem.execute("CREATE MAP big").unwrap();
    g.bench_function("insert_10k_rows_32ch_staged", |b| {
        b.iter(|| {
            mem.execute("BEGIN").unwrap();
            black_box(mem.execute(&text).unwrap());
            mem.execute("ROLLBACK").unwrap();
        })
    });
    g.finish();

    let db = db();
    let centers = common::centers(1024, 5);
    let mut i = 0;
    let mut g = c.benchmark_group("tql/1M");
    g.bench_function("engine_nearest_10", |b| {
        let read = db.begin_read().unwrap();
        let m = read.map("m").unwrap();
        b.iter(|| {
            i = (i + 1) % centers.len();
            let hits = m.nearest(centers[i], 10).unwrap();
            black_box(hits.iter().map(|(o, _)| o.id().len()).sum::<usize>())
        })
    });
    let sqls: Vec<String> = centers
        .iter()
        .map(|c| {
            format!(
                "SELECT id FROM m ORDER BY DISTANCE(position, [{:?}, {:?}, {:?}]) LIMIT 10",
                c[0], c[1], c[2]
            )
        })
        .collect();
    g.bench_function("execute_nearest_10", |b| {
        b.iter(|| {
            i = (i + 1) % sqls.len();
            black_box(db.execute(&sqls[i]).unwrap()[0].rows.len())
        })
    });
    g.bench_function("execute_with_nearest_10", |b| {
        b.iter(|| {
            i = (i + 1) % centers.len();
            let p = Value::vector(&centers[i]);
            black_box(
                db.execute_with(
                    "SELECT id FROM m ORDER BY DISTANCE(position, ?) LIMIT 10",
                    &[p],
                )
                .unwrap()[0]
                    .rows
                    .len(),
            )
        })
    });
    g.finish();
}

fn joins(c: &mut Criterion) {
    // Criterion runs this setup even when a filter selects none of these benches.
    if !std::env::args().any(|a| a.contains("join")) && std::env::args().count() > 2 {
        return;
    }
    let db = db();
    let sql = format!(
        "SELECT r.id, m.id FROM r JOIN m ON WITHIN(m.position, r.position, {RADIUS_10_HITS})"
    );
    let n = db.execute(&sql).unwrap()[0].rows.len();
    println!("(join: {n} pairs, {:.1} a row of r)", n as f64 / 10_000.0);
    let mut g = c.benchmark_group("join");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("within_10k_x_1M_index_nested_loop", |b| {
        b.iter(|| black_box(db.execute(&sql).unwrap()[0].rows.len()))
    });
    // The nested loop it replaces: every pair's distance, for 100 of the 10k rows (the
    // figure × 100 is the whole join's).
    let read = db.begin_read().unwrap();
    let r: Vec<[f32; 3]> = read
        .map("r")
        .unwrap()
        .objects()
        .map(|o| o.position())
        .collect();
    let m: Vec<[f32; 3]> = read
        .map("m")
        .unwrap()
        .objects()
        .map(|o| o.position())
        .collect();
    let r2 = RADIUS_10_HITS * RADIUS_10_HITS;
    g.bench_function("within_100_x_1M_nested_loop", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for p in &r[..100] {
                for q in &m {
                    let d = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
                    hits += usize::from(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= r2);
                }
            }
            black_box(hits)
        })
    });
    // SQLite: the same points in an R*Tree (in memory), joined to a table of the 10k.
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(
        "CREATE TABLE robots(id INTEGER PRIMARY KEY, x REAL, y REAL, z REAL);
         CREATE VIRTUAL TABLE points USING rtree(id, min_x, max_x, min_y, max_y, min_z, max_z);",
    )
    .unwrap();
    {
        let txn = lite.unchecked_transaction().unwrap();
        for (table, points) in [
            ("points VALUES (?1, ?2, ?2, ?3, ?3, ?4, ?4)", &m),
            ("robots VALUES (?1, ?2, ?3, ?4)", &r),
        ] {
            let mut ins = txn.prepare(&format!("INSERT INTO {table}")).unwrap();
            for (i, q) in points.iter().enumerate() {
                ins.execute(rusqlite::params![
                    i as i64,
                    q[0] as f64,
                    q[1] as f64,
                    q[2] as f64
                ])
                .unwrap();
            }
        }
        txn.commit().unwrap();
    }
    let join = "SELECT r.id, p.id FROM robots r, points p
        WHERE p.max_x >= r.x - ?1 AND p.min_x <= r.x + ?1
          AND p.max_y >= r.y - ?1 AND p.min_y <= r.y + ?1
          AND p.max_z >= r.z - ?1 AND p.min_z <= r.z + ?1
          AND (p.min_x - r.x) * (p.min_x - r.x) + (p.min_y - r.y) * (p.min_y - r.y)
            + (p.min_z - r.z) * (p.min_z - r.z) <= ?1 * ?1";
    let count = |lite: &rusqlite::Connection| {
        let mut stmt = lite.prepare_cached(join).unwrap();
        let rows = stmt
            .query_map([RADIUS_10_HITS as f64], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })
            .unwrap();
        rows.count()
    };
    let theirs = count(&lite);
    // SQLite measures in f64, tensormap in f32 (as its R*-tree): pairs at the very edge
    // of r may differ, no more.
    assert!(
        theirs.abs_diff(n) <= n / 1000,
        "SQLite {theirs} pairs, tensormap {n}"
    );
    g.bench_function("within_10k_x_1M_sqlite_rtree", |b| {
        b.iter(|| black_box(count(&lite)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = statements, joins
}
criterion_main!(benches);
