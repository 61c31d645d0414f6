//! User columns: CREATE MAP with typed columns, INSERT / UPDATE / SELECT / DELETE of their
//! values, NULLs and defaults, ALTER MAP's column changes on a populated map, errors that
//! name the column and the row and change nothing, and everything surviving commits,
//! checkpoints, merges and reopen.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_engine::{Database, Value};
use tensormap_query::Session;

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    s.execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .pop()
        .unwrap()
        .rows
}

fn t(s: &str) -> Value {
    Value::text(s)
}

fn n(x: f64) -> Value {
    Value::Number(x)
}

const CREATE: &str = "CREATE MAP m (label TEXT NOT NULL DEFAULT 'none', speed REAL, n INTEGER DEFAULT 7, ok BOOLEAN, seen_at TIMESTAMP, raw BLOB) WITH (channels = 2, bounds = 10)";

fn populate(s: &mut Session) {
    s.execute(CREATE).unwrap();
    s.execute(
        "INSERT INTO m (id, type, position, embedding, label, speed, n, ok, seen_at, raw) VALUES \
         ('a', 'car', [1, 0, 0], [1, 0], 'red', 1.5, 3, TRUE, '2026-01-02T03:04:05Z', '00ff'), \
         ('b', 'car', [2, 0, 0], [0, 1], 'blue', NULL, NULL, FALSE, '2026-01-01 00:00:00.5', NULL)",
    )
    .unwrap();
    s.execute(
        "INSERT INTO m (id, type, position, embedding) VALUES ('c', 'bike', [3, 0, 0], [1, 1])",
    )
    .unwrap();
}

fn check_contents(s: &mut Session) {
    assert_eq!(
        rows(
            s,
            "SELECT id, label, speed, n, ok, seen_at, raw FROM m WHERE id < 'k' ORDER BY id"
        ),
        vec![
            vec![
                t("a"),
                t("red"),
                n(1.5),
                n(3.0),
                Value::Bool(true),
                t("2026-01-02 03:04:05"),
                t("00ff")
            ],
            vec![
                t("b"),
                t("blue"),
                Value::Null,
                Value::Null,
                Value::Bool(false),
                t("2026-01-01 00:00:00.5"),
                Value::Null
            ],
            vec![
                t("c"),
                t("none"),
                Value::Null,
                n(7.0),
                Value::Null,
                Value::Null,
                Value::Null
            ],
        ]
    );
}

#[test]
fn values_round_trip_through_insert_select_update_and_delete() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    populate(&mut s);
    check_contents(&mut s);
    // SELECT * puts them after the built-in columns.
    let r = s
        .execute("SELECT * FROM m WHERE id = 'a'")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        r.columns,
        [
            "id",
            "type",
            "position",
            "embedding",
            "confidence",
            "label",
            "speed",
            "n",
            "ok",
            "seen_at",
            "raw"
        ]
    );
    // WHERE, ORDER BY, GROUP BY, expressions, joins and subqueries read them.
    assert_eq!(
        rows(&mut s, "SELECT id FROM m WHERE speed IS NULL ORDER BY id"),
        vec![vec![t("b")], vec![t("c")]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT id FROM m WHERE seen_at > '2026-01-02' ORDER BY n DESC"
        ),
        vec![vec![t("a")]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT type, SUM(n), COUNT(speed) FROM m GROUP BY type ORDER BY type"
        ),
        vec![
            vec![t("bike"), n(7.0), n(0.0)],
            vec![t("car"), n(3.0), n(1.0)]
        ]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT a.id, b.id FROM m a JOIN m b ON a.n = b.n + 4 ORDER BY a.id"
        ),
        vec![vec![t("c"), t("a")]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT id FROM m WHERE n = (SELECT MAX(n) FROM m WHERE label <> 'none')"
        ),
        vec![vec![t("a")]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT label || '!' FROM (SELECT * FROM m) WHERE id = 'b'"
        ),
        vec![vec![t("blue!")]]
    );
    // UPDATE sets them, alone or with built-in columns; expressions see the old row.
    s.execute("UPDATE m SET speed = n * 2, n = n + 1, x = 4 WHERE id = 'a'")
        .unwrap();
    assert_eq!(
        rows(&mut s, "SELECT speed, n, x, label FROM m WHERE id = 'a'"),
        vec![vec![n(6.0), n(4.0), n(4.0), t("red")]]
    );
    s.execute("UPDATE m SET confidence = 0.5 WHERE id = 'b'")
        .unwrap();
    assert_eq!(
        rows(&mut s, "SELECT label, ok FROM m WHERE id = 'b'"),
        vec![vec![t("blue"), Value::Bool(false)]]
    );
    // ON CONFLICT sees and sets them, on the map's row and on `excluded`.
    s.execute(
        "INSERT INTO m (id, type, position, embedding, label, n) VALUES \
         ('a', 'car', [1, 0, 0], [1, 0], 'pink', 40), ('z', 'car', [1, 0, 0], [1, 0], 'new', 1) \
         ON CONFLICT (id) DO UPDATE SET label = excluded.label || '/' || m.label, n = m.n + excluded.n",
    )
    .unwrap();
    assert_eq!(
        rows(
            &mut s,
            "SELECT id, label, n, speed FROM m WHERE id IN ('a', 'z') ORDER BY id"
        ),
        vec![
            vec![t("a"), t("pink/red"), n(44.0), n(6.0)],
            vec![t("z"), t("new"), n(1.0), Value::Null]
        ]
    );
    let e = s
        .execute("INSERT INTO m (id, type, position, embedding) VALUES ('z', 'car', [1, 0, 0], [1, 0]) ON CONFLICT (id) DO UPDATE SET label = NULL")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("column 'label' is NOT NULL: object 'z'"),
        "{e}"
    );
    s.execute("DELETE FROM m WHERE id = 'z'").unwrap();
    // A deleted object's values go with it; a new one of the same id starts afresh.
    s.execute("DELETE FROM m WHERE id = 'b'").unwrap();
    s.execute(
        "INSERT INTO m (id, type, position, embedding) VALUES ('b', 'car', [2, 0, 0], [0, 1])",
    )
    .unwrap();
    assert_eq!(
        rows(&mut s, "SELECT label, n, ok FROM m WHERE id = 'b'"),
        vec![vec![t("none"), n(7.0), Value::Null]]
    );
}

#[test]
fn bad_values_name_the_column_and_row_and_change_nothing() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    populate(&mut s);
    for (bad, says) in [
        ("INSERT INTO m (id, type, position, embedding, speed) VALUES ('d', 't', [0, 0, 0], [1, 0], 1), ('e', 't', [0, 0, 0], [1, 0], 'fast')", "column 'speed' of row 2: expected REAL, found a text"),
        ("INSERT INTO m (id, type, position, embedding, n) VALUES ('d', 't', [0, 0, 0], [1, 0], 1.5)", "column 'n' of row 1: expected INTEGER"),
        ("INSERT INTO m (id, type, position, embedding, label) VALUES ('d', 't', [0, 0, 0], [1, 0], 'x'), ('e', 't', [0, 0, 0], [1, 0], NULL)", "column 'label' is NOT NULL: row 2 (id 'e')"),
        ("INSERT INTO m (id, type, position, embedding, seen_at) VALUES ('d', 't', [0, 0, 0], [1, 0], 'yesterday')", "column 'seen_at' of row 1: 'yesterday' is not a timestamp"),
        ("INSERT INTO m (id, type, position, embedding, nope) VALUES ('d', 't', [0, 0, 0], [1, 0], 1)", "unknown column 'nope'"),
        ("UPDATE m SET label = NULL WHERE id = 'c'", "column 'label' is NOT NULL: object 'c'"),
        ("UPDATE m SET ok = 3", "column 'ok' of object 'a': expected BOOLEAN, found a number"),
        ("SELECT nope FROM m", "nope"),
        ("CREATE MAP m2 (x REAL)", "built-in"),
        ("CREATE MAP m2 (a TEXT, a REAL)", "already has a column 'a'"),
        ("CREATE MAP m2 (a INTEGER DEFAULT 'x')", "DEFAULT of column 'a': expected INTEGER"),
        ("CREATE MAP m2 (a DATE)", "a column type"),
        ("ALTER MAP m ADD COLUMN k TEXT NOT NULL", "NOT NULL without a DEFAULT"),
        ("ALTER MAP m DROP COLUMN nope", "has no column 'nope'"),
        ("ALTER MAP m RENAME COLUMN label TO speed", "already has a column 'speed'"),
    ] {
        let e = s.execute(bad).unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
        check_contents(&mut s);
    }
    assert!(
        s.execute("SELECT * FROM m2").is_err(),
        "a failed CREATE MAP made the map"
    );
}

#[test]
fn values_and_schema_survive_commits_checkpoints_merges_alter_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let mut s = Session::new(Database::open(&path).unwrap());
        populate(&mut s);
        // Many small commits, then a checkpoint (every segment merged into one file).
        for i in 0..40 {
            s.execute(&format!(
                "INSERT INTO m (id, type, position, embedding, label, n) VALUES ('k{i:02}', 'k', [0, 0, {}], [1, 0], 'k{i}', {i})",
                i as f64 * 0.2
            ))
            .unwrap();
        }
        s.execute("CHECKPOINT").unwrap();
        s.execute("DELETE FROM m WHERE id >= 'k20'").unwrap();
        check_contents(&mut s);
    }
    {
        let mut s = Session::new(Database::open(&path).unwrap());
        check_contents(&mut s);
        assert_eq!(
            rows(&mut s, "SELECT COUNT(*), SUM(n) FROM m WHERE type = 'k'"),
            vec![vec![n(20.0), n(190.0)]]
        );
        // ALTER on a populated map.
        s.execute("ALTER MAP m ADD COLUMN colour TEXT DEFAULT 'grey'")
            .unwrap();
        s.execute("ALTER MAP m RENAME COLUMN label TO name")
            .unwrap();
        s.execute("ALTER MAP m DROP COLUMN raw").unwrap();
        s.execute("UPDATE m SET colour = 'green' WHERE id = 'a'")
            .unwrap();
        s.execute("ALTER MAP m ADD COLUMN raw INTEGER").unwrap();
        s.database().wait_for_merges();
    }
    let mut s = Session::new(Database::open(&path).unwrap());
    let r = s
        .execute("SELECT * FROM m WHERE id = 'a'")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        r.columns,
        [
            "id",
            "type",
            "position",
            "embedding",
            "confidence",
            "name",
            "speed",
            "n",
            "ok",
            "seen_at",
            "colour",
            "raw"
        ]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT id, name, colour, raw FROM m WHERE id < 'k' ORDER BY id"
        ),
        vec![
            vec![t("a"), t("red"), t("green"), Value::Null],
            vec![t("b"), t("blue"), t("grey"), Value::Null],
            vec![t("c"), t("none"), t("grey"), Value::Null],
        ]
    );
    // A snapshot carries the columns as they are after the ALTERs (the dropped column's
    // values, still stored, are not carried).
    let file = dir.path().join("m.tensor3d");
    s.execute(&format!("SNAPSHOT m TO '{}'", file.display()))
        .unwrap();
    let mut copy = Session::new(Database::open_in_memory().unwrap());
    copy.execute(&format!("RESTORE m FROM '{}'", file.display()))
        .unwrap();
    let all = "SELECT * FROM m ORDER BY id";
    let (a, b) = (
        s.execute(all).unwrap().pop().unwrap(),
        copy.execute(all).unwrap().pop().unwrap(),
    );
    assert_eq!((a.columns, a.rows), (b.columns, b.rows));
    // A map without user columns is as it was.
    s.execute("CREATE MAP plain WITH (channels = 2)").unwrap();
    let r = s.execute("SELECT * FROM plain").unwrap().pop().unwrap();
    assert_eq!(
        r.columns,
        ["id", "type", "position", "embedding", "confidence"]
    );
}

#[test]
fn snapshot_and_restore_carry_every_type_with_nulls_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(Database::open_in_memory().unwrap());
    populate(&mut s);
    let file = dir.path().join("m.tensor3d");
    s.execute(&format!("SNAPSHOT m TO '{}'", file.display()))
        .unwrap();
    let mut copy = Session::new(Database::open(dir.path().join("copy.db")).unwrap());
    copy.execute(&format!("RESTORE m FROM '{}'", file.display()))
        .unwrap();
    let all = "SELECT * FROM m ORDER BY id";
    let (a, b) = (
        s.execute(all).unwrap().pop().unwrap(),
        copy.execute(all).unwrap().pop().unwrap(),
    );
    assert_eq!(a.columns, b.columns);
    assert_eq!(a.rows, b.rows);
    check_contents(&mut copy);
    // The defaults and NOT NULL came along: an object inserted without values reads them.
    copy.execute(
        "INSERT INTO m (id, type, position, embedding) VALUES ('d', 'x', [0, 0, 0], [0, 0])",
    )
    .unwrap();
    assert_eq!(
        rows(&mut copy, "SELECT label, n FROM m WHERE id = 'd'"),
        vec![vec![t("none"), n(7.0)]]
    );
    assert!(copy
        .execute("UPDATE m SET label = NULL WHERE id = 'a'")
        .is_err());
    // The JSON form does not carry them: refused, and no file is written.
    let json = dir.path().join("m.json");
    let e = s
        .execute(&format!(
            "SNAPSHOT m TO '{}' WITH (format = 'json')",
            json.display()
        ))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("JSON form does not carry user columns"),
        "{e}"
    );
    assert!(!json.exists());
}

#[test]
fn describe_lists_the_user_columns_as_declared() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    populate(&mut s);
    s.execute("ALTER MAP m ADD COLUMN \"odd name\" TEXT DEFAULT 'it''s'")
        .unwrap();
    s.execute("CREATE MAP plain WITH (channels = 2)").unwrap();
    let r = s.execute("DESCRIBE m").unwrap().pop().unwrap();
    assert_eq!(r.columns.last().map(String::as_str), Some("columns"));
    assert_eq!(
        r.rows[0].last(),
        Some(&t(
            "label TEXT NOT NULL DEFAULT 'none', speed REAL, n INTEGER DEFAULT 7, \
             ok BOOLEAN, seen_at TIMESTAMP, raw BLOB, \"odd name\" TEXT DEFAULT 'it''s'"
        ))
    );
    let r = s.execute("DESCRIBE plain").unwrap().pop().unwrap();
    assert_eq!(r.rows[0].last(), Some(&t("")));
}
