//! Snapshot throughput and size (the targets of BENCHMARKS.md, "Snapshots"): a dense 64³ × 32 f32 field and 100k
//! objects written with zstd (durably: temporary file, fsync, rename, fsync of the folder)
//! and read back (open with every checksum, then every object and brick decoded);
//! throughput is of logical data (objects' ids, types, positions, embeddings and
//! confidences, and the bricks' f32 values). It also prints the file sizes, against the
//! logical size, of that scene and of the demo scene (examples/demo.tql).
//!
//! `cargo bench -p tensormap-storage --bench snapshot`
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tensormap_storage::snapshot::{
    Compression, ObjectChunk, ObjectEntry, Snapshot, SnapshotOptions, SnapshotReader,
};
use tensormap_storage::{Dtype, MapConfig};

/// The objects of examples/demo.tql (its `INSERT` rows), in a map of its settings.
fn demo_scene() -> Snapshot {
    let text = include_str!("../../examples/demo.tql");
    let config = MapConfig {
        resolution: 64,
        channels: 8,
        bounds: 500.0,
        sigma: 2.0,
        splat_radius: 3,
        dtype: Dtype::F32,
    };
    let mut objects = ObjectChunk::new(8);
    for line in text.lines().filter(|l| l.starts_with("  ('")) {
        // ('id', 'type', [x, y, z], [e, ...], confidence),
        let quoted: Vec<&str> = line.split('\'').collect();
        let (id, kind) = (quoted[1], quoted[3]);
        let lists: Vec<Vec<f32>> = line
            .split('[')
            .skip(1)
            .map(|s| {
                s[..s.find(']').unwrap()]
                    .split(',')
                    .map(|v| v.trim().parse().unwrap())
                    .collect()
            })
            .collect();
        let tail = &line[line.rfind(']').unwrap() + 1..];
        let confidence: f32 = tail
            .trim_matches(|c: char| !c.is_ascii_digit() && c != '.')
            .parse()
            .unwrap();
        objects.push(&ObjectEntry {
            id,
            kind,
            position: [lists[0][0], lists[0][1], lists[0][2]],
            embedding: &lists[1],
            confidence,
        });
    }
    assert_eq!(objects.len(), 300);
    let bricks = common::splat(&config, &objects);
    Snapshot {
        config,
        dtype: Dtype::F32,
        compression: Compression::Zstd,
        format: tensormap_storage::snapshot::Format::Binary,
        objects,
        bricks,
    }
}

fn sizes(name: &str, scene: &Snapshot) {
    for (dtype, compression) in [
        (Dtype::F32, Compression::None),
        (Dtype::F32, Compression::Zstd),
        (Dtype::F16, Compression::Zstd),
        (Dtype::I8, Compression::Zstd),
    ] {
        let options = SnapshotOptions {
            dtype,
            compression,
            ..Default::default()
        };
        let bytes = scene.to_bytes(&options).unwrap().len();
        let logical = logical(scene);
        println!(
            "size: {name}, {} {}: {bytes} bytes for {logical} logical = {:.1} %",
            dtype.name(),
            compression.name(),
            100.0 * bytes as f64 / logical as f64
        );
    }
}

fn logical(scene: &Snapshot) -> u64 {
    scene.objects.logical_bytes()
        + scene.bricks.len() as u64 * 512 * scene.config.channels as u64 * 4
}

fn bench(c: &mut Criterion) {
    let config = MapConfig::default(); // 64³ cells × 32 channels
    let scene = common::scene(&config, 100_000, 12);
    assert_eq!(scene.bricks.len(), 512, "the field is dense");
    sizes("dense 64³ × 32 + 100k objects", &scene);
    sizes("demo scene (examples/demo.tql)", &demo_scene());

    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("snapshot");
    g.throughput(Throughput::Bytes(logical(&scene)));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    for compression in [Compression::Zstd, Compression::None] {
        let options = SnapshotOptions {
            compression,
            ..Default::default()
        };
        let path = dir.path().join(format!("{}.tensor3d", compression.name()));
        g.bench_function(
            format!(
                "write dense 64³×32 f32 + 100k objects, {}",
                compression.name()
            ),
            |b| b.iter(|| scene.write(&path, &options).unwrap()),
        );
        g.bench_function(
            format!(
                "read dense 64³×32 f32 + 100k objects, {}",
                compression.name()
            ),
            |b| {
                b.iter(|| {
                    let r = SnapshotReader::open(&path).unwrap();
                    let mut n = 0;
                    for chunk in r.objects() {
                        n += black_box(chunk.unwrap()).len();
                    }
                    for brick in r.bricks() {
                        black_box(brick.unwrap());
                        n += 1;
                    }
                    n
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
