//! Snapshots written and read back: every format × dtype × compression; objects exactly,
//! the field exactly for f32 and within the documented bound for f16 and i8; streaming in
//! chunks; and a writer that refuses bad input leaves no file behind.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tensormap_storage::snapshot::{
    BrickEntry, Compression, Format, ObjectChunk, ObjectEntry, Snapshot, SnapshotError,
    SnapshotOptions, SnapshotReader, SnapshotWriter,
};
use tensormap_storage::{Dtype, MapConfig};

fn config() -> MapConfig {
    MapConfig {
        resolution: 32,
        channels: 5,
        bounds: 100.0,
        sigma: 1.5,
        splat_radius: 2,
        dtype: Dtype::F16,
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Objects identical to the bit.
fn assert_same_objects(a: &ObjectChunk, b: &ObjectChunk) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!((x.id, x.kind), (y.id, y.kind));
        assert_eq!(bits(&x.position), bits(&y.position), "{}", x.id);
        assert_eq!(bits(x.embedding), bits(y.embedding), "{}", x.id);
        assert_eq!(x.confidence.to_bits(), y.confidence.to_bits());
    }
}

/// The field as written, read back at `dtype`: f32 to the bit; f16 and i8 exactly as the
/// map's own storage rounds (`Dtype::quantize`) and within the bounds of docs/FORMATS.md.
fn assert_field_within(original: &[BrickEntry], back: &[BrickEntry], dtype: Dtype) {
    assert_eq!(original.len(), back.len());
    for (a, b) in original.iter().zip(back) {
        assert_eq!(a.coords, b.coords);
        assert_eq!(a.counts, b.counts);
        let peak = a.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (v, w) in a.values.iter().zip(&b.values) {
            match dtype {
                Dtype::F32 => assert_eq!(v.to_bits(), w.to_bits()),
                Dtype::F16 => {
                    assert_eq!(Dtype::F16.quantize(*v, peak), *w);
                    assert!(
                        (v - w).abs() <= v.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                        "{v} {w}"
                    );
                }
                Dtype::I8 => {
                    assert_eq!(Dtype::I8.quantize(*v, peak), *w);
                    assert!(
                        (v - w).abs() <= peak / 254.0 * (1.0 + 1e-6),
                        "{v} {w} {peak}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_format_dtype_and_compression_round_trips() {
    let scene = common::scene(&config(), 300, 1);
    assert!(scene.bricks.len() > 20, "{} bricks", scene.bricks.len());
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Binary, Format::Json] {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
            for compression in [Compression::None, Compression::Zstd] {
                let options = SnapshotOptions {
                    format,
                    dtype,
                    compression,
                    threads: 2,
                };
                let path = dir
                    .path()
                    .join(format!("{format:?}-{dtype:?}-{compression:?}"));
                let info = scene.write(&path, &options).unwrap();
                assert_eq!(
                    (info.objects, info.bricks),
                    (300, scene.bricks.len() as u64)
                );
                assert_eq!(info.file_bytes, std::fs::metadata(&path).unwrap().len());
                let back = SnapshotReader::read_all(&path).unwrap();
                assert_eq!(back.config, scene.config);
                assert_eq!(
                    (back.format, back.dtype, back.compression),
                    (format, dtype, compression)
                );
                assert_same_objects(&scene.objects, &back.objects);
                assert_field_within(&scene.bricks, &back.bricks, dtype);
                // The same through memory.
                let bytes = scene.to_bytes(&options).unwrap();
                assert_eq!(bytes, std::fs::read(&path).unwrap());
                let mem = SnapshotReader::from_bytes(bytes, "mem")
                    .unwrap()
                    .into_snapshot()
                    .unwrap();
                assert_eq!(mem, back);
            }
        }
    }
    // Nothing but the snapshots in the folder: no temporary file left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 12);
}

#[test]
fn the_bytes_do_not_depend_on_the_threads() {
    let scene = common::scene(
        &MapConfig {
            channels: 32,
            ..MapConfig::default()
        },
        3000,
        2,
    );
    let one = scene
        .to_bytes(&SnapshotOptions {
            threads: 1,
            ..Default::default()
        })
        .unwrap();
    let three = scene
        .to_bytes(&SnapshotOptions {
            threads: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(one, three);
    let r = SnapshotReader::from_bytes(one, "mem")
        .unwrap()
        .with_threads(3);
    assert_eq!(r.into_snapshot().unwrap().bricks, scene.bricks);
}

#[test]
fn streaming_yields_chunks_and_bricks_in_order() {
    let cfg = MapConfig {
        channels: 32,
        ..MapConfig::default()
    };
    let scene = common::scene(&cfg, 20_000, 3);
    let r = SnapshotReader::from_bytes(scene.to_bytes(&SnapshotOptions::default()).unwrap(), "mem")
        .unwrap();
    assert_eq!(
        (r.object_count(), r.brick_count()),
        (20_000, scene.bricks.len() as u64)
    );
    let mut all = ObjectChunk::new(32);
    let mut chunks = 0;
    for chunk in r.objects() {
        let chunk = chunk.unwrap();
        assert!(!chunk.is_empty());
        chunk.iter().for_each(|o| all.push(&o));
        chunks += 1;
    }
    assert!(chunks > 2, "{chunks} chunks");
    assert_same_objects(&scene.objects, &all);
    let mut last = None;
    let mut n = 0;
    for b in r.bricks() {
        let b = b.unwrap();
        let m = tensormap_storage::snapshot::morton(b.coords);
        assert!(last.is_none_or(|l| l < m));
        last = Some(m);
        assert_eq!(b, scene.bricks[n]);
        n += 1;
    }
    assert_eq!(n, scene.bricks.len());
    assert_eq!(r.verify().unwrap(), (20_000, n as u64));
}

#[test]
fn empty_and_single_brick_maps_round_trip() {
    for resolution in [8, 16, 2048] {
        let cfg = MapConfig {
            resolution,
            channels: 1,
            ..MapConfig::default()
        };
        for n in [0, 1, 2] {
            let scene = common::scene(&cfg, n, 4);
            for format in [Format::Binary, Format::Json] {
                let options = SnapshotOptions {
                    format,
                    ..Default::default()
                };
                let back = SnapshotReader::from_bytes(scene.to_bytes(&options).unwrap(), "mem")
                    .unwrap()
                    .into_snapshot()
                    .unwrap();
                assert_same_objects(&scene.objects, &back.objects);
                assert_eq!(back.bricks, scene.bricks, "{resolution} {n} {format:?}");
            }
        }
    }
    // A map without a field may skip begin_field.
    let cfg = MapConfig::default();
    let w = SnapshotWriter::new(Vec::new(), "mem", &cfg, &SnapshotOptions::default()).unwrap();
    let (info, bytes) = w.finish_into().unwrap();
    assert_eq!((info.objects, info.bricks), (0, 0));
    let r = SnapshotReader::from_bytes(bytes, "mem").unwrap();
    assert_eq!(r.config(), &cfg);
}

#[test]
fn json_keeps_every_f32_exactly() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let cfg = MapConfig {
        resolution: 8,
        channels: 1000,
        bounds: 1e30,
        ..MapConfig::default()
    };
    let mut objects = ObjectChunk::new(1000);
    let random = |rng: &mut rand_chacha::ChaCha8Rng, limit: f32| loop {
        let v = f32::from_bits(rng.random());
        if v.is_finite() && v.abs() <= limit {
            return v;
        }
    };
    for i in 0..100 {
        let e: Vec<f32> = (0..1000).map(|_| random(&mut rng, 1e15)).collect();
        let id = format!("o{i}");
        objects.push(&ObjectEntry {
            id: &id,
            kind: "t\"\\\u{1}é",
            position: [0; 3].map(|_| random(&mut rng, 1e30)),
            embedding: &e,
            confidence: random(&mut rng, 1.0).abs(),
        });
    }
    let scene = Snapshot {
        config: cfg,
        dtype: Dtype::F32,
        compression: Compression::Zstd,
        format: Format::Json,
        objects,
        bricks: vec![],
    };
    let options = SnapshotOptions {
        format: Format::Json,
        ..Default::default()
    };
    let mut bytes = b"\n\n  \r\n\t ".to_vec(); // blank lines before the document
    bytes.extend(scene.to_bytes(&options).unwrap());
    let back = SnapshotReader::from_bytes(bytes, "mem")
        .unwrap()
        .into_snapshot()
        .unwrap();
    assert_same_objects(&scene.objects, &back.objects);
}

fn entry<'a>(id: &'a str, e: &'a [f32]) -> ObjectEntry<'a> {
    ObjectEntry {
        id,
        kind: "t",
        position: [0.0; 3],
        embedding: e,
        confidence: 1.0,
    }
}

/// Runs `f` on a writer to a fresh file over an existing good one; `f` must fail, and then
/// the good file is untouched and no temporary file is left.
fn refused(
    f: impl FnOnce(&mut SnapshotWriter) -> Result<(), SnapshotError>,
    finish: bool,
) -> SnapshotError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.tensor3d");
    std::fs::write(&path, b"good").unwrap();
    let cfg = MapConfig {
        resolution: 16,
        channels: 2,
        ..MapConfig::default()
    };
    let mut w = SnapshotWriter::create(&path, &cfg, &SnapshotOptions::default()).unwrap();
    let mut err = f(&mut w).err();
    if err.is_none() && finish {
        err = w.finish().err();
    } else {
        drop(w);
    }
    let err = err.expect("the writer accepted bad input");
    assert_eq!(std::fs::read(&path).unwrap(), b"good");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file is left"
    );
    assert!(matches!(err, SnapshotError::Invalid { .. }), "{err}");
    err
}

#[test]
fn the_writer_refuses_bad_input_and_leaves_nothing() {
    let e = [1.0f32, 2.0];
    let mut values = vec![0.0f32; 1024];
    let mut counts = vec![0u32; 512];
    values[0] = 1.0;
    counts[0] = 1;
    refused(|w| w.push_object(&entry("a", &[f32::NAN, 0.0])), false);
    refused(|w| w.push_object(&entry("", &e)), false);
    refused(|w| w.push_object(&entry("a", &[1.0])), false);
    refused(
        |w| w.push_columns(&["a", "b"], &["t"], &[[0.0; 3]; 2], &[0.0; 4], &[1.0; 2]),
        false,
    );
    refused(|w| w.begin_field(&[[0, 0, 0]]), false); // bricks without objects
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[1, 0, 0], [0, 0, 0]])
        },
        false,
    );
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[2, 0, 0]])
        },
        false,
    );
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[0, 0, 0]])?;
            w.push_object(&entry("b", &e))
        },
        false,
    );
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[0, 0, 0]])?;
            w.push_brick([1, 0, 0], &values, &counts)
        },
        false,
    );
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[0, 0, 0]])
        },
        true,
    ); // a brick short
    let mut two = counts.clone();
    two[0] = 2; // more splats than objects
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[0, 0, 0]])?;
            w.push_brick([0, 0, 0], &values, &two)
        },
        false,
    );
    let mut stray = values.clone();
    stray[2] = 1.0; // cell 1 is not covered
    refused(
        |w| {
            w.push_object(&entry("a", &e))?;
            w.begin_field(&[[0, 0, 0]])?;
            w.push_brick([0, 0, 0], &stray, &counts)
        },
        false,
    );
    // After an error every call fails.
    let err = refused(
        |w| {
            let _ = w.push_object(&entry("", &e));
            w.push_object(&entry("a", &e))
        },
        false,
    );
    assert!(err.to_string().contains("after an earlier error"), "{err}");
    // A value f16 cannot hold.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f16.tensor3d");
    let cfg = MapConfig {
        resolution: 16,
        channels: 2,
        ..MapConfig::default()
    };
    let options = SnapshotOptions {
        dtype: Dtype::F16,
        ..Default::default()
    };
    let mut w = SnapshotWriter::create(&path, &cfg, &options).unwrap();
    w.push_object(&entry("a", &e)).unwrap();
    w.begin_field(&[[0, 0, 0]]).unwrap();
    let mut big = values.clone();
    big[0] = 1e6;
    let err = w.push_brick([0, 0, 0], &big, &counts).unwrap_err();
    assert!(err.to_string().contains("f16 range"), "{err}");
    assert!(w.finish().is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn duplicate_ids_are_refused_by_a_full_read() {
    let cfg = MapConfig {
        resolution: 8,
        channels: 1,
        ..MapConfig::default()
    };
    let mut w = SnapshotWriter::new(Vec::new(), "mem", &cfg, &SnapshotOptions::default()).unwrap();
    w.push_object(&entry("a", &[1.0])).unwrap();
    w.push_object(&entry("a", &[2.0])).unwrap();
    let bytes = w.finish_into().unwrap().1;
    let r = SnapshotReader::from_bytes(bytes, "mem").unwrap();
    assert!(r
        .verify()
        .unwrap_err()
        .to_string()
        .contains("appears twice"));
    assert!(r.into_snapshot().is_err());
}
