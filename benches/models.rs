//! Criterion benchmarks of the model functions through TensorQL (issue 11 phase 2), on the
//! tiny configuration of the model crate's benches (4 layers, width 128, 4 heads, 32
//! channels): `m_score` over the 10k rows of a map in one statement (the executor's batch
//! stage: one batched pass), `m_embed` of 1k distinct texts (the ids of a 1k-object map),
//! an attention-ranked query by `m_embed('red cube')` over 10k objects (the constant call
//! computed once), and one `TRAIN MODEL` epoch over 10k objects (including the commit of
//! the trained model). Figures in BENCHMARKS.md ("Models").
//! Run: `cargo bench --bench models` (a subset: `-- tql_score`).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::{Database, MapConfig, Object};

const CHANNELS: usize = 32;

/// A database with map `scene` (10k objects of 5 types clustered by type), map `small`
/// (1k of them) and the model `m`.
fn db() -> Database {
    let db = Database::open_in_memory().expect("db");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let types = ["cube", "sphere", "pyramid", "cylinder", "torus"];
    let centres: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..CHANNELS).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    for (map, n) in [("scene", 10_000), ("small", 1_000)] {
        db.create_map(
            map,
            MapConfig {
                channels: CHANNELS as u32,
                ..Default::default()
            },
        )
        .expect("map");
        let objects: Vec<Object> = (0..n)
            .map(|i| {
                let t = i % 5;
                let e = centres[t]
                    .iter()
                    .map(|c| c + rng.random_range(-0.5..0.5))
                    .collect();
                let p = std::array::from_fn(|_| rng.random_range(-500.0..500.0));
                Object::new(format!("{} {i}", types[t]), types[t], p, e)
            })
            .collect();
        let mut txn = db.begin_write().expect("txn");
        txn.insert_many(map, objects).expect("insert");
        txn.commit().expect("commit");
    }
    db.execute("CREATE MODEL m WITH (layers = 4, dim = 128, heads = 4, channels = 32, seed = 1)")
        .expect("model");
    db
}

fn queries(c: &mut Criterion) {
    let db = db();
    let mut g = c.benchmark_group("models");
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(20);

    let score =
        "SELECT id FROM scene ORDER BY m_score('red cube', embedding, position) DESC LIMIT 10";
    assert_eq!(db.execute(score).expect("score")[0].rows.len(), 10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("tql_score_10k_rows", |b| {
        b.iter(|| black_box(db.execute(score).expect("score")))
    });

    let embed = "SELECT m_embed(id) FROM small";
    assert_eq!(db.execute(embed).expect("embed")[0].rows.len(), 1000);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("tql_embed_1k_texts", |b| {
        b.iter(|| black_box(db.execute(embed).expect("embed")))
    });

    let ranked = "SELECT id FROM scene ORDER BY ATTENTION(m_embed('red cube')) DESC LIMIT 10";
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("tql_attention_m_embed_10k", |b| {
        b.iter(|| black_box(db.execute(ranked).expect("ranked")))
    });
    g.finish();

    let mut g = c.benchmark_group("models");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(1));
    g.measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("tql_train_epoch_10k_objects", |b| {
        b.iter(|| {
            black_box(
                db.execute("TRAIN MODEL m ON scene WITH (epochs = 1)")
                    .expect("train"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
