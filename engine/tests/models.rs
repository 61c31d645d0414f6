//! The model catalog: a model stored by a commit survives reopen with its bytes; a
//! rollback leaves nothing; DROP (and a replacing put) frees the old blob; a commit failing
//! at any write, or at the flush, leaves the catalog, the records and the blobs as they
//! were; damaged model records and missing blobs are errors naming the key.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap_engine::{Database, Error, MemoryBackend, ModelInfo};
use tensormap_storage::{keys, Backend};

fn info(steps: u64) -> ModelInfo {
    ModelInfo {
        parameters: 1234,
        output_width: 16,
        steps,
        loss: if steps == 0 { None } else { Some(0.25) },
    }
}

fn bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn open(backend: &MemoryBackend) -> Database {
    Database::with_backend(Arc::new(backend.clone())).unwrap()
}

/// Every model as (name, kind, info, bytes).
fn catalog(db: &Database) -> Vec<(String, String, ModelInfo, Vec<u8>)> {
    db.models()
        .iter()
        .map(|m| {
            (
                m.name().to_string(),
                m.kind().to_string(),
                m.info().clone(),
                m.bytes().bytes().to_vec(),
            )
        })
        .collect()
}

#[test]
fn models_survive_reopen_and_drop_frees_their_blobs() {
    let backend = MemoryBackend::new();
    let db = open(&backend);
    let mut t = db.begin_write().unwrap();
    t.put_model("tiny", "vllm", info(0), &bytes(1, 5000))
        .unwrap();
    t.put_model("other", "bert", info(3), &bytes(2, 100))
        .unwrap();
    // Inside the transaction it sees its own models; readers do not yet.
    assert_eq!(t.models().len(), 2);
    assert_eq!(t.model_bytes("tiny").unwrap().bytes(), &bytes(1, 5000)[..]);
    assert!(db.models().is_empty());
    t.commit().unwrap();
    assert_eq!(backend.blob_ids().unwrap().len(), 2);
    let before = catalog(&db);
    assert_eq!(before.len(), 2);
    assert_eq!(before[1].0, "tiny");
    drop(db);

    let db = open(&backend);
    assert_eq!(catalog(&db), before);
    let read = db.begin_read().unwrap();
    assert_eq!(
        read.model_bytes("tiny").unwrap().bytes(),
        &bytes(1, 5000)[..]
    );
    assert!(matches!(
        read.model_bytes("nope"),
        Err(Error::ModelNotFound(_))
    ));

    // Replacing a model (a TRAIN) stores new bytes under a new blob; the old one goes.
    let old_blob = read.model("tiny").unwrap().blob_id();
    let mut t = db.begin_write().unwrap();
    t.put_model("tiny", "vllm", info(40), &bytes(9, 4000))
        .unwrap();
    t.commit().unwrap();
    let new_blob = db.begin_read().unwrap().model("tiny").unwrap().blob_id();
    assert_ne!(old_blob, new_blob);
    let ids = backend.blob_ids().unwrap();
    assert!(
        !ids.contains(&old_blob) && ids.contains(&new_blob),
        "{ids:?}"
    );

    // DROP removes the record and the blob.
    let mut t = db.begin_write().unwrap();
    t.drop_model("tiny").unwrap();
    assert!(t.model("tiny").is_none());
    assert!(matches!(t.drop_model("tiny"), Err(Error::ModelNotFound(_))));
    t.commit().unwrap();
    assert!(!backend.blob_ids().unwrap().contains(&new_blob));
    assert!(backend.get(&keys::model("tiny")).unwrap().is_none());
    drop((read, db));
    let db = open(&backend);
    assert_eq!(catalog(&db).len(), 1);
    assert_eq!(catalog(&db)[0].0, "other");
}

#[test]
fn a_rollback_leaves_nothing_and_a_replaced_new_model_writes_one_blob() {
    let backend = MemoryBackend::new();
    let db = open(&backend);
    let mut t = db.begin_write().unwrap();
    t.put_model("m", "vllm", info(0), &bytes(1, 300)).unwrap();
    t.abort();
    assert!(db.models().is_empty());
    assert!(backend.blob_ids().unwrap().is_empty());
    assert!(backend.get(&keys::model("m")).unwrap().is_none());

    // Created then trained in one transaction: only the last bytes are written.
    let mut t = db.begin_write().unwrap();
    t.put_model("m", "vllm", info(0), &bytes(1, 300)).unwrap();
    t.put_model("m", "vllm", info(8), &bytes(2, 200)).unwrap();
    t.commit().unwrap();
    assert_eq!(backend.blob_ids().unwrap().len(), 1);
    assert_eq!(catalog(&db)[0].3, bytes(2, 200));

    // Dropped and created again in one transaction: the old blob goes, the new one stays.
    let mut t = db.begin_write().unwrap();
    t.drop_model("m").unwrap();
    t.put_model("m", "vllm", info(0), &bytes(3, 100)).unwrap();
    t.commit().unwrap();
    drop(db);
    let db = open(&backend);
    assert_eq!(backend.blob_ids().unwrap().len(), 1);
    assert_eq!(catalog(&db)[0].3, bytes(3, 100));
}

#[test]
fn rejected_calls_change_nothing() {
    let db = Database::open_in_memory().unwrap();
    let mut t = db.begin_write().unwrap();
    assert!(t.put_model("", "vllm", info(0), &[1]).is_err());
    assert!(t.put_model("m\n", "vllm", info(0), &[1]).is_err());
    assert!(t.put_model("m", "", info(0), &[1]).is_err());
    assert!(t.put_model("m", "v llm", info(0), &[1]).is_err());
    assert!(t.put_model("m", "vllm", info(0), &[]).is_err());
    assert!(t.models().is_empty());
    t.commit().unwrap();
    assert!(db.models().is_empty());
}

#[test]
fn a_commit_failing_at_any_write_or_the_flush_changes_nothing() {
    let backend = MemoryBackend::new();
    {
        let db = open(&backend);
        let mut t = db.begin_write().unwrap();
        t.put_model("keep", "vllm", info(0), &bytes(1, 64)).unwrap();
        t.put_model("old", "vllm", info(0), &bytes(2, 64)).unwrap();
        t.commit().unwrap();
    }
    let records = backend.dump();
    let blobs = backend.dump_blobs();
    let change = |db: &Database| {
        let mut t = db.begin_write().unwrap();
        t.put_model("new", "vllm", info(0), &bytes(3, 64)).unwrap();
        t.put_model("keep", "vllm", info(5), &bytes(4, 64)).unwrap();
        t.drop_model("old").unwrap();
        t.commit()
    };
    let mut n = 0;
    loop {
        let db = open(&backend);
        let expected = catalog(&db);
        backend.fail_nth_write(n);
        let r = change(&db);
        backend.clear_faults();
        if r.is_ok() {
            assert!(n > 2, "the commit writes two blobs and a batch");
            break;
        }
        assert_eq!(catalog(&db), expected, "fault at write {n}: memory changed");
        drop(db);
        let db = open(&backend);
        assert_eq!(
            catalog(&db),
            expected,
            "fault at write {n}: the store changed"
        );
        assert_eq!(backend.dump(), records, "fault at write {n}");
        assert_eq!(backend.dump_blobs(), blobs, "fault at write {n}: blobs");
        n += 1;
    }
    // The commit that worked: new and keep replaced, old gone with its blob.
    let db = open(&backend);
    let names: Vec<String> = catalog(&db).into_iter().map(|m| m.0).collect();
    assert_eq!(names, ["keep", "new"]);
    assert_eq!(backend.blob_ids().unwrap().len(), 2);

    // A failed flush: nothing changed, and the retry works.
    backend.fail_nth_flush(0);
    let mut t = db.begin_write().unwrap();
    t.drop_model("new").unwrap();
    assert!(t.commit().is_err());
    backend.clear_faults();
    assert_eq!(db.models().len(), 2);
    let mut t = db.begin_write().unwrap();
    t.drop_model("new").unwrap();
    t.commit().unwrap();
    assert_eq!(db.models().len(), 1);
}

#[test]
fn damaged_model_records_and_missing_blobs_are_errors_naming_the_key() {
    let backend = MemoryBackend::new();
    {
        let db = open(&backend);
        let mut t = db.begin_write().unwrap();
        t.put_model("tiny", "vllm", info(0), &bytes(1, 64)).unwrap();
        t.commit().unwrap();
    }
    let key = keys::model("tiny");
    let good = backend.get(&key).unwrap().unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    backend.corrupt(&key, bad);
    let e = Database::with_backend(Arc::new(backend.clone())).unwrap_err();
    assert!(e.to_string().contains("model/\"tiny\""), "{e}");

    backend.corrupt(&key, good);
    let id = backend.blob_ids().unwrap()[0];
    backend.delete_blob(id).unwrap();
    let e = Database::with_backend(Arc::new(backend.clone())).unwrap_err();
    assert!(e.to_string().contains("model/\"tiny\""), "{e}");
}

#[test]
fn models_on_disk_survive_reopen_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let mut t = db.begin_write().unwrap();
        t.put_model("tiny", "vllm", info(2), &bytes(7, 10_000))
            .unwrap();
        t.commit().unwrap();
        // After the commit the bytes are read from the file.
        let m = db.begin_read().unwrap().model("tiny").unwrap();
        assert!(m.bytes().is_mapped());
    }
    let db = Database::open(&path).unwrap();
    let m = db.begin_read().unwrap().model("tiny").unwrap();
    assert_eq!(m.bytes().bytes(), &bytes(7, 10_000)[..]);
    assert_eq!(m.info(), &info(2));
}
