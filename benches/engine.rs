//! Criterion benchmarks of the engine against the targets of the foundation issue, and of
//! its steady state after ordinary loads (the background merger) and attention in the
//! states a bulk insert leaves. Figures are recorded in BENCHMARKS.md. Run:
//! `cargo bench --bench engine` (a subset: `cargo bench --bench engine -- radius`;
//! `-- steady/` the load patterns, `-- attention_states/` the attention states).
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
use tensormap::{Candidates, Database, Field, MapConfig, Object, Options, SnapshotOptions};

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
    let names = named(
        "1M",
        &[
            "radius_query_100_hits",
            "radius_query_100_hits_reading_ids",
            "nearest_10",
            "execute_radius_query_100_hits",
            "attention_top10_all",
        ],
    );
    if !asked_for(&names) {
        return;
    }
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
    // tensor_to_svg of the reference implementation: 1,000 objects and the heatmap of a
    // 64³ × 32 field.
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
    let names = named(
        "durable",
        &[
            "bulk_insert_1M_in_commits_of_100k",
            "bulk_insert_1M_in_commits_of_100k_then_read_the_field",
            "fresh_process_open_1M_and_radius_query",
            "insert_1M_in_batches_of_10k",
            "open_1M",
        ],
    );
    if !asked_for(&names) {
        return;
    }
    let objs = objects(MILLION, 11);
    let objs = &objs;
    let mut g = c.benchmark_group("durable");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(60));
    // The bulk path, 1M objects in commits of 100k (objects moved in, not cloned:
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
    // A fresh process (the tmap shell) opens a 1M-object database and answers one
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

/// Snapshots end to end: a map of 100k objects (its dense 64³ × 32 field) written by
/// `ReadTransaction::snapshot` and made again by `Database::restore` into a fresh durable
/// database (objects on the bulk path, the field from the file's bricks).
fn snapshot_restore(c: &mut Criterion) {
    if !asked_for(&named(
        "snapshot",
        &["snapshot_100k_zstd", "restore_100k_zstd_durably"],
    )) {
        return;
    }
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
/// Whether the command line (`cargo bench --bench engine -- FILTER`) can ask for one of
/// the benches `names` (full names, `group/function`): the groups with long set-ups (1M
/// objects, durable loads, snapshots, steady states, attention states) run them only
/// then. criterion matches a filter as a regular expression anywhere in a name; this
/// answers yes for every name criterion would select (a plain alternative between `|`s,
/// anchors aside, inside a name) and for any filter with other regex syntax. The value
/// after an option that takes one (`--save-baseline NAME`) is not a filter.
fn asked_for(names: &[String]) -> bool {
    const TAKES_VALUE: [&str; 15] = [
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
        "--color",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with('-') && (*i == 0 || !TAKES_VALUE.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a)
        .collect();
    let selects = |alternative: &str| {
        let plain = alternative.trim_start_matches('^').trim_end_matches('$');
        plain.contains(|c: char| "\\.*+?()[]{}^$".contains(c))
            || names.iter().any(|n| n.contains(plain))
    };
    filters.is_empty() || filters.iter().any(|f| f.split('|').any(selects))
}

/// `group/function` for each function.
fn named(group: &str, functions: &[&str]) -> Vec<String> {
    functions.iter().map(|f| format!("{group}/{f}")).collect()
}

/// How a load's objects arrive: the load patterns of the steady-state bench.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    /// Commits of 1,000 rows inserted one by one (stored as records, sealed into files).
    SmallInserts,
    /// Commits of 10k rows through `insert_many` (one segment file each, the bulk path).
    BulkCommits,
    /// Commits of 100k rows (COPY-sized: large segment files).
    CopySized,
    /// Commits of 5k rows, each deleting 1,000 objects of the earlier ones.
    DeletesMixed,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::SmallInserts => "small_inserts_1k",
            Pattern::BulkCommits => "bulk_commits_10k",
            Pattern::CopySized => "copy_sized_100k",
            Pattern::DeletesMixed => "deletes_mixed_5k",
        }
    }
}

/// Loads `objs` into map "m" of a new database at `path` as `pattern` says; the database
/// and when its last commit returned.
fn load_pattern(
    path: &std::path::Path,
    objs: &[Object],
    pattern: Pattern,
    options: Options,
) -> (Database, Instant) {
    let db = Database::open_with(path, options).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let per = match pattern {
        Pattern::SmallInserts => 1000,
        Pattern::BulkCommits => 10_000,
        Pattern::CopySized => 100_000,
        Pattern::DeletesMixed => 5000,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut live: Vec<usize> = Vec::new();
    for (c, chunk) in objs.chunks(per).enumerate() {
        let mut txn = db.begin_write().unwrap();
        match pattern {
            Pattern::SmallInserts => {
                for o in chunk {
                    txn.insert("m", o.clone()).unwrap();
                }
            }
            _ => txn.insert_many("m", chunk.to_vec()).unwrap(),
        }
        if let Pattern::DeletesMixed = pattern {
            for _ in 0..1000.min(live.len()) {
                let i = live.swap_remove(rand::Rng::random_range(&mut rng, 0..live.len()));
                txn.delete("m", &objs[i].id).unwrap();
            }
            live.extend(c * per..c * per + chunk.len());
        }
        txn.commit().unwrap();
    }
    (db, Instant::now())
}

/// Radius (~100 hits) and nearest-10 queries on a version of `db`, as the benches run them.
fn bench_queries(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    read: &tensormap::ReadTransaction,
    radius: f32,
) {
    let centers = common::centers(1024, 5);
    let view = read.map("m").unwrap();
    let mut i = 0;
    g.bench_function(format!("{name}/radius"), |b| {
        b.iter(|| {
            i = (i + 1) % centers.len();
            black_box(view.within(centers[i], radius).unwrap().len())
        })
    });
    g.bench_function(format!("{name}/nearest_10"), |b| {
        b.iter(|| {
            i = (i + 1) % centers.len();
            black_box(view.nearest(centers[i], 10).unwrap().len())
        })
    });
}

/// The steady state after each load pattern, at 200k and 1M objects on disk: radius and
/// nearest-10 on the version current one second after the last commit (the background
/// merger at work since the load began), then on the same data checkpointed into one
/// segment; and, as it was before the background merger, the small-insert load with
/// commits merging as they go.
fn steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("steady");
    let patterns = [
        Pattern::SmallInserts,
        Pattern::BulkCommits,
        Pattern::CopySized,
        Pattern::DeletesMixed,
    ];
    for n in [200_000, MILLION] {
        let k = n / 1000;
        let names: Vec<String> = patterns
            .iter()
            .flat_map(|p| {
                ["one_second_after", "one_segment"].map(|state| format!("{}/{state}", p.name()))
            })
            .chain(["small_inserts_1k/commits_merging".to_string()])
            .flat_map(|what| {
                ["radius", "nearest_10"].map(|query| format!("steady/{k}k/{what}/{query}"))
            })
            .collect();
        if !asked_for(&names) {
            continue;
        }
        let objs = objects(n, 13);
        // A ball holding ~100 of n uniform points.
        let radius = RADIUS_100_HITS * (MILLION as f32 / n as f32).cbrt();
        // Each load takes minutes at 1M: only those whose benches were asked for.
        let wanted = |what: &str| {
            asked_for(&["radius", "nearest_10"].map(|q| format!("steady/{k}k/{what}/{q}")))
        };
        if wanted("small_inserts_1k/commits_merging") {
            let dir = tempfile::tempdir().unwrap();
            let options = Options {
                background_merge: false,
                ..Options::default()
            };
            let (db, _) = load_pattern(
                &dir.path().join("db"),
                &objs,
                Pattern::SmallInserts,
                options,
            );
            let read = db.begin_read().unwrap();
            println!(
                "(steady {k}k: small inserts merged in commits, no background merger: {} segments)",
                read.stats("m").unwrap().index_segments
            );
            bench_queries(
                &mut g,
                &format!("{k}k/small_inserts_1k/commits_merging"),
                &read,
                radius,
            );
        }
        for pattern in patterns {
            let p = pattern.name();
            if !wanted(&format!("{p}/one_second_after")) && !wanted(&format!("{p}/one_segment")) {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let start = Instant::now();
            let (db, last) =
                load_pattern(&dir.path().join("db"), &objs, pattern, Options::default());
            let took = last - start;
            std::thread::sleep(Duration::from_secs(1).saturating_sub(last.elapsed()));
            let read = db.begin_read().unwrap();
            let stats = read.stats("m").unwrap();
            println!(
                "(steady {k}k {}: loaded in {took:.2?}; one second after the last commit {} segments, {} objects)",
                pattern.name(),
                stats.index_segments,
                stats.objects
            );
            let name = format!("{k}k/{}", pattern.name());
            bench_queries(&mut g, &format!("{name}/one_second_after"), &read, radius);
            drop(read);
            db.checkpoint().unwrap();
            let read = db.begin_read().unwrap();
            assert_eq!(read.stats("m").unwrap().index_segments, 1);
            bench_queries(&mut g, &format!("{name}/one_segment"), &read, radius);
        }
    }
    g.finish();
}

/// The memory-bandwidth bound of a scan of `view`'s embeddings: every run read once and
/// summed, on `threads` threads — the same bytes, in the same memory, attention reads.
fn read_embeddings(view: &tensormap::MapView<'_>, threads: usize) -> f32 {
    let mut runs: Vec<&[f32]> = Vec::new();
    view.embedding_runs(&mut |r| runs.push(r));
    common::sum_on_threads(&runs, threads)
}

/// Attention top-10 over 1M × 32 in the states one bulk insert leaves: in memory; on disk
/// right after the insert; on disk after a reopen (the segment file mapped afresh) — each
/// beside the bound of reading the same bytes; and the first calls after the insert, while
/// the commit's thread still splats the field (printed).
fn attention_states(c: &mut Criterion) {
    let names: Vec<String> = ["memory_one_insert", "file_after_insert", "file_reopened"]
        .iter()
        .flat_map(|state| {
            ["attention_top10", "bound_same_bytes"]
                .map(|what| format!("attention_states/{state}/{what}"))
        })
        .collect();
    if !asked_for(&names) {
        return;
    }
    let objs = objects(MILLION, 7);
    let q = common::query_vector();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("attention_states");
    g.sample_size(20);
    let bench = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
                 name: &str,
                 db: &Database| {
        let read = db.begin_read().unwrap();
        let view = read.map("m").unwrap();
        g.bench_function(format!("{name}/attention_top10"), |b| {
            b.iter(|| black_box(view.attention(&q, Candidates::All, 10).unwrap().len()))
        });
        g.bench_function(format!("{name}/bound_same_bytes"), |b| {
            b.iter(|| black_box(read_embeddings(&view, threads)))
        });
    };
    let insert = |db: &Database| {
        db.create_map("m", MapConfig::default()).unwrap();
        let mut txn = db.begin_write().unwrap();
        txn.insert_many("m", objs.clone()).unwrap();
        txn.commit().unwrap();
        // The first calls, beside the field's splat.
        let read = db.begin_read().unwrap();
        let view = read.map("m").unwrap();
        let start = Instant::now();
        let calls: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                black_box(view.attention(&q, Candidates::All, 10).unwrap());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        black_box(view.voxel(0, 0, 0).unwrap());
        println!(
            "(attention right after the insert: {calls:.1?} ms; the field was ready {:.0} ms after the first call)",
            start.elapsed().as_secs_f64() * 1e3
        );
    };
    {
        let db = Database::open_in_memory().unwrap();
        insert(&db);
        bench(&mut g, "memory_one_insert", &db);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        insert(&db);
        bench(&mut g, "file_after_insert", &db);
    }
    let db = Database::open(&path).unwrap();
    bench(&mut g, "file_reopened", &db);
    g.finish();
}

criterion_group! {
    name = attention_state;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = attention_states
}

criterion_group! {
    name = steady_state;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = steady
}
criterion_group!(slow, durable, snapshot_restore);
criterion_main!(fast, slow, steady_state, attention_state);
