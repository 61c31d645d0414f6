//! Durability: reopening gives back the same objects, field and answers; a commit that fails
//! at any write or at the flush leaves the database exactly as it was; damaged records are
//! errors that name their key. The tests that count writes, files or segments run with
//! commits merging (no background merger, whose writes would land among theirs); the
//! background merger has tests of its own at the end: convergence after each load
//! pattern, the field folded in the background, reopen, and faults during a merge.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use rand::Rng;
use tensormap_engine::{Candidates, Database, Dtype, MapConfig, MemoryBackend, Options};
use tensormap_storage::keys;

/// An object as bits: map, id, type, position, embedding, confidence.
type ObjectBits = (String, String, String, [u32; 3], Vec<u32>, u32);
/// A brick as readers see it: map, brick, value bits, splat counts.
type BrickBits = (String, [u32; 3], Vec<u32>, Vec<u32>);

/// Everything observable about a database, bit for bit.
#[derive(PartialEq)]
struct Fingerprint {
    maps: Vec<String>,
    objects: Vec<ObjectBits>,
    bricks: Vec<BrickBits>,
    answers: Vec<String>,
    /// Attention ids and weights: weights are sums over segments whose layout a reopen
    /// changes, so they are compared to a relative 1e-6.
    attention: Vec<(String, f32)>,
}

/// Asserts two fingerprints are equal, reporting the first difference briefly.
#[track_caller]
fn assert_same(a: &Fingerprint, b: &Fingerprint, context: &str) {
    assert_close(a, b, context, 0.0)
}

/// As `assert_same`, with field values allowed to differ by `rel` (relative).
#[track_caller]
fn assert_close(a: &Fingerprint, b: &Fingerprint, context: &str, rel: f32) {
    assert_eq!(a.maps, b.maps, "{context}: maps");
    assert_eq!(a.objects.len(), b.objects.len(), "{context}: object count");
    if let Some((x, y)) = a.objects.iter().zip(&b.objects).find(|(x, y)| x != y) {
        panic!("{context}: objects differ: {:?} vs {:?}", x.1, y.1);
    }
    assert_eq!(a.bricks.len(), b.bricks.len(), "{context}: brick count");
    let close = |p: &u32, q: &u32| {
        let (p, q) = (f32::from_bits(*p), f32::from_bits(*q));
        (p - q).abs() <= rel * p.abs().max(q.abs())
    };
    let same = |x: &BrickBits, y: &BrickBits| {
        x.0 == y.0
            && x.1 == y.1
            && x.3 == y.3
            && x.2.len() == y.2.len()
            && x.2.iter().zip(&y.2).all(|(p, q)| close(p, q))
    };
    if let Some((x, y)) = a.bricks.iter().zip(&b.bricks).find(|(x, y)| !same(x, y)) {
        let cell = x.2.iter().zip(&y.2).position(|(p, q)| !close(p, q));
        let count = x.3.iter().zip(&y.3).position(|(p, q)| p != q);
        panic!(
            "{context}: brick {} {:?} vs {} {:?} differs: value {cell:?} {:?} count {count:?}",
            x.0,
            x.1,
            y.0,
            y.1,
            cell.map(|c| (f32::from_bits(x.2[c]), f32::from_bits(y.2[c])))
        );
    }
    assert!(a.answers == b.answers, "{context}: answers differ");
    assert_eq!(a.attention.len(), b.attention.len());
    for (x, y) in a.attention.iter().zip(&b.attention) {
        assert_eq!(x.0, y.0, "{context}: attention ranks");
        assert!(
            (x.1 - y.1).abs() <= 1e-6 * x.1,
            "{context}: weights {} vs {}",
            x.1,
            y.1
        );
    }
}

fn fingerprint(db: &Database) -> Fingerprint {
    let read = db.begin_read().unwrap();
    let mut f = Fingerprint {
        maps: db.maps().iter().map(|m| format!("{m:?}")).collect(),
        objects: Vec::new(),
        bricks: Vec::new(),
        answers: Vec::new(),
        attention: Vec::new(),
    };
    for name in read.map_names() {
        let view = read.map(name).unwrap();
        for o in view.objects() {
            f.objects.push((
                name.to_string(),
                o.id().to_string(),
                o.kind().to_string(),
                o.position().map(f32::to_bits),
                o.embedding().iter().map(|v| v.to_bits()).collect(),
                o.confidence().to_bits(),
            ));
        }
        // The field as readers see it: counts per brick, values at the map's dtype.
        let all = view.voxels_within([0.0; 3], 1e6).unwrap();
        view.field().unwrap().for_each_brick(&mut |b, brick, _| {
            let mut values = Vec::new();
            for n in 0..all.len() {
                if all.cells[n].map(|c| c / 8) == b {
                    values.extend(all.value(n).iter().map(|v| v.to_bits()));
                }
            }
            f.bricks
                .push((name.to_string(), b, values, brick.counts.clone()));
        });
        let ch = view.config().channels as usize;
        let q: Vec<f32> = (0..ch).map(|i| (i as f32 * 0.37).sin()).collect();
        f.attention
            .extend(read.attention(name, &q, Candidates::All, 5).unwrap());
        f.answers.push(format!(
            "{:?} {:?} {:?}",
            read.within(name, [10.0, -20.0, 5.0], 60.0).map(|mut v| {
                v.sort();
                v
            }),
            read.nearest(name, [0.0; 3], 7),
            view.voxels_within([0.0; 3], 40.0).map(|v| v.len()),
        ));
    }
    f.objects.sort();
    f.bricks.sort();
    f
}

/// Maps of each dtype with several commits, updates, deletes, a checkpoint, and journal
/// entries after it.
fn populate(db: &Database, seed: u64) {
    let mut rng = rng(seed);
    for (name, dtype) in [("a", Dtype::F32), ("b", Dtype::F16), ("c", Dtype::I8)] {
        let cfg = MapConfig {
            resolution: 32,
            channels: 5,
            bounds: 100.0,
            dtype,
            ..Default::default()
        };
        db.create_map(name, cfg.clone()).unwrap();
        for round in 0..4 {
            let mut txn = db.begin_write().unwrap();
            for i in 0..150 {
                txn.insert(name, object(&mut rng, format!("{round}-{i}"), &cfg))
                    .unwrap();
            }
            for i in 0..20 {
                let id = format!("{round}-{i}");
                if i % 2 == 0 {
                    txn.delete(name, &id).unwrap();
                } else {
                    let mut o = txn.get(name, &id).unwrap().unwrap();
                    o.position = position(&mut rng, cfg.bounds);
                    txn.update(name, o).unwrap();
                }
            }
            txn.commit().unwrap();
            if round == 1 {
                db.checkpoint().unwrap();
            }
        }
    }
}

/// Options small enough that `populate` takes every storage path: bulk commits write
/// segment files, records are sealed into files, files are compacted (in commits).
fn small() -> Options {
    Options {
        bulk_rows: 40,
        seal_rows: 100,
        large_rows: 200,
        ..inline()
    }
}

/// The default options with commits merging, no background merger.
fn inline() -> Options {
    Options {
        background_merge: false,
        ..Options::default()
    }
}

fn open_memory(backend: &MemoryBackend, options: Options) -> Database {
    Database::with_backend_options(Arc::new(backend.clone()), options).unwrap()
}

#[test]
fn reopen_gives_back_the_same_database() {
    reopen_gives_back(inline());
}

#[test]
fn reopen_gives_back_the_same_database_from_segment_files() {
    reopen_gives_back(small());
}

fn reopen_gives_back(options: Options) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let before = {
        let db = Database::open_with(&path, options).unwrap();
        populate(&db, 21);
        // One more small commit: journal entries after whatever the last commit folded.
        let mut txn = db.begin_write().unwrap();
        for name in ["a", "b", "c"] {
            txn.delete(name, "3-30").unwrap();
            let mut o = txn.get(name, "2-31").unwrap().unwrap();
            o.position = [1.0, 2.0, 3.0];
            txn.update(name, o).unwrap();
        }
        txn.commit().unwrap();
        let stats = db.begin_read().unwrap().stats("c").unwrap();
        assert!(
            stats.journal_splats > 0,
            "the test needs journal entries after a checkpoint"
        );
        fingerprint(&db)
    };
    assert!(!before.bricks.is_empty());
    let db = Database::open_with(&path, options).unwrap();
    assert_same(&fingerprint(&db), &before, "reopened");
    // A checkpoint stores the f16/i8 bricks rounded, and rounds them in memory to match:
    // reads stay the same to an ulp of the brick scale.
    db.checkpoint().unwrap();
    let checkpointed = fingerprint(&db);
    assert_close(&checkpointed, &before, "checkpointed", 1e-6);
    drop(db);
    // With no journal left to replay, a reopen gives back the checkpointed bricks exactly.
    let db = Database::open_with(&path, options).unwrap();
    assert_eq!(
        db.begin_read().unwrap().stats("c").unwrap().journal_splats,
        0
    );
    assert_same(
        &fingerprint(&db),
        &checkpointed,
        "reopened after the checkpoint",
    );
}

#[test]
fn dropped_maps_leave_nothing_behind() {
    let backend = MemoryBackend::new();
    let db = open_memory(&backend, small());
    populate(&db, 22);
    let files: Vec<u64> = backend.dump_blobs().into_keys().collect();
    assert!(files.len() >= 3, "{} files", files.len());
    let b_segments = db.begin_read().unwrap().stats("b").unwrap().index_segments as usize;
    let mut txn = db.begin_write().unwrap();
    txn.insert(
        "b",
        object(
            &mut rng(1),
            "fresh".into(),
            &MapConfig {
                channels: 5,
                bounds: 100.0,
                ..Default::default()
            },
        ),
    )
    .unwrap();
    txn.drop_map("b").unwrap();
    assert!(txn.map("b").is_err());
    txn.commit().unwrap();
    let b_id = 1u32;
    assert!(backend
        .dump()
        .keys()
        .all(|k| !k.starts_with(&keys::map_prefix(b_id))));
    assert!(backend.dump().keys().all(|k| *k != keys::catalog("b")));
    let names: Vec<String> = db.maps().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["a", "c"]);
    let left: Vec<u64> = backend.dump_blobs().into_keys().collect();
    assert!(left.iter().all(|f| files.contains(f)));
    // Its segment files (all but a volatile one) and at least one brick file are gone.
    assert!(
        files.len() - left.len() >= b_segments,
        "map b's files remain"
    );
    let reopened = open_memory(&backend, small());
    assert_eq!(backend.dump_blobs().into_keys().collect::<Vec<_>>(), left);
    assert_same(&fingerprint(&reopened), &fingerprint(&db), "reopened");
}

/// How the failing transaction of [`faults_at_every_write`] adds its objects.
#[derive(Clone, Copy, PartialEq)]
enum Adds {
    /// One `insert` each, then a delete and an update.
    Rows,
    /// One `insert_columns` of them all (with small options a batch staged as its segment
    /// file), nothing else.
    Columns,
    /// One `insert_columns`, then the delete and the update, one of them of a row of the
    /// batch (which turns a staged batch back into memtable rows).
    ColumnsThenChanges,
}

/// Runs the same transaction with a fault injected at every write position in turn (with
/// small options the commit writes segment files too: a fault can hit any of them).
fn faults_at_every_write(checkpoint: bool, options: Options, positions: usize, adds: Adds) {
    let backend = MemoryBackend::new();
    let db = open_memory(&backend, options);
    populate(&db, 23);
    let before = fingerprint(&db);
    let dump = backend.dump();
    let blobs = backend.dump_blobs();
    let cfg = db.maps()[0].config.clone();
    let change = |db: &Database| {
        let mut rng = rng(99);
        let mut txn = db.begin_write().unwrap();
        let objects: Vec<_> = (0..50)
            .map(|i| object(&mut rng, format!("new{i}"), &cfg))
            .collect();
        if adds == Adds::Rows {
            for o in objects {
                txn.insert("a", o).unwrap();
            }
        } else {
            let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
            let kinds: Vec<&str> = objects.iter().map(|o| o.kind.as_str()).collect();
            let positions: Vec<f32> = objects.iter().flat_map(|o| o.position).collect();
            let embeddings: Vec<f32> = objects.iter().flat_map(|o| o.embedding.clone()).collect();
            let confidences: Vec<f32> = objects.iter().map(|o| o.confidence).collect();
            txn.insert_columns(
                "a",
                tensormap_engine::ObjectColumns {
                    ids: &ids,
                    kinds: &kinds,
                    positions: &positions,
                    embeddings: &embeddings,
                    confidences: &confidences,
                },
            )
            .unwrap();
        }
        if adds != Adds::Columns {
            txn.delete("a", "1-5").unwrap();
            txn.delete("a", "new7").unwrap();
            let mut o = txn.get("a", "2-7").unwrap().unwrap();
            o.position = [1.0, 2.0, 3.0];
            txn.update("a", o).unwrap();
        }
        txn.create_map("d", MapConfig::default()).unwrap();
        if checkpoint {
            txn.checkpoint().unwrap();
        }
        txn.commit()
    };
    let mut failures = 0;
    for n in 0.. {
        backend.fail_nth_write(n);
        match change(&db) {
            Ok(()) => break,
            Err(e) => {
                assert!(e.to_string().contains("injected fault"), "{e}");
                failures += 1;
                assert_same(
                    &fingerprint(&db),
                    &before,
                    &format!("in memory, after a fault at write {n}"),
                );
                assert!(backend.dump() == dump, "stored, after a fault at write {n}");
                assert!(
                    backend.dump_blobs() == blobs,
                    "segment files, after a fault at write {n}"
                );
                let reopened = open_memory(&backend, options);
                assert_same(
                    &fingerprint(&reopened),
                    &before,
                    &format!("reopened after a fault at write {n}"),
                );
            }
        }
    }
    assert!(failures > positions, "only {failures} write positions");
    backend.clear_faults();
    let after = fingerprint(&db);
    assert!(after != before);
    let reopened = open_memory(&backend, options);
    assert_same(&fingerprint(&reopened), &after, "reopened");
}

#[test]
fn a_commit_failing_at_any_write_changes_nothing() {
    faults_at_every_write(false, inline(), 20, Adds::Rows);
}

#[test]
fn a_checkpointing_commit_failing_at_any_write_changes_nothing() {
    faults_at_every_write(true, inline(), 20, Adds::Rows);
}

#[test]
fn a_bulk_commit_failing_at_any_write_changes_nothing() {
    faults_at_every_write(false, small(), 8, Adds::Rows);
}

#[test]
fn a_compacting_commit_failing_at_any_write_changes_nothing() {
    faults_at_every_write(true, small(), 8, Adds::Rows);
}

#[test]
fn a_staged_bulk_commit_failing_at_any_write_changes_nothing() {
    // 50 rows ≥ bulk_rows (40): the batch is staged as its segment and written as one
    // file; it is also reopened from that file once the commit succeeds.
    faults_at_every_write(false, small(), 1, Adds::Columns);
    faults_at_every_write(true, small(), 2, Adds::Columns);
}

#[test]
fn a_bulk_column_commit_changed_after_staging_failing_at_any_write_changes_nothing() {
    faults_at_every_write(false, small(), 8, Adds::ColumnsThenChanges);
    // Below bulk_rows: the batch goes into the memtable as rows.
    faults_at_every_write(false, inline(), 20, Adds::ColumnsThenChanges);
}

#[test]
fn a_failed_flush_changes_nothing_and_the_retry_succeeds() {
    let backend = MemoryBackend::new();
    let db = open_memory(&backend, inline());
    populate(&db, 24);
    let before = fingerprint(&db);
    backend.fail_nth_flush(0);
    let mut txn = db.begin_write().unwrap();
    txn.delete("a", "0-1").unwrap();
    assert!(txn.commit().is_err());
    assert_same(&fingerprint(&db), &before, "reopened");
    let mut txn = db.begin_write().unwrap();
    txn.delete("a", "0-1").unwrap();
    txn.commit().unwrap();
    assert!(db.begin_read().unwrap().get("a", "0-1").unwrap().is_none());
}

#[test]
fn damaged_records_are_errors_naming_their_key() {
    let backend = MemoryBackend::new();
    let db = open_memory(&backend, small());
    populate(&db, 25);
    db.checkpoint().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.delete("a", "3-1").unwrap();
    let mut o = txn.get("a", "3-3").unwrap().unwrap();
    o.id = "fresh".into();
    txn.insert("a", o).unwrap();
    txn.commit().unwrap();
    drop(db);
    let dump = backend.dump();
    let pick = |ks: u8| {
        dump.keys()
            .find(|k| k.len() > 5 && k[0] == 2 && k[5] == ks)
            .cloned()
            .unwrap_or_else(|| panic!("no key of keyspace {ks}"))
    };
    // Found on open: the records that say what the map holds.
    let on_open = [
        (pick(1), "objects"),
        (pick(4), "meta"),
        (pick(5), "manifest"),
        (pick(6), "dead"),
        (keys::catalog("a"), "catalog"),
    ];
    // Found when the field is first read: its journal.
    let on_field = [(pick(3), "journal")];
    let mut rng = rng(5);
    for (key, what) in on_open.iter().chain(&on_field) {
        let good = dump[key].clone();
        let mut bad = good.clone();
        let i = rng.random_range(0..bad.len());
        bad[i] ^= 1 << rng.random_range(0..8);
        for damaged in [bad, good[..good.len() / 2].to_vec(), Vec::new()] {
            backend.corrupt(key, damaged);
            let err = match Database::with_backend_options(Arc::new(backend.clone()), small()) {
                Err(e) => e.to_string(),
                Ok(db) => {
                    assert!(
                        on_field.iter().any(|(k, _)| k == key),
                        "{what}: damage not found on open"
                    );
                    let read = db.begin_read().unwrap();
                    let view = read.map("a").unwrap();
                    assert!(view.within([0.0; 3], 50.0).is_ok(), "objects need no field");
                    let first = view.voxels_within([0.0; 3], 50.0).unwrap_err().to_string();
                    // Every later use reports the same error; a writer cannot start on it.
                    assert_eq!(view.field().unwrap_err().to_string(), first);
                    let mut txn = db.begin_write().unwrap();
                    assert!(txn.delete("a", "0-1").is_err());
                    first
                }
            };
            assert!(
                err.contains("corrupt") && err.contains(what),
                "{what}: {err}"
            );
        }
        backend.corrupt(key, good);
    }
    // Segment and brick files: any damage is an error naming the file and the offset — on
    // open, or (the bricks inside a brick file) when the field is first read.
    let blobs = backend.dump_blobs();
    assert!(blobs.len() >= 4, "{} files", blobs.len());
    for (id, good) in blobs {
        for at in [0, good.len() / 3, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            for damaged in [bad, good[..at].to_vec()] {
                backend.corrupt_blob(id, &damaged);
                let err = match Database::with_backend_options(Arc::new(backend.clone()), small()) {
                    Err(e) => e.to_string(),
                    Ok(db) => {
                        let read = db.begin_read().unwrap();
                        let err = read
                            .map_names()
                            .iter()
                            .find_map(|m| read.map(m).unwrap().field().err());
                        err.unwrap_or_else(|| panic!("damage to file {id} at {at} went unnoticed"))
                            .to_string()
                    }
                };
                assert!(
                    err.contains(&format!("corrupt segment {id:016x} at offset")),
                    "file {id}: {err}"
                );
            }
        }
        backend.corrupt_blob(id, &good);
    }
    Database::with_backend_options(Arc::new(backend), small()).unwrap();
}

#[test]
fn rejected_calls_leave_the_transaction_unchanged() {
    let db = Database::open_in_memory().unwrap();
    populate(&db, 26);
    let mut txn = db.begin_write().unwrap();
    let cfg = MapConfig {
        channels: 5,
        bounds: 100.0,
        ..Default::default()
    };
    let good = object(&mut rng(3), "ok".into(), &cfg);
    txn.insert("a", good.clone()).unwrap();
    let view_len = txn.map("a").unwrap().len();
    let mut bad = Vec::new();
    bad.push(txn.insert("a", good.clone()).unwrap_err()); // duplicate
    let mut o = good.clone();
    o.id = "x".into();
    o.position = [0.0, 0.0, 101.0];
    bad.push(txn.insert("a", o.clone()).unwrap_err());
    o.position = [0.0, f32::NAN, 0.0];
    bad.push(txn.insert("a", o.clone()).unwrap_err());
    o.position = [0.0; 3];
    o.embedding = vec![1.0; 4];
    bad.push(txn.insert("a", o.clone()).unwrap_err());
    o.embedding = vec![1.0, 1.0, f32::INFINITY, 1.0, 1.0];
    bad.push(txn.insert("a", o.clone()).unwrap_err());
    o.embedding = vec![1.0; 5];
    o.confidence = 2.0;
    bad.push(txn.insert("a", o.clone()).unwrap_err());
    bad.push(txn.insert("zzz", good.clone()).unwrap_err());
    bad.push(txn.update("a", o.clone()).unwrap_err()); // unknown id
    let mut moved = good.clone();
    moved.position = [500.0, 0.0, 0.0];
    bad.push(txn.update("a", moved).unwrap_err());
    bad.push(txn.delete("a", "nope").unwrap_err());
    bad.push(txn.create_map("a", MapConfig::default()).unwrap_err());
    bad.push(txn.create_map("", MapConfig::default()).unwrap_err());
    bad.push(
        txn.create_map(
            "n",
            MapConfig {
                resolution: 7,
                ..Default::default()
            },
        )
        .unwrap_err(),
    );
    bad.push(txn.drop_map("nope").unwrap_err());
    assert_eq!(bad.len(), 14);
    for e in &bad {
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(txn.map("a").unwrap().len(), view_len);
    assert_eq!(txn.get("a", "ok").unwrap(), Some(good));
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.map("a").unwrap().len(), view_len);
}

#[test]
fn a_restored_map_equals_its_source_and_survives_reopen() {
    for options in [inline(), small()] {
        let backend = MemoryBackend::new();
        let db = open_memory(&backend, options);
        populate(&db, 27);
        for source in ["a", "b", "c"] {
            let target = format!("{source}-restored");
            let read = db.begin_read().unwrap();
            let view = read.map(source).unwrap();
            let objects: Vec<_> = view.objects().map(|o| o.to_object()).collect();
            let mut bricks = Vec::new();
            view.field().unwrap().for_each_brick(&mut |b, brick, _| {
                bricks.push((b, brick.values.clone(), brick.counts.clone()))
            });
            let mut txn = db.begin_write().unwrap();
            let mut restore = txn.restore_map(&target, view.config().clone()).unwrap();
            let (first, rest) = objects.split_at(objects.len() / 3);
            restore.insert_many(first.to_vec()).unwrap();
            restore.insert_many(rest.to_vec()).unwrap();
            for (b, values, counts) in bricks.clone() {
                restore.brick(b, values, counts).unwrap();
            }
            // Bad bricks are refused and change nothing.
            let (b, values, counts) = bricks[0].clone();
            assert!(
                restore.brick(b, values.clone(), counts.clone()).is_err(),
                "twice"
            );
            assert!(restore
                .brick([99, 0, 0], values.clone(), counts.clone())
                .is_err());
            let mut nan = values.clone();
            nan[0] = f32::NAN;
            assert!(restore.brick([0, 0, 1], nan, counts.clone()).is_err());
            txn.commit().unwrap();
            let same = |db: &Database| {
                let read = db.begin_read().unwrap();
                let (a, b) = (read.map(source).unwrap(), read.map(&target).unwrap());
                // What readers see: every occupied cell, at the map's dtype (f16/i8 bricks
                // are stored rounded; a read of the source rounds the same way, to an ulp).
                let (va, vb) = (
                    a.voxels_within([0.0; 3], 1e6).unwrap(),
                    b.voxels_within([0.0; 3], 1e6).unwrap(),
                );
                assert_eq!(va.cells, vb.cells, "{source}: occupied cells differ");
                let exact = a.config().dtype == Dtype::F32;
                for (x, y) in va.values.iter().zip(&vb.values) {
                    assert!(
                        if exact {
                            x.to_bits() == y.to_bits()
                        } else {
                            (x - y).abs() <= 1e-6 * x.abs().max(1e-3)
                        },
                        "{source}: {x} vs {y}"
                    );
                }
                let mut ia: Vec<_> = a.objects().map(|o| o.to_object().id).collect();
                let mut ib: Vec<_> = b.objects().map(|o| o.to_object().id).collect();
                ia.sort();
                ib.sort();
                assert_eq!(ia, ib);
                assert_eq!(
                    format!(
                        "{:?}",
                        read.within(source, [0.0; 3], 60.0).map(|mut v| {
                            v.sort();
                            v
                        })
                    ),
                    format!(
                        "{:?}",
                        read.within(&target, [0.0; 3], 60.0).map(|mut v| {
                            v.sort();
                            v
                        })
                    )
                );
            };
            same(&db);
            same(&open_memory(&backend, options));
        }
    }
}

/// Map "m" (16³ cells, 3 channels) in a new database in memory with the small options.
fn small_map() -> (MemoryBackend, Database, MapConfig) {
    let backend = MemoryBackend::new();
    let db = open_memory(&backend, small());
    let cfg = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        ..Default::default()
    };
    db.create_map("m", cfg.clone()).unwrap();
    (backend, db, cfg)
}

/// Commits `rows` new objects (ids `{commit}-{i}`) to map "m" in one `insert_many`.
fn bulk_commit(
    db: &Database,
    cfg: &MapConfig,
    gen: &mut rand_chacha::ChaCha8Rng,
    commit: usize,
    rows: usize,
) -> Vec<tensormap_engine::Object> {
    let batch: Vec<_> = (0..rows)
        .map(|i| object(gen, format!("{commit}-{i}"), cfg))
        .collect();
    let mut txn = db.begin_write().unwrap();
    txn.insert_many("m", batch.clone()).unwrap();
    txn.commit().unwrap();
    batch
}

/// A bulk load of large segments (`large_rows` or more each): none is rewritten while at
/// most 16 are durable, then four adjacent ones merge at a time, and the map answers as a
/// brute force over its rows does, before and after a reopen.
#[test]
fn large_segments_merge_only_to_bound_their_count() {
    let (backend, db, cfg) = small_map();
    let options = small();
    let mut gen = rng(40);
    let mut all = Vec::new();
    let mut files_before: Vec<u64> = Vec::new();
    for commit in 0..30 {
        all.extend(bulk_commit(
            &db,
            &cfg,
            &mut gen,
            commit,
            options.large_rows + 10,
        ));
        let segments = db.begin_read().unwrap().stats("m").unwrap().index_segments as usize;
        let segment_files: Vec<u64> = backend.dump_blobs().into_keys().collect();
        if commit < 16 {
            assert_eq!(
                segments,
                commit + 1,
                "commit {commit}: a large segment merged"
            );
            // Only new files: nothing was rewritten.
            assert!(files_before.iter().all(|f| segment_files.contains(f)));
        } else {
            assert!(segments <= 16, "commit {commit}: {segments} segments");
        }
        files_before = segment_files;
    }
    let check = |db: &Database| {
        let read = db.begin_read().unwrap();
        assert_eq!(read.map("m").unwrap().len(), all.len());
        let mut r = rng(7);
        for _ in 0..40 {
            let c = position(&mut r, cfg.bounds);
            let radius = r.random_range(1.0f32..40.0);
            let mut got = read.within("m", c, radius).unwrap();
            got.sort();
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            let mut want: Vec<&str> = all
                .iter()
                .filter(|o| {
                    let d: f32 = (0..3).map(|a| (o.position[a] - c[a]).powi(2)).sum();
                    d <= radius * radius
                })
                .map(|o| o.id.as_str())
                .collect();
            want.sort();
            assert_eq!(got, want, "within {radius} of {c:?}");
        }
        for o in all.iter().step_by(37) {
            assert_eq!(read.get("m", &o.id).unwrap().as_ref(), Some(o));
        }
    };
    check(&db);
    // The field each bulk commit's thread made is the reference splat of every row, and
    // what a reopen replays and reads, bit for bit.
    let model: std::collections::BTreeMap<String, _> =
        all.iter().map(|o| (o.id.clone(), o.clone())).collect();
    assert_field_matches(
        &db.begin_read().unwrap().map("m").unwrap(),
        &model,
        &f32_tolerance,
    );
    let before = fingerprint(&db);
    drop(db);
    let db = open_memory(&backend, options);
    check(&db);
    assert_same(&before, &fingerprint(&db), "after reopen");
}

/// Small bulk segments the field journal names are not merged (that would force a
/// checkpoint of the whole field every few commits): they wait for the checkpoint the
/// journal reaches by itself, then merge four at a time.
#[test]
fn small_bulk_segments_wait_for_the_checkpoint_to_merge() {
    let (backend, db, cfg) = small_map();
    let rows = small().bulk_rows;
    let mut gen = rng(41);
    let segments = |db: &Database| db.begin_read().unwrap().stats("m").unwrap().index_segments;
    for commit in 0..10 {
        bulk_commit(&db, &cfg, &mut gen, commit, rows);
        assert_eq!(segments(&db), commit as u64 + 1);
        // Segment files only: no brick file, so no checkpoint.
        assert_eq!(backend.dump_blobs().len() as u64, segments(&db));
    }
    let before = fingerprint(&db);
    db.checkpoint().unwrap();
    assert_eq!(segments(&db), 1);
    assert_close(&before, &fingerprint(&db), "after the checkpoint", 1e-5);
    // The commits after it journal their segments again: those wait too.
    for commit in 10..14 {
        bulk_commit(&db, &cfg, &mut gen, commit, rows);
    }
    assert_eq!(segments(&db), 5);
}

/// Small options with the background merger, which merges toward one segment as soon as
/// no commit came for `quiet` (tests wait for it with `wait_for_merges`).
fn merging(quiet: std::time::Duration) -> Options {
    Options {
        background_merge: true,
        merge_quiet: quiet,
        ..small()
    }
}

/// One load pattern into map "m" of a new database on `backend`: `commits` commits of
/// `rows` objects each (inserted one by one or with `insert_many`), deleting and moving
/// `churn` objects in each. Returns the model.
fn load(
    db: &Database,
    cfg: &MapConfig,
    seed: u64,
    commits: usize,
    rows: usize,
    churn: usize,
) -> std::collections::BTreeMap<String, tensormap_engine::Object> {
    let mut gen = rng(seed);
    let mut model = std::collections::BTreeMap::new();
    for c in 0..commits {
        let batch: Vec<_> = (0..rows)
            .map(|i| object(&mut gen, format!("{c}-{i}"), cfg))
            .collect();
        let mut txn = db.begin_write().unwrap();
        if c % 2 == 0 {
            txn.insert_many("m", batch.clone()).unwrap();
        } else {
            for o in batch.clone() {
                txn.insert("m", o).unwrap();
            }
        }
        for o in batch {
            model.insert(o.id.clone(), o);
        }
        let ids: Vec<String> = model.keys().cloned().collect();
        for k in 0..churn.min(ids.len()) {
            let id = &ids[gen.random_range(0..ids.len())];
            if k % 2 == 0 {
                if model.remove(id).is_some() {
                    txn.delete("m", id).unwrap();
                }
            } else if let Some(o) = model.get_mut(id) {
                o.position = position(&mut gen, cfg.bounds);
                txn.update("m", o.clone()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    model
}

/// After each load pattern — many small commits (records sealed into files), bulk
/// commits (segment files the field journal names), one large commit, deletes mixed in
/// — the background merger leaves one segment once writes pause, folding the field
/// journal first where it names segments; the map holds exactly the model, its field is
/// the model's splat, and a reopen gives it back bit for bit.
#[test]
fn background_merges_converge_to_one_segment_after_each_load_pattern() {
    let cfg = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        ..Default::default()
    };
    // (commits, rows a commit, deletes and moves a commit); bulk_rows is 40.
    let patterns = [
        (30, 25, 0),
        (12, 60, 0),
        (1, 900, 0),
        (25, 45, 20),
        (3, 300, 150),
    ];
    for (n, (commits, rows, churn)) in patterns.into_iter().enumerate() {
        let backend = MemoryBackend::new();
        let options = merging(std::time::Duration::from_millis(20));
        let db = open_memory(&backend, options);
        db.create_map("m", cfg.clone()).unwrap();
        let model = load(&db, &cfg, 50 + n as u64, commits, rows, churn);
        db.wait_for_merges();
        assert_eq!(db.merge_error(), None);
        let read = db.begin_read().unwrap();
        let view = read.map("m").unwrap();
        let context = format!("pattern {n}");
        assert_eq!(view.stats().unwrap().index_segments, 1, "{context}");
        assert_eq!(view.len(), model.len(), "{context}");
        for o in model.values() {
            assert_eq!(view.get(&o.id).map(|r| r.to_object()).as_ref(), Some(o));
        }
        assert_field_matches(&view, &model, &f32_tolerance);
        // No records and no tombstones remain; the files are the segment and brick files.
        let dump = backend.dump();
        assert!(
            dump.keys()
                .all(|k| !(k.len() > 5 && k[0] == 2 && (k[5] == 1 || k[5] == 6))),
            "{context}: records or tombstones left"
        );
        assert!(backend.dump_blobs().len() <= 1 + 4, "{context}: files left");
        let before = fingerprint(&db);
        drop(read);
        drop(db);
        let db = open_memory(&backend, inline());
        assert_same(&fingerprint(&db), &before, &format!("{context}, reopened"));
    }
}

/// A map of several segments closed with no pause for the merger to use: closing merges
/// it (within `Options::close_merge_rows`), so the next process opens one segment; over
/// that budget the merge is left for the next open, whose merger finishes it.
#[test]
fn closing_merges_a_small_debt_and_leaves_a_large_one_to_the_next_open() {
    let cfg = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        ..Default::default()
    };
    let hour = std::time::Duration::from_secs(3600);
    for (budget, merged) in [(1 << 21, true), (100, false)] {
        let backend = MemoryBackend::new();
        let options = Options {
            close_merge_rows: budget,
            ..merging(hour)
        };
        let db = open_memory(&backend, options);
        db.create_map("m", cfg.clone()).unwrap();
        let model = load(&db, &cfg, 60, 10, 60, 5);
        let segments = |db: &Database| db.begin_read().unwrap().stats("m").unwrap().index_segments;
        assert!(segments(&db) > 1);
        drop(db);
        let db = open_memory(&backend, inline());
        assert_eq!(segments(&db) == 1, merged, "budget {budget}");
        let before = fingerprint(&db);
        drop(db);
        let db = open_memory(&backend, merging(hour));
        db.wait_for_merges();
        assert_eq!(segments(&db), 1);
        assert_eq!(
            db.begin_read().unwrap().map("m").unwrap().len(),
            model.len()
        );
        assert_close(&fingerprint(&db), &before, "merged by the next open", 0.0);
    }
}

/// Dropping the last handle while a write transaction is still open (its owner commits
/// after) does not wait for it: the merger gives up its install.
#[test]
fn closing_with_a_transaction_open_does_not_hang() {
    let backend = MemoryBackend::new();
    let cfg = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        ..Default::default()
    };
    let db = open_memory(&backend, merging(std::time::Duration::ZERO));
    db.create_map("m", cfg.clone()).unwrap();
    load(&db, &cfg, 61, 10, 60, 5);
    let mut txn = db.begin_write().unwrap();
    drop(db);
    txn.delete("m", "3-3").unwrap();
    txn.commit().unwrap();
    let db = open_memory(&backend, inline());
    assert!(db.begin_read().unwrap().get("m", "3-3").unwrap().is_none());
}

/// A background merge (and the fold of the field journal before it) failing at any write
/// leaves the database as readers saw it and the store consistent: no file it wrote
/// remains, a reopen gives the same database, and once the fault is gone the next open
/// merges it.
#[test]
fn a_background_merge_failing_at_any_write_changes_nothing_readers_see() {
    let backend = MemoryBackend::new();
    let cfg = MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        ..Default::default()
    };
    let db = open_memory(&backend, small());
    db.create_map("m", cfg.clone()).unwrap();
    load(&db, &cfg, 62, 9, 60, 10);
    let before = fingerprint(&db);
    drop(db);
    let hour = std::time::Duration::from_secs(3600);
    let mut failures = 0;
    for n in 0.. {
        // The merger starts at the open (nothing committed yet counts as a pause).
        backend.fail_nth_write(n);
        let db = open_memory(&backend, merging(hour));
        db.wait_for_merges();
        let failed = db.merge_error();
        // Nothing it wrote is left beside the files the database uses.
        let segments = db.begin_read().unwrap().stats("m").unwrap().index_segments;
        assert!(
            backend.dump_blobs().len() as u64 <= segments + 4,
            "files left at {n}"
        );
        assert_close(
            &fingerprint(&db),
            &before,
            &format!("after a fault at write {n}"),
            0.0,
        );
        drop(db);
        backend.clear_faults();
        let reopened = open_memory(&backend, inline());
        let read = reopened.begin_read().unwrap();
        let named: u64 = read.stats("m").unwrap().index_segments;
        assert!(
            backend.dump_blobs().len() as u64 <= named + 4,
            "files left at {n}"
        );
        assert_close(
            &fingerprint(&reopened),
            &before,
            &format!("reopened at {n}"),
            0.0,
        );
        match failed {
            Some(e) => {
                assert!(e.contains("injected fault"), "{e}");
                failures += 1;
            }
            None => {
                assert_eq!(named, 1);
                break;
            }
        }
    }
    assert!(failures >= 2, "only {failures} write positions");
}
