//! Snapshots written by format version 1 and checked in under `tests/data/` must be read
//! by every later version, with exactly the contents below. Never regenerate these files
//! for a new version: add new ones beside them. (They were written once with
//! `TENSORMAP_WRITE_COMPAT=1 cargo test -p tensormap-storage --test snapshot_compat`.)

use std::path::PathBuf;

use tensormap_storage::snapshot::{
    BrickEntry, Compression, Format, ObjectChunk, ObjectEntry, Snapshot, SnapshotOptions,
    SnapshotReader,
};
use tensormap_storage::{Dtype, MapConfig};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

/// One object: id, type, position, embedding, confidence.
type Row = (&'static str, &'static str, [f32; 3], [f32; 3], f32);

/// The contents of every compatibility file, spelled out.
fn contents() -> Snapshot {
    let config = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 8.0,
        dtype: Dtype::F16,
        sigma: 1.25,
        splat_radius: 1,
    };
    let mut objects = ObjectChunk::new(3);
    let rows: [Row; 4] = [
        (
            "cube_0",
            "cube",
            [-7.5, -7.5, -7.5],
            [0.25, -0.5, 1.0],
            0.98,
        ),
        ("sphère «1»", "", [0.0, 0.0, 0.0], [1e-7, 3.0e3, -0.1], 0.0),
        ("p2", "pyramid", [8.0, -8.0, 0.125], [-1.0, 0.0, 0.0], 1.0),
        (
            "x".repeat(1024).leak(),
            "t".repeat(1024).leak(),
            [1.5, 2.5, -3.5],
            [0.1, 0.2, 0.3],
            0.5,
        ),
    ];
    for (id, kind, position, embedding, confidence) in rows {
        objects.push(&ObjectEntry {
            id,
            kind,
            position,
            embedding: &embedding,
            confidence,
        });
    }
    let bricks = [[0u32, 0, 0], [1, 1, 0], [1, 0, 1]]
        .iter()
        .enumerate()
        .map(|(b, &coords)| {
            let counts: Vec<u32> = (0..512).map(|cell| ((cell + b) % 5) as u32).collect();
            let values = (0..512 * 3)
                .map(|i| {
                    let (cell, c) = (i / 3, i % 3);
                    if counts[cell] == 0 {
                        0.0
                    } else {
                        (cell as f32 * 0.5 - c as f32 * (b + 1) as f32) / 7.0
                    }
                })
                .collect();
            BrickEntry {
                coords,
                values,
                counts,
            }
        })
        .collect();
    Snapshot {
        config,
        dtype: Dtype::F32,
        compression: Compression::Zstd,
        format: Format::Binary,
        objects,
        bricks,
    }
}

const FILES: [(&str, Format, Dtype, Compression); 3] = [
    (
        "snapshot-v1-f32-zstd.tensor3d",
        Format::Binary,
        Dtype::F32,
        Compression::Zstd,
    ),
    (
        "snapshot-v1-i8-none.tensor3d",
        Format::Binary,
        Dtype::I8,
        Compression::None,
    ),
    (
        "snapshot-v1-f16-zstd.json",
        Format::Json,
        Dtype::F16,
        Compression::Zstd,
    ),
];

fn options(format: Format, dtype: Dtype, compression: Compression) -> SnapshotOptions {
    SnapshotOptions {
        format,
        dtype,
        compression,
        threads: 1,
    }
}

#[test]
fn version_1_files_read_back_exactly() {
    let want = contents();
    if std::env::var_os("TENSORMAP_WRITE_COMPAT").is_some() {
        for (name, format, dtype, compression) in FILES {
            want.write(data(name), &options(format, dtype, compression))
                .unwrap();
        }
    }
    for (name, format, dtype, compression) in FILES {
        let got = SnapshotReader::read_all(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.config, want.config, "{name}");
        assert_eq!(
            (got.format, got.dtype, got.compression),
            (format, dtype, compression),
            "{name}"
        );
        assert_eq!(got.objects.len(), 4);
        for (a, b) in got.objects.iter().zip(want.objects.iter()) {
            assert_eq!((a.id, a.kind), (b.id, b.kind));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.position), bits(&b.position), "{name} {}", a.id);
            assert_eq!(bits(a.embedding), bits(b.embedding), "{name} {}", a.id);
            assert_eq!(a.confidence.to_bits(), b.confidence.to_bits());
        }
        assert_eq!(got.bricks.len(), 3);
        for (a, b) in got.bricks.iter().zip(&want.bricks) {
            assert_eq!((a.coords, &a.counts), (b.coords, &b.counts), "{name}");
            let peak = b.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (x, y) in a.values.iter().zip(&b.values) {
                if dtype == Dtype::F32 {
                    assert_eq!(x.to_bits(), y.to_bits(), "{name}");
                } else {
                    // Equal as numbers (i8 rounding may give +0 where `quantize` gives -0).
                    assert_eq!(*x, dtype.quantize(*y, peak), "{name}");
                }
            }
        }
    }
    // The uncompressed file is what this version writes for the same contents, byte for byte.
    let (name, format, dtype, compression) = FILES[1];
    assert_eq!(
        want.to_bytes(&options(format, dtype, compression)).unwrap(),
        std::fs::read(data(name)).unwrap(),
        "the writer's output changed: a format change needs a new version"
    );
}
