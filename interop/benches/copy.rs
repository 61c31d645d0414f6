//! COPY of 1M objects × 32 channels to and from Parquet (the targets of BENCHMARKS.md, "COPY": each
//! ≥ 500k objects/s on 2 cores). The database is on disk (a temporary folder), every
//! COPY FROM commits durably; the data are BENCHMARKS.md's seeded objects (uniform in
//! `[-500, 500]³`, embeddings in [-1, 1]).
//!
//! `read_parquet` times the file's rows read into objects alone, the part of COPY FROM
//! before the engine's checks and commit.
//!
//! `cargo bench -p tensormap-interop --bench copy`; `COPY_BENCH_ROWS=100000` runs a
//! smaller set for a quick look.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{Database, MapConfig, Object};
use tensormap_query::Session;

fn rows() -> usize {
    std::env::var("COPY_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn objects(n: usize, seed: u64) -> Vec<Object> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
            let e = (0..32).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            Object::new(format!("obj{i:07}"), "cube", p, e)
        })
        .collect()
}

fn session(db: &Database) -> Session {
    let mut s = Session::new(db.clone());
    s.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
    s
}

fn copy(c: &mut Criterion) {
    let n = rows();
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = Database::open(dir.path().join("db")).expect("database");
    db.create_map("src", MapConfig::default()).expect("map");
    let all = objects(n, 15);
    for chunk in all.chunks(100_000) {
        let mut t = db.begin_write().expect("writer");
        t.insert_slice("src", chunk).expect("insert");
        t.commit().expect("commit");
    }
    drop(all);
    let mut s = session(&db);
    let file = dir.path().join("src.parquet");
    let file = file.display().to_string();

    // The file the reads use, whichever benchmarks a filter picks.
    s.execute(&format!("COPY src TO '{file}'"))
        .expect("COPY TO");

    let mut g = c.benchmark_group("copy");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(40));
    g.throughput(criterion::Throughput::Elements(n as u64));
    g.bench_function(format!("to_parquet_{n}x32"), |b| {
        b.iter(|| {
            s.execute(&format!("COPY src TO '{file}'"))
                .expect("COPY TO")
        })
    });
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{file}: {bytes} bytes ({:.1} bytes a row)",
        bytes as f64 / n as f64
    );

    // The file read into objects alone (no checks, no commit): COPY FROM's first half.
    g.bench_function(format!("read_parquet_{n}x32"), |b| {
        use tensormap_query::copy::{CopyFormats, CopyOptions, Format, Partitioning};
        let options = CopyOptions {
            format: Format::Parquet,
            partitioning: Partitioning::None,
            row_group_size: tensormap_query::copy::DEFAULT_ROW_GROUP,
        };
        let config = MapConfig::default();
        b.iter(|| {
            tensormap_interop::Interop
                .import(std::path::Path::new(&file), &options, &config, &[], &|_| {
                    tensormap_query::Progress::none()
                })
                .expect("read")
        })
    });

    // COPY FROM into a new map each time (created outside the timing, then dropped); the
    // second until the field is ready too: a bulk commit splats on a thread of its own,
    // and the first read of the field (here, one voxel query) waits for it.
    let mut round = 0u64;
    for (label, read_field) in [("", false), ("_then_read_the_field", true)] {
        g.bench_function(format!("from_parquet_{n}x32{label}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let name = format!("dst{round}");
                    s.execute(&format!("CREATE MAP {name}")).expect("map");
                    let start = Instant::now();
                    s.execute(&format!("COPY {name} FROM '{file}'"))
                        .expect("COPY FROM");
                    if read_field {
                        s.execute(&format!(
                            "SELECT COUNT(*) FROM VOXELS({name}) WHERE WITHIN(center, [0, 0, 0], 1)"
                        ))
                        .expect("voxels");
                    }
                    total += start.elapsed();
                    s.execute(&format!("DROP MAP {name}")).expect("drop");
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, copy);
criterion_main!(benches);
