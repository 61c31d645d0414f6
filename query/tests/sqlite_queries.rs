//! Subqueries, WITH, compound queries and window functions against SQLite: the same
//! seeded rows in two tensormap maps and two SQLite tables, and generated statements
//! (proptest draws a seed per statement; the generator builds the statement from it) that
//! must give the same answers.
//!
//! Stored numbers are exact in both (multiples of 0.5, confidences of two decimals read as
//! the decimal); every literal has a decimal point so that SQLite does REAL arithmetic. A
//! scalar subquery returns at most one row (an aggregate, or ORDER BY ... LIMIT 1), and
//! every window ORDER BY that decides a value ends with id (RANK, DENSE_RANK and the
//! default RANGE frame depend on peers only, so they are left without it to test peers).
//! NULLs come from NULLIF and CASE. Rows are compared in order where ORDER BY makes it
//! total, as multisets otherwise.
//!
//! `cargo test` runs 1,500 statements (a few seconds); `TQL_SQLITE_CASES=20000` runs more.

// The fixture and comparison helpers are not test functions; they may unwrap as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Mutex, OnceLock};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::ValueRef;
use tensormap_engine::{Database, MapConfig, Object, Value};
use tensormap_query::Session;

const KINDS: [&str; 4] = ["cube", "sphere", "cone", "Cuboid"];

#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Num(f64),
    Text(String),
}

fn same(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Num(x), V::Num(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn ours(v: &Value) -> V {
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => V::Num(*n),
        Value::Text(s) => V::Text(s.to_string()),
        Value::Vector(_) => panic!("no vectors here"),
    }
}

fn theirs(v: ValueRef<'_>) -> V {
    match v {
        ValueRef::Null => V::Null,
        ValueRef::Integer(i) => V::Num(i as f64),
        ValueRef::Real(f) => V::Num(f),
        ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => panic!("no blobs here"),
    }
}

/// Builds one statement from a seed.
struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.random_range(0..from.len())]
    }

    fn lit(&mut self) -> String {
        format!("{:.1}", self.rng.random_range(-20..20) as f64 * 0.5)
    }

    /// A number over table `t`'s columns (qualified when `t` is given).
    fn num(&mut self, t: &str) -> String {
        let col = |c: &str| {
            if t.is_empty() {
                c.to_string()
            } else {
                format!("{t}.{c}")
            }
        };
        match self.rng.random_range(0..6) {
            0 => col(self.pick(&["x", "y", "z"])),
            1 => format!("({} + {})", col("x"), col("y")),
            2 => format!("({} - {})", col(self.pick(&["y", "z"])), self.lit()),
            3 => format!("({} * 2.0)", col("z")),
            4 => col("confidence"),
            _ => format!(
                "CASE WHEN {} > {} THEN NULL ELSE {} END",
                col("x"),
                self.lit(),
                col("y")
            ),
        }
    }

    /// A condition on table `t`.
    fn pred(&mut self, t: &str) -> String {
        let q = |c: &str| {
            if t.is_empty() {
                c.to_string()
            } else {
                format!("{t}.{c}")
            }
        };
        match self.rng.random_range(0..6) {
            0 => format!(
                "{} {} {}",
                self.num(t),
                self.pick(&["<", ">", "<=", ">=", "!="]),
                self.lit()
            ),
            1 => format!("{} = '{}'", q("type"), self.pick(&KINDS)),
            2 => format!("{} != '{}'", q("type"), self.pick(&KINDS)),
            3 => format!(
                "({} OR {} > {})",
                self.pred_leaf(t),
                q("confidence"),
                self.rng.random_range(0..100) as f64 / 100.0
            ),
            4 => format!("{} IS NOT NULL", self.num(t)),
            _ => "1 = 1".to_string(),
        }
    }

    fn pred_leaf(&mut self, t: &str) -> String {
        let col = if t.is_empty() {
            "x".to_string()
        } else {
            format!("{t}.x")
        };
        format!("{col} < {}", self.lit())
    }

    /// A frame clause (or none).
    fn frame(&mut self) -> String {
        match self.rng.random_range(0..6) {
            0 => String::new(),
            1 => format!(
                " ROWS BETWEEN {} PRECEDING AND CURRENT ROW",
                self.rng.random_range(0..4)
            ),
            2 => format!(
                " ROWS BETWEEN {} PRECEDING AND {} FOLLOWING",
                self.rng.random_range(0..3),
                self.rng.random_range(0..3)
            ),
            3 => " ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING".to_string(),
            4 => " ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".to_string(),
            _ => " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING".to_string(),
        }
    }

    /// A window call over `s`'s rows.
    fn window(&mut self) -> String {
        let part = self.pick(&["", "PARTITION BY type ", "PARTITION BY x > 0.0 "]);
        match self.rng.random_range(0..9) {
            0 => format!("ROW_NUMBER() OVER ({part}ORDER BY {}, id)", self.num("")),
            1 => format!(
                "RANK() OVER ({part}ORDER BY {})",
                self.pick(&["type", "x", "y DESC"])
            ),
            2 => format!(
                "DENSE_RANK() OVER ({part}ORDER BY {})",
                self.pick(&["type", "z", "x DESC"])
            ),
            3 => {
                let f = self.pick(&["SUM", "AVG", "COUNT", "MIN", "MAX"]);
                let frame = self.frame();
                format!("{f}({}) OVER ({part}ORDER BY id{frame})", self.num(""))
            }
            4 => {
                // The default frame: peers included.
                let f = self.pick(&["SUM", "COUNT", "MAX"]);
                format!(
                    "{f}({}) OVER ({part}ORDER BY {})",
                    self.num(""),
                    self.pick(&["type", "x"])
                )
            }
            5 => format!(
                "{}({}, {}, {}) OVER ({part}ORDER BY id)",
                self.pick(&["LAG", "LEAD"]),
                self.num(""),
                self.rng.random_range(0..4),
                self.pick(&["NULL", "0.5", "-1.0"])
            ),
            6 => format!("COUNT(*) OVER ({part})"),
            7 => format!(
                "{}({}) OVER ({part}ORDER BY id{})",
                self.pick(&["FIRST_VALUE", "LAST_VALUE"]),
                self.num(""),
                self.frame()
            ),
            _ => format!(
                "{}(*) OVER ({part}ORDER BY {})",
                "COUNT",
                self.pick(&["type", "id"])
            ),
        }
    }

    /// A statement and whether its row order is defined.
    fn statement(&mut self) -> (String, bool) {
        match self.rng.random_range(0..12) {
            0 => (
                format!(
                    "SELECT id, x FROM s WHERE {} AND type {}IN (SELECT type FROM t WHERE {})",
                    self.pred(""),
                    self.pick(&["", "NOT "]),
                    self.pred("t")
                ),
                false,
            ),
            1 => (
                // NOT IN over a column with NULLs: SQL's three-valued logic.
                format!(
                    "SELECT id FROM s WHERE x {}IN (SELECT {} FROM t WHERE {})",
                    self.pick(&["", "NOT "]),
                    self.num("t"),
                    self.pred("t")
                ),
                false,
            ),
            2 => (
                format!(
                    "SELECT id FROM s WHERE {}EXISTS (SELECT 1 FROM t WHERE t.type = s.type AND {} {} s.{})",
                    self.pick(&["", "NOT "]),
                    self.num("t"),
                    self.pick(&["<", ">"]),
                    self.pick(&["x", "y", "z"])
                ),
                false,
            ),
            3 => (
                format!(
                    "SELECT id, (SELECT {}({}) FROM t WHERE t.type = s.type AND {}) AS v FROM s WHERE {} ORDER BY v, id",
                    self.pick(&["COUNT", "SUM", "MAX", "AVG"]),
                    self.num("t"),
                    self.pred("t"),
                    self.pred("")
                ),
                true,
            ),
            4 => (
                format!(
                    "SELECT id, y FROM s WHERE {} {} (SELECT {}({}) FROM t WHERE {}) ORDER BY y, id LIMIT {}",
                    self.num(""),
                    self.pick(&["<", ">="]),
                    self.pick(&["AVG", "MIN", "MAX"]),
                    self.num("t"),
                    self.pred("t"),
                    self.rng.random_range(1..20)
                ),
                true,
            ),
            5 => (
                format!(
                    "SELECT id, (SELECT t.id FROM t WHERE t.x >= s.x ORDER BY t.x, t.id LIMIT 1) FROM s WHERE {}",
                    self.pred("")
                ),
                false,
            ),
            6 => (
                format!(
                    "SELECT k, COUNT(*), SUM(v), MIN(v) FROM (SELECT type AS k, {} AS v FROM s WHERE {}) AS q GROUP BY k",
                    self.num(""),
                    self.pred("")
                ),
                false,
            ),
            7 => (
                format!(
                    "WITH c AS (SELECT id, type, {} AS v FROM s WHERE {}), d AS (SELECT type, COUNT(*) AS n FROM t WHERE {} GROUP BY type) \
                     SELECT c.id, c.v, d.n FROM c JOIN d ON c.type = d.type WHERE c.v IS NOT NULL OR d.n > 3",
                    self.num(""),
                    self.pred(""),
                    self.pred("t")
                ),
                false,
            ),
            8 => {
                let op = self.pick(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]);
                let ordered = self.rng.random_bool(0.5);
                let tail = if ordered {
                    format!(" ORDER BY 2 DESC, 1 LIMIT {}", self.rng.random_range(1..30))
                } else {
                    String::new()
                };
                let third = if self.rng.random_bool(0.3) {
                    format!(
                        " {} SELECT type, x FROM s WHERE {}",
                        self.pick(&["UNION", "EXCEPT", "INTERSECT", "UNION ALL"]),
                        self.pred("")
                    )
                } else {
                    String::new()
                };
                (
                    format!(
                        "SELECT type, {} FROM s WHERE {} {op} SELECT type, x FROM t WHERE {}{third}{tail}",
                        self.pick(&["x", "y", "ROUND(x)"]),
                        self.pred(""),
                        self.pred("t")
                    ),
                    // A UNION ALL keeps equal rows, which the order may not tell apart:
                    // they are equal, so any order of them compares the same.
                    ordered,
                )
            }
            9 | 10 => {
                let w1 = self.window();
                let w2 = self.window();
                (
                    format!("SELECT id, {w1}, {w2} FROM s WHERE {}", self.pred("")),
                    false,
                )
            }
            _ => (
                format!(
                    "SELECT type, COUNT(*), {}(COUNT(*)) OVER (ORDER BY type), RANK() OVER (ORDER BY COUNT(*) DESC) FROM s WHERE {} GROUP BY type",
                    self.pick(&["SUM", "AVG", "MAX"]),
                    self.pred("")
                ),
                false,
            ),
        }
    }
}

struct Both {
    session: Session,
    lite: rusqlite::Connection,
}

fn fixture() -> &'static Mutex<Both> {
    static BOTH: OnceLock<Mutex<Both>> = OnceLock::new();
    BOTH.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let db = Database::open_in_memory().unwrap();
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        for (name, n) in [("s", 60), ("t", 40)] {
            db.create_map(
                name,
                MapConfig {
                    channels: 1,
                    resolution: 8,
                    bounds: 20.0,
                    ..Default::default()
                },
            )
            .unwrap();
            lite.execute_batch(&format!(
                "CREATE TABLE {name} (id TEXT, type TEXT, x REAL, y REAL, z REAL, confidence REAL)"
            ))
            .unwrap();
            let mut t = db.begin_write().unwrap();
            for i in 0..n {
                let p: [f32; 3] = std::array::from_fn(|_| rng.random_range(-30..30) as f32 * 0.5);
                let kind = KINDS[rng.random_range(0..KINDS.len())];
                let conf = rng.random_range(0..=100) as f64 / 100.0;
                let id = format!("{name}{i}");
                t.insert(
                    name,
                    Object::new(&id, kind, p, vec![0.0]).with_confidence(conf as f32),
                )
                .unwrap();
                lite.execute(
                    &format!("INSERT INTO {name} VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    rusqlite::params![id, kind, p[0] as f64, p[1] as f64, p[2] as f64, conf],
                )
                .unwrap();
            }
            t.commit().unwrap();
        }
        Mutex::new(Both {
            session: Session::new(db),
            lite,
        })
    })
}

/// Runs `sql` in both and compares; returns whether SQLite found rows.
fn compare(sql: &str, ordered: bool) -> bool {
    let mut both = fixture().lock().unwrap_or_else(|p| p.into_inner());
    let got = match both.session.execute(sql) {
        Ok(mut r) => r.pop().unwrap(),
        Err(e) => panic!("{sql}: {e}"),
    };
    let mut stmt = both
        .lite
        .prepare(sql)
        .unwrap_or_else(|e| panic!("sqlite: {sql}: {e}"));
    let width = stmt.column_count();
    let mut want: Vec<Vec<V>> = stmt
        .query_map([], |row| {
            Ok((0..width)
                .map(|i| theirs(row.get_ref(i).unwrap()))
                .collect())
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut mine: Vec<Vec<V>> = got
        .rows
        .iter()
        .map(|r| r.iter().map(ours).collect())
        .collect();
    if !ordered {
        let key = |r: &Vec<V>| {
            r.iter()
                .map(|v| match v {
                    V::Num(x) => format!("N{:.6e}", x + 0.0),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
        };
        want.sort_by_key(key);
        mine.sort_by_key(key);
    }
    assert_eq!(
        mine.len(),
        want.len(),
        "{sql}\nours:   {mine:?}\nsqlite: {want:?}"
    );
    for (a, b) in mine.iter().zip(&want) {
        assert!(
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
            "{sql}\nours:   {a:?}\nsqlite: {b:?}"
        );
    }
    !want.is_empty()
}

fn cases() -> u32 {
    std::env::var("TQL_SQLITE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_statements_give_the_answers_sqlite_gives(seed in any::<u64>()) {
        let (sql, ordered) = Gen { rng: ChaCha8Rng::seed_from_u64(seed) }.statement();
        compare(&sql, ordered);
    }
}

#[test]
fn the_generator_finds_rows() {
    // The generator must not drift into statements that select nothing.
    let mut nonempty = 0;
    for seed in 0..300 {
        let (sql, ordered) = Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
        .statement();
        nonempty += usize::from(compare(&sql, ordered));
    }
    assert!(nonempty > 200, "only {nonempty} of 300 statements had rows");
}

/// `INSERT ... ON CONFLICT (id) DO NOTHING | DO UPDATE SET ... [WHERE ...]` statements,
/// random ids (some taken, some repeated inside one statement), applied to both; the
/// tables must stay equal after each. Confidences are quarters, exact in f32 and f64.
#[test]
fn on_conflict_matches_sqlite() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let db = Database::open_in_memory().unwrap();
    db.create_map(
        "u",
        MapConfig {
            channels: 1,
            resolution: 8,
            bounds: 20.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mut session = Session::new(db);
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(
        "CREATE TABLE u (id TEXT PRIMARY KEY, type TEXT, x REAL, y REAL, z REAL, confidence REAL)",
    )
    .unwrap();
    for _ in 0..300 {
        let n = rng.random_range(1..5);
        let mut ours_rows = Vec::new();
        let mut their_rows = Vec::new();
        for _ in 0..n {
            let id = format!("k{}", rng.random_range(0..12));
            let kind = KINDS[rng.random_range(0..KINDS.len())];
            let p: Vec<f64> = (0..3)
                .map(|_| rng.random_range(-30..30) as f64 * 0.5)
                .collect();
            let c = rng.random_range(0..=4) as f64 * 0.25;
            ours_rows.push(format!(
                "('{id}', '{kind}', [{:.1}, {:.1}, {:.1}], [0], {c:.2})",
                p[0], p[1], p[2]
            ));
            their_rows.push(format!(
                "('{id}', '{kind}', {:.1}, {:.1}, {:.1}, {c:.2})",
                p[0], p[1], p[2]
            ));
        }
        let (ours_action, their_action) = match rng.random_range(0..5) {
            0 => ("DO NOTHING".to_string(), "DO NOTHING".to_string()),
            1 => (
                "DO UPDATE SET confidence = excluded.confidence".to_string(),
                "DO UPDATE SET confidence = excluded.confidence".to_string(),
            ),
            2 => (
                "DO UPDATE SET type = u.type || excluded.type, position = excluded.position".to_string(),
                "DO UPDATE SET type = u.type || excluded.type, x = excluded.x, y = excluded.y, z = excluded.z".to_string(),
            ),
            3 => {
                let w = "WHERE excluded.confidence > u.confidence";
                (
                    format!("DO UPDATE SET confidence = (u.confidence + excluded.confidence) / 2.0 {w}"),
                    format!("DO UPDATE SET confidence = (u.confidence + excluded.confidence) / 2.0 {w}"),
                )
            }
            _ => (
                "DO UPDATE SET x = x + 0.5, type = excluded.type".to_string(),
                "DO UPDATE SET x = x + 0.5, type = excluded.type".to_string(),
            ),
        };
        let ours_sql = format!(
            "INSERT INTO u (id, type, position, embedding, confidence) VALUES {} ON CONFLICT (id) {ours_action}",
            ours_rows.join(", ")
        );
        let their_sql = format!(
            "INSERT INTO u (id, type, x, y, z, confidence) VALUES {} ON CONFLICT (id) {their_action}",
            their_rows.join(", ")
        );
        session
            .execute(&ours_sql)
            .unwrap_or_else(|e| panic!("{ours_sql}: {e}"));
        lite.execute_batch(&their_sql)
            .unwrap_or_else(|e| panic!("sqlite: {their_sql}: {e}"));
        let check = "SELECT id, type, x, y, z, confidence FROM u ORDER BY id";
        let mine: Vec<Vec<V>> = session.execute(check).unwrap()[0]
            .rows
            .iter()
            .map(|r| r.iter().map(ours).collect())
            .collect();
        let mut stmt = lite.prepare(check).unwrap();
        let want: Vec<Vec<V>> = stmt
            .query_map([], |row| {
                Ok((0..6).map(|i| theirs(row.get_ref(i).unwrap())).collect())
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(mine, want, "after {ours_sql}");
    }
}
