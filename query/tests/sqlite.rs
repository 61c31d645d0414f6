//! The plain-SQL forms against SQLite: the same seeded rows in a tensormap map and in a
//! SQLite table, and a few hundred generated queries over the non-spatial columns (id,
//! type, x, y, z, confidence, and the user columns label TEXT, score REAL and n INTEGER,
//! each NULL in some rows) that must give the same answers.
//!
//! Stored numbers are exact in both (positions are multiples of 0.5; confidences have two
//! decimals, which tensormap reads as the decimal: see `widen_f32`). Number literals are
//! written with a decimal point so that SQLite does REAL arithmetic, as TensorQL always
//! does; divisors are non-zero constants (SQLite returns NULL for a division by zero,
//! TensorQL an error). Rows are compared in order where ORDER BY makes it total (every
//! ORDER BY ends with id), as multisets otherwise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::ValueRef;
use tensormap_engine::user::{Cell, ColumnDef, ColumnType};
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

    fn num(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.random_bool(0.35);
        if leaf {
            return if self.rng.random_bool(0.7) {
                self.pick(&["x", "y", "z", "confidence", "score", "n"])
                    .to_string()
            } else {
                self.lit()
            };
        }
        let d = depth - 1;
        match self.rng.random_range(0..11) {
            0 => format!("({} + {})", self.num(d), self.num(d)),
            1 => format!("({} - {})", self.num(d), self.num(d)),
            2 => format!("({} * {})", self.num(d), self.num(d)),
            3 => format!(
                "({} / {})",
                self.num(d),
                self.pick(&["2.0", "-4.0", "0.5", "3.0"])
            ),
            4 => format!("-({})", self.num(d)),
            5 => format!("ABS({})", self.num(d)),
            6 => format!("ROUND({})", self.pick(&["x", "y", "(z * 0.5)", "(x - y)"])),
            7 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.pred(d),
                self.num(d),
                self.num(d)
            ),
            8 => format!(
                "COALESCE(CASE WHEN {} THEN {} END, {})",
                self.pred(d),
                self.num(d),
                self.num(d)
            ),
            9 => format!("CAST({} AS INTEGER)", self.num(d)),
            _ => format!(
                "CASE {} WHEN 'cube' THEN {} WHEN 'cone' THEN {} END",
                self.text(0),
                self.num(d),
                self.num(d)
            ),
        }
    }

    fn text(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.random_bool(0.4);
        if leaf {
            return self
                .pick(&["id", "type", "type", "label", "'cube'", "'Sphere'", "'x'"])
                .to_string();
        }
        let d = depth - 1;
        match self.rng.random_range(0..7) {
            0 => format!("UPPER({})", self.text(d)),
            1 => format!("LOWER({})", self.text(d)),
            2 => format!(
                "SUBSTR({}, {}, {})",
                self.text(d),
                self.rng.random_range(-3..4),
                self.rng.random_range(0..4)
            ),
            3 => format!("({} || {})", self.text(d), self.text(d)),
            4 => format!("NULLIF(type, '{}')", self.pick(&KINDS)),
            5 => format!("IFNULL(NULLIF(type, 'cone'), {})", self.text(d)),
            _ => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.pred(d),
                self.text(d),
                self.text(d)
            ),
        }
    }

    fn pred(&mut self, depth: u32) -> String {
        let leaf = depth == 0 || self.rng.random_bool(0.3);
        let d = depth.saturating_sub(1);
        let op = self.pick(&["=", "!=", "<", "<=", ">", ">="]);
        if leaf {
            return match self.rng.random_range(0..3) {
                0 => format!(
                    "{} {op} {}",
                    self.pick(&["x", "y", "z", "confidence"]),
                    self.lit()
                ),
                1 => format!("type = '{}'", self.pick(&KINDS)),
                _ => format!(
                    "confidence > {:.2}",
                    self.rng.random_range(0..100) as f64 / 100.0
                ),
            };
        }
        match self.rng.random_range(0..11) {
            0 => format!("{} {op} {}", self.num(d), self.num(d)),
            1 => format!("{} {op} {}", self.text(d), self.text(d)),
            2 => format!(
                "{} {}LIKE '{}'",
                self.text(d),
                self.pick(&["", "NOT "]),
                self.pick(&["c%", "%e", "_u%", "%O%", "s_here", "%"])
            ),
            3 => {
                let (a, b) = (self.lit(), self.lit());
                format!(
                    "{} {}BETWEEN {a} AND {b}",
                    self.num(d),
                    self.pick(&["", "NOT "])
                )
            }
            4 => format!("NOT ({})", self.pred(d)),
            5 => format!("({} AND {})", self.pred(d), self.pred(d)),
            6 => format!("({} OR {})", self.pred(d), self.pred(d)),
            7 => format!("type {}IN ('cube', 'cone', NULL)", self.pick(&["", "NOT "])),
            8 => format!("{} IS {}NULL", self.text(d), self.pick(&["", "NOT "])),
            9 => format!("{} IN ({}, {}, 1.5)", self.num(d), self.lit(), self.lit()),
            _ => format!(
                "(CASE WHEN {} THEN NULL ELSE {} END) IS NULL",
                self.pred(d),
                self.num(d)
            ),
        }
    }

    /// A query and whether its row order is defined.
    fn query(&mut self) -> (String, bool) {
        let w = self.pred(3);
        match self.rng.random_range(0..6) {
            0 => {
                let k = self.rng.random_range(0..20);
                let o = self.rng.random_range(0..5);
                let desc = self.pick(&["", " DESC"]);
                (
                    format!(
                        "SELECT id, {}, {} FROM s WHERE {w} ORDER BY {} + z{desc}, id LIMIT {k} OFFSET {o}",
                        self.num(2),
                        self.text(2),
                        self.num(1)
                    ),
                    true,
                )
            }
            1 => (
                format!("SELECT {}, {} FROM s WHERE {w}", self.num(3), self.text(2)),
                false,
            ),
            2 => (
                format!("SELECT DISTINCT {} FROM s WHERE {w}", self.text(2)),
                false,
            ),
            3 => {
                let having = if self.rng.random_bool(0.5) {
                    format!(" HAVING COUNT(*) > {}", self.rng.random_range(0..12))
                } else {
                    String::new()
                };
                (
                    format!(
                        "SELECT type, COUNT(*), SUM({}), AVG({}), MIN({}), MAX({}), COUNT(DISTINCT {}) FROM s WHERE {w} GROUP BY type{having}",
                        self.num(2),
                        self.num(1),
                        self.num(1),
                        self.text(1),
                        self.text(1)
                    ),
                    false,
                )
            }
            4 => (
                format!(
                    "SELECT COUNT(*), SUM({}), AVG({}), MIN({}), MAX({}) FROM s WHERE {w}",
                    self.num(2),
                    self.num(2),
                    self.text(1),
                    self.num(1)
                ),
                false,
            ),
            _ => {
                let l: Vec<String> = (0..6).map(|_| self.lit()).collect();
                (
                    format!(
                        "SELECT ({} + {}) * {}, ROUND({} / 4.0), CASE WHEN {} > {} THEN 'a' END, COALESCE(NULL, {}), UPPER('ab') || LOWER('CD')",
                        l[0], l[1], l[2], l[3], l[4], l[5], l[0]
                    ),
                    true,
                )
            }
        }
    }
}

#[test]
fn generated_queries_give_the_answers_sqlite_gives() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let db = Database::open_in_memory().unwrap();
    let column = |name: &str, ty| ColumnDef {
        id: 0,
        name: name.to_string(),
        ty,
        not_null: false,
        default: Cell::Null,
    };
    let mut t = db.begin_write().unwrap();
    t.create_map_with_columns(
        "s",
        MapConfig {
            channels: 1,
            resolution: 8,
            bounds: 20.0,
            ..Default::default()
        },
        vec![
            column("label", ColumnType::Text),
            column("score", ColumnType::Real),
            column("n", ColumnType::Integer),
        ],
    )
    .unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(
        "CREATE TABLE s (id TEXT, type TEXT, x REAL, y REAL, z REAL, confidence REAL, label TEXT, score REAL, n INTEGER)",
    )
    .unwrap();
    for i in 0..80 {
        let p: [f32; 3] = std::array::from_fn(|_| rng.random_range(-30..30) as f32 * 0.5);
        let kind = KINDS[rng.random_range(0..KINDS.len())];
        let conf = rng.random_range(0..=100) as f64 / 100.0;
        let id = format!("o{i}");
        t.insert(
            "s",
            Object::new(&id, kind, p, vec![0.0]).with_confidence(conf as f32),
        )
        .unwrap();
        // The user columns: NULL in about a quarter of the rows each.
        let label = ["red", "blue", "Cone"][rng.random_range(0..3)];
        let label = rng.random_bool(0.75).then_some(label);
        let score = rng
            .random_bool(0.75)
            .then(|| rng.random_range(-40..40) as f64 * 0.25);
        let n = rng.random_bool(0.75).then(|| rng.random_range(-6..7i64));
        t.set_values(
            "s",
            &id,
            vec![
                (0, label.map_or(Cell::Null, |l| Cell::Text(l.to_string()))),
                (1, score.map_or(Cell::Null, Cell::Real)),
                (2, n.map_or(Cell::Null, Cell::Integer)),
            ],
        )
        .unwrap();
        lite.execute(
            "INSERT INTO s VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                id,
                kind,
                p[0] as f64,
                p[1] as f64,
                p[2] as f64,
                conf,
                label,
                score,
                n
            ],
        )
        .unwrap();
    }
    t.commit().unwrap();
    let mut session = Session::new(db);
    let mut gen = Gen { rng };
    let mut compared = 0;
    let mut nonempty = 0;
    for _ in 0..400 {
        let (sql, ordered) = gen.query();
        let got = match session.execute(&sql) {
            Ok(mut r) => r.pop().unwrap(),
            Err(e) => panic!("{sql}: {e}"),
        };
        let mut stmt = lite
            .prepare(&sql)
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
            // A key that ignores the last bits of a number (and the sign of zero).
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
        compared += 1;
        nonempty += usize::from(!want.is_empty());
    }
    assert_eq!(compared, 400);
    // The generator must not drift into queries that select nothing.
    assert!(nonempty > 250, "only {nonempty} queries had rows");
}
