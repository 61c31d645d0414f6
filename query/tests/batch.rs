//! Batch functions in the executor: a batch function over many rows is called once per
//! stage (not once per row), a call with constant arguments once per statement; values
//! land on the right rows through ORDER BY, GROUP BY and aggregates. Model statements
//! without a model host are a clear error.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tensormap_engine::{CallContext, Database, Value};
use tensormap_query::Session;

/// A session on a map of `n` objects with ids `o000…`, x = i, and a batch function
/// `twice(x)` = 2x counting its calls and the rows they carried, and `ctx_bounds()`.
fn setup(n: usize) -> (Session, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let db = Database::open_in_memory().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let rows = Arc::new(AtomicUsize::new(0));
    let (c, r) = (calls.clone(), rows.clone());
    db.functions().register_batch(
        "twice",
        1,
        1,
        Arc::new(move |args: &[Vec<Value>], _: &CallContext| {
            c.fetch_add(1, Ordering::SeqCst);
            r.fetch_add(args.len(), Ordering::SeqCst);
            args.iter()
                .map(|a| match &a[0] {
                    Value::Number(x) => Ok(Value::Number(2.0 * x)),
                    Value::Text(s) => Ok(Value::text(&format!("{s}{s}"))),
                    other => Err(format!("twice of a {}", other.type_name()).into()),
                })
                .collect()
        }),
    );
    db.functions().register_batch(
        "ctx_bounds",
        0,
        0,
        Arc::new(|args: &[Vec<Value>], ctx: &CallContext| {
            Ok(args
                .iter()
                .map(|_| ctx.bounds.map_or(Value::Null, Value::Number))
                .collect())
        }),
    );
    let mut s = Session::new(db);
    s.execute("CREATE MAP m WITH (channels = 2, bounds = 1000)")
        .unwrap();
    let values: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "('o{i:03}', '{}', [{i}, 0, 0], [1, 0])",
                ["a", "b", "c"][i % 3]
            )
        })
        .collect();
    s.execute(&format!(
        "INSERT INTO m (id, type, position, embedding) VALUES {}",
        values.join(", ")
    ))
    .unwrap();
    (s, calls, rows)
}

#[test]
fn a_batch_function_runs_once_over_the_rows_of_a_stage() {
    let (mut s, calls, rows) = setup(300);
    let r = s
        .execute("SELECT id, twice(x) AS t FROM m ORDER BY t DESC LIMIT 3")
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(rows.load(Ordering::SeqCst), 300);
    let got: Vec<(String, Value)> = r[0]
        .rows
        .iter()
        .map(|row| (row[0].to_string(), row[1].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("o299".to_string(), Value::Number(598.0)),
            ("o298".to_string(), Value::Number(596.0)),
            ("o297".to_string(), Value::Number(594.0)),
        ]
    );

    // Without ORDER BY the rows come in id order and each value is its own row's.
    calls.store(0, Ordering::SeqCst);
    let r = s.execute("SELECT id, x, twice(x) + 1 FROM m").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for row in &r[0].rows {
        let (Value::Number(x), Value::Number(t)) = (&row[1], &row[2]) else {
            panic!()
        };
        assert_eq!(*t, 2.0 * x + 1.0);
    }

    // In an aggregate over groups: still one call; the sums are right.
    calls.store(0, Ordering::SeqCst);
    let r = s
        .execute("SELECT type, SUM(twice(x)), SUM(x) FROM m GROUP BY type")
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for row in &r[0].rows {
        let (Value::Number(a), Value::Number(b)) = (&row[1], &row[2]) else {
            panic!()
        };
        assert_eq!(*a, 2.0 * b);
    }

    // Nested: the inner call over the rows first, then the outer on its values.
    calls.store(0, Ordering::SeqCst);
    let r = s
        .execute("SELECT twice(twice(x)) FROM m WHERE id = 'o007'")
        .unwrap();
    assert_eq!(r[0].rows[0][0], Value::Number(28.0));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // UPDATE's SET: one call over every row it updates, each row its own value.
    calls.store(0, Ordering::SeqCst);
    rows.store(0, Ordering::SeqCst);
    let r = s
        .execute("UPDATE m SET confidence = twice(x) / 1000 WHERE x < 100")
        .unwrap();
    assert_eq!(r[0].status, "UPDATE 100");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(rows.load(Ordering::SeqCst), 100);
    let r = s
        .execute("SELECT confidence FROM m WHERE id IN ('o000', 'o042', 'o099', 'o100')")
        .unwrap();
    let got: Vec<String> = r[0].rows.iter().map(|row| row[0].to_string()).collect();
    assert_eq!(got, ["0", "0.084", "0.198", "1"]);

    // The map's bounds reach the function.
    let r = s.execute("SELECT ctx_bounds() FROM m LIMIT 1").unwrap();
    assert_eq!(r[0].rows[0][0], Value::Number(1000.0));
    let r = s.execute("SELECT ctx_bounds()").unwrap();
    assert_eq!(r[0].rows[0][0], Value::Null);
}

#[test]
fn a_batch_call_in_where_runs_once_over_the_candidates() {
    let (mut s, calls, rows) = setup(300);
    // The index answers the WITHIN (x ≤ 150) and the map's own filter keeps type 'a' (51
    // rows); the batch call runs once over those.
    let r = s
        .execute(
            "SELECT id FROM m WHERE WITHIN(position, [0, 0, 0], 150) AND twice(x) > 250 \
             AND type = 'a' ORDER BY x",
        )
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(rows.load(Ordering::SeqCst), 51);
    let got: Vec<String> = r[0].rows.iter().map(|row| row[0].to_string()).collect();
    // Brute force: x in 126..=150 with x % 3 == 0.
    let want: Vec<String> = (126..=150)
        .filter(|x| x % 3 == 0)
        .map(|x| format!("o{x:03}"))
        .collect();
    assert_eq!(got, want);

    // With a batch call in the SELECT list too: one call each, values on the right rows.
    calls.store(0, Ordering::SeqCst);
    let r = s
        .execute("SELECT x, twice(x + 1) FROM m WHERE twice(x) < 10 OR twice(x) >= 594")
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let got: Vec<(String, String)> = r[0]
        .rows
        .iter()
        .map(|row| (row[0].to_string(), row[1].to_string()))
        .collect();
    let want: Vec<(String, String)> = [0, 1, 2, 3, 4, 297, 298, 299]
        .iter()
        .map(|x| (x.to_string(), (2 * (x + 1)).to_string()))
        .collect();
    assert_eq!(got, want);

    // ORDER BY DISTANCE ... LIMIT still gives k rows when a batch call filters them.
    let r = s
        .execute(
            "SELECT id FROM m WHERE twice(x) > 100 ORDER BY DISTANCE(position, [0, 0, 0]) \
             LIMIT 3",
        )
        .unwrap();
    let got: Vec<String> = r[0].rows.iter().map(|row| row[0].to_string()).collect();
    assert_eq!(got, ["o051", "o052", "o053"]);

    // In a join, over the joined tuples.
    calls.store(0, Ordering::SeqCst);
    let r = s
        .execute(
            "SELECT a.id, b.id FROM m a JOIN m b ON WITHIN(b.position, a.position, 1) \
             WHERE a.x < 3 AND twice(a.x + b.x) = 6",
        )
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let mut got: Vec<String> = r[0]
        .rows
        .iter()
        .map(|row| format!("{}-{}", row[0], row[1]))
        .collect();
    got.sort();
    assert_eq!(got, ["o001-o002", "o002-o001"]);
}

#[test]
fn a_call_with_constant_arguments_is_computed_once_per_statement() {
    let (mut s, calls, _) = setup(200);
    let r = s
        .execute("SELECT id, twice(21) AS t, x + twice(1) FROM m WHERE x > twice(50)")
        .unwrap();
    assert_eq!(r[0].rows.len(), 99);
    assert_eq!(r[0].rows[0][1], Value::Number(42.0));
    // One call for each of the three constant calls, whatever the rows.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    calls.store(0, Ordering::SeqCst);
    let values: Vec<String> = (0..50)
        .map(|i| format!("('n{i}', 'x', [twice(2), 0, 0], [1, 0])"))
        .collect();
    s.execute(&format!(
        "INSERT INTO m (id, type, position, embedding) VALUES {}",
        values.join(", ")
    ))
    .unwrap();
    // 50 rows, one call per written call (each has its own position in the text)...
    assert_eq!(calls.load(Ordering::SeqCst), 50);
    calls.store(0, Ordering::SeqCst);
    // ...and a statement repeated with the same call text computes it once per run.
    for _ in 0..3 {
        s.execute("SELECT COUNT(*) FROM m WHERE x < twice(3)")
            .unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn batch_errors_name_the_call_and_change_nothing() {
    let (mut s, _, _) = setup(10);
    let e = s.execute("SELECT twice(position) FROM m").unwrap_err();
    assert_eq!(e.to_string(), "error at 1:8: twice: twice of a vector");
    let e = s.execute("SELECT twice(x, 2) FROM m").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error at 1:8: twice takes 1 arguments, found 2"
    );
    let e = s
        .execute("UPDATE m SET x = twice(position) WHERE id = 'o001'")
        .unwrap_err();
    assert_eq!(e.to_string(), "error at 1:18: twice: twice of a vector");
    let r = s.execute("SELECT x FROM m WHERE id = 'o001'").unwrap();
    assert_eq!(r[0].rows[0][0], Value::Number(1.0));
}

#[test]
fn model_statements_without_a_host_are_an_error() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    for sql in [
        "CREATE MODEL m",
        "LOAD MODEL m FROM 'x.vllm'",
        "TRAIN MODEL m ON s",
        "SAVE MODEL m TO 'x.vllm'",
    ] {
        let e = s.execute(sql).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("error at 1:1: this program runs no models"),
            "{sql}: {e}"
        );
    }
    // SHOW and DROP work on the catalog alone.
    let r = s.execute("SHOW MODELS").unwrap();
    assert!(r[0].rows.is_empty());
    let e = s.execute("DROP MODEL m").unwrap_err();
    assert_eq!(e.to_string(), "error at 1:1: no model named 'm'");
    s.execute("DROP MODEL IF EXISTS m").unwrap();
}
