//! The bad-input catalogue: malformed statements, values and files. Each gives a clear
//! error (with a position for statements), never a panic, and leaves the database as it
//! was (checked after every case).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap::{Candidates, Database, MapConfig, MemoryBackend, Object};

const SETUP: &str = "CREATE MAP s WITH (resolution = 16, channels = 3, bounds = 100);
    INSERT INTO s (id, type, position, embedding, confidence) VALUES
      ('a', 'cube', [0, 0, 0], [1, 0, 0], 1), ('b', 'sphere', [10, 0, 0], [0, 1, 0], 0.5)";

/// Everything observable: maps, objects (bits), and field figures.
fn fingerprint(db: &Database) -> String {
    let read = db.begin_read().unwrap();
    let mut out = format!("{:?}", db.maps());
    for name in read.map_names() {
        let view = read.map(name).unwrap();
        let mut objects: Vec<String> = view
            .objects()
            .map(|o| format!("{:?}", o.to_object()))
            .collect();
        objects.sort();
        out += &format!("{name}: {objects:?} {:?}", view.stats());
    }
    out
}

fn statements() -> Vec<String> {
    let big = "x".repeat(10 << 20);
    let deep = format!(
        "SELECT {}1{} FROM s",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let mut v: Vec<String> = [
        "SELECT * FROM s WHERE x >",
        "SELECT * FORM s",
        "SELECT * FROM nope",
        "SELECT nope FROM s",
        "SELECT * FROM s ORDER BY nope",
        "SELECT * FROM s LIMIT -1",
        "SELECT * FROM s LIMIT 1e30",
        "SELECT * FROM s LIMIT 2.5",
        "SELECT * FROM s OFFSET 3",
        "INSERT INTO s (id, type, position, embedding) VALUES ('a', 't', [0, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0, 101], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [1e308 * 10, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0 * (1e308 * 10), 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0, 0], [1, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0, 0], [1, 0, 1e308 * 10])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0, 0], [1, 0, 1e20])",
        "INSERT INTO s (id, type, position, embedding, confidence) VALUES ('c', 't', [0, 0, 0], [1, 0, 0], 2)",
        "INSERT INTO s (id, type, position, embedding, confidence) VALUES ('c', 't', [0, 0, 0], [1, 0, 0], -0.5)",
        "INSERT INTO s (id, colour) VALUES ('c', 'red')",
        "INSERT INTO s (id, id) VALUES ('c', 'd')",
        "INSERT INTO s (type, position, embedding) VALUES ('t', [0, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES (7, 't', [0, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', 5, [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('c', 't', [0, 0], [1, 0, 0])",
        "INSERT INTO nope (id, type, position, embedding) VALUES ('c', 't', [0, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('', 't', [0, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('z', 't', [0, 0, 0], [1, 0, 0]), ('z', 't', [1, 0, 0], [1, 0, 0])",
        "INSERT INTO s (id, type, position, embedding) VALUES ('y', 't', [0, 0, 0], [1, 0, 0]), ('w', 't', [0, 0, 500], [1, 0, 0])",
        "UPDATE s SET id = 'q'",
        "UPDATE s SET colour = 1",
        "UPDATE s SET position = [0, 0, 1000] WHERE id = 'a'",
        "UPDATE s SET confidence = 5",
        "UPDATE s SET x = x / 0",
        "UPDATE s SET embedding = [1, 2]",
        "DELETE FROM nope",
        "DELETE FROM s WHERE nope = 1",
        "DELETE FROM s WHERE 1",
        "CREATE MAP s",
        "CREATE MAP t WITH (resolution = 48)",
        "CREATE MAP t WITH (channels = 0)",
        "CREATE MAP t WITH (channels = 2000)",
        "CREATE MAP t WITH (bounds = -1)",
        "CREATE MAP t WITH (dtype = 'f64')",
        "CREATE MAP t WITH (sigma = 0)",
        "CREATE MAP t WITH (splat_radius = 9)",
        "CREATE MAP t WITH (colour = 1)",
        "CREATE MAP \"\"",
        "DROP MAP nope",
        "DESCRIBE nope",
        "SELECT ATTENTION([1]) FROM s",
        "SELECT * FROM s WHERE ATTENTION([1, 0, 0]) > 0",
        "SELECT COUNT(*) FROM s WHERE COUNT(*) > 1",
        "SELECT SUM(*) FROM s",
        "SELECT DISTANCE(position) FROM s",
        "SELECT DISTANCE(position, [1, 2]) FROM s",
        "SELECT nofunc(1) FROM s",
        "SELECT x + 'a' FROM s",
        "SELECT 'a' < 1 FROM s",
        "SELECT SQRT(-1) FROM s",
        "SELECT * FROM s WHERE WITHIN(position, [0, 0, 0], -5)",
        "SELECT [1, 'a'] FROM s",
        "SELECT value FROM s",
        "SELECT * FROM VOXELS(nope)",
        "EXPLAIN DELETE FROM s",
        "COMMIT",
        "ROLLBACK",
        "SNAPSHOT s TO 'x.tensor3d' WITH (dtype = 'u8')",
        "SNAPSHOT nope TO 'x.tensor3d'",
        "RESTORE s FROM 'no-such-file.tensor3d'",
        "LOAD MODEL vllm FROM 'w.vllm'",
        "RENDER SELECT * FROM s WITH (width = -3)",
        "DELETE FROM s; SELEC",
        "SELECT 'abc FROM s",
        "SELECT # FROM s",
        "SELECT * FROM s WHERE id = 'a' AND",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("SELECT '{big}' FROM s"));
    v.push(format!(
        "INSERT INTO s (id, type, position, embedding) VALUES ('{big}', 't', [0, 0, 0], [1, 0, 0])"
    ));
    v.push(deep);
    v.push(format!(
        "SELECT * FROM s WHERE {} x > 0",
        "NOT ".repeat(10_000)
    ));
    v
}

#[test]
fn malformed_statements_are_clear_errors_that_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    db.execute(SETUP).unwrap();
    let before = fingerprint(&db);
    let all = statements();
    assert!(all.len() >= 70, "{} statements", all.len());
    for sql in &all {
        let shown: String = sql.chars().take(80).collect();
        let e = db.execute(sql).expect_err(&shown);
        assert!(e.pos.line >= 1 && e.pos.col >= 1, "{shown}: {e}");
        assert!(
            e.message.len() >= 10 && e.message.len() < 400,
            "{shown}: unclear message '{}'",
            e.message
        );
        assert!(!db.in_transaction(), "{shown}");
        assert_eq!(fingerprint(&db), before, "{shown} changed the database");
    }
    // And after a reopen.
    drop(db);
    let db = Database::open(dir.path().join("db")).unwrap();
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn bad_values_through_the_api_change_nothing() {
    let db = Database::open_in_memory().unwrap();
    db.execute(SETUP).unwrap();
    let before = fingerprint(&db);
    let ok = Object::new("c", "t", [1.0, 2.0, 3.0], vec![0.5, 0.5, 0.5]);
    let bad = [
        Object {
            position: [f32::NAN, 0.0, 0.0],
            ..ok.clone()
        },
        Object {
            position: [0.0, f32::INFINITY, 0.0],
            ..ok.clone()
        },
        Object {
            position: [0.0, 0.0, -100.5],
            ..ok.clone()
        },
        Object {
            embedding: vec![f32::NAN, 0.0, 0.0],
            ..ok.clone()
        },
        Object {
            embedding: vec![1e30, 0.0, 0.0],
            ..ok.clone()
        },
        Object {
            embedding: vec![],
            ..ok.clone()
        },
        Object {
            id: String::new(),
            ..ok.clone()
        },
        Object {
            id: "i".repeat(2000),
            ..ok.clone()
        },
        Object {
            kind: "k".repeat(2000),
            ..ok.clone()
        },
        ok.clone().with_confidence(f32::NAN),
        ok.clone().with_confidence(1.01),
        Object {
            id: "a".into(),
            ..ok.clone()
        },
    ];
    let mut txn = db.begin_write().unwrap();
    for o in bad {
        let e = txn.insert("s", o.clone()).unwrap_err().to_string();
        assert!(e.len() > 10, "{o:?}: {e}");
        // The same bad fields as an update of an existing object (where the id is not the fault).
        let id_fault = o.id.is_empty() || o.id.len() > 1024 || o.id == "a";
        if !id_fault {
            assert!(txn
                .update(
                    "s",
                    Object {
                        id: "a".into(),
                        ..o
                    }
                )
                .is_err());
        }
    }
    assert!(txn.delete("s", "nope").is_err());
    assert!(txn.create_map("", MapConfig::default()).is_err());
    assert!(txn.create_map("x\u{1}", MapConfig::default()).is_err());
    assert!(txn
        .create_map(&"m".repeat(300), MapConfig::default())
        .is_err());
    assert!(txn.insert("nope", ok.clone()).is_err());
    assert_eq!(txn.map("s").unwrap().len(), 2);
    txn.commit().unwrap();
    assert_eq!(fingerprint(&db), before);

    let read = db.begin_read().unwrap();
    let s = read.map("s").unwrap();
    assert!(s.within([f32::NAN, 0.0, 0.0], 1.0).is_err());
    assert!(s.within([0.0; 3], f32::NAN).is_err());
    assert!(s.nearest([0.0, f32::NEG_INFINITY, 0.0], 1).is_err());
    assert!(s
        .attention(&[f32::NAN, 0.0, 0.0], Candidates::All, 1)
        .is_err());
    assert!(s.attention(&[1.0, 0.0], Candidates::All, 1).is_err());
    assert!(s
        .attention(
            &[1.0, 0.0, 0.0],
            Candidates::Within {
                center: [0.0; 3],
                radius: -1.0
            },
            1
        )
        .is_err());
    assert!(s.voxel(16, 0, 0).is_err());
    assert!(s.voxels_within([0.0; 3], f32::INFINITY).is_err());
    assert!(s.cell_of([0.0, 0.0, 1e9]).is_err());
    // A huge k is not an allocation.
    assert_eq!(s.nearest([0.0; 3], usize::MAX).unwrap().len(), 2);
    assert_eq!(
        s.attention(&[1.0, 0.0, 0.0], Candidates::All, usize::MAX)
            .unwrap()
            .len(),
        2
    );
}

/// The error reading any map's field gives, if one does.
fn field_error(db: &Database) -> Option<tensormap::Error> {
    let read = db.begin_read().unwrap();
    let names: Vec<String> = read.map_names().iter().map(|s| s.to_string()).collect();
    names
        .iter()
        .find_map(|m| read.map(m).unwrap().field().err())
}

#[test]
fn damaged_files_are_errors() {
    // Truncated and bit-flipped records: opening is an error naming the key, never a panic
    // (a map's bricks and journal are read on its field's first use: the error comes then).
    let backend = MemoryBackend::new();
    {
        let db = Database::with_backend(Arc::new(backend.clone())).unwrap();
        db.execute(SETUP).unwrap();
        db.checkpoint().unwrap();
    }
    let dump = backend.dump();
    let mut damaged = 0;
    for (key, value) in dump.iter() {
        for bad in [value[..value.len() / 2].to_vec(), {
            let mut v = value.clone();
            let i = v.len() / 3;
            v[i] ^= 0x10;
            v
        }] {
            backend.corrupt(key, bad);
            match Database::with_backend(Arc::new(backend.clone())) {
                Err(e) => {
                    assert!(e.to_string().contains("corrupt"), "{e}");
                    damaged += 1;
                }
                Ok(db) => match field_error(&db) {
                    Some(e) => {
                        assert!(e.to_string().contains("corrupt"), "{e}");
                        damaged += 1;
                    }
                    // A damaged global counter can still be a valid number.
                    None => assert!(key.starts_with(&[0]), "damage to {key:?} went unnoticed"),
                },
            }
            backend.corrupt(key, value.clone());
        }
    }
    assert!(damaged >= 10, "{damaged}");
    // Segment and brick files likewise (a brick inside a brick file: on the field's first
    // use).
    for (id, bytes) in backend.dump_blobs() {
        for bad in [bytes[..bytes.len() / 2].to_vec(), {
            let mut v = bytes.clone();
            let i = v.len() / 3;
            v[i] ^= 0x10;
            v
        }] {
            backend.corrupt_blob(id, &bad);
            let e = match Database::with_backend(Arc::new(backend.clone())) {
                Err(e) => e.to_string(),
                Ok(db) => field_error(&db)
                    .unwrap_or_else(|| panic!("damage to file {id} went unnoticed"))
                    .to_string(),
            };
            assert!(e.contains("corrupt segment"), "{e}");
            backend.corrupt_blob(id, &bytes);
        }
    }
    Database::with_backend(Arc::new(backend)).unwrap();
}
