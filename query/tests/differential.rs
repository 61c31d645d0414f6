//! Random maps and random queries through TensorQL against brute force computed here.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{widen_f32, Database, MapConfig, Object, Value};
use tensormap_query::{QueryResult, Session};

const KINDS: [&str; 4] = ["cube", "sphere", "torus", "point"];

/// A WHERE clause's text and the same predicate in Rust.
type Filter = Box<dyn Fn(&Object) -> bool>;

fn setup(seed: u64, n: usize) -> (Session, Vec<Object>) {
    let db = Database::open_in_memory().unwrap();
    db.create_map(
        "m",
        MapConfig {
            channels: 4,
            bounds: 100.0,
            resolution: 32,
            ..Default::default()
        },
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut objects = Vec::new();
    let mut txn = db.begin_write().unwrap();
    for i in 0..n {
        let p = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
        let e = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let o = Object::new(format!("o{i:04}"), KINDS[i % 4], p, e)
            .with_confidence(rng.random_range(0.0..1.0));
        txn.insert("m", o.clone()).unwrap();
        objects.push(o);
    }
    txn.commit().unwrap();
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    (Session::new(db), objects)
}

fn one(session: &mut Session, sql: &str) -> QueryResult {
    let mut r = session
        .execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.pop().unwrap()
}

fn ids(r: &QueryResult) -> Vec<String> {
    r.rows.iter().map(|row| row[0].to_string()).collect()
}

fn d2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

fn vec_sql(v: &[f32]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn softmax(objs: &[&Object], q: &[f32]) -> Vec<(f64, String, f64)> {
    let scale = 1.0 / (q.len() as f64).sqrt();
    let s: Vec<f64> = objs
        .iter()
        .map(|o| {
            o.embedding
                .iter()
                .zip(q)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>()
                * scale
        })
        .collect();
    let max = s.iter().cloned().fold(f64::MIN, f64::max);
    let sum: f64 = s.iter().map(|x| (x - max).exp()).sum();
    let mut out: Vec<(f64, String, f64)> = objs
        .iter()
        .zip(&s)
        .map(|(o, x)| (*x, o.id.clone(), (x - max).exp() / sum))
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out
}

#[test]
fn radius_nearest_attention_and_aggregates_match_brute_force() {
    let (mut s, objects) = setup(1, 2000);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for round in 0..60 {
        let c = [0; 3].map(|_| rng.random_range(-110.0f32..110.0));
        let r = rng.random_range(0.0f32..60.0);
        let kind = KINDS[round % 4];

        // Radius search, alone and with a filter.
        let got = ids(&one(
            &mut s,
            &format!(
                "SELECT id FROM m WHERE WITHIN(position, {}, {r:?})",
                vec_sql(&c)
            ),
        ));
        let want: Vec<String> = objects
            .iter()
            .filter(|o| d2(o.position, c) <= r * r)
            .map(|o| o.id.clone())
            .collect();
        assert_eq!(got, want, "radius {c:?} {r}");
        let got = ids(&one(&mut s, &format!(
            "SELECT id FROM m WHERE type = '{kind}' AND WITHIN(position, {}, {r:?}) AND confidence > 0.3",
            vec_sql(&c)
        )));
        let want: Vec<String> = objects
            .iter()
            .filter(|o| {
                o.kind == kind && d2(o.position, c) <= r * r && widen_f32(o.confidence) > 0.3
            })
            .map(|o| o.id.clone())
            .collect();
        assert_eq!(got, want);

        // Nearest neighbours, with and without a filter, with an offset.
        let k = rng.random_range(1..20);
        for (filter, pred) in [("", None), (" WHERE type = 'torus'", Some("torus"))] {
            let sql = format!("SELECT id, DISTANCE(position, {p}) AS d FROM m{filter} ORDER BY DISTANCE(position, {p}) LIMIT {k} OFFSET 2", p = vec_sql(&c));
            let got = one(&mut s, &sql);
            let mut all: Vec<(f64, &str)> = objects
                .iter()
                .filter(|o| pred.is_none_or(|p| o.kind == p))
                .map(|o| ((d2(o.position, c) as f64).sqrt(), o.id.as_str()))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            let want: Vec<&(f64, &str)> = all.iter().skip(2).take(k).collect();
            assert_eq!(got.rows.len(), want.len(), "{sql}");
            for (row, w) in got.rows.iter().zip(&want) {
                let Value::Number(d) = row[1] else {
                    panic!("distance")
                };
                assert!((d - w.0).abs() < 1e-3, "{sql}: {d} vs {}", w.0);
            }
        }

        // Attention: the fast path (no WHERE, or only WITHIN) and the general one (a filter).
        let q: Vec<f32> = (0..4).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let k = rng.random_range(1..10);
        let cases: [(String, Filter); 3] = [
            (String::new(), Box::new(|_| true)),
            (
                format!(" WHERE WITHIN(position, {}, 80)", vec_sql(&c)),
                Box::new(move |o: &Object| d2(o.position, c) <= 6400.0),
            ),
            (
                " WHERE type IN ('cube', 'point') AND y > -50".to_string(),
                Box::new(|o: &Object| {
                    (o.kind == "cube" || o.kind == "point") && o.position[1] > -50.0
                }),
            ),
        ];
        for (filter, pred) in cases {
            let sql = format!(
                "SELECT id, ATTENTION({v}) FROM m{filter} ORDER BY ATTENTION({v}) DESC LIMIT {k}",
                v = vec_sql(&q)
            );
            let got = one(&mut s, &sql);
            let cand: Vec<&Object> = objects.iter().filter(|o| pred(o)).collect();
            let want = softmax(&cand, &q);
            assert_eq!(got.rows.len(), k.min(want.len()), "{sql}");
            for (i, row) in got.rows.iter().enumerate() {
                let Value::Number(w) = row[1] else {
                    panic!("weight")
                };
                assert!(
                    (w - want[i].2).abs() < 1e-5,
                    "{sql}: rank {i}: {w} vs {}",
                    want[i].2
                );
                let tied = (i > 0 && want[i - 1].0 - want[i].0 < 1e-6)
                    || (i + 1 < want.len() && want[i].0 - want[i + 1].0 < 1e-6);
                if !tied {
                    assert_eq!(row[0].to_string(), want[i].1, "{sql}: rank {i}");
                }
            }
        }

        // Aggregates per type over a region.
        let sql = format!(
            "SELECT type, COUNT(*), SUM(confidence), MIN(x), MAX(y) FROM m WHERE WITHIN(position, {}, {r:?}) GROUP BY type",
            vec_sql(&c)
        );
        let got = one(&mut s, &sql);
        let mut want: Vec<(String, usize, f64, f64, f64)> = Vec::new();
        for kind in {
            let mut k = KINDS.to_vec();
            k.sort();
            k
        } {
            let g: Vec<&Object> = objects
                .iter()
                .filter(|o| o.kind == kind && d2(o.position, c) <= r * r)
                .collect();
            if g.is_empty() {
                continue;
            }
            want.push((
                kind.to_string(),
                g.len(),
                g.iter().map(|o| widen_f32(o.confidence)).sum(),
                g.iter()
                    .map(|o| widen_f32(o.position[0]))
                    .fold(f64::MAX, f64::min),
                g.iter()
                    .map(|o| widen_f32(o.position[1]))
                    .fold(f64::MIN, f64::max),
            ));
        }
        assert_eq!(got.rows.len(), want.len(), "{sql}");
        for (row, w) in got.rows.iter().zip(&want) {
            assert_eq!(row[0].to_string(), w.0);
            assert_eq!(row[1], Value::Number(w.1 as f64));
            let Value::Number(sum) = row[2] else { panic!() };
            assert!((sum - w.2).abs() < 1e-9);
            assert_eq!(row[3], Value::Number(w.3));
            assert_eq!(row[4], Value::Number(w.4));
        }
    }
}

#[test]
fn voxel_queries_match_the_field() {
    let (mut s, _) = setup(3, 300);
    let all = one(&mut s, "SELECT i, j, k, x, y, z, norm FROM VOXELS(m)");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..20 {
        let c = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
        let r = rng.random_range(0.0f32..60.0);
        let got = one(
            &mut s,
            &format!(
                "SELECT COUNT(*) FROM VOXELS(m) WHERE WITHIN(center, {}, {r:?})",
                vec_sql(&c)
            ),
        );
        let num = |v: &Value| match v {
            Value::Number(n) => *n,
            _ => panic!("number"),
        };
        let want = all
            .rows
            .iter()
            .filter(|row| {
                let d: f64 = (0..3)
                    .map(|a| (num(&row[3 + a]) - c[a] as f64).powi(2))
                    .sum();
                d <= (r as f64) * (r as f64)
            })
            .count();
        assert_eq!(got.rows[0][0], Value::Number(want as f64), "{c:?} {r}");
        let top = one(&mut s, &format!("SELECT norm FROM VOXELS(m) WHERE WITHIN(center, {}, {r:?}) ORDER BY norm DESC LIMIT 1", vec_sql(&c)));
        if want > 0 {
            let best = all
                .rows
                .iter()
                .filter(|row| {
                    (0..3)
                        .map(|a| (num(&row[3 + a]) - c[a] as f64).powi(2))
                        .sum::<f64>()
                        <= (r as f64).powi(2)
                })
                .map(|row| num(&row[6]))
                .fold(f64::MIN, f64::max);
            assert_eq!(num(&top.rows[0][0]), best);
        }
    }
}
