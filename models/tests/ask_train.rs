//! `TRAIN MODEL m ON map WITH (task = 'commands', examples = 'pairs')`: a command model
//! fine-tuned on (text, statement) examples kept in a map (id: the text, type: the
//! statement) answers a phrasing the built-in model gets wrong, `ASK … USING m` uses it,
//! the same statement writes the same model, and bad input changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap_models::{Host, ModelCache};
use tensormap_query::{QueryResult, Session};

fn session() -> Session {
    let db = tensormap_engine::Database::open_in_memory().unwrap();
    let mut s = Session::new(db);
    s.set_model_host(Some(Arc::new(Host::new(Arc::new(ModelCache::new())))));
    s.execute("CREATE MAP demo WITH (channels = 2, bounds = 500)")
        .unwrap();
    let kinds = ["cube", "sphere", "torus", "traffic_cone", "Drone"];
    let rows: Vec<String> = (0..50u32)
        .map(|i| {
            let k = kinds[i as usize % kinds.len()];
            let p = (i as f64 * 9.0) - 200.0;
            format!("('o{i}', '{k}', [{p}, {}, 0], [0.5, 0.5])", p / 2.0)
        })
        .collect();
    s.execute(&format!(
        "INSERT INTO demo (id, type, position, embedding) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
    s.execute("CREATE MAP pairs WITH (channels = 2, bounds = 10)")
        .unwrap();
    s
}

/// Adds the examples `(text, statement)` to map `pairs`.
fn keep(s: &mut Session, pairs: &[(&str, &str)]) {
    let rows: Vec<String> = pairs
        .iter()
        .map(|(text, statement)| {
            format!(
                "('{}', '{}', [0, 0, 0], [0, 0])",
                text.replace('\'', "''"),
                statement.replace('\'', "''")
            )
        })
        .collect();
    s.execute(&format!(
        "INSERT INTO pairs (id, type, position, embedding) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
}

fn one(s: &mut Session, sql: &str) -> QueryResult {
    s.execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .remove(0)
}

/// `EXPLAIN ASK`'s statement and outcome.
fn explain(s: &mut Session, using: &str, text: &str) -> (String, String) {
    let r = one(s, &format!("EXPLAIN ASK demo {using} '{text}'"));
    (r.rows[0][0].to_string(), r.rows[0][2].to_string())
}

const CENSUS: [(&str, &str); 4] = [
    (
        "census of the cubes",
        "SELECT COUNT(*) FROM demo WHERE type = 'cube'",
    ),
    (
        "census of the tori",
        "SELECT COUNT(*) FROM demo WHERE type = 'torus'",
    ),
    (
        "census of the drones",
        "SELECT COUNT(*) FROM demo WHERE type = 'Drone'",
    ),
    (
        "census of the traffic cones",
        "SELECT COUNT(*) FROM demo WHERE type = 'traffic_cone'",
    ),
];

fn model_bytes(s: &mut Session, name: &str, dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join(format!("{name}.vllm"));
    one(s, &format!("SAVE MODEL {name} TO '{}'", path.display()));
    std::fs::read(path).unwrap()
}

#[test]
fn a_handful_of_pairs_teach_a_phrasing_the_built_in_model_gets_wrong() {
    let mut s = session();
    let asked = "census of the spheres";
    let want = "SELECT COUNT(*) FROM demo WHERE type = 'sphere'";
    // The built-in model reads "census" as a plain listing.
    let (before, _) = explain(&mut s, "", asked);
    assert_ne!(before, want);
    keep(&mut s, &CENSUS);
    let trained = one(
        &mut s,
        "TRAIN MODEL census ON demo WITH (task = 'commands', examples = 'pairs', seed = 3)",
    );
    assert!(
        trained.status.starts_with("TRAIN MODEL 4 examples"),
        "{}",
        trained.status
    );
    let shown = one(&mut s, "SHOW MODELS");
    assert_eq!(shown.rows[0][0].to_string(), "census");
    assert_eq!(shown.rows[0][1].to_string(), "command");
    // The phrasing, for a type none of the examples names.
    assert_eq!(
        explain(&mut s, "USING census", asked),
        (want.to_string(), "answer".to_string())
    );
    let counted = one(&mut s, &format!("ASK demo USING census '{asked}'"));
    assert_eq!(counted.rows[0][0].to_string(), "10");
    // What it knew, it still knows.
    let (radius, outcome) = explain(
        &mut s,
        "USING census",
        "find all cubes within 200 units of center",
    );
    assert_eq!(
        radius,
        "SELECT * FROM demo WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 200)"
    );
    assert_eq!(outcome, "answer");
    // The built-in model is as it was.
    assert_eq!(explain(&mut s, "", asked).0, before);

    // The same statement on the same examples writes the same model.
    one(
        &mut s,
        "TRAIN MODEL again ON demo WITH (task = 'commands', examples = 'pairs', seed = 3)",
    );
    let dir = std::env::temp_dir().join(format!("tensormap-ask-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = model_bytes(&mut s, "census", &dir);
    assert_eq!(a, model_bytes(&mut s, "again", &dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_examples_and_options_get_clear_errors_and_change_nothing() {
    let mut s = session();
    one(
        &mut s,
        "CREATE MODEL plain WITH (layers = 1, dim = 16, heads = 2)",
    );
    one(&mut s, "CREATE MAP empty WITH (channels = 2, bounds = 10)");
    let train = |with: &str| format!("TRAIN MODEL mine ON demo WITH (task = 'commands'{with})");
    let cases: Vec<(String, &str)> = vec![
        (train(""), "needs examples = 'map'"),
        (train(", examples = 'empty'"), "map 'empty' has no examples"),
        (train(", examples = 'nowhere'"), "nowhere"),
        (
            "TRAIN MODEL mine ON nowhere WITH (task = 'commands', examples = 'pairs')".into(),
            "nowhere",
        ),
        (
            "TRAIN MODEL mine ON demo WITH (task = 'objects', examples = 'pairs')".into(),
            "task must be 'commands'",
        ),
        (
            train(", examples = 'pairs', layers = 2"),
            "no option layers",
        ),
        (
            train(", examples = 'pairs', epochs = 'many'"),
            "epochs must be a number",
        ),
        (train(", examples = 'pairs', epochs = 0.5"), "whole number"),
        (
            "TRAIN MODEL plain ON demo WITH (task = 'commands', examples = 'pairs')".into(),
            "is a vllm model",
        ),
    ];
    keep(&mut s, &CENSUS[..1]);
    for (sql, what) in &cases {
        let err = s.execute(sql).unwrap_err().to_string();
        assert!(err.contains(what), "{sql}: {err}");
    }
    // Statements that are no SELECT of the map, or that the text does not give.
    for (statement, what) in [
        ("SELECT * FROM", "does not parse"),
        ("DELETE FROM demo WHERE type = 'cube'", "is not a SELECT"),
        ("SELECT * FROM empty", "reads map 'empty', not 'demo'"),
        (
            "SELECT * FROM demo WHERE type = 'sphere'",
            "cannot write its statement from its text",
        ),
    ] {
        one(&mut s, "DELETE FROM pairs");
        keep(&mut s, &[("census of the cubes", statement)]);
        let err = s
            .execute("TRAIN MODEL mine ON demo WITH (task = 'commands', examples = 'pairs')")
            .unwrap_err()
            .to_string();
        assert!(err.contains(what), "{statement}: {err}");
        assert!(err.contains("census of the cubes"), "{statement}: {err}");
    }
    // Nothing was made or changed.
    let shown = one(&mut s, "SHOW MODELS");
    assert_eq!(shown.rows.len(), 1);
    assert_eq!(shown.rows[0][0].to_string(), "plain");
    assert_eq!(shown.rows[0][4].to_string(), "0");
}
