//! Random sequences of insert / update / delete / commit / abort / reopen against an
//! in-memory model (objects in a BTreeMap, the field recomputed naively): equal after every
//! step, inside the transaction and in what readers see.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use tensormap_engine::{Database, Dtype, MapConfig, MemoryBackend, Object, WriteTransaction};

#[derive(Debug, Clone)]
enum Step {
    Insert { id: u8, pos: [i16; 3], emb: [i8; 3] },
    Update { id: u8, pos: [i16; 3], emb: [i8; 3] },
    Delete { id: u8 },
    Commit,
    Abort,
    Checkpoint,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    let pos = prop::array::uniform3(-100i16..=100);
    let emb = prop::array::uniform3(any::<i8>());
    prop_oneof![
        6 => (0u8..24, pos.clone(), emb).prop_map(|(id, pos, emb)| Step::Insert { id, pos, emb }),
        3 => (0u8..24, pos, emb).prop_map(|(id, pos, emb)| Step::Update { id, pos, emb }),
        3 => (0u8..24).prop_map(|id| Step::Delete { id }),
        2 => Just(Step::Commit),
        1 => Just(Step::Abort),
        1 => Just(Step::Checkpoint),
        1 => Just(Step::Reopen),
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
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_model(steps in prop::collection::vec(step(), 1..60)) {
        let backend = MemoryBackend::new();
        let mut db = Database::with_backend(Arc::new(backend.clone())).unwrap();
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
                        db = Database::with_backend(Arc::new(backend.clone())).unwrap();
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
