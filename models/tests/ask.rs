//! `ASK` end to end on a session with the model host: the built-in command model writes
//! statements that the real parser reads as one SELECT over the asked map, whatever the
//! text (random words, garbage, other scripts); ASK runs them, EXPLAIN ASK shows them, and
//! bad input gets clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap_model::command::{Catalog, CommandModel};
use tensormap_models::{Host, ModelCache};
use tensormap_query::ast::Statement;
use tensormap_query::{parse_statement, ErrorKind, Session};

fn session() -> Session {
    let db = tensormap_engine::Database::open_in_memory().unwrap();
    let mut s = Session::new(db);
    s.set_model_host(Some(Arc::new(Host::new(Arc::new(ModelCache::new())))));
    s.execute("CREATE MAP demo WITH (channels = 2, bounds = 500)")
        .unwrap();
    let mut rows = Vec::new();
    let kinds = ["cube", "sphere", "torus", "traffic_cone", "Drone"];
    for i in 0..200u32 {
        let a = i as f64 * 0.37;
        let r = 10.0 + (i * 7 % 400) as f64;
        rows.push(format!(
            "('o{i}', '{}', [{:.2}, {:.2}, {:.2}], [0.5, 0.5], {:.2})",
            kinds[i as usize % kinds.len()],
            r * a.cos(),
            r * a.sin(),
            (i % 50) as f64 - 25.0,
            (i % 100) as f64 / 100.0
        ));
    }
    s.execute(&format!("INSERT INTO demo VALUES {}", rows.join(", ")))
        .unwrap();
    s
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 48] = [
    "find",
    "all",
    "cubes",
    "spheres",
    "within",
    "of",
    "the",
    "center",
    "origin",
    "nearest",
    "5",
    "200",
    "three",
    "how",
    "many",
    "are",
    "there",
    "?",
    ",",
    "(",
    ")",
    "1",
    "2",
    "-3.5",
    "show",
    "me",
    "not",
    "except",
    "sorted",
    "by",
    "confidence",
    "above",
    "0.9",
    "drones",
    "traffic",
    "cones",
    "near",
    "a",
    "delete",
    "drop",
    "table",
    "insert",
    "farthest",
    "between",
    "and",
    "x",
    "'",
    ";",
];

fn random_text(rng: &mut Rng) -> String {
    match rng.below(4) {
        // Words a command uses, in random order.
        0 | 1 => (0..1 + rng.below(14))
            .map(|_| WORDS[rng.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" "),
        // Printable garbage.
        2 => (0..1 + rng.below(60))
            .map(|_| char::from(b' ' + rng.below(95) as u8))
            .collect(),
        // Other scripts and symbols.
        _ => {
            let pool = [
                "найди все кубы",
                "立方体を全部",
                "كل المكعبات",
                "🧊🧊 near 🟢",
                "ΣΦΑΙΡΑ 12",
                "cubos cerca del centro",
                "\u{0}\u{1}x",
                "ｃｕｂｅｓ",
            ];
            (0..1 + rng.below(3))
                .map(|_| pool[rng.below(pool.len())])
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

#[test]
fn every_statement_from_random_text_parses_as_one_select_of_the_map() {
    let model = CommandModel::builtin().unwrap();
    let catalogs = [
        Catalog::new("demo", ["cube", "sphere", "torus", "traffic_cone", "Drone"]),
        Catalog::new("scene", ["cube"]),
        Catalog::new("my map", Vec::<String>::new()),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen = 0;
    for i in 0..300 {
        let text = random_text(&mut rng);
        if text.trim().is_empty() {
            continue;
        }
        let catalog = &catalogs[i % catalogs.len()];
        let g = model.ask(&text, catalog).unwrap();
        let parsed = parse_statement(&g.statement)
            .unwrap_or_else(|e| panic!("{text:?} gave {:?}: {e}", g.statement));
        let Statement::Select(sel) = parsed else {
            panic!("{text:?} gave {:?}, not a SELECT", g.statement)
        };
        assert!(
            sel.tables()
                .all(|t| t.source.map() == Some(catalog.map.as_str())),
            "{text:?} gave {:?}",
            g.statement
        );
        assert!((0.0..=1.0).contains(&g.probability), "{g:?}");
        seen += 1;
    }
    assert!(seen > 250, "{seen}");
}

/// `EXPLAIN ASK`'s row: statement, probability, outcome, threshold, model.
fn explain(s: &mut Session, map: &str, text: &str) -> (String, f64, String, f64, String) {
    let r = s
        .execute(&format!("EXPLAIN ASK {map} '{}'", text.replace('\'', "''")))
        .unwrap()
        .remove(0);
    assert_eq!(
        r.columns,
        ["statement", "probability", "outcome", "threshold", "model"]
    );
    let row = &r.rows[0];
    let num = |v: &tensormap_engine::Value| match v {
        tensormap_engine::Value::Number(n) => *n,
        other => panic!("{other:?}"),
    };
    (
        row[0].to_string(),
        num(&row[1]),
        row[2].to_string(),
        num(&row[3]),
        row[4].to_string(),
    )
}

#[test]
fn ask_runs_the_statement_explain_ask_shows_and_refusals_run_nothing() {
    let mut s = session();
    let texts = [
        "find all cubes within 200 units of center",
        "how many spheres are there?",
        "the 5 objects nearest to 0,0,0",
        "drones with confidence above 0.5",
        "quelle heure est-il à Paris, mon ami ?",
        "show me all the elephants",
        "please delete every cube",
        "!!!???",
    ];
    let mut answered = 0;
    for text in texts {
        let (statement, p, outcome, threshold, model) = explain(&mut s, "demo", text);
        assert_eq!(model, "built-in");
        assert!(
            (0.0..=1.0).contains(&p) && threshold == 0.5,
            "{p} {threshold}"
        );
        assert!(statement.starts_with("SELECT "), "{statement}");
        let asked = s.execute(&format!("ASK demo '{}'", text.replace('\'', "''")));
        if outcome == "answer" {
            answered += 1;
            assert!(p >= threshold);
            // The rows are the statement's own.
            assert_eq!(asked.unwrap(), s.execute(&statement).unwrap(), "{text}");
        } else {
            let e = asked.unwrap_err();
            assert!(
                e.message.contains(&format!("Best guess: {statement}"))
                    && e.message.contains("nothing was run"),
                "{text}: {e}"
            );
        }
    }
    assert!(answered >= 3, "{answered} of the commands answered");
    // Inside a transaction, ASK sees the transaction's objects.
    let text = "find all cubes within 200 units of center";
    let (statement, _, outcome, _, _) = explain(&mut s, "demo", text);
    if outcome == "answer" {
        let before = s.execute(&statement).unwrap().remove(0).rows.len();
        s.execute("BEGIN; INSERT INTO demo VALUES ('new_cube', 'cube', [1, 1, 1], [0, 0], 1)")
            .unwrap();
        let inside = s.execute(&format!("ASK demo '{text}'")).unwrap().remove(0);
        assert!(inside.rows.len() >= before, "{statement}");
        s.execute("ROLLBACK").unwrap();
    }
}

#[test]
fn bad_input_gets_clear_errors() {
    let mut s = session();
    let e = s.execute("ASK demo ''").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidValue);
    assert!(e.message.contains("empty"), "{e}");
    let long = "cubes near the center ".repeat(5000);
    let e = s.execute(&format!("ASK demo '{long}'")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidValue);
    assert!(e.message.contains("bytes"), "{e}");
    let e = s.execute("ASK nowhere 'all cubes'").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("nowhere"), "{e}");
    let e = s.execute("ASK demo USING missing 'all cubes'").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("missing"), "{e}");
    s.execute("CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 2)")
        .unwrap();
    let e = s.execute("ASK demo USING tiny 'all cubes'").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidValue);
    assert!(
        e.message.contains("vllm model") && e.message.contains("command model"),
        "{e}"
    );
}

#[test]
fn a_loaded_command_model_answers_as_the_built_in_one() {
    let mut s = session();
    let dir = std::env::temp_dir().join(format!("tensormap-ask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("command.vllm");
    std::fs::write(&path, tensormap_model::command::builtin::BYTES).unwrap();
    s.execute(&format!("LOAD MODEL mine FROM '{}'", path.display()))
        .unwrap();
    let shown = s.execute("SHOW MODELS").unwrap().remove(0);
    assert_eq!(shown.rows[0][1].to_string(), "command");
    let text = "the 5 objects nearest to 0,0,0";
    let mine = s
        .execute(&format!("EXPLAIN ASK demo USING mine '{text}'"))
        .unwrap()
        .remove(0);
    let builtin = s
        .execute(&format!("EXPLAIN ASK demo '{text}'"))
        .unwrap()
        .remove(0);
    assert_eq!(mine.rows[0][..4], builtin.rows[0][..4]);
    assert_eq!(mine.rows[0][4].to_string(), "mine");
    // A command model has no functions.
    assert!(s.execute("SELECT mine_embed('x')").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What docs/LANGUAGE.md's ASK examples give on its fixture (printed with
/// `LANGUAGE_DOC_PRINT=1`; the document's own test runs them through the shell).
#[test]
fn the_language_documents_examples_answer() {
    let db = tensormap_engine::Database::open_in_memory().unwrap();
    let mut s = Session::new(db);
    s.set_model_host(Some(Arc::new(Host::new(Arc::new(ModelCache::new())))));
    s.execute(
        "CREATE MAP scene WITH (channels = 4, bounds = 500);
         INSERT INTO scene (id, type, position, embedding, confidence) VALUES
           ('cube_1', 'cube', [100, 50, -30], [0.9, 0.1, 0, 0], 0.98),
           ('cube_2', 'cube', [120, 40, -20], [0.8, 0.2, 0.1, 0], 0.75),
           ('ball_7', 'sphere', [-100, 30, 50], [0.1, 0.9, 0, 0.1], 0.9),
           ('ball_8', 'sphere', [-90, 20, 60], [0, 0.8, 0.2, 0], 0.6),
           ('ring_3', 'torus', [0, 0, 0], [0, 0.1, 0.9, 0.2], 0.83),
           ('pyr_4', 'pyramid', [300, -200, 100], [0.2, 0.2, 0.2, 0.9], 0.7);",
    )
    .unwrap();
    let print = std::env::var_os("LANGUAGE_DOC_PRINT").is_some();
    for sql in [
        "EXPLAIN ASK scene 'find all cubes within 200 units of center'",
        "EXPLAIN ASK scene 'how many spheres are there?'",
        "EXPLAIN ASK scene 'the 2 objects nearest to 100, 50, -30'",
    ] {
        let r = s.execute(sql).unwrap().remove(0);
        if print {
            println!("{sql}\n{:?}\n{:?}", r.columns, r.rows);
        }
    }
    let r = s
        .execute("ASK scene 'how many spheres are there?'")
        .unwrap()
        .remove(0);
    assert_eq!(r.columns, ["COUNT(*)"]);
    assert_eq!(r.rows, [[tensormap_engine::Value::Number(2.0)]]);
    for (sql, want) in [
        (
            "ASK scene ''",
            "ASK: invalid argument: the command is empty: ASK needs a question",
        ),
        ("ASK nowhere 'all cubes'", "no map named 'nowhere'"),
    ] {
        let e = s.execute(sql).unwrap_err();
        assert_eq!(e.message, want);
    }
}
