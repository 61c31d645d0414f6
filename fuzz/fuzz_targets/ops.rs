//! An operation script on the in-memory backend with injected write and flush failures,
//! compared with a model after every step: a commit that fails changes nothing, one that
//! succeeds changes exactly what it said, and a reopen gives back the committed state.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tensormap_engine::{Database, MapConfig, MemoryBackend, Object};

#[derive(Debug, Arbitrary)]
enum Step {
    Insert { id: u8, pos: [i8; 3], emb: [i8; 2] },
    Update { id: u8, pos: [i8; 3], emb: [i8; 2] },
    Delete { id: u8 },
    Commit,
    CommitFailingAtWrite(u8),
    CommitFailingAtFlush,
    Checkpoint,
    Reopen,
}

fn object(id: u8, pos: [i8; 3], emb: [i8; 2]) -> Object {
    Object::new(
        format!("o{}", id % 32),
        "t",
        pos.map(|v| v as f32 * 0.7),
        emb.iter().map(|v| *v as f32 / 32.0).collect(),
    )
}

fn observed(db: &Database) -> BTreeMap<String, Object> {
    let read = db.begin_read().expect("read");
    let view = read.map("m").expect("map");
    view.objects()
        .map(|o| (o.id().to_string(), o.to_object()))
        .collect()
}

fn field(db: &Database) -> Vec<(Vec<u32>, Vec<u32>)> {
    let read = db.begin_read().expect("read");
    let view = read.map("m").expect("map");
    let all = view.voxels_within([0.0; 3], 1000.0).expect("voxels");
    (0..all.len())
        .map(|n| {
            (
                all.cells[n].to_vec(),
                all.value(n).iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

fuzz_target!(|steps: Vec<Step>| {
    let backend = MemoryBackend::new();
    let mut db = Database::with_backend(Arc::new(backend.clone())).expect("open");
    let cfg = MapConfig {
        resolution: 8,
        channels: 2,
        bounds: 100.0,
        sigma: 1.0,
        splat_radius: 1,
        ..Default::default()
    };
    db.create_map("m", cfg).expect("create");
    let mut committed: BTreeMap<String, Object> = BTreeMap::new();
    let mut pending: Vec<Step> = Vec::new();
    for step in steps.into_iter().take(64) {
        match step {
            Step::Insert { .. } | Step::Update { .. } | Step::Delete { .. } => pending.push(step),
            Step::Commit
            | Step::CommitFailingAtWrite(_)
            | Step::CommitFailingAtFlush
            | Step::Checkpoint => {
                let before_field = field(&db);
                let mut txn = db.begin_write().expect("begin");
                let mut model = committed.clone();
                for p in pending.drain(..) {
                    match p {
                        Step::Insert { id, pos, emb } => {
                            let o = object(id, pos, emb);
                            let ok = txn.insert("m", o.clone()).is_ok();
                            assert_eq!(ok, !model.contains_key(&o.id));
                            model.entry(o.id.clone()).or_insert(o);
                        }
                        Step::Update { id, pos, emb } => {
                            let o = object(id, pos, emb);
                            let ok = txn.update("m", o.clone()).is_ok();
                            assert_eq!(ok, model.contains_key(&o.id));
                            if ok {
                                model.insert(o.id.clone(), o);
                            }
                        }
                        Step::Delete { id } => {
                            let id = format!("o{}", id % 32);
                            assert_eq!(txn.delete("m", &id).is_ok(), model.remove(&id).is_some());
                        }
                        _ => {}
                    }
                }
                if matches!(step, Step::Checkpoint) {
                    txn.checkpoint().expect("checkpoint");
                }
                let fault = match step {
                    Step::CommitFailingAtWrite(n) => {
                        backend.fail_nth_write(n as u64);
                        true
                    }
                    Step::CommitFailingAtFlush => {
                        backend.fail_nth_flush(0);
                        true
                    }
                    _ => false,
                };
                match txn.commit() {
                    Ok(()) => committed = model,
                    Err(_) => {
                        assert!(fault, "a commit failed without an injected fault");
                        assert_eq!(
                            field(&db),
                            before_field,
                            "a failed commit changed the field"
                        );
                    }
                }
                backend.clear_faults();
                assert_eq!(observed(&db), committed);
            }
            Step::Reopen => {
                let before_field = field(&db);
                drop(db);
                db = Database::with_backend(Arc::new(backend.clone())).expect("reopen");
                assert_eq!(observed(&db), committed);
                assert_eq!(field(&db), before_field, "a reopen changed the field");
            }
        }
    }
});
