//! tensormap beside what its users glue together today, on the same data in one run:
//! SQLite's R*Tree (bundled SQLite, through rusqlite) for radius and nearest-neighbour
//! queries and a durable bulk load, and a brute-force scan, NumPy and the memory-bandwidth
//! bound for attention over every embedding.
//!
//! Run: `cargo bench --bench peers` (NumPy joins when `python3 -c 'import numpy'` works);
//! `scripts/bench-report` then writes the figures and ratios into BENCHMARKS.md.
//! Before timing anything, every peer's answers are checked against tensormap's.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::sqlite::SqlitePeer;
use common::{centers, objects, query_vector, MILLION, RADIUS_100_HITS};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use tensormap::{Candidates, Database, MapConfig, Object};

/// Objects per durable transaction in the bulk loads.
const BATCH: usize = 10_000;
const K: usize = 10;

/// The 1M objects, loaded durably into both engines once, in a temporary directory.
struct Loaded {
    objects: Vec<Object>,
    centers: Vec<[f32; 3]>,
    tensormap: Database,
    /// A `Connection` is `Send` but not `Sync`; the benches hold the lock outside the timing.
    sqlite: Mutex<SqlitePeer>,
    _dir: tempfile::TempDir,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let objects = objects(MILLION, 7);
        let dir = tempfile::tempdir().unwrap();
        let took = Instant::now();
        let tensormap = load_tensormap(&dir.path().join("tensormap"), objects.clone());
        println!(
            "(setup: tensormap loaded 1M objects in {:.2?})",
            took.elapsed()
        );
        let took = Instant::now();
        let sqlite = load_sqlite(&dir.path().join("sqlite.db"), &objects);
        println!(
            "(setup: SQLite loaded 1M objects in {:.2?})",
            took.elapsed()
        );
        let loaded = Loaded {
            objects,
            centers: centers(1024, 5),
            tensormap,
            sqlite: Mutex::new(sqlite),
            _dir: dir,
        };
        check_spatial_answers(&loaded);
        loaded
    })
}

/// A new tensormap database at `path` holding `objects` in map "m", committed in
/// batches, then checkpointed: the journal folded into bricks and the index merged into
/// one tree (SQLite's load, too, ends with one R*Tree).
fn load_tensormap(path: &Path, objects: Vec<Object>) -> Database {
    let db = Database::open(path).unwrap();
    db.create_map("m", MapConfig::default()).unwrap();
    let mut objects = objects.into_iter().peekable();
    while objects.peek().is_some() {
        let mut txn = db.begin_write().unwrap();
        for o in objects.by_ref().take(BATCH) {
            txn.insert("m", o).unwrap();
        }
        txn.commit().unwrap();
    }
    db.checkpoint().unwrap();
    db
}

/// A new SQLite database at `path` holding `objects` (object `i` has row id `i`).
fn load_sqlite(path: &Path, objects: &[Object]) -> SqlitePeer {
    let mut peer = SqlitePeer::open(path).unwrap();
    peer.load(objects, 0, BATCH).unwrap();
    peer
}

/// The row number of one of the bench's objects from its id `obj0001234`.
fn row_of(id: &str) -> i64 {
    id[3..].parse().unwrap()
}

/// Both engines give the same radius hits and the same nearest 10 for the first 100
/// centers; a bench comparing different answers would be meaningless.
fn check_spatial_answers(l: &Loaded) {
    let sqlite = l.sqlite.lock().unwrap();
    let read = l.tensormap.begin_read().unwrap();
    let map = read.map("m").unwrap();
    let mut hits = 0;
    for c in &l.centers[..100] {
        let mut ours: Vec<i64> = map
            .within(*c, RADIUS_100_HITS)
            .unwrap()
            .iter()
            .map(|o| row_of(o.id()))
            .collect();
        let mut theirs = sqlite.within(*c, RADIUS_100_HITS).unwrap();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "radius hits differ around {c:?}");
        hits += ours.len();

        let ours = map.nearest(*c, K).unwrap();
        let theirs = sqlite.nearest(*c, K).unwrap();
        assert_eq!(ours.len(), theirs.len());
        for ((o, d), (id, theirs_d)) in ours.iter().zip(&theirs) {
            assert_eq!(row_of(o.id()), *id, "nearest differ around {c:?}");
            assert!((f64::from(*d) - theirs_d).abs() < 1e-3);
        }
    }
    println!(
        "(checked: radius and nearest-10 answers agree for 100 centers; {:.1} radius hits on average)",
        hits as f64 / 100.0
    );
}

/// Runs `f` on the loaded map, built on first use (so a filtered run skips the setup).
fn with_map(f: &mut dyn FnMut(&Loaded, &tensormap::MapView<'_>)) {
    let l = loaded();
    let read = l.tensormap.begin_read().unwrap();
    f(l, &read.map("m").unwrap());
}

fn radius(c: &mut Criterion) {
    let mut g = c.benchmark_group("radius_100_hits");
    let mut i = 0;
    // Both return the hits' ids: tensormap its string ids, SQLite its integer row ids.
    g.bench_function("tensormap", |b| {
        with_map(&mut |l, map| {
            b.iter(|| {
                i = (i + 1) % l.centers.len();
                let hits = map.within(l.centers[i], RADIUS_100_HITS).unwrap();
                black_box(hits.iter().map(|o| o.id().len()).sum::<usize>())
            })
        })
    });
    g.bench_function("sqlite_rtree", |b| {
        let l = loaded();
        let sqlite = l.sqlite.lock().unwrap();
        b.iter(|| {
            i = (i + 1) % l.centers.len();
            black_box(sqlite.within(l.centers[i], RADIUS_100_HITS).unwrap().len())
        })
    });
    g.finish();
}

fn nearest(c: &mut Criterion) {
    let mut g = c.benchmark_group("nearest_10");
    let mut i = 0;
    g.bench_function("tensormap", |b| {
        with_map(&mut |l, map| {
            b.iter(|| {
                i = (i + 1) % l.centers.len();
                let hits = map.nearest(l.centers[i], K).unwrap();
                black_box(hits.iter().map(|(o, _)| o.id().len()).sum::<usize>())
            })
        })
    });
    g.bench_function("sqlite_rtree_growing_boxes", |b| {
        let l = loaded();
        let sqlite = l.sqlite.lock().unwrap();
        b.iter(|| {
            i = (i + 1) % l.centers.len();
            black_box(sqlite.nearest(l.centers[i], K).unwrap().len())
        })
    });
    g.finish();
}

/// The straightforward scan a user writes without an engine: every score, the softmax
/// normalizer, and the top `k` by insertion into a short sorted list. Rows and weights,
/// highest first.
fn brute_force_attention(embeddings: &[f32], q: &[f32], k: usize) -> Vec<(usize, f32)> {
    let scale = 1.0 / (q.len() as f32).sqrt();
    let scores: Vec<f32> = embeddings
        .chunks_exact(q.len())
        .map(|e| e.iter().zip(q).map(|(a, b)| a * b).sum::<f32>() * scale)
        .collect();
    let peak = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f64 = scores.iter().map(|s| f64::from((s - peak).exp())).sum();
    let mut top: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (row, s) in scores.iter().enumerate() {
        if top.len() < k || *s > top[top.len() - 1].1 {
            let at = top.partition_point(|(_, t)| t >= s);
            top.insert(at, (row, *s));
            top.truncate(k);
        }
    }
    top.into_iter()
        .map(|(row, s)| (row, ((s - peak).exp() as f64 / z) as f32))
        .collect()
}

/// Reads every embedding once on as many threads as tensormap's scan uses: the floor
/// under any exact attention over them. The sum keeps the reads from being optimized out.
fn read_all(embeddings: &[f32], threads: usize) -> f32 {
    let per = embeddings.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = embeddings
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let lanes = part.chunks_exact(16).fold([0f32; 16], |mut acc, c| {
                        for (a, v) in acc.iter_mut().zip(c) {
                            *a += v;
                        }
                        acc
                    });
                    lanes.iter().sum::<f32>()
                })
            })
            .collect();
        parts.into_iter().map(|p| p.join().unwrap()).sum()
    })
}

fn numpy_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The NumPy script as a child process, timing its own loop.
struct NumpyPeer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl NumpyPeer {
    /// Starts the script on the embeddings in `path`; None (and why) when python3 or
    /// numpy is missing.
    fn start(path: &Path, q: &[f32]) -> Option<NumpyPeer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/attention_numpy.py");
        let query: Vec<String> = q.iter().map(|v| format!("{v:?}")).collect();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(path)
            .arg(query.join(","))
            .arg(K.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| println!("(NumPy peer skipped: python3: {e})"))
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        output.read_line(&mut line).ok()?;
        if line.trim() != "ready" {
            println!("(NumPy peer skipped: is numpy installed? `pip install numpy`)");
            let _ = child.wait();
            return None;
        }
        Some(NumpyPeer {
            child,
            input,
            output,
        })
    }

    /// Runs the attention `iters` times: the time it took and the last top rows.
    fn run(&mut self, iters: u64) -> (Duration, Vec<usize>) {
        writeln!(self.input, "{iters}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().unwrap());
        let took = Duration::from_nanos(fields.next().unwrap());
        (took, fields.map(|r| r as usize).collect())
    }
}

impl Drop for NumpyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The embeddings as one row-major array, and the NumPy peer on a copy of them in a file.
struct AttentionData {
    embeddings: Vec<f32>,
    numpy: Option<Mutex<NumpyPeer>>,
    _dir: tempfile::TempDir,
}

/// Built on first use; checks first that every peer ranks the same rows with the same
/// weights as tensormap.
fn attention_data() -> &'static AttentionData {
    static DATA: OnceLock<AttentionData> = OnceLock::new();
    DATA.get_or_init(|| {
        let l = loaded();
        let read = l.tensormap.begin_read().unwrap();
        let map = read.map("m").unwrap();
        let q = query_vector();
        let embeddings: Vec<f32> = l
            .objects
            .iter()
            .flat_map(|o| o.embedding.iter().copied())
            .collect();
        let ours: Vec<(i64, f32)> = map
            .attention(&q, Candidates::All, K)
            .unwrap()
            .iter()
            .map(|(o, w)| (row_of(o.id()), *w))
            .collect();
        let brute = brute_force_attention(&embeddings, &q, K);
        assert_eq!(ours.len(), brute.len());
        for ((row, w), (brow, bw)) in ours.iter().zip(&brute) {
            assert_eq!(*row, *brow as i64, "attention top rows differ");
            assert!(
                (w - bw).abs() <= 1e-4 * bw.abs(),
                "weights differ: {w} vs {bw}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.f32");
        let bytes: Vec<u8> = embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes).unwrap();
        let mut numpy = NumpyPeer::start(&path, &q);
        if let Some(np) = &mut numpy {
            let (_, rows) = np.run(1);
            let want: Vec<usize> = ours.iter().map(|(r, _)| *r as usize).collect();
            assert_eq!(rows, want, "NumPy's top rows differ");
        }
        println!("(checked: tensormap, the brute-force scan and NumPy rank the same top {K})");
        AttentionData {
            embeddings,
            numpy: numpy.map(Mutex::new),
            _dir: dir,
        }
    })
}

fn attention(c: &mut Criterion) {
    let q = query_vector();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("attention_top10_1M");
    g.sample_size(20);
    g.bench_function("tensormap", |b| {
        with_map(&mut |_, map| {
            b.iter(|| black_box(map.attention(&q, Candidates::All, K).unwrap().len()))
        })
    });
    g.bench_function("brute_force_scan", |b| {
        let e = &attention_data().embeddings;
        b.iter(|| black_box(brute_force_attention(e, &q, K).len()))
    });
    if numpy_installed() {
        g.bench_function("numpy", |b| {
            let np = attention_data()
                .numpy
                .as_ref()
                .expect("the NumPy peer started");
            let mut np = np.lock().unwrap();
            b.iter_custom(|iters| np.run(iters).0)
        });
    } else {
        println!("(NumPy peer skipped: `python3 -c 'import numpy'` fails; `pip install numpy`)");
    }
    g.bench_function("memory_bandwidth_bound", |b| {
        let e = &attention_data().embeddings;
        b.iter(|| black_box(read_all(e, threads)))
    });
    g.finish();
}

/// Durable bulk loads of the 1M objects into a new database, in commits of `BATCH`.
/// tensormap's load also splats each object into the voxel field; SQLite's stores the
/// embedding as a blob beside the R*Tree entry.
fn bulk_load(c: &mut Criterion) {
    let objects = &objects(MILLION, 7);
    let mut g = c.benchmark_group("bulk_load_1M_durable");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(60));
    g.bench_function("tensormap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                // The objects are the caller's to give: cloned before the clock starts.
                let owned = objects.clone();
                let start = Instant::now();
                let db = load_tensormap(&dir.path().join("db"), owned);
                total += start.elapsed();
                drop(db);
            }
            total
        })
    });
    g.bench_function("sqlite_rtree", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let start = Instant::now();
                let db = load_sqlite(&dir.path().join("db"), objects);
                total += start.elapsed();
                drop(db);
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = queries;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = radius, nearest, attention
}
criterion_group!(loads, bulk_load);
criterion_main!(queries, loads);
