//! `?` parameters: values bound in order through `execute_with`, never formatted into the
//! text; a wrong count is an error naming where, before anything runs.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_engine::{Database, Value};
use tensormap_query::{Pos, Session};

fn session() -> Session {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute("CREATE MAP m WITH (channels = 3, bounds = 100)")
        .unwrap();
    s
}

#[test]
fn values_of_every_kind_bind_in_order() {
    let mut s = session();
    let emb = Value::vector(&[0.25, -1.0, 1e-7]);
    let r = s
        .execute_with(
            "INSERT INTO m (id, type, position, embedding, confidence) VALUES (?, ?, ?, ?, ?), (?, 'x', [1, 1, 1], ?, 1)",
            &[
                Value::text("it's; -- not SQL"),
                Value::text("cube"),
                Value::vector(&[1.0, 2.0, 3.0]),
                emb.clone(),
                Value::Number(0.83),
                Value::text("b"),
                Value::vector(&[0.0, 0.0, 1.0]),
            ],
        )
        .unwrap();
    assert_eq!(r[0].status, "INSERT 2");
    let r = s
        .execute_with(
            "SELECT id, embedding, confidence FROM m WHERE WITHIN(position, ?, ?) AND type = ? AND ? IS NULL",
            &[Value::vector(&[1.0, 2.0, 2.0]), Value::Number(1.0), Value::text("cube"), Value::Null],
        )
        .unwrap();
    assert_eq!(
        r[0].rows,
        vec![vec![
            Value::text("it's; -- not SQL"),
            emb,
            Value::Number(0.83)
        ]]
    );
    // Parameters are numbered through a whole script.
    let r = s
        .execute_with(
            "UPDATE m SET confidence = ? WHERE id = ?; SELECT confidence FROM m WHERE id = ?",
            &[Value::Number(0.5), Value::text("b"), Value::text("b")],
        )
        .unwrap();
    assert_eq!(r[1].rows, vec![vec![Value::Number(0.5)]]);
}

#[test]
fn a_wrong_count_names_the_position_and_runs_nothing() {
    let mut s = session();
    let e = s
        .execute_with(
            "INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], [0, 0, 0]);\nSELECT ? + ?",
            &[Value::Number(1.0)],
        )
        .unwrap_err();
    assert_eq!(e.pos, Pos { line: 2, col: 12 });
    assert_eq!(e.message, "the statement has 2 parameters, 1 value given");
    let e = s.execute_with("SELECT 1", &[Value::Null]).unwrap_err();
    assert_eq!(e.message, "the statement has 0 parameters, 1 value given");
    assert_eq!(
        s.execute("SELECT COUNT(*) FROM m").unwrap()[0].rows[0][0],
        Value::Number(0.0)
    );
    // A value of the wrong type is an error where its `?` is.
    s.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], [0, 0, 0])")
        .unwrap();
    let e = s
        .execute_with(
            "SELECT id FROM m WHERE WITHIN(position, ?, 1)",
            &[Value::text("x")],
        )
        .unwrap_err();
    assert_eq!(e.pos, Pos { line: 1, col: 41 });
    assert!(e.message.contains("expects a vector"), "{e}");
}
