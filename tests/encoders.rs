//! Sentence encoders through TensorQL: `LOAD MODEL minilm FROM 'folder'` stores
//! all-MiniLM-L6-v2 in the database, and `minilm_embed(text)` composes with INSERT, UPDATE,
//! ATTENTION and COSINE, in this process and the next.
//!
//! The model comes from `scripts/fetch-test-models` (into target/test-models/). Without it
//! these tests say how to get it and pass, unless `TENSORMAP_REQUIRE_TEST_MODELS=1` (CI),
//! which makes a missing model a failure.

use std::path::PathBuf;

use tensormap::{Database, Value};

fn minilm_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-models/all-MiniLM-L6-v2");
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "the test model is missing: {} — run scripts/fetch-test-models",
        dir.display()
    );
    if std::env::var("TENSORMAP_REQUIRE_TEST_MODELS").is_ok_and(|v| v == "1") {
        panic!("{msg} (TENSORMAP_REQUIRE_TEST_MODELS=1 makes this a failure)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

fn ids(db: &Database, sql: &str) -> Vec<String> {
    db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))[0]
        .rows
        .iter()
        .map(|r| r[0].to_string())
        .collect()
}

#[test]
fn semantic_search_in_one_statement_and_after_reopen() {
    let Some(model) = minilm_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    {
        let db = Database::open(&path).unwrap();
        db.execute(&format!("LOAD MODEL minilm FROM '{}'", model.display()))
            .unwrap();
        let shown = db.execute("SHOW MODELS").unwrap();
        let row = shown[0].rows[0]
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>();
        assert_eq!(row[..2], ["minilm", "bert"], "{row:?}");
        assert!(row.contains(&"384".to_string()), "{row:?}");

        db.execute("CREATE MAP docs WITH (channels = 384)").unwrap();
        db.execute(
            "INSERT INTO docs (id, type, position, embedding) VALUES
             ('d1', 'a red cube on the table', [0, 0, 0], minilm_embed('a red cube on the table')),
             ('d2', 'a dog runs in the park', [10, 0, 0], minilm_embed('a dog runs in the park')),
             ('d3', 'stock prices fell sharply', [20, 0, 0], minilm_embed('stock prices fell sharply')),
             ('d4', 'a man is eating food', [30, 0, 0], minilm_embed('a man is eating food'))",
        )
        .unwrap();
        let top = ids(
            &db,
            "SELECT id FROM docs WHERE WITHIN(position, [0, 0, 0], 100)
             ORDER BY ATTENTION(minilm_embed('crimson box')) DESC LIMIT 5",
        );
        assert_eq!(top[0], "d1", "{top:?}");
        let r = db
            .execute("SELECT id, COSINE(embedding, minilm_embed('a puppy playing outside')) AS c FROM docs ORDER BY c DESC")
            .unwrap();
        assert_eq!(r[0].rows[0][0].to_string(), "d2");
        // The stored embedding is the encoder's: its cosine with itself is 1.
        let r = db
            .execute("SELECT COSINE(embedding, minilm_embed(type)) FROM docs WHERE id = 'd3'")
            .unwrap();
        let Value::Number(c) = r[0].rows[0][0] else {
            panic!("{:?}", r[0].rows)
        };
        assert!((c - 1.0).abs() < 1e-5, "{c}");
        // UPDATE with the encoder over every row (one batch).
        db.execute("UPDATE docs SET embedding = minilm_embed('x ' || type)")
            .unwrap();
        db.execute("UPDATE docs SET embedding = minilm_embed(type)")
            .unwrap();

        // A map of the wrong width: a clear error naming both widths, nothing changed.
        db.execute("CREATE MAP small WITH (channels = 32)").unwrap();
        let e = db
            .execute("INSERT INTO small (id, position, embedding) VALUES ('s', [0, 0, 0], minilm_embed('hello'))")
            .unwrap_err()
            .to_string();
        assert!(e.contains("384") && e.contains("32"), "{e}");
        assert_eq!(ids(&db, "SELECT COUNT(*) FROM small"), ["0"]);
        // A sentence encoder cannot be trained or saved as a .vllm file.
        let e = db
            .execute("TRAIN MODEL minilm ON docs")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bert"), "{e}");
        let e = db
            .execute(&format!(
                "SAVE MODEL minilm TO '{}'",
                dir.path().join("m.vllm").display()
            ))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bert"), "{e}");
    }
    // Another process (here: a reopen) has the model and its function.
    let db = Database::open(&path).unwrap();
    let top = ids(
        &db,
        "SELECT id FROM docs ORDER BY ATTENTION(minilm_embed('shares dropped on the market')) DESC LIMIT 1",
    );
    assert_eq!(top, ["d3"]);
    db.execute("DROP MODEL minilm").unwrap();
    let e = db
        .execute("SELECT minilm_embed('x')")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown function"), "{e}");
}

#[test]
fn a_folder_that_is_not_an_encoder_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    let e = db
        .execute(&format!("LOAD MODEL m FROM '{}'", dir.path().display()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json"), "{e}");
    assert!(db.execute("SHOW MODELS").unwrap()[0].rows.is_empty());
}
