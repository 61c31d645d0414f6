//! User columns in the engine: a map without them stores exactly what it stored before
//! they existed (a digest of every key, record and segment file a fixed workload leaves,
//! against the digest the code before them gave); their schema and values are part of
//! the commit's one batch (a fault at any write leaves the old state, in memory and
//! reopened); damaged records are errors naming their key.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap_engine::user::{Cell, ColumnDef, ColumnType};
use tensormap_engine::{Database, MapConfig, MemoryBackend, Object, Options, Value};

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// Small commits (records, a seal into a file), a bulk one (a segment file), deletes and
/// updates, then a checkpoint: the digest of everything stored after each step.
fn workload_digests() -> Vec<u64> {
    let backend = MemoryBackend::new();
    let options = Options {
        bulk_rows: 40,
        seal_rows: 100,
        large_rows: 200,
        background_merge: false,
        ..Options::default()
    };
    let db = Database::with_backend_options(Arc::new(backend.clone()), options).unwrap();
    let cfg = MapConfig {
        channels: 3,
        bounds: 100.0,
        resolution: 16,
        ..MapConfig::default()
    };
    db.create_map("m", cfg).unwrap();
    let object = |i: u32| {
        let f = i as f32;
        Object::new(
            format!("o{i}"),
            if i.is_multiple_of(3) { "a" } else { "b" },
            [
                (f * 7.0) % 90.0 - 45.0,
                (f * 3.0) % 80.0 - 40.0,
                (f * 11.0) % 70.0 - 35.0,
            ],
            vec![f % 5.0, 1.0, -(f % 3.0)],
        )
        .with_confidence(((i % 10) as f32) / 10.0)
    };
    let mut digests = Vec::new();
    let mut digest = |backend: &MemoryBackend| {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for (k, v) in backend.dump() {
            fnv(&mut h, &k);
            fnv(&mut h, &v);
        }
        for (id, b) in backend.dump_blobs() {
            fnv(&mut h, &id.to_le_bytes());
            fnv(&mut h, &b);
        }
        digests.push(h);
    };
    for c in 0..12u32 {
        let mut t = db.begin_write().unwrap();
        for i in 0..10 {
            t.insert("m", object(c * 10 + i)).unwrap();
        }
        t.commit().unwrap();
    }
    digest(&backend);
    let mut t = db.begin_write().unwrap();
    t.insert_many("m", (200..500).map(object).collect())
        .unwrap();
    t.commit().unwrap();
    digest(&backend);
    let mut t = db.begin_write().unwrap();
    for i in (0..500).step_by(7) {
        if !(120..200).contains(&i) {
            t.delete("m", &format!("o{i}")).unwrap();
        }
    }
    let mut o = t.get("m", "o1").unwrap().unwrap();
    o.position = [1.0, 2.0, 3.0];
    t.update("m", o).unwrap();
    t.commit().unwrap();
    digest(&backend);
    db.checkpoint().unwrap();
    digest(&backend);
    digests
}

/// The digests `workload_digests` gave on the code before user columns (commit fd965ec).
const BEFORE: [u64; 4] = [
    3830366460269601640,
    18040661397394944595,
    15188251443945503331,
    16763823320153963754,
];

#[test]
fn a_map_without_user_columns_stores_what_it_stored_before() {
    assert_eq!(workload_digests(), BEFORE);
}

fn columns() -> Vec<ColumnDef> {
    let c = |name: &str, ty, default| ColumnDef {
        id: 0,
        name: name.to_string(),
        ty,
        not_null: false,
        default,
    };
    vec![
        c("label", ColumnType::Text, Cell::Null),
        c("n", ColumnType::Integer, Cell::Integer(5)),
    ]
}

fn values(db: &Database) -> Vec<(String, Value, Value)> {
    let r = db.begin_read().unwrap();
    let m = r.map("m").unwrap();
    let mut out: Vec<_> = m
        .objects()
        .map(|o| {
            (
                o.id().to_string(),
                o.user_value("label").unwrap(),
                o.user_value("n").unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn values_commit_atomically_and_come_back_after_a_fault_or_reopen() {
    let backend = MemoryBackend::new();
    let options = Options {
        background_merge: false,
        ..Options::default()
    };
    let open = || Database::with_backend_options(Arc::new(backend.clone()), options).unwrap();
    let db = open();
    let mut t = db.begin_write().unwrap();
    t.create_map_with_columns(
        "m",
        MapConfig {
            channels: 1,
            ..MapConfig::default()
        },
        columns(),
    )
    .unwrap();
    for i in 0..20 {
        let id = format!("o{i:02}");
        t.insert("m", Object::new(&id, "t", [i as f32, 0.0, 0.0], vec![1.0]))
            .unwrap();
        t.set_values(
            "m",
            &id,
            vec![(0, Cell::Text(format!("l{i}"))), (1, Cell::Integer(i))],
        )
        .unwrap();
    }
    t.commit().unwrap();
    let before = values(&db);
    assert_eq!(
        before[3],
        ("o03".into(), Value::text("l3"), Value::Number(3.0))
    );
    let change = |db: &Database| {
        let mut t = db.begin_write().unwrap();
        t.delete("m", "o01").unwrap();
        t.set_values("m", "o02", vec![(0, Cell::Null)]).unwrap();
        t.insert("m", Object::new("new", "t", [0.0; 3], vec![1.0]))
            .unwrap();
        t.add_column(
            "m",
            ColumnDef {
                id: 0,
                name: "extra".into(),
                ty: ColumnType::Boolean,
                not_null: true,
                default: Cell::Boolean(true),
            },
        )
        .unwrap();
        t.rename_column("m", "label", "name").unwrap();
        t.checkpoint().unwrap();
        t.commit()
    };
    let mut failures = 0;
    for n in 0.. {
        backend.fail_nth_write(n);
        match change(&db) {
            Ok(()) => break,
            Err(e) => {
                assert!(e.to_string().contains("injected fault"), "{e}");
                failures += 1;
                assert_eq!(values(&db), before, "in memory, after a fault at write {n}");
                assert_eq!(
                    values(&open()),
                    before,
                    "reopened, after a fault at write {n}"
                );
            }
        }
    }
    assert!(failures > 0);
    backend.clear_faults();
    let check = |db: &Database| {
        let r = db.begin_read().unwrap();
        let m = r.map("m").unwrap();
        let names: Vec<&str> = m.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["name", "n", "extra"]);
        assert!(m.get("o01").is_none());
        let o2 = m.get("o02").unwrap();
        assert_eq!(o2.user_value("name"), Some(Value::Null));
        assert_eq!(
            o2.user_value("n"),
            Some(Value::Number(5.0)),
            "not stored: the default"
        );
        let new = m.get("new").unwrap();
        assert_eq!(new.user_value("extra"), Some(Value::Bool(true)));
        assert_eq!(
            m.get("o07").unwrap().user_value("name"),
            Some(Value::text("l7"))
        );
        assert_eq!(new.user_value("label"), None);
    };
    check(&db);
    drop(db);
    check(&open());
}

#[test]
fn damaged_column_records_are_errors_naming_their_key() {
    let backend = MemoryBackend::new();
    let db = Database::with_backend(Arc::new(backend.clone())).unwrap();
    let mut t = db.begin_write().unwrap();
    t.create_map_with_columns(
        "m",
        MapConfig {
            channels: 1,
            ..MapConfig::default()
        },
        columns(),
    )
    .unwrap();
    t.insert("m", Object::new("a", "t", [0.0; 3], vec![1.0]))
        .unwrap();
    t.set_values("m", "a", vec![(0, Cell::Text("x".into()))])
        .unwrap();
    t.commit().unwrap();
    drop(db);
    let dump = backend.dump();
    for (key, value) in &dump {
        // Keyspaces 0x07 (schema) and 0x08 (values) of the map.
        if key.len() >= 6 && key[0] == 0x02 && (key[5] == 0x07 || key[5] == 0x08) {
            for bad in [Vec::new(), vec![1u8, 0, 0, 0, 0, 255], {
                let mut v = value.clone();
                let last = v.len() - 1;
                v[last] ^= 0x55;
                v
            }] {
                backend.corrupt(key, bad);
                let e = match Database::with_backend(Arc::new(backend.clone())) {
                    Ok(_) => panic!("a damaged record under {key:?} was read"),
                    Err(e) => e.to_string(),
                };
                assert!(e.contains("/schema") || e.contains("/values/"), "{e}");
                backend.corrupt(key, value.clone());
            }
        }
    }
    Database::with_backend(Arc::new(backend.clone())).unwrap();
}

#[test]
fn bulk_inserts_without_values_refuse_a_required_column_and_with_values_store_them() {
    let db = Database::open_in_memory().unwrap();
    let mut t = db.begin_write().unwrap();
    let mut cols = columns();
    cols.push(ColumnDef {
        id: 0,
        name: "req".into(),
        ty: ColumnType::Text,
        not_null: true,
        default: Cell::Null,
    });
    t.create_map_with_columns(
        "m",
        MapConfig {
            channels: 1,
            ..MapConfig::default()
        },
        cols,
    )
    .unwrap();
    t.commit().unwrap();
    let object = |id: &str| Object::new(id, "t", [0.0; 3], vec![1.0]);
    let mut t = db.begin_write().unwrap();
    let refused = |e: tensormap_engine::Error| {
        let e = e.to_string();
        assert!(
            e.contains("column 'req' of map 'm' is NOT NULL without a DEFAULT"),
            "{e}"
        );
    };
    refused(t.insert("m", object("a")).unwrap_err());
    refused(t.insert_many("m", vec![object("a")]).unwrap_err());
    refused(t.insert_slice("m", &[object("a")]).unwrap_err());
    refused(
        t.insert_columns(
            "m",
            tensormap_engine::ObjectColumns {
                ids: &["a"],
                kinds: &["t"],
                positions: &[0.0; 3],
                embeddings: &[1.0],
                confidences: &[1.0],
            },
        )
        .unwrap_err(),
    );
    // With values: a NULL left in `req` is refused, naming the object and the column.
    let e = t
        .insert_with_values("m", &[object("a")], vec![vec![(0, Cell::Text("l".into()))]])
        .unwrap_err();
    assert!(e.to_string().contains("'req' is NOT NULL"), "{e}");
    let e = t
        .insert_with_values("m", &[object("a")], vec![vec![(2, Cell::Integer(1))]])
        .unwrap_err();
    assert!(e.to_string().contains("holds TEXT"), "{e}");
    assert!(t.map("m").unwrap().is_empty(), "nothing was added");
    t.insert_with_values(
        "m",
        &[object("a"), object("b")],
        vec![
            vec![(2, Cell::Text("r".into()))],
            vec![(0, Cell::Text("l".into())), (2, Cell::Text("s".into()))],
        ],
    )
    .unwrap();
    t.commit().unwrap();
    let r = db.begin_read().unwrap();
    let m = r.map("m").unwrap();
    let a = m.get("a").unwrap();
    assert_eq!(a.user_value("req"), Some(Value::text("r")));
    assert_eq!(a.user_value("n"), Some(Value::Number(5.0)), "the default");
    assert_eq!(
        m.get("b").unwrap().user_value("label"),
        Some(Value::text("l"))
    );
}

#[test]
fn a_row_giving_a_column_twice_is_refused_naming_the_object_and_column() {
    let db = Database::open_in_memory().unwrap();
    let mut t = db.begin_write().unwrap();
    let mut cols = columns();
    cols.push(ColumnDef {
        id: 0,
        name: "req".into(),
        ty: ColumnType::Text,
        not_null: true,
        default: Cell::Null,
    });
    t.create_map_with_columns(
        "m",
        MapConfig {
            channels: 1,
            ..MapConfig::default()
        },
        cols,
    )
    .unwrap();
    t.insert_with_values(
        "m",
        &[Object::new("kept", "t", [0.0; 3], vec![1.0])],
        vec![vec![(2, Cell::Text("k".into()))]],
    )
    .unwrap();
    t.commit().unwrap();
    let object = |id: &str| Object::new(id, "t", [0.0; 3], vec![1.0]);
    let mut t = db.begin_write().unwrap();
    // The first `req` is NULL, the second is not: before, the check read the last and the
    // reads the first, so a NOT NULL column could hold NULL.
    for (row, column) in [
        (vec![(2, Cell::Null), (2, Cell::Text("r".into()))], "req"),
        (
            vec![
                (2, Cell::Text("r".into())),
                (1, Cell::Integer(1)),
                (1, Cell::Integer(2)),
            ],
            "n",
        ),
    ] {
        let e = t
            .insert_with_values(
                "m",
                &[object("a"), object("b")],
                vec![vec![(2, Cell::Text("fine".into()))], row],
            )
            .unwrap_err();
        let e = e.to_string();
        assert!(e.contains("object 'b'"), "{e}");
        assert!(
            e.contains(&format!("column '{column}' is given twice")),
            "{e}"
        );
    }
    assert_eq!(t.map("m").unwrap().len(), 1, "nothing was added");
    t.commit().unwrap();
    let r = db.begin_read().unwrap();
    let m = r.map("m").unwrap();
    assert!(m.get("a").is_none() && m.get("b").is_none());
    assert_eq!(
        m.get("kept").unwrap().user_value("req"),
        Some(Value::text("k"))
    );
}

#[test]
fn snapshots_carry_user_columns_and_files_without_them_are_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    let mut t = db.begin_write().unwrap();
    let cfg = MapConfig {
        channels: 1,
        ..MapConfig::default()
    };
    t.create_map_with_columns("m", cfg.clone(), columns())
        .unwrap();
    t.create_map("plain", cfg).unwrap();
    let object = |id: &str| Object::new(id, "t", [0.0; 3], vec![1.0]);
    t.insert_with_values(
        "m",
        &[object("a"), object("b"), object("c")],
        vec![
            vec![(0, Cell::Text("x".into())), (1, Cell::Integer(-2))],
            vec![(1, Cell::Null)],
            vec![],
        ],
    )
    .unwrap();
    t.insert("plain", object("p")).unwrap();
    t.commit().unwrap();
    let r = db.begin_read().unwrap();
    let options = tensormap_engine::SnapshotOptions::default();

    // Without user columns: no flag, no section (the storage crate's compatibility test
    // holds that writer's output to the version 1 file, byte for byte).
    let plain = dir.path().join("plain.tensor3d");
    r.snapshot("plain", &plain, &options).unwrap();
    let bytes = std::fs::read(&plain).unwrap();
    assert_eq!(&bytes[8..12], &[0, 0, 0, 0], "no flag");
    let footer = &bytes[bytes.len() - 80..];
    let field_end = u64::from_le_bytes(footer[32..40].try_into().unwrap())
        + u64::from_le_bytes(footer[40..48].try_into().unwrap());
    assert_eq!(
        field_end,
        bytes.len() as u64 - 80,
        "the footer follows the field"
    );

    // With: the values and the schema come back in a new database.
    let file = dir.path().join("m.tensor3d");
    r.snapshot("m", &file, &options).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[8..12], &[1, 0, 0, 0], "flag bit 0");
    let db2 = Database::open_in_memory().unwrap();
    db2.restore("m", &file).unwrap();
    assert_eq!(values(&db2), values(&db));
    assert_eq!(
        db2.begin_read().unwrap().map("m").unwrap().columns(),
        r.map("m").unwrap().columns()
    );

    // A damaged section is an error naming it and its offset; nothing is restored.
    let at = bytes.windows(4).rposition(|w| w == b"UCOL").unwrap();
    let mut damaged = bytes.clone();
    damaged[at + 14] ^= 0x20;
    let bad = dir.path().join("bad.tensor3d");
    std::fs::write(&bad, &damaged).unwrap();
    let e = db2.restore("m2", &bad).unwrap_err().to_string();
    assert!(e.contains("user columns at offset"), "{e}");
    assert!(db2.begin_read().unwrap().map("m2").is_err());

    // A file of the version before the section restores, without user columns.
    let old = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/snapshot-v1-f32-zstd.tensor3d");
    db2.restore("old", &old).unwrap();
    let r2 = db2.begin_read().unwrap();
    let m = r2.map("old").unwrap();
    assert_eq!((m.len(), m.columns().len()), (4, 0));
}
