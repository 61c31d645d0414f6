//! Statements inside a transaction: a failed statement leaves the transaction open and
//! unchanged; a multi-row statement is all or nothing; COMMIT is durable, ROLLBACK forgets.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_engine::{Database, Value};
use tensormap_query::Session;

fn count(s: &mut Session) -> Value {
    s.execute("SELECT COUNT(*) FROM m")
        .unwrap()
        .pop()
        .unwrap()
        .rows[0][0]
        .clone()
}

#[test]
fn a_failed_statement_leaves_the_transaction_open_and_unchanged() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute("CREATE MAP m WITH (channels = 2, bounds = 10)")
        .unwrap();
    s.execute(
        "BEGIN; INSERT INTO m (id, type, position, embedding) VALUES ('a', 't', [0, 0, 0], [1, 0])",
    )
    .unwrap();
    // Row 2 is a duplicate of row 1, row 3 is out of bounds: the statement has no effect.
    for bad in [
        "INSERT INTO m (id, type, position, embedding) VALUES ('b', 't', [1, 0, 0], [1, 0]), ('b', 't', [2, 0, 0], [1, 0])",
        "INSERT INTO m (id, type, position, embedding) VALUES ('c', 't', [1, 0, 0], [1, 0]), ('d', 't', [0, 0, 11], [1, 0])",
        "INSERT INTO m (id, type, position, embedding) VALUES ('a', 't', [1, 0, 0], [1, 0])",
        "UPDATE m SET confidence = confidence + 1",
        "UPDATE m SET x = x / 0",
        "DELETE FROM m WHERE nope = 1",
        "SELECT * FORM m",
    ] {
        let e = s.execute(bad).unwrap_err();
        assert!(e.pos.line >= 1, "{bad}: {e}");
        assert!(s.in_transaction(), "{bad} closed the transaction");
        assert_eq!(count(&mut s), Value::Number(1.0), "{bad} changed the transaction");
    }
    let r = s
        .execute("SELECT confidence, x FROM m WHERE id = 'a'")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(r.rows, vec![vec![Value::Number(1.0), Value::Number(0.0)]]);
    s.execute("INSERT INTO m (id, type, position, embedding) VALUES ('b', 't', [1, 0, 0], [0, 1]); COMMIT").unwrap();
    assert!(!s.in_transaction());
    assert_eq!(count(&mut s), Value::Number(2.0));
    s.execute("BEGIN; DELETE FROM m; ROLLBACK").unwrap();
    assert_eq!(count(&mut s), Value::Number(2.0));
    assert!(s.execute("COMMIT").is_err());
    assert!(s.execute("BEGIN; BEGIN").is_err());
    assert!(s.in_transaction(), "the first BEGIN stays open");
}

#[test]
fn user_functions_are_callable_and_their_errors_have_positions() {
    let db = Database::open_in_memory().unwrap();
    db.register_function("scale", 2, |a| match (&a[0], &a[1]) {
        (Value::Vector(v), Value::Number(k)) => {
            Ok(Value::Vector(v.iter().map(|x| x * *k as f32).collect()))
        }
        _ => Err("expects a vector and a number".into()),
    });
    let mut s = Session::new(db);
    s.execute("CREATE MAP m WITH (channels = 2, bounds = 10)")
        .unwrap();
    s.execute("INSERT INTO m (id, type, position, embedding) VALUES ('a', 't', scale([1, 1, 1], 2), scale([1, 0], 3))").unwrap();
    let r = s
        .execute("SELECT position, SCALE(embedding, 0.5) FROM m")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(r.rows[0][0].to_string(), "[2, 2, 2]");
    assert_eq!(r.rows[0][1].to_string(), "[1.5, 0]");
    let e = s.execute("SELECT id,\n  scale('x', 1) FROM m").unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (2, 3));
    assert!(e.message.contains("expects a vector and a number"), "{e}");
    assert!(s
        .execute("SELECT scale(1) FROM m")
        .unwrap_err()
        .message
        .contains("takes 2 arguments"));
}
