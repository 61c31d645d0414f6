//! Session settings and maintenance: `SET statement_timeout` / `SET memory_limit` (a
//! statement past them ends with an error of kind `limit` and changes nothing, a write
//! included), `SHOW` / `RESET`, the session's setters, and `CHECKPOINT` / `VACUUM`.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tensormap_engine::{Database, Value};
use tensormap_query::{ErrorKind, Session};

/// A session on map `m` of `n` objects (ids `o0000…`, x = i), 4 channels.
fn setup(n: usize) -> Session {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute("CREATE MAP m WITH (channels = 4, bounds = 100000)")
        .unwrap();
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('o{i:04}', 't{}', [{i}, 0, 0], [1, 0, 0, 0], 0.5)", i % 7))
        .collect();
    s.execute(&format!(
        "INSERT INTO m (id, type, position, embedding, confidence) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
    s
}

fn one(s: &mut Session, sql: &str) -> Value {
    s.execute(sql).unwrap().pop().unwrap().rows[0][0].clone()
}

fn count(s: &mut Session) -> Value {
    one(s, "SELECT COUNT(*) FROM m")
}

fn sum(s: &mut Session) -> Value {
    one(s, "SELECT SUM(confidence) FROM m")
}

/// A query of ~n² tuples: far longer than a few milliseconds.
const SLOW: &str = "(SELECT COUNT(*) FROM m a, m b WHERE a.x + b.x >= 0)";

#[test]
fn settings_are_set_shown_and_reset() {
    let mut s = setup(1);
    assert_eq!(one(&mut s, "SHOW statement_timeout"), Value::text("0"));
    assert_eq!(one(&mut s, "SHOW memory_limit"), Value::text("0"));
    s.execute("SET statement_timeout = '2s'; SET memory_limit TO '512MB'")
        .unwrap();
    assert_eq!(one(&mut s, "SHOW statement_timeout"), Value::text("2s"));
    assert_eq!(one(&mut s, "SHOW memory_limit"), Value::text("512MB"));
    assert_eq!(s.statement_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(s.memory_limit(), Some(512 << 20));
    let all = s.execute("SHOW ALL").unwrap().pop().unwrap();
    assert_eq!(all.columns, vec!["name", "setting"]);
    assert_eq!(
        all.rows,
        vec![
            vec![Value::text("statement_timeout"), Value::text("2s")],
            vec![Value::text("memory_limit"), Value::text("512MB")],
        ]
    );
    // A number is milliseconds (timeout) or bytes (memory); 0 and DEFAULT are none.
    s.execute("SET statement_timeout = 1500").unwrap();
    assert_eq!(one(&mut s, "SHOW statement_timeout"), Value::text("1500ms"));
    s.execute("SET statement_timeout = 0; SET memory_limit = DEFAULT")
        .unwrap();
    assert_eq!(s.statement_timeout(), None);
    assert_eq!(s.memory_limit(), None);
    s.set_statement_timeout(Some(Duration::from_millis(250)));
    s.set_memory_limit(Some(1 << 20));
    assert_eq!(one(&mut s, "SHOW statement_timeout"), Value::text("250ms"));
    assert_eq!(one(&mut s, "SHOW memory_limit"), Value::text("1MB"));
    s.execute("RESET ALL").unwrap();
    assert_eq!((s.statement_timeout(), s.memory_limit()), (None, None));
}

#[test]
fn bad_settings_are_clear_errors_and_change_nothing() {
    let mut s = setup(1);
    s.execute("SET statement_timeout = '2s'").unwrap();
    for (sql, kind, says) in [
        (
            "SET statement_timeout = 'soon'",
            ErrorKind::InvalidValue,
            "'soon'",
        ),
        (
            "SET statement_timeout = '3 fortnights'",
            ErrorKind::InvalidValue,
            "unit",
        ),
        (
            "SET statement_timeout = -1",
            ErrorKind::InvalidValue,
            "0 or more",
        ),
        (
            "SET memory_limit = '5 parsecs'",
            ErrorKind::InvalidValue,
            "unit",
        ),
        (
            "SET memory_limit = [1, 2]",
            ErrorKind::InvalidValue,
            "number or text",
        ),
        (
            "SET work_mem = '1MB'",
            ErrorKind::NotFound,
            "unknown setting 'work_mem'",
        ),
        (
            "SHOW work_mem",
            ErrorKind::Syntax,
            "a setting (statement_timeout, memory_limit)",
        ),
        ("RESET work_mem", ErrorKind::NotFound, "unknown setting"),
    ] {
        let e = s.execute(sql).unwrap_err();
        assert_eq!(e.kind, kind, "{sql}: {e}");
        assert!(e.message.contains(says), "{sql}: {e}");
    }
    assert_eq!(s.statement_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(s.memory_limit(), None);
}

#[test]
fn a_statement_past_its_timeout_ends_and_changes_nothing() {
    let mut s = setup(1500);
    let before = (count(&mut s), sum(&mut s));
    s.execute("SET statement_timeout = '20ms'").unwrap();
    let slow = [
        format!("SELECT {SLOW}"),
        format!("UPDATE m SET confidence = 0.25 WHERE {SLOW} > 0"),
        format!("DELETE FROM m WHERE {SLOW} > 0"),
        format!("INSERT INTO m (id, type, position) SELECT a.id || b.id, 'n', [0, 0, 0] FROM m a, m b WHERE {SLOW} > 0"),
    ];
    for sql in &slow {
        let e = s.execute(sql).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit, "{sql}: {e}");
        assert!(e.message.contains("statement_timeout = 20ms"), "{e}");
        assert_eq!((e.pos.line, e.pos.col), (1, 1));
    }
    assert_eq!((count(&mut s), sum(&mut s)), before);
    // Inside a transaction: the statement fails, the transaction stays open and unchanged.
    s.execute("BEGIN; UPDATE m SET confidence = 1 WHERE id = 'o0000'")
        .unwrap();
    assert!(s.execute(&slow[1]).is_err());
    assert!(s.in_transaction());
    s.execute("COMMIT").unwrap();
    assert_eq!(
        one(
            &mut s,
            "SELECT SUM(confidence) FROM m WHERE confidence = 0.5"
        ),
        Value::Number(0.5 * 1499.0)
    );
    // Without the limit the same statement runs; fast statements run under it.
    s.execute("SET statement_timeout = '10min'").unwrap();
    s.execute(&slow[0]).unwrap();
    s.execute("SET statement_timeout = 0").unwrap();
    assert_eq!(
        one(&mut s, &format!("SELECT {SLOW}")),
        Value::Number(1500.0 * 1500.0)
    );
}

#[test]
fn a_statement_past_its_memory_limit_ends_and_changes_nothing() {
    let mut s = setup(1000);
    let before = (count(&mut s), sum(&mut s));
    s.execute("SET memory_limit = '1MB'").unwrap();
    for sql in [
        "SELECT a.id, b.id FROM m a, m b",
        "INSERT INTO m (id, type, position) SELECT a.id || b.id, 'n', [0, 0, 0] FROM m a, m b",
        "UPDATE m SET confidence = 0.25 WHERE id IN (SELECT a.id || b.id FROM m a, m b)",
    ] {
        let e = s.execute(sql).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit, "{sql}: {e}");
        assert!(e.message.contains("memory_limit = 1MB"), "{e}");
    }
    assert_eq!((count(&mut s), sum(&mut s)), before);
    // What fits runs.
    let r = s.execute("SELECT id FROM m WHERE x < 10").unwrap();
    assert_eq!(r[0].rows.len(), 10);
    s.execute("UPDATE m SET confidence = 0.75 WHERE x < 10")
        .unwrap();
    s.execute("SET memory_limit = 0").unwrap();
    let r = s.execute("SELECT a.id, b.id FROM m a, m b").unwrap();
    assert_eq!(r[0].rows.len(), 1_000_000);
}

#[test]
fn checkpoint_and_vacuum_fold_the_journal_and_merge_the_index() {
    let mut s = setup(10);
    for i in 0..3 {
        s.execute(&format!(
            "INSERT INTO m (id, type, position, embedding) VALUES ('n{i}', 'x', [1, {i}, 0], [0, 1, 0, 0])"
        ))
        .unwrap();
    }
    s.execute("DELETE FROM m WHERE id = 'o0003'").unwrap();
    let stats = |s: &Session| {
        let r = s.database().begin_read().unwrap();
        r.stats("m").unwrap()
    };
    let before = stats(&s);
    assert!(before.journal_splats > 0, "{before:?}");
    let ids = |s: &mut Session| s.execute("SELECT id, x, y FROM m ORDER BY id").unwrap();
    let rows = ids(&mut s);
    assert_eq!(s.execute("CHECKPOINT").unwrap()[0].status, "CHECKPOINT");
    let after = stats(&s);
    assert_eq!(
        (after.journal_splats, after.index_segments),
        (0, 1),
        "{after:?}"
    );
    assert_eq!(after.objects, 12);
    assert_eq!(ids(&mut s), rows);
    s.execute(
        "INSERT INTO m (id, type, position, embedding) VALUES ('z', 'x', [2, 2, 2], [0, 0, 1, 0])",
    )
    .unwrap();
    assert_eq!(s.execute("VACUUM").unwrap()[0].status, "VACUUM");
    let after = stats(&s);
    assert_eq!(
        (after.journal_splats, after.index_segments),
        (0, 1),
        "{after:?}"
    );
    // Not inside a transaction: it commits.
    s.execute("BEGIN").unwrap();
    let e = s.execute("CHECKPOINT").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(s.in_transaction());
    s.execute("ROLLBACK").unwrap();
}

#[test]
fn update_and_delete_where_read_subqueries() {
    let mut s = setup(20);
    s.execute("CREATE MAP keep WITH (channels = 4, bounds = 100000)")
        .unwrap();
    s.execute("INSERT INTO keep (id, type, position, embedding) VALUES ('o0001', 'k', [0, 0, 0], [1, 0, 0, 0]), ('o0002', 'k', [0, 0, 0], [1, 0, 0, 0])")
        .unwrap();
    let r = s
        .execute("UPDATE m SET confidence = (SELECT COUNT(*) FROM keep) / 10 WHERE id IN (SELECT id FROM keep)")
        .unwrap();
    assert_eq!(r[0].status, "UPDATE 2");
    assert_eq!(
        one(
            &mut s,
            "SELECT SUM(confidence) FROM m WHERE id IN ('o0001', 'o0002')"
        ),
        Value::Number(0.4)
    );
    // Correlated: the objects with a larger x of the same type exist.
    let r = s
        .execute(
            "DELETE FROM m WHERE EXISTS (SELECT 1 FROM m b WHERE b.type = m.type AND b.x > m.x)",
        )
        .unwrap();
    assert_eq!(r[0].status, "DELETE 13");
    assert_eq!(count(&mut s), Value::Number(7.0));
    let r = s
        .execute("DELETE FROM m WHERE x < (SELECT AVG(x) FROM m)")
        .unwrap();
    assert_eq!(r[0].status, "DELETE 3");
    // Errors name what is wrong; nothing changes.
    let e = s
        .execute("DELETE FROM m WHERE id IN (SELECT nope FROM keep)")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = s
        .execute("UPDATE m SET confidence = 1 WHERE id IN (SELECT id FROM missing)")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(count(&mut s), Value::Number(4.0));
}
