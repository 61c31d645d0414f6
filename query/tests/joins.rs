//! Spatial joins against brute force on seeded maps: every pair within r, with filters on
//! either side, LEFT joins, nearest pairs with LIMIT, and the plan each one gets.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{Database, MapConfig, Object, Value};
use tensormap_query::{QueryResult, Session};

const KINDS: [&str; 3] = ["cube", "sphere", "cone"];

fn objects(rng: &mut ChaCha8Rng, prefix: &str, n: usize, spread: f32) -> Vec<Object> {
    (0..n)
        .map(|i| {
            let p = [
                rng.random_range(-spread..spread),
                rng.random_range(-spread..spread),
                rng.random_range(-spread..spread),
            ];
            Object::new(
                format!("{prefix}{i:04}"),
                KINDS[rng.random_range(0..KINDS.len())],
                p,
                vec![rng.random_range(-1.0..1.0); 2],
            )
            .with_confidence(rng.random_range(0.0..1.0))
        })
        .collect()
}

/// Maps `a` (small) and `b` (larger), loaded in two commits each so that b's index has
/// several segments, and a few of b's objects deleted.
fn setup(seed: u64) -> (Session, Vec<Object>, Vec<Object>) {
    let db = Database::open_in_memory().unwrap();
    let cfg = MapConfig {
        channels: 2,
        resolution: 16,
        bounds: 100.0,
        ..Default::default()
    };
    db.create_map("a", cfg.clone()).unwrap();
    db.create_map("b", cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = objects(&mut rng, "a", 60, 100.0);
    let mut b = objects(&mut rng, "b", 900, 100.0);
    for (map, objs) in [("a", &a), ("b", &b)] {
        for half in objs.chunks(objs.len() / 2 + 1) {
            let mut t = db.begin_write().unwrap();
            for o in half {
                t.insert(map, o.clone()).unwrap();
            }
            t.commit().unwrap();
        }
    }
    let mut t = db.begin_write().unwrap();
    for o in b.iter().step_by(7) {
        t.delete("b", &o.id).unwrap();
    }
    t.commit().unwrap();
    b = b
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 0)
        .map(|(_, o)| o)
        .collect();
    (Session::new(db), a, b)
}

fn one(s: &mut Session, sql: &str) -> QueryResult {
    s.execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .pop()
        .unwrap()
}

fn d2(p: [f32; 3], q: [f32; 3]) -> f32 {
    (0..3).map(|i| (p[i] - q[i]) * (p[i] - q[i])).sum()
}

fn ids(r: &QueryResult) -> Vec<(String, String)> {
    r.rows
        .iter()
        .map(|row| (row[0].to_string(), row[1].to_string()))
        .collect()
}

fn plan(s: &mut Session, sql: &str) -> String {
    one(s, &format!("EXPLAIN {sql}"))
        .rows
        .iter()
        .map(|r| r[0].to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn distance_joins_match_every_pair_within_r() {
    for seed in 0..4 {
        let (mut s, a, b) = setup(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        for round in 0..6 {
            let r: f32 = rng.random_range(1.0..30.0);
            let kind = KINDS[round % 3];
            let min_conf: f64 = rng.random_range(0.0..0.8);
            // Both argument orders of WITHIN; filters on each side; the small map first or
            // second in FROM (the planner drives with the smaller one either way).
            let forms = [
                format!("SELECT x.id, y.id FROM a x JOIN b y ON WITHIN(y.position, x.position, {r:?})"),
                format!("SELECT x.id, y.id FROM a x JOIN b y ON WITHIN(x.position, y.position, {r:?}) WHERE y.type = '{kind}' AND x.confidence >= {min_conf:?}"),
                format!("SELECT x.id, y.id FROM b y JOIN a x ON WITHIN(y.position, x.position, {r:?}) AND y.type = '{kind}' WHERE x.confidence >= {min_conf:?}"),
                format!("SELECT x.id, y.id FROM a x, b y WHERE WITHIN(x.position, y.position, {r:?}) AND y.type = '{kind}' AND x.confidence >= {min_conf:?}"),
            ];
            let mut want_all = Vec::new();
            let mut want_filtered = Vec::new();
            for x in &a {
                for y in &b {
                    if d2(x.position, y.position) <= r * r {
                        want_all.push((x.id.clone(), y.id.clone()));
                        if y.kind == kind && tensormap_engine::widen_f32(x.confidence) >= min_conf {
                            want_filtered.push((x.id.clone(), y.id.clone()));
                        }
                    }
                }
            }
            want_all.sort();
            want_filtered.sort();
            for (i, sql) in forms.iter().enumerate() {
                let got = ids(&one(&mut s, sql));
                let mut want = if i == 0 {
                    want_all.clone()
                } else {
                    want_filtered.clone()
                };
                // Rows come in the tie order: the ids of the maps in FROM order.
                if i == 2 {
                    want.sort_by(|p, q| (&p.1, &p.0).cmp(&(&q.1, &q.0)));
                }
                assert_eq!(got, want, "seed {seed}: {sql}");
                assert!(
                    plan(&mut s, sql).contains("Index nested-loop join"),
                    "{sql}"
                );
            }
            // LIMIT over joined rows ordered by distance: the nearest pairs within r.
            let sql = format!("SELECT x.id, y.id, DISTANCE(x.position, y.position) AS d FROM a x JOIN b y ON WITHIN(y.position, x.position, {r:?}) ORDER BY d, x.id, y.id LIMIT 7 OFFSET 2");
            let mut want: Vec<(f64, String, String)> = want_all
                .iter()
                .map(|(x, y)| {
                    let px = a.iter().find(|o| o.id == *x).unwrap().position;
                    let py = b.iter().find(|o| o.id == *y).unwrap().position;
                    ((d2(px, py) as f64).sqrt(), x.clone(), y.clone())
                })
                .collect();
            want.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)).then(p.2.cmp(&q.2)));
            let got = ids(&one(&mut s, &sql));
            let want: Vec<(String, String)> = want
                .into_iter()
                .skip(2)
                .take(7)
                .map(|(_, x, y)| (x, y))
                .collect();
            assert_eq!(got, want, "{sql}");
            // LEFT JOIN: every row of a, NULL where it has no pair.
            let sql = format!("SELECT x.id, COUNT(y.id) FROM a x LEFT JOIN b y ON WITHIN(y.position, x.position, {r:?}) GROUP BY x.id");
            let got = one(&mut s, &sql);
            assert_eq!(got.rows.len(), a.len());
            for row in &got.rows {
                let n = want_all
                    .iter()
                    .filter(|(x, _)| *x == row[0].to_string())
                    .count();
                assert_eq!(row[1], Value::Number(n as f64), "{sql}");
            }
        }
    }
}

#[test]
fn nearest_pairs_match_brute_force() {
    let (mut s, a, b) = setup(9);
    for (k, kind) in [(1, "cube"), (5, "sphere"), (40, "cone")] {
        let sql = format!("SELECT x.id, y.id FROM a x JOIN b y ON y.type = '{kind}' ORDER BY DISTANCE(x.position, y.position) LIMIT {k}");
        let mut all: Vec<(f32, String, String)> = Vec::new();
        for x in &a {
            for y in b.iter().filter(|y| y.kind == kind) {
                all.push((d2(x.position, y.position), x.id.clone(), y.id.clone()));
            }
        }
        all.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)).then(p.2.cmp(&q.2)));
        let want: Vec<(String, String)> = all.into_iter().take(k).map(|(_, x, y)| (x, y)).collect();
        assert_eq!(ids(&one(&mut s, &sql)), want, "{sql}");
        assert!(plan(&mut s, &sql).contains("R-tree nearest"), "{sql}");
    }
}

#[test]
fn other_conditions_are_a_nested_loop_with_the_same_answers() {
    let (mut s, a, b) = setup(3);
    let sql = "SELECT x.id, y.id FROM a x JOIN b y ON x.type = y.type AND DISTANCE(x.position, y.position) < 12";
    let mut want = Vec::new();
    for x in &a {
        for y in &b {
            if x.kind == y.kind && (d2(x.position, y.position) as f64).sqrt() < 12.0 {
                want.push((x.id.clone(), y.id.clone()));
            }
        }
    }
    want.sort();
    assert_eq!(ids(&one(&mut s, sql)), want);
    assert!(plan(&mut s, sql).contains("Nested-loop join (inner)"));
}
