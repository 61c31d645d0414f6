//! Random sequences of insert / bulk insert / update / delete / commit / abort /
//! checkpoint / reopen / waiting for the background merger against an in-memory model
//! (objects in a BTreeMap, the field recomputed naively, radius and nearest queries by
//! brute force): equal after every step, inside the transaction and in what readers see.
//! Half the runs use storage options small enough that commits take every path: the bulk
//! path (segment files), records sealed into files, dead-slot chunks and journal entries
//! that name segment rows. Most runs merge in the background with no pause before the
//! merges that converge a map (so merges, folds of the field journal and their installs
//! race the steps, rebasing the deletes that land meanwhile); the rest merge in commits.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use tensormap_engine::{
    Database, Dtype, MapConfig, MemoryBackend, Object, Options, WriteTransaction,
};

#[derive(Debug, Clone)]
enum Step {
    Insert { id: u8, pos: [i16; 3], emb: [i8; 3] },
    Bulk { first: u8, n: u8, pos: [i16; 3] },
    Update { id: u8, pos: [i16; 3], emb: [i8; 3] },
    Delete { id: u8 },
    Commit,
    Abort,
    Checkpoint,
    Reopen,
    WaitForMerges,
}

fn step() -> impl Strategy<Value = Step> {
    let pos = prop::array::uniform3(-100i16..=100);
    let emb = prop::array::uniform3(any::<i8>());
    prop_oneof![
        6 => (0u8..24, pos.clone(), emb).prop_map(|(id, pos, emb)| Step::Insert { id, pos, emb }),
        3 => (0u8..24, pos.clone(), emb).prop_map(|(id, pos, emb)| Step::Update { id, pos, emb }),
        2 => (0u8..24, 1u8..12, pos).prop_map(|(first, n, pos)| Step::Bulk { first, n, pos }),
        3 => (0u8..24).prop_map(|id| Step::Delete { id }),
        2 => Just(Step::Commit),
        1 => Just(Step::Abort),
        1 => Just(Step::Checkpoint),
        1 => Just(Step::Reopen),
        1 => Just(Step::WaitForMerges),
    ]
}

fn config() -> MapConfig {
    MapConfig {
        resolution: 16,
        channels: 3,
        bounds: 100.0,
        dtype: Dtype::F32,
        sigma: 1.0,
        splat_radius: 2,
    }
}

fn make(id: u8, pos: [i16; 3], emb: [i8; 3]) -> Object {
    Object::new(
        format!("o{id}"),
        if id.is_multiple_of(2) { "even" } else { "odd" },
        pos.map(|v| v as f32 * 0.99),
        emb.iter().map(|v| *v as f32 / 64.0).collect(),
    )
}

fn check(view: &tensormap_engine::MapView<'_>, model: &BTreeMap<String, Object>) {
    assert_eq!(view.len(), model.len());
    for o in model.values() {
        assert_eq!(view.get(&o.id).map(|r| r.to_object()).as_ref(), Some(o));
    }
    let mut ids: Vec<String> = view.objects().map(|o| o.id().to_string()).collect();
    ids.sort();
    assert_eq!(ids, model.keys().cloned().collect::<Vec<_>>());
    assert_field_matches(view, model, &f32_tolerance);
    // The index against brute force: a radius and a nearest query around a few points.
    let dist2 = |o: &Object, c: [f32; 3]| -> f32 {
        let d = [
            o.position[0] - c[0],
            o.position[1] - c[1],
            o.position[2] - c[2],
        ];
        d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    };
    for c in [
        [0.0f32, 0.0, 0.0],
        [60.0, -40.0, 20.0],
        [-90.0, 90.0, -90.0],
    ] {
        let mut got: Vec<&str> = view
            .within(c, 70.0)
            .unwrap()
            .iter()
            .map(|o| o.id())
            .collect();
        got.sort_unstable();
        let want: Vec<&str> = model
            .values()
            .filter(|o| dist2(o, c) <= 70.0 * 70.0)
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(got, want, "within 70 of {c:?}");
        let got: Vec<&str> = view
            .nearest(c, 5)
            .unwrap()
            .iter()
            .map(|(o, _)| o.id())
            .collect();
        let mut all: Vec<(f32, &str)> = model
            .values()
            .map(|o| (dist2(o, c), o.id.as_str()))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let want: Vec<&str> = all.iter().take(5).map(|x| x.1).collect();
        assert_eq!(got, want, "nearest 5 to {c:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_model(
        steps in prop::collection::vec(step(), 1..100),
        small in any::<bool>(),
        in_commits in prop::bool::weighted(0.25),
    ) {
        let backend = MemoryBackend::new();
        let mut options = if small {
            Options { bulk_rows: 3, seal_rows: 7, large_rows: 12, ..Options::default() }
        } else {
            Options::default()
        };
        options.background_merge = !in_commits;
        options.merge_quiet = std::time::Duration::ZERO;
        let open = || Database::with_backend_options(Arc::new(backend.clone()), options).unwrap();
        let mut db = open();
        db.create_map("m", config()).unwrap();
        let mut committed: BTreeMap<String, Object> = BTreeMap::new();
        let mut pending = committed.clone();
        let mut txn: Option<WriteTransaction> = None;
        for step in steps {
            match step {
                Step::Insert { id, pos, emb } => {
                    let t = txn.get_or_insert_with(|| db.begin_write().unwrap());
                    let o = make(id, pos, emb);
                    let result = t.insert("m", o.clone());
                    prop_assert_eq!(result.is_ok(), !pending.contains_key(&o.id));
                    pending.entry(o.id.clone()).or_insert(o);
                }
                Step::Bulk { first, n, pos } => {
                    let t = txn.get_or_insert_with(|| db.begin_write().unwrap());
                    let batch: Vec<Object> = (0..n)
                        .map(|i| {
                            let id = (first as usize + i as usize) % 24;
                            let p = pos.map(|v| v.saturating_add(i as i16 * 7).clamp(-100, 100));
                            make(id as u8, p, [i as i8, -(i as i8), 3])
                        })
                        .collect();
                    let clash = batch.iter().any(|o| pending.contains_key(&o.id));
                    let result = t.insert_many("m", batch.clone());
                    prop_assert_eq!(result.is_ok(), !clash);
                    if result.is_ok() {
                        for o in batch {
                            pending.insert(o.id.clone(), o);
                        }
                    }
                }
                Step::Update { id, pos, emb } => {
                    let t = txn.get_or_insert_with(|| db.begin_write().unwrap());
                    let o = make(id, pos, emb);
                    let result = t.update("m", o.clone());
                    prop_assert_eq!(result.is_ok(), pending.contains_key(&o.id));
                    if result.is_ok() {
                        pending.insert(o.id.clone(), o);
                    }
                }
                Step::Delete { id } => {
                    let t = txn.get_or_insert_with(|| db.begin_write().unwrap());
                    let id = format!("o{id}");
                    let result = t.delete("m", &id);
                    prop_assert_eq!(result.is_ok(), pending.remove(&id).is_some());
                }
                Step::Commit => {
                    if let Some(t) = txn.take() {
                        t.commit().unwrap();
                        committed = pending.clone();
                    }
                }
                Step::Abort => {
                    if let Some(t) = txn.take() {
                        t.abort();
                    }
                    pending = committed.clone();
                }
                Step::Checkpoint => {
                    if txn.is_none() {
                        db.checkpoint().unwrap();
                    }
                }
                Step::Reopen => {
                    if txn.is_none() {
                        drop(db);
                        db = open();
                        // Nothing is left behind but the files in use: the segments
                        // and at most four brick files (once the merger that started
                        // at the open has nothing in flight).
                        db.wait_for_merges();
                        let read = db.begin_read().unwrap();
                        let segments = read.map("m").unwrap().stats().unwrap().index_segments;
                        prop_assert!(backend.dump_blobs().len() as u64 <= segments + 4);
                    }
                }
                Step::WaitForMerges => {
                    if txn.is_none() {
                        db.wait_for_merges();
                        prop_assert_eq!(db.merge_error(), None);
                        if !in_commits {
                            // Converged: at most a large segment and a small tail.
                            let read = db.begin_read().unwrap();
                            let segments = read.map("m").unwrap().stats().unwrap().index_segments;
                            prop_assert!(segments <= 3, "{} segments", segments);
                        }
                    }
                }
            }
            if let Some(t) = &mut txn {
                check(&t.map("m").unwrap(), &pending);
            }
            let read = db.begin_read().unwrap();
            check(&read.map("m").unwrap(), &committed);
        }
    }
}
