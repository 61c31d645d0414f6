//! Criterion benchmarks of `ASK` (docs/ask.md): one ASK of a 10-word command on a map of
//! 1,000 objects of 5 types through a session — the map's catalog, the built-in command
//! model's constrained decoding, the parse of its statement and the SELECT — and the same
//! as `EXPLAIN ASK` (everything but the SELECT). The built-in model is decoded once, before
//! the timings (the database's model cache keeps it); its size in memory is printed.
//! Run: `cargo bench -p tensormap-models --bench ask`. Figures in BENCHMARKS.md ("ASK").
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tensormap_model::command::CommandModel;
use tensormap_models::{Host, ModelCache};
use tensormap_query::Session;

/// Ten words.
const COMMAND: &str = "find all the cubes within 200 units of the center";

fn session() -> Session {
    let db = tensormap_engine::Database::open_in_memory().unwrap();
    let mut s = Session::new(db);
    s.set_model_host(Some(Arc::new(Host::new(Arc::new(ModelCache::new())))));
    s.execute("CREATE MAP demo WITH (channels = 4, bounds = 500)")
        .unwrap();
    let kinds = ["cube", "sphere", "pyramid", "torus", "traffic_cone"];
    let rows: Vec<String> = (0..1000u32)
        .map(|i| {
            let a = f64::from(i) * 0.61;
            let r = f64::from(i % 480);
            format!(
                "('o{i}', '{}', [{:.2}, {:.2}, {:.2}], [1, 0, 0, 0], {:.2})",
                kinds[i as usize % kinds.len()],
                r * a.cos(),
                r * a.sin(),
                f64::from(i % 200) - 100.0,
                f64::from(i % 100) / 100.0
            )
        })
        .collect();
    s.execute(&format!("INSERT INTO demo VALUES {}", rows.join(", ")))
        .unwrap();
    s
}

fn ask(c: &mut Criterion) {
    assert_eq!(COMMAND.split_whitespace().count(), 10);
    let model = CommandModel::builtin().unwrap();
    let cfg = model.model().config();
    eprintln!(
        "built-in command model: {} parameters ({:.1} MB as f32 in memory), file {:.2} MB",
        cfg.parameter_count(),
        cfg.parameter_count() as f64 * 4.0 / 1e6,
        tensormap_model::command::builtin::BYTES.len() as f64 / 1e6
    );
    let mut s = session();
    // Decodes the built-in model into the database's cache, and checks the command answers.
    let first = s.execute(&format!("ASK demo '{COMMAND}'")).unwrap();
    assert!(!first[0].rows.is_empty());
    let mut g = c.benchmark_group("ask");
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("ask_10_words_1k_objects", |b| {
        b.iter(|| black_box(s.execute(&format!("ASK demo '{COMMAND}'")).unwrap()))
    });
    g.bench_function("explain_ask_10_words", |b| {
        b.iter(|| black_box(s.execute(&format!("EXPLAIN ASK demo '{COMMAND}'")).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, ask);
criterion_main!(benches);
