//! `ALTER MAP m RENAME TO n`: the map and all in it (objects, field, segment files, the
//! field journal) under its new name, in its transaction (ROLLBACK undoes it), and after a
//! reopen; the old name is free; clashes and missing maps are clear errors that change
//! nothing.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_engine::{Database, Value};
use tensormap_query::{ErrorKind, QueryResult, Session};

/// What a map holds, as queries see it: its objects and its field near the origin.
fn content(s: &mut Session, map: &str) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    let objects = s
        .execute(&format!(
            "SELECT id, type, position, embedding, confidence FROM {map} ORDER BY id"
        ))
        .unwrap()
        .remove(0)
        .rows;
    let field = s
        .execute(&format!(
            "SELECT i, j, k, norm FROM VOXELS({map}) WHERE WITHIN(center, [0, 0, 0], 60) ORDER BY i, j, k"
        ))
        .unwrap()
        .remove(0)
        .rows;
    (objects, field)
}

fn names(s: &mut Session) -> Vec<Value> {
    let r: QueryResult = s.execute("SHOW MAPS").unwrap().remove(0);
    r.rows.into_iter().map(|r| r[0].clone()).collect()
}

fn fill(s: &mut Session, map: &str, from: usize, n: usize) {
    let rows: Vec<String> = (from..from + n)
        .map(|i| {
            format!(
                "('o{i}', 't{}', [{}, {}, {}], [{}, 1, 0, 0], 0.5)",
                i % 3,
                (i * 7) % 50,
                (i * 3) % 40,
                i % 30,
                i % 5
            )
        })
        .collect();
    s.execute(&format!(
        "INSERT INTO {map} (id, type, position, embedding, confidence) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
}

#[test]
fn a_renamed_map_keeps_everything_across_commits_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let before = {
        let mut s = Session::new(Database::open(&path).unwrap());
        s.execute("CREATE MAP m WITH (channels = 4, bounds = 100, resolution = 16)")
            .unwrap();
        // Several commits: several segments and a field journal.
        for k in 0..4 {
            fill(&mut s, "m", k * 50, 50);
        }
        s.execute("DELETE FROM m WHERE id = 'o7'").unwrap();
        let before = content(&mut s, "m");
        assert_eq!(before.0.len(), 199);
        assert!(!before.1.is_empty());
        let r = s.execute("ALTER MAP m RENAME TO robots").unwrap();
        assert_eq!(r[0].status, "ALTER MAP");
        assert_eq!(content(&mut s, "robots"), before);
        assert_eq!(names(&mut s), vec![Value::text("robots")]);
        let e = s.execute("SELECT * FROM m").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        // Writes go on under the new name; the old name is free for a new map.
        fill(&mut s, "robots", 1000, 10);
        s.execute("CREATE MAP m WITH (channels = 2)").unwrap();
        s.execute("INSERT INTO m (id, position, embedding) VALUES ('x', [0, 0, 0], [1, 0])")
            .unwrap();
        content(&mut s, "robots")
    };
    let mut s = Session::new(Database::open(&path).unwrap());
    assert_eq!(content(&mut s, "robots"), before);
    assert_eq!(
        s.execute("SELECT id FROM m").unwrap()[0].rows,
        vec![vec![Value::text("x")]]
    );
    s.execute("CHECKPOINT").unwrap();
    assert_eq!(content(&mut s, "robots"), before);
}

#[test]
fn rename_inside_a_transaction_commits_or_rolls_back_with_it() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute("CREATE MAP a WITH (channels = 4, bounds = 100)")
        .unwrap();
    fill(&mut s, "a", 0, 20);
    let before = content(&mut s, "a");
    s.execute("BEGIN; ALTER MAP a RENAME TO b").unwrap();
    fill(&mut s, "b", 100, 5);
    assert_eq!(content(&mut s, "b").0.len(), 25);
    s.execute("ROLLBACK").unwrap();
    assert_eq!(content(&mut s, "a"), before);
    assert_eq!(names(&mut s), vec![Value::text("a")]);
    // Changes made before the rename in the same transaction move with the map; a
    // rename back and forth ends where it began.
    s.execute("BEGIN").unwrap();
    fill(&mut s, "a", 100, 5);
    s.execute("ALTER MAP a RENAME TO b; ALTER MAP b RENAME TO c; COMMIT")
        .unwrap();
    assert_eq!(content(&mut s, "c").0.len(), 25);
    s.execute("ALTER MAP c RENAME TO a; ALTER MAP a RENAME TO c")
        .unwrap();
    assert_eq!(names(&mut s), vec![Value::text("c")]);
}

#[test]
fn bad_renames_are_clear_errors_and_change_nothing() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute("CREATE MAP a WITH (channels = 4); CREATE MAP b WITH (channels = 4)")
        .unwrap();
    fill(&mut s, "a", 0, 3);
    let long = format!("ALTER MAP a RENAME TO {}", "n".repeat(300));
    for (sql, kind) in [
        ("ALTER MAP a RENAME TO b", ErrorKind::Conflict),
        ("ALTER MAP nope RENAME TO c", ErrorKind::NotFound),
        (&long, ErrorKind::InvalidValue),
        ("ALTER MAP a RENAME b", ErrorKind::Syntax),
        ("ALTER TABLE a RENAME TO c", ErrorKind::Syntax),
    ] {
        let e = s.execute(sql).unwrap_err();
        assert_eq!(e.kind, kind, "{sql}: {e}");
    }
    assert_eq!(names(&mut s), vec![Value::text("a"), Value::text("b")]);
    assert_eq!(content(&mut s, "a").0.len(), 3);
}
