//! Models through TensorQL (docs/LANGUAGE.md, "Models"): training works (5 clustered
//! types ranked first by `ATTENTION(m_embed(type))`, the loss falls, the same seed gives
//! the same weights), models survive reopen, the functions on the demo map, m_embed as a
//! value in INSERT and UPDATE, SAVE / LOAD round trips, rollbacks, and error cases.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::query::{ProgressSink, Unit};
use tensormap::{Database, QueryError, Value};

const TYPES: [&str; 5] = ["cube", "sphere", "pyramid", "cylinder", "torus"];
const CHANNELS: usize = 16;
const PER_TYPE: usize = 40;

fn vector(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(", "))
}

/// `CREATE MAP scene` with 5 types × 40 objects: embeddings around a random centre per
/// type, positions around a centre per type (as model/tests/train.rs).
fn scene(db: &Database, seed: u64) {
    db.execute(&format!(
        "CREATE MAP scene WITH (channels = {CHANNELS}, bounds = 500)"
    ))
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for t in TYPES {
        let centre: Vec<f32> = (0..CHANNELS).map(|_| rng.random_range(-1.0..1.0)).collect();
        let place: [f32; 3] = std::array::from_fn(|_| rng.random_range(-300.0..300.0));
        for i in 0..PER_TYPE {
            let e: Vec<f32> = centre
                .iter()
                .map(|c| c + rng.random_range(-0.5..0.5))
                .collect();
            let p: [f32; 3] = std::array::from_fn(|k| place[k] + rng.random_range(-60.0..60.0));
            rows.push(format!(
                "('{t}_{i}', '{t}', {}, {})",
                vector(&p),
                vector(&e)
            ));
        }
    }
    db.execute(&format!(
        "INSERT INTO scene (id, type, position, embedding) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
}

const CREATE: &str =
    "CREATE MODEL m WITH (layers = 2, dim = 32, heads = 4, channels = 16, context = 32, seed = 7)";
const TRAIN: &str = "TRAIN MODEL m ON scene WITH (epochs = 8, learning_rate = 1e-2, batch_size = 32, seed = 5, dropout = 0)";

/// Top-20 hits of `ORDER BY ATTENTION(m_embed(type)) DESC` for each type.
fn top20_hits(db: &Database) -> Vec<usize> {
    TYPES
        .iter()
        .map(|t| {
            let r = db
                .execute(&format!(
                    "SELECT type FROM scene ORDER BY ATTENTION(m_embed('{t}')) DESC LIMIT 20"
                ))
                .unwrap();
            assert_eq!(r[0].rows.len(), 20);
            r[0].rows
                .iter()
                .filter(|row| row[0] == Value::text(t))
                .count()
        })
        .collect()
}

/// One report: the label (at the start), done, total, the message.
type Event = (String, u64, u64, Option<String>);

/// Records what a statement reports.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
    total: Mutex<u64>,
}

impl ProgressSink for Recorder {
    fn start(&self, label: &str, total: u64, unit: Unit) {
        assert_eq!(unit, Unit::Steps);
        *self.total.lock() = total;
        self.events.lock().push((label.to_string(), 0, total, None));
    }
    fn set(&self, done: u64, message: Option<&str>) {
        let total = *self.total.lock();
        self.events
            .lock()
            .push((String::new(), done, total, message.map(str::to_string)));
    }
    fn finish(&self) {}
}

fn loss_of(message: &Option<String>) -> f32 {
    message
        .as_deref()
        .and_then(|m| m.strip_prefix("loss "))
        .and_then(|l| l.parse().ok())
        .unwrap()
}

#[test]
fn training_through_tensorql_ranks_each_type_first() {
    let db = Database::open_in_memory().unwrap();
    scene(&db, 1);
    db.execute(CREATE).unwrap();
    let before = top20_hits(&db);
    assert!(before.iter().any(|&h| h < 18), "untrained: {before:?}");

    let recorder = Arc::new(Recorder::default());
    db.set_progress(Some(recorder.clone()));
    let r = db.execute(TRAIN).unwrap();
    db.set_progress(None);
    assert!(
        r[0].status.starts_with("TRAIN MODEL 56 steps, loss "),
        "{}",
        r[0].status
    );

    let after = top20_hits(&db);
    eprintln!("top-20 hits per type: before {before:?}, after {after:?}");
    assert!(after.iter().all(|&h| h >= 18), "{after:?}");

    // The bar saw every step with its loss, and the loss fell.
    let events = recorder.events.lock().clone();
    assert_eq!(events[0].0, "train m on scene");
    assert_eq!(events[0].2, 56);
    let steps: Vec<u64> = events[1..].iter().map(|e| e.1).collect();
    assert_eq!(steps, (1..=56).collect::<Vec<_>>());
    let first = loss_of(&events[1].3);
    let last = loss_of(&events[56].3);
    assert!(last < 0.7 * first, "loss {first} → {last}");

    // SHOW MODELS: name, kind, parameters, output width, steps, loss.
    let r = db.execute("SHOW MODELS").unwrap();
    assert_eq!(
        r[0].columns,
        [
            "name",
            "kind",
            "parameters",
            "output_width",
            "steps",
            "loss"
        ]
    );
    let row = &r[0].rows[0];
    assert_eq!(row[0], Value::text("m"));
    assert_eq!(row[1], Value::text("vllm"));
    assert_eq!(row[3], Value::Number(16.0));
    assert_eq!(row[4], Value::Number(56.0));
    assert!(matches!(row[5], Value::Number(l) if l > 0.0));

    // The same seed gives the same weights: a second model trained alike has the same bytes.
    db.execute(&CREATE.replace("MODEL m ", "MODEL m2 "))
        .unwrap();
    db.execute(&TRAIN.replace("MODEL m ", "MODEL m2 ")).unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(
        read.model_bytes("m").unwrap().bytes(),
        read.model_bytes("m2").unwrap().bytes()
    );
}

#[test]
fn models_survive_reopen_and_their_functions_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (embedded, scored) = {
        let db = Database::open(&path).unwrap();
        db.execute("CREATE MAP s WITH (channels = 8, bounds = 100)")
            .unwrap();
        db.execute(
            "INSERT INTO s (id, type, position, embedding) VALUES \
             ('a', 'cube', [1, 2, 3], [1, 0, 0, 0, 0, 0, 0, 0]), \
             ('b', 'ball', [-50, 20, 0], [0, 1, 0, 0, 0, 0, 0, 0])",
        )
        .unwrap();
        db.execute(
            "CREATE MODEL tiny WITH (layers = 1, dim = 24, heads = 2, channels = 8, seed = 3)",
        )
        .unwrap();
        let e = db.execute("SELECT tiny_embed('red cube')").unwrap();
        let s = db
            .execute("SELECT id, tiny_score('cube', embedding, position) FROM s")
            .unwrap();
        (e[0].rows.clone(), s[0].rows.clone())
    };
    let db = Database::open(&path).unwrap();
    let r = db.execute("SHOW MODELS").unwrap();
    assert_eq!(r[0].rows.len(), 1);
    assert_eq!(r[0].rows[0][0], Value::text("tiny"));
    assert_eq!(r[0].rows[0][4], Value::Number(0.0));
    assert_eq!(r[0].rows[0][5], Value::Null);
    assert_eq!(
        db.execute("SELECT tiny_embed('red cube')").unwrap()[0].rows,
        embedded
    );
    assert_eq!(
        db.execute("SELECT id, tiny_score('cube', embedding, position) FROM s")
            .unwrap()[0]
            .rows,
        scored
    );
    // The batched score equals the score of each row alone.
    for row in &scored {
        let one = db
            .execute(&format!(
                "SELECT tiny_score('cube', embedding, position) FROM s WHERE id = '{}'",
                row[0]
            ))
            .unwrap();
        let (Value::Number(a), Value::Number(b)) = (&one[0].rows[0][0], &row[1]) else {
            panic!("{one:?}");
        };
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    db.execute("DROP MODEL tiny").unwrap();
    let e = db.execute("SELECT tiny_embed('x')").unwrap_err();
    assert_eq!(e.to_string(), "error at 1:8: unknown function 'tiny_embed'");
    drop(db);
    let db = Database::open(&path).unwrap();
    assert!(db.execute("SHOW MODELS").unwrap()[0].rows.is_empty());
}

#[test]
fn functions_on_the_demo_map() {
    let db = Database::open_in_memory().unwrap();
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.tql")).unwrap();
    // The script's own statements up to its queries: the map and its objects.
    let end = demo.find("COMMIT;").unwrap() + "COMMIT;".len();
    db.execute(&demo[..end]).unwrap();
    db.execute("CREATE MODEL d WITH (layers = 1, dim = 24, heads = 2, channels = 8, seed = 1)")
        .unwrap();
    let n = db.execute("SELECT COUNT(*) FROM demo").unwrap()[0].rows[0][0].clone();
    let Value::Number(n) = n else { panic!() };

    // ATTENTION of m_embed, end to end, and the same as the vector written out.
    let q = db.execute("SELECT d_embed('red cube')").unwrap()[0].rows[0][0].clone();
    let Value::Vector(q) = q else { panic!("{q:?}") };
    assert_eq!(q.len(), 8);
    let by_function = db
        .execute("SELECT id, ATTENTION(d_embed('red cube')) AS w FROM demo ORDER BY w DESC LIMIT 5")
        .unwrap();
    let by_vector = db
        .execute(&format!(
            "SELECT id, ATTENTION({}) AS w FROM demo ORDER BY w DESC LIMIT 5",
            Value::Vector(q.clone())
        ))
        .unwrap();
    assert_eq!(by_function[0].rows, by_vector[0].rows);
    let cos = db
        .execute(
            "SELECT id, COSINE(embedding, d_embed('cube')) AS c FROM demo ORDER BY c DESC LIMIT 3",
        )
        .unwrap();
    assert_eq!(cos[0].rows.len(), 3);

    // m_score over every row, ordered, against each row alone.
    let all = db
        .execute("SELECT id, d_score(type, embedding, position) AS s FROM demo ORDER BY s DESC")
        .unwrap();
    assert_eq!(all[0].rows.len(), n as usize);
    for row in all[0].rows.iter().step_by(37) {
        let one = db
            .execute(&format!(
                "SELECT d_score(type, embedding, position) FROM demo WHERE id = '{}'",
                row[0]
            ))
            .unwrap();
        let (Value::Number(a), Value::Number(b)) = (&one[0].rows[0][0], &row[1]) else {
            panic!()
        };
        assert!((a - b).abs() < 1e-4, "{}: {a} vs {b}", row[0]);
    }
    // In an aggregate and in WHERE.
    let avg = db
        .execute("SELECT type, AVG(d_score(type, embedding, position)) FROM demo GROUP BY type")
        .unwrap();
    assert_eq!(avg[0].rows.len(), 5);
    let filtered = db
        .execute("SELECT COUNT(*) FROM demo WHERE d_score(type, embedding, position) > -1e9")
        .unwrap();
    assert_eq!(filtered[0].rows[0][0], Value::Number(n));
    // WHERE on the score (one batched call over the rows) keeps exactly the rows whose
    // score, from the ordered query above, passes (rows within 1e-4 of the cut aside).
    let scores: Vec<(String, f64)> = all[0]
        .rows
        .iter()
        .map(|r| match &r[1] {
            Value::Number(x) => (r[0].to_string(), *x),
            other => panic!("{other:?}"),
        })
        .collect();
    let cut = scores[scores.len() / 3].1;
    let kept = db
        .execute(&format!(
            "SELECT id FROM demo WHERE d_score(type, embedding, position) > {cut}"
        ))
        .unwrap();
    let kept: std::collections::HashSet<String> =
        kept[0].rows.iter().map(|r| r[0].to_string()).collect();
    for (id, x) in &scores {
        if (x - cut).abs() > 1e-4 {
            assert_eq!(
                kept.contains(id),
                *x > cut,
                "{id}: {x} against the cut {cut}"
            );
        }
    }
    assert!(kept.len() >= scores.len() / 4, "{} rows kept", kept.len());

    // m_generate: seeded, repeatable; greedy with temperature 0.
    let g1 = db
        .execute("SELECT d_generate('the red', 8, 0.7, 50, 3), d_generate('the red', 8, 0)")
        .unwrap();
    let g2 = db
        .execute("SELECT d_generate('the red', 8, 0.7, 50, 3), d_generate('the red', 8, 0)")
        .unwrap();
    assert_eq!(g1[0].rows, g2[0].rows);
    assert!(matches!(&g1[0].rows[0][0], Value::Text(_)));

    // m_embed as a value in INSERT and UPDATE.
    db.execute("INSERT INTO demo (id, type, position, embedding) VALUES ('new', 'cube', [0, 0, 0], d_embed('cube'))")
        .unwrap();
    let e = db
        .execute("SELECT embedding = d_embed('cube') FROM demo WHERE id = 'new'")
        .unwrap();
    assert_eq!(e[0].rows[0][0], Value::Bool(true));
    db.execute("UPDATE demo SET embedding = d_embed(type) WHERE type = 'sphere'")
        .unwrap();
    let e = db
        .execute(
            "SELECT COUNT(*) FROM demo WHERE type = 'sphere' AND embedding = d_embed('sphere')",
        )
        .unwrap();
    let s = db
        .execute("SELECT COUNT(*) FROM demo WHERE type = 'sphere'")
        .unwrap();
    assert_eq!(e[0].rows, s[0].rows);
}

#[test]
fn save_load_rollback_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MODEL a WITH (layers = 1, dim = 24, heads = 2, channels = 4, seed = 9)")
        .unwrap();
    let file = dir.path().join("a.vllm");
    let f = file.to_str().unwrap();
    let r = db.execute(&format!("SAVE MODEL a TO '{f}'")).unwrap();
    assert!(r[0].status.starts_with("SAVE MODEL "), "{}", r[0].status);
    db.execute(&format!("LOAD MODEL b FROM '{f}'")).unwrap();
    assert_eq!(
        db.execute("SELECT a_embed('x')").unwrap()[0].rows,
        db.execute("SELECT b_embed('x')").unwrap()[0].rows
    );

    // A rollback leaves no model and no function.
    db.execute("BEGIN; CREATE MODEL c WITH (channels = 4); SELECT c_embed('x')")
        .unwrap();
    db.execute("ROLLBACK").unwrap();
    assert_eq!(db.execute("SHOW MODELS").unwrap()[0].rows.len(), 2);
    assert!(db.execute("SELECT c_embed('x')").is_err());
    // A committed transaction keeps it; DROP MODEL removes it and its functions.
    db.execute("BEGIN; CREATE MODEL c WITH (channels = 4); COMMIT")
        .unwrap();
    assert_eq!(db.execute("SHOW MODELS").unwrap()[0].rows.len(), 3);
    db.execute("DROP MODEL c; DROP MODEL IF EXISTS c").unwrap();
    assert!(db.execute("SELECT c_embed('x')").is_err());
    assert_eq!(db.models().len(), 2);
}

fn error(db: &Database, sql: &str) -> QueryError {
    db.execute(sql).unwrap_err()
}

#[test]
fn errors_are_clear_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP s WITH (channels = 4); CREATE MAP empty WITH (channels = 4)")
        .unwrap();
    db.execute("INSERT INTO s (id, type, position, embedding) VALUES ('a', 'cube', [0, 0, 0], [1, 0, 0, 0])")
        .unwrap();
    db.execute("CREATE MODEL m WITH (layers = 1, dim = 24, heads = 2, channels = 4)")
        .unwrap();
    let models = db.models().len();
    let cases: Vec<(String, &str)> = vec![
        (
            "CREATE MODEL m".into(),
            "error at 1:1: a model named 'm' exists already",
        ),
        (
            "CREATE MODEL x WITH (layers = 1.5)".into(),
            "error at 1:22: option layers must be a whole number, got 1.5",
        ),
        (
            "CREATE MODEL x WITH (depth = 3)".into(),
            "error at 1:22: unknown model option",
        ),
        (
            "CREATE MODEL x WITH (dtype = 'f32')".into(),
            "error at 1:22: dtype must be a number",
        ),
        (
            "CREATE MODEL x WITH (dim = 30, heads = 4)".into(),
            "error at 1:1: ",
        ),
        (
            "CREATE MODEL \"a b\"".into(),
            "error at 1:1: model name 'a b' must be an identifier",
        ),
        (
            "TRAIN MODEL nope ON s".into(),
            "error at 1:1: no model named 'nope'",
        ),
        (
            "TRAIN MODEL m ON nope".into(),
            "error at 1:1: no map named 'nope'",
        ),
        (
            "TRAIN MODEL m ON empty".into(),
            "error at 1:1: map 'empty' has no objects to train on",
        ),
        (
            "TRAIN MODEL m ON s WITH (epochs = 0)".into(),
            "error at 1:1: epochs and batch_size must be at least 1",
        ),
        (
            "TRAIN MODEL m ON s WITH (speed = 1)".into(),
            "error at 1:26: unknown training option",
        ),
        (
            "LOAD MODEL x FROM '/nonexistent/w.vllm'".into(),
            "error at 1:1: cannot load '/nonexistent/w.vllm': ",
        ),
        (
            "SAVE MODEL nope TO 'x.vllm'".into(),
            "error at 1:1: no model named 'nope'",
        ),
        (
            "DROP MODEL nope".into(),
            "error at 1:1: no model named 'nope'",
        ),
        (
            "SELECT m_embed()".into(),
            "error at 1:8: m_embed takes 1 arguments, found 0",
        ),
        (
            "SELECT m_embed(1)".into(),
            "error at 1:8: m_embed: the text (argument 1) must be text, found a number",
        ),
        (
            "SELECT m_score('a', embedding) FROM s".into(),
            "error at 1:8: m_score takes 3 arguments, found 2",
        ),
        (
            "SELECT m_score('a', position, position) FROM s".into(),
            "error at 1:8: m_score: ",
        ),
        (
            "SELECT m_score('a', embedding, embedding) FROM s".into(),
            "error at 1:8: m_score: the position (argument 3) must have 3 values, found 4",
        ),
        (
            "SELECT m_generate('a', -1)".into(),
            "error at 1:8: m_generate: max_tokens (argument 2) must be a whole number",
        ),
        (
            "SELECT m_generate('a', 5, 'hot')".into(),
            "error at 1:8: m_generate: temperature (argument 3) must be a number, found a text",
        ),
        (
            "SELECT m_generate('a', 5, 1, 2, 3, 4)".into(),
            "error at 1:8: m_generate takes 2 to 5 arguments, found 6",
        ),
        (
            "SELECT id FROM s ORDER BY ATTENTION(nope_embed('x')) DESC".into(),
            "error at 1:37: unknown function 'nope_embed'",
        ),
        (
            "INSERT INTO s (id, embedding) VALUES ('z', m_embed(3))".into(),
            "error at 1:44: m_embed: the text (argument 1) must be text, found a number",
        ),
    ];
    for (sql, want) in &cases {
        let e = error(&db, sql).to_string();
        // The position exactly, the message as a part.
        let (at, message) = want.split_at(want.find(": ").unwrap() + 2);
        assert!(
            e.starts_with(at) && e.contains(message),
            "{sql}\n  got:  {e}\n  want: {want}…"
        );
    }
    // A damaged file is refused.
    let file = dir.path().join("bad.vllm");
    std::fs::write(&file, b"VLLM but not really a model file").unwrap();
    let e = error(&db, &format!("LOAD MODEL x FROM '{}'", file.display()));
    assert!(e.to_string().contains("cannot load"), "{e}");
    // Nothing changed.
    assert_eq!(db.models().len(), models);
    assert_eq!(
        db.execute("SELECT COUNT(*) FROM s").unwrap()[0].rows[0][0],
        Value::Number(1.0)
    );
}
