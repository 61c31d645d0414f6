//! Snapshots through the engine: a map written by `ReadTransaction::snapshot` and made again
//! by `restore` has the same objects, field (exact for f32, within the documented rounding
//! for f16 and i8) and answers; a snapshot taken while writers commit holds the map at one
//! commit; a restore that fails changes nothing, also inside an open transaction.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use tensormap_engine::{
    Candidates, Compression, Database, Dtype, Error, Format, MapConfig, MapView, Object,
    SnapshotOptions,
};

/// An object as bits: id, type, position, embedding, confidence.
type ObjectBits = (String, String, [u32; 3], Vec<u32>, u32);

fn objects(view: &MapView<'_>) -> Vec<ObjectBits> {
    let mut v: Vec<ObjectBits> = view
        .objects()
        .map(|o| {
            (
                o.id().to_string(),
                o.kind().to_string(),
                o.position().map(f32::to_bits),
                o.embedding().iter().map(|x| x.to_bits()).collect(),
                o.confidence().to_bits(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every brick: coordinates, stored values and splat counts.
fn bricks(view: &MapView<'_>) -> Vec<([u32; 3], Vec<f32>, Vec<u32>)> {
    let mut v = Vec::new();
    view.field()
        .unwrap()
        .for_each_brick(&mut |b, brick, _| v.push((b, brick.values.clone(), brick.counts.clone())));
    v.sort_by_key(|b| b.0);
    v
}

/// Answers that depend only on objects: radius, nearest, attention.
fn answers(view: &MapView<'_>) -> String {
    let ch = view.config().channels as usize;
    let q: Vec<f32> = (0..ch).map(|i| (i as f32 * 0.37).sin()).collect();
    let mut within: Vec<_> = view
        .within([10.0, -20.0, 5.0], 60.0)
        .unwrap()
        .iter()
        .map(|o| o.id().to_string())
        .collect();
    within.sort();
    let nearest: Vec<_> = view
        .nearest([0.0; 3], 7)
        .unwrap()
        .iter()
        .map(|(o, d)| (o.id().to_string(), *d))
        .collect();
    let attention: Vec<_> = view
        .attention(&q, Candidates::All, 5)
        .unwrap()
        .iter()
        .map(|(o, w)| (o.id().to_string(), (w * 1e5).round()))
        .collect();
    format!("{within:?} {nearest:?} {attention:?}")
}

/// A map of `dtype` with several commits, updates and deletes.
fn populate(db: &Database, name: &str, dtype: Dtype, seed: u64) -> MapConfig {
    let mut rng = rng(seed);
    let cfg = MapConfig {
        resolution: 32,
        channels: 5,
        bounds: 100.0,
        dtype,
        ..Default::default()
    };
    db.create_map(name, cfg.clone()).unwrap();
    for round in 0..3 {
        let mut txn = db.begin_write().unwrap();
        let batch: Vec<Object> = (0..200)
            .map(|i| object(&mut rng, format!("{round}-{i}"), &cfg))
            .collect();
        txn.insert_many(name, batch).unwrap();
        for i in 0..10 {
            txn.delete(name, &format!("{round}-{i}")).unwrap();
        }
        txn.commit().unwrap();
    }
    cfg
}

/// The largest difference between the fields of `a` and `b` as readers see them (at the
/// map's dtype), relative to the largest magnitude in the cell's brick (i8 rounds to one
/// scale per brick), after checking that both have the same bricks and splat counts.
fn field_error(a: &MapView<'_>, b: &MapView<'_>) -> f32 {
    let (ba, bb) = (bricks(a), bricks(b));
    assert_eq!(ba.len(), bb.len(), "brick count");
    for ((ca, _, na), (cb, _, nb)) in ba.iter().zip(&bb) {
        assert_eq!(ca, cb, "brick coordinates");
        assert_eq!(na, nb, "splat counts of brick {ca:?}");
    }
    let (va, vb) = (
        a.voxels_within([0.0; 3], 1e6).unwrap(),
        b.voxels_within([0.0; 3], 1e6).unwrap(),
    );
    assert_eq!(va.cells, vb.cells, "occupied cells");
    let mut peaks = std::collections::HashMap::new();
    for n in 0..va.len() {
        let p = peaks.entry(va.cells[n].map(|c| c / 8)).or_insert(0.0f32);
        *p = va.value(n).iter().fold(*p, |m, v| m.max(v.abs()));
    }
    let mut worst = 0.0f32;
    for n in 0..va.len() {
        let peak = peaks[&va.cells[n].map(|c| c / 8)].max(1e-30);
        for (x, y) in va.value(n).iter().zip(vb.value(n)) {
            worst = worst.max((x - y).abs() / peak);
        }
    }
    worst
}

#[test]
fn every_dtype_and_compression_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    for (map, dtype) in [("a", Dtype::F32), ("b", Dtype::F16), ("c", Dtype::I8)] {
        populate(&db, map, dtype, 7);
    }
    let mut n = 0;
    for map in ["a", "b", "c"] {
        for file_dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
            for compression in [Compression::Zstd, Compression::None] {
                for format in [Format::Binary, Format::Json] {
                    n += 1;
                    let path = dir.path().join(format!("{n}.tensor3d"));
                    let options = SnapshotOptions {
                        format,
                        dtype: file_dtype,
                        compression,
                        threads: 0,
                    };
                    let context = format!("{map} as {file_dtype:?} {compression:?} {format:?}");
                    let read = db.begin_read().unwrap();
                    let info = read.snapshot(map, &path, &options).unwrap();
                    let restored = format!("r{n}");
                    let r = db.restore(&restored, &path).unwrap();
                    assert_eq!(
                        (r.objects, r.bricks),
                        (info.objects, info.bricks),
                        "{context}"
                    );

                    let read = db.begin_read().unwrap();
                    let (src, dst) = (read.map(map).unwrap(), read.map(&restored).unwrap());
                    assert_eq!(src.config(), dst.config(), "{context}: settings");
                    assert_eq!(objects(&src), objects(&dst), "{context}: objects");
                    assert_eq!(answers(&src), answers(&dst), "{context}: answers");
                    // What readers see: f32 files are exact, and a file at the map's own
                    // dtype rounds as the map does; otherwise the file's rounding adds to
                    // the map's, which applies twice: to the source's reads and to the
                    // restored map's (docs/FORMATS.md gives the bounds).
                    let rounding = |d: Dtype| match d {
                        Dtype::F32 => 0.0,
                        Dtype::F16 => 2f32.powi(-11),
                        Dtype::I8 => 1.0 / 254.0,
                    };
                    let bound = if file_dtype == src.config().dtype {
                        1e-6
                    } else {
                        rounding(file_dtype) + 2.0 * rounding(src.config().dtype) + 1e-6
                    };
                    let err = field_error(&src, &dst);
                    assert!(err <= bound, "{context}: field error {err} > {bound}");
                }
            }
        }
    }
}

#[test]
fn a_restore_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tensor3d");
    let before = {
        let db = Database::open(dir.path().join("one.db")).unwrap();
        populate(&db, "a", Dtype::F32, 3);
        db.begin_read()
            .unwrap()
            .snapshot("a", &path, &SnapshotOptions::default())
            .unwrap();
        let read = db.begin_read().unwrap();
        let view = read.map("a").unwrap();
        (objects(&view), bricks(&view), answers(&view))
    };
    let target = dir.path().join("two.db");
    Database::open(&target)
        .unwrap()
        .restore("copy", &path)
        .unwrap();
    let db = Database::open(&target).unwrap();
    let read = db.begin_read().unwrap();
    let view = read.map("copy").unwrap();
    assert_eq!(objects(&view), before.0);
    assert_eq!(answers(&view), before.2);
    let after = bricks(&view);
    assert_eq!(after.len(), before.1.len());
    for (x, y) in after.iter().zip(&before.1) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.2, y.2);
        assert!(x
            .1
            .iter()
            .zip(&y.1)
            .all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

#[test]
fn a_failed_restore_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    populate(&db, "a", Dtype::F32, 5);
    let good = dir.path().join("good.tensor3d");
    let options = SnapshotOptions {
        compression: Compression::None,
        ..Default::default()
    };
    db.begin_read()
        .unwrap()
        .snapshot("a", &good, &options)
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();

    // A byte changed in the middle (in the objects or the field), a truncated file, a
    // missing file: each an error; inside an open transaction, the transaction is as it was.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let bad = [
        ("flipped", flipped),
        ("truncated", bytes[..bytes.len() - 100].to_vec()),
    ];
    let mut txn = db.begin_write().unwrap();
    txn.insert(
        "a",
        Object::new("new", "cube", [1.0, 2.0, 3.0], vec![0.5; 5]),
    )
    .unwrap();
    for (what, content) in &bad {
        let path = dir.path().join(format!("{what}.tensor3d"));
        std::fs::write(&path, content).unwrap();
        let e = txn.restore("b", &path).unwrap_err();
        assert!(matches!(e, Error::Snapshot(_)), "{what}: {e}");
        assert!(e.to_string().contains("offset"), "{what}: {e}");
        assert_eq!(txn.map_names(), ["a"], "{what}");
    }
    let e = txn
        .restore("b", dir.path().join("missing.tensor3d"))
        .unwrap_err();
    assert!(e.to_string().contains("missing.tensor3d"), "{e}");
    // The name of an existing map.
    assert!(matches!(txn.restore("a", &good), Err(Error::MapExists(_))));
    assert_eq!(txn.map_names(), ["a"]);
    // The transaction goes on: a good restore and the earlier insert commit together.
    txn.restore("b", &good).unwrap();
    txn.commit().unwrap();
    // Outside a transaction: an error and nothing made.
    for (what, _) in &bad {
        let path = dir.path().join(format!("{what}.tensor3d"));
        assert!(db.restore("c", &path).is_err(), "{what}");
    }
    let read = db.begin_read().unwrap();
    assert_eq!(read.map_names(), ["a", "b"]);
    assert!(read.get("a", "new").unwrap().is_some());
    assert_eq!(
        read.map("b").unwrap().len() + 1,
        read.map("a").unwrap().len()
    );
}

#[test]
fn a_snapshot_taken_during_writes_holds_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    let cfg = MapConfig {
        resolution: 32,
        channels: 4,
        bounds: 100.0,
        ..Default::default()
    };
    db.create_map("m", cfg.clone()).unwrap();
    const BATCH: usize = 50;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop, cfg) = (db.clone(), stop.clone(), cfg.clone());
        std::thread::spawn(move || {
            let mut rng = rng(11);
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) && k < 400 {
                let mut txn = db.begin_write().unwrap();
                for i in 0..BATCH {
                    txn.insert("m", object(&mut rng, format!("{k}-{i}"), &cfg))
                        .unwrap();
                }
                // Each commit also deletes one object of the one before: a half-applied
                // commit would show 50 new ids with the old one still there.
                if k > 0 {
                    txn.delete("m", &format!("{}-0", k - 1)).unwrap();
                }
                txn.commit().unwrap();
                k += 1;
            }
            k
        })
    };
    let mut seen = BTreeSet::new();
    for n in 0..12 {
        let path = dir.path().join(format!("{n}.tensor3d"));
        db.begin_read()
            .unwrap()
            .snapshot("m", &path, &SnapshotOptions::default())
            .unwrap();
        let other = Database::open_in_memory().unwrap();
        other.restore("m", &path).unwrap();
        let read = other.begin_read().unwrap();
        let view = read.map("m").unwrap();
        let ids: BTreeSet<String> = view.objects().map(|o| o.id().to_string()).collect();
        // Commit k holds batches 0..k, less the first object of each batch but the last.
        let commits = ids
            .iter()
            .filter_map(|id| id.split('-').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |m| m + 1);
        let expected: BTreeSet<String> = (0..commits)
            .flat_map(|k| {
                (0..BATCH)
                    .filter(move |i| *i != 0 || k + 1 == commits)
                    .map(move |i| format!("{k}-{i}"))
            })
            .collect();
        assert_eq!(
            ids, expected,
            "snapshot {n} is not the state of commit {commits}"
        );
        // Its field is that of its objects (a splat per object, nothing else).
        let live: BTreeMap<String, Object> = view
            .objects()
            .map(|o| (o.id().to_string(), o.to_object()))
            .collect();
        assert_field_matches(&view, &live, &f32_tolerance);
        seen.insert(commits);
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    assert!(commits > 0);
    assert!(
        seen.len() > 1 || commits >= 400,
        "the writer never committed between snapshots"
    );
}
