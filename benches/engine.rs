//! Criterion benchmarks of the engine against the targets of the foundation issue.
//! Figures are recorded in BENCHMARKS.md. Run: `cargo bench --bench engine`
//! (a subset: `cargo bench --bench engine -- radius`).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{objects, random_object, MILLION, RADIUS_100_HITS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tensormap::{Candidates, Database, Field, MapConfig, Object, SnapshotOptions};

/// A database in memory holding `n` random objects in map "m" (default settings).
fn loaded(n: usize) -> Database {
    let db = Database::open_in_memory().unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for o in objects(n, 7) {
        txn.insert("m", o).unwrap();
    }
    txn.commit().unwrap();
    db
}

fn field_ops(c: &mut Criterion) {
    let cfg = MapConfig::default();
    let mut field = Field::new(std::sync::Arc::new(cfg.clone()));
    let objs = objects(10_000, 1);
    for o in &objs {
        field.splat(o.position, &o.embedding, true, &mut |_| {});
    }
    field.refresh();
    let mut g = c.benchmark_group("field");
    // One splat is 7³ cells × 32 channels; an add and its removal keep the field unchanged.
    let probe = &objs[17];
    g.bench_function("embed_object_add_and_remove_7x7x7x32", |b| {
        b.iter(|| {
            field.splat(
                black_box(probe.position),
                &probe.embedding,
                true,
                &mut |_| {},
            );
            field.splat(
                black_box(probe.position),
                &probe.embedding,
                false,
                &mut |_| {},
            );
        })
    });
    field.refresh();
    g.bench_function("query_region_r100_f32", |b| {
        b.iter(|| black_box(field.voxels_within(black_box([10.0, -20.0, 30.0]), 100.0)))
    });
    let region = field.voxels_within([10.0, -20.0, 30.0], 100.0);
    let q: Vec<f32> = (0..32).map(|i| (i as f32 * 0.3).sin()).collect();
    g.bench_function(
        format!("spatial_attention_{}_cells_top10", region.len()),
        |b| b.iter(|| black_box(region.attention(black_box(&q), 10))),
    );
    g.finish();

    c.bench_function("parse_typical_statement", |b| {
        let sql = "SELECT id, type, DISTANCE(position, [10, -20, 30]) AS d FROM scene \
                   WHERE type IN ('cube', 'sphere') AND WITHIN(position, [10, -20, 30], 100) \
                   ORDER BY d LIMIT 10";
        b.iter(|| black_box(tensormap::query::parse_statement(black_box(sql)).unwrap()))
    });

    let db = Database::open_in_memory().unwrap();
    db.create_map("m", cfg).unwrap();
    let mut txn = db.begin_write().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut id = 0;
    c.bench_function("txn_insert_one_object", |b| {
        b.iter(|| {
            id += 1;
            txn.insert("m", random_object(&mut rng, id, 32)).unwrap();
        })
    });
}

/// The 1M-object database, built on first use (so a filtered run skips it).
fn million_db() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| loaded(MILLION))
}

fn million(c: &mut Criterion) {
    let centers = common::centers(1024, 5);
    let view = |f: &mut dyn FnMut(&tensormap::MapView<'_>)| {
        let read = million_db().begin_read().unwrap();
        f(&read.map("m").unwrap());
    };
    let mut g = c.benchmark_group("1M");
    let mut i = 0;
    view(&mut |v| {
        let hits: usize = centers
            .iter()
            .map(|c| v.within(*c, RADIUS_100_HITS).unwrap().len())
            .sum();
        println!(
            "(radius {RADIUS_100_HITS}: {:.1} hits on average)",
            hits as f64 / centers.len() as f64
        );
    });
    g.bench_function("radius_query_100_hits", |b| {
        view(&mut |v| {
            b.iter(|| {
                i = (i + 1) % centers.len();
                black_box(v.within(centers[i], RADIUS_100_HITS).unwrap().len())
            })
        })
    });
    // What a program using the typed API pays to see its hits' ids.
    g.bench_function("radius_query_100_hits_reading_ids", |b| {
        view(&mut |v| {
            b.iter(|| {
                i = (i + 1) % centers.len();
                let hits = v.within(centers[i], RADIUS_100_HITS).unwrap();
                black_box(hits.iter().map(|o| o.id().len()).sum::<usize>())
            })
        })
    });
    g.bench_function("nearest_10", |b| {
        view(&mut |v| {
            b.iter(|| {
                i = (i + 1) % centers.len();
                black_box(v.nearest(centers[i], 10).unwrap().len())
            })
        })
    });
    // The same radius queries through TensorQL: parse + plan + run + result rows.
    let sqls: Vec<String> = centers
        .iter()
        .map(|c| {
            format!(
                "SELECT id FROM m WHERE WITHIN(position, [{:?}, {:?}, {:?}], {RADIUS_100_HITS})",
                c[0], c[1], c[2]
            )
        })
        .collect();
    g.bench_function("execute_radius_query_100_hits", |b| {
        let db = million_db();
        b.iter(|| {
            i = (i + 1) % sqls.len();
            black_box(db.execute(&sqls[i]).unwrap()[0].rows.len())
        })
    });
    let q = common::query_vector();
    g.sample_size(20);
    g.bench_function("attention_top10_all", |b| {
        view(&mut |v| b.iter(|| black_box(v.attention(&q, Candidates::All, 10).unwrap().len())))
    });
    g.finish();
}

fn render_view(c: &mut Criterion) {
    // The seed's tensor_to_svg: 1,000 objects and the heatmap of a 64³ × 32 field.
    let db = loaded(1000);
    let opts = tensormap::RenderOptions::default();
    let svg = db.render("SELECT * FROM m", &opts).unwrap();
    println!("(tensor_to_svg: {} bytes of SVG)", svg.len());
    c.bench_function("render/tensor_to_svg_1000_objects_heatmap", |b| {
        b.iter(|| black_box(db.render("SELECT * FROM m", &opts).unwrap().len()))
    });
}

/// A new database at `path` with `objs` committed in batches of 10k; the time it took.
fn insert_durably(path: &std::path::Path, objs: &[Object]) -> (Duration, Database) {
    let db = Database::open(path).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let start = Instant::now();
    for chunk in objs.chunks(10_000) {
        let mut txn = db.begin_write().unwrap();
        for o in chunk {
            txn.insert("m", o.clone()).unwrap();
        }
        txn.commit().unwrap();
    }
    (start.elapsed(), db)
}

/// A new database at `path` with `objs` committed through `insert_many` in commits of
/// `per_commit` (the bulk path); the time it took.
fn bulk_insert(path: &std::path::Path, objs: &[Object], per_commit: usize) -> (Duration, Database) {
    let db = Database::open(path).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let chunks: Vec<Vec<Object>> = objs.chunks(per_commit).map(|c| c.to_vec()).collect();
    let start = Instant::now();
    for chunk in chunks {
        let mut txn = db.begin_write().unwrap();
        txn.insert_many("m", chunk).unwrap();
        txn.commit().unwrap();
    }
    (start.elapsed(), db)
}

fn durable(c: &mut Criterion) {
    let objs = objects(MILLION, 11);
    let objs = &objs;
    let mut g = c.benchmark_group("durable");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    // Issue 10: the bulk path, 1M objects in commits of 100k (objects moved in, not cloned:
    // the clones are made before the clock starts).
    g.bench_function("bulk_insert_1M_in_commits_of_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                total += bulk_insert(&dir.path().join("db"), objs, 100_000).0;
            }
            total
        })
    });
    // The same, until the field is ready too: a bulk commit splats on a thread of its own,
    // and the first read of the field (here, one voxel) waits for the last one.
    g.bench_function(
        "bulk_insert_1M_in_commits_of_100k_then_read_the_field",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().unwrap();
                    let (took, db) = bulk_insert(&dir.path().join("db"), objs, 100_000);
                    let start = Instant::now();
                    let read = db.begin_read().unwrap();
                    black_box(read.map("m").unwrap().voxel(0, 0, 0).unwrap());
                    total += took + start.elapsed();
                }
                total
            })
        },
    );
    // Issue 10: a fresh process (the tmap shell) opens a 1M-object database and answers one
    // radius query.
    // The shell is the tensormap-cli package's binary, built beside this bench
    // (`cargo build --release -p tensormap-cli` first: BENCHMARKS.md).
    let tmap = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("tmap")))
        .filter(|p| p.exists())
        .expect("tmap is not built: run `cargo build --release -p tensormap-cli` first");
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(bulk_insert(&path, objs, 100_000).1);
        let sql =
            format!("SELECT COUNT(*) FROM m WHERE WITHIN(position, [0, 0, 0], {RADIUS_100_HITS})");
        g.bench_function("fresh_process_open_1M_and_radius_query", |b| {
            b.iter(|| {
                let out = std::process::Command::new(&tmap)
                    .arg(&path)
                    .args(["--format", "csv", "-c", &sql])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                black_box(out.stdout.len())
            })
        });
    }
    g.bench_function("insert_1M_in_batches_of_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                total += insert_durably(&dir.path().join("db"), objs).0;
            }
            total
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let built = OnceLock::new();
    let build = || {
        let (took, db) = insert_durably(&path, objs);
        println!(
            "1M objects inserted durably in {took:.2?}; {} bytes on disk",
            db.size_on_disk().unwrap()
        );
    };
    g.bench_function("open_1M", |b| {
        built.get_or_init(build);
        b.iter(|| {
            let db = Database::open(&path).unwrap();
            black_box(db.maps()[0].objects)
        })
    });
    g.finish();
}

/// Issue 12 end to end: a map of 100k objects (its dense 64³ × 32 field) written by
/// `ReadTransaction::snapshot` and made again by `Database::restore` into a fresh durable
/// database (objects on the bulk path, the field from the file's bricks).
fn snapshot_restore(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (_, db) = bulk_insert(&dir.path().join("db"), &objects(100_000, 5), 100_000);
    let file = dir.path().join("m.tensor3d");
    let read = db.begin_read().unwrap();
    let options = SnapshotOptions::default();
    let logical = read.snapshot("m", &file, &options).unwrap().logical_bytes;
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(logical));
    g.bench_function("snapshot_100k_zstd", |b| {
        b.iter(|| read.snapshot("m", &file, &options).unwrap())
    });
    g.bench_function("restore_100k_zstd_durably", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let target = tempfile::tempdir().unwrap();
                let fresh = Database::open(target.path().join("db")).unwrap();
                let start = Instant::now();
                black_box(fresh.restore("m", &file).unwrap());
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = fast;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = field_ops, render_view, million
}
criterion_group!(slow, durable, snapshot_restore);
criterion_main!(fast, slow);
