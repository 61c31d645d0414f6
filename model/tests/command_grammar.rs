//! Every statement the command model writes is valid, whatever the text and whatever the
//! weights: models with random weights (which pick symbols all over the grammar) are asked
//! random texts — commands, garbage, other scripts, numbers in bulk — and each statement
//! must read back with the statement reader into the same query, be a SELECT over the map,
//! name only the catalog's types and columns, and parse under the grammar with the text's
//! slots. Bad input gets a clear error.
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_model::command::grammar::{Decoded, Parser};
use tensormap_model::command::query::{Condition, Order};
use tensormap_model::command::tql::parse;
use tensormap_model::command::{Catalog, CommandModel, Outcome};
use tensormap_model::{ModelConfig, WeightDtype};

fn model(seed: u64) -> CommandModel {
    let mut config = ModelConfig::small(1, 24, 2, 4);
    config.context = 160;
    let merges = vec![
        (b" ".to_vec(), b"c".to_vec()),
        (b" c".to_vec(), b"u".to_vec()),
    ];
    CommandModel::new(config, &merges, seed).unwrap()
}

fn catalog() -> Catalog {
    Catalog::new(
        "scene",
        ["cube", "sphere", "Drone", "traffic_cone", "it's odd"],
    )
    .with_column("mass", true)
    .with_column("label", false)
}

const WORDS: [&str; 40] = [
    "find",
    "all",
    "cubes",
    "spheres",
    "drones",
    "traffic",
    "cones",
    "within",
    "of",
    "near",
    "the",
    "origin",
    "center",
    "nearest",
    "farthest",
    "how",
    "many",
    "count",
    "confidence",
    "above",
    "below",
    "mass",
    "x",
    "sorted",
    "by",
    "top",
    "and",
    "or",
    "not",
    "except",
    "per",
    "type",
    "DROP",
    "TABLE",
    "über",
    "日本語",
    "🙂",
    "'",
    "\"",
    ";",
];

fn random_text(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(1..30);
    let mut parts = Vec::new();
    for _ in 0..n {
        let part = match rng.random_range(0..10) {
            0..=5 => WORDS.choose(rng).unwrap().to_string(),
            6 => format!("{}", rng.random_range(-1000.0..1000.0f64)),
            7 => format!(
                "({}, {}, {})",
                rng.random_range(-9..9),
                rng.random_range(-9..9),
                3
            ),
            8 => rng.random_range(0..100).to_string(),
            _ => (0..rng.random_range(1..8))
                .map(|_| char::from_u32(rng.random_range(32..0x3000)).unwrap_or('x'))
                .collect(),
        };
        parts.push(part);
    }
    parts.join(" ")
}

/// Checks the statement for `text`; returns it (`None` when the text was refused).
fn check(m: &CommandModel, text: &str, catalog: &Catalog) -> Option<String> {
    let g = match m.ask(text, catalog) {
        Ok(g) => g,
        Err(e) => {
            // Only a text that is empty or too long for the model is refused.
            let msg = e.to_string();
            assert!(
                msg.contains("empty") || msg.contains("at most"),
                "{text:?}: {msg}"
            );
            return None;
        }
    };
    let (map, q) = parse(&g.statement).unwrap_or_else(|e| panic!("{text:?}: {e}: {}", g.statement));
    assert_eq!(map, "scene");
    assert_eq!(q, g.query, "{text:?}");
    assert!(g.statement.starts_with("SELECT "));
    assert!((0.0..=1.0).contains(&g.probability), "{}", g.probability);
    for c in &q.conditions {
        match c {
            Condition::Type { types, .. } => {
                assert!(
                    types.iter().all(|t| catalog.types.contains(t)),
                    "{}",
                    g.statement
                )
            }
            Condition::Near { ty, radius } => {
                assert!(
                    catalog.types.contains(ty) && *radius >= 0.0,
                    "{}",
                    g.statement
                )
            }
            Condition::Within { radius, .. } => assert!(*radius >= 0.0),
            Condition::Compare { column, .. } => assert!(
                ["confidence", "x", "y", "z", "mass"].contains(&column.as_str()),
                "{}",
                g.statement
            ),
        }
    }
    if let Some(Order::Column { column, .. }) = &q.order {
        assert!(["confidence", "x", "y", "z", "mass"].contains(&column.as_str()));
    }
    if let Some(n) = q.limit {
        assert!(n >= 1);
    }
    // The symbols read as a statement under the text's slots.
    let decoded = Parser::parse(&g.slots, &g.symbols).unwrap();
    assert!(matches!(decoded, Decoded::Statement(_)));
    if g.outcome == Outcome::NotACommand {
        assert!(g.probability > 0.0);
    }
    Some(g.statement)
}

#[test]
fn random_texts_give_valid_selects() {
    let catalog = catalog();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut seen = String::new();
    for seed in 0..8 {
        let m = model(seed);
        for _ in 0..60 {
            let text = random_text(&mut rng);
            if let Some(s) = check(&m, &text, &catalog) {
                seen.push_str(&s);
                seen.push('\n');
            }
        }
    }
    // Random weights wander over the grammar: the forms were exercised, not just one.
    for form in [
        "SELECT *",
        "COUNT(*)",
        "type, COUNT(*)",
        "NOT WITHIN",
        "WITHIN(position, [0, 0, 0]",
        "JOIN",
        "IN (",
        "ORDER BY",
        "LIMIT",
        "DESC",
        "mass",
        "Drone",
    ] {
        assert!(seen.contains(form), "no statement with {form}:\n{seen}");
    }
}

#[test]
fn garbage_other_scripts_and_huge_texts() {
    let m = model(3);
    let catalog = catalog();
    for text in [
        "asdkjh qwe zzz",
        "'; DROP MAP scene; --",
        "DELETE FROM scene WHERE 1 = 1",
        "Привет, как дела?",
        "今日は天気がいいですね",
        "مرحبا بالعالم",
        "🙂🙂🙂",
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
        "cubes spheres drones traffic cones it's odd cube cube",
        "\u{0}\u{7}\t\n",
    ] {
        assert!(check(&m, text, &catalog).is_some(), "{text:?}");
    }
    // Too long for the model: a clear error, not a truncated guess.
    let long = "find all cubes near the origin ".repeat(3400);
    assert!(long.len() > 100_000);
    let e = m.ask(&long, &catalog).unwrap_err().to_string();
    assert!(e.contains("at most 4096"), "{e}");
    let e = m
        .ask(&"cube ".repeat(300), &catalog)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokens"), "{e}");
    let e = m.ask("   ", &catalog).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let e = m
        .ask("cubes", &Catalog::new("", ["cube"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("map name"), "{e}");
}

#[test]
fn a_file_round_trips_and_a_spatial_vllm_is_refused() {
    let m = model(5);
    let bytes = m.to_bytes(WeightDtype::F32).unwrap();
    let back = CommandModel::from_bytes(&bytes).unwrap();
    let catalog = catalog();
    for text in ["find all cubes within 20 of the origin", "how many drones"] {
        assert_eq!(
            m.ask(text, &catalog).unwrap(),
            back.ask(text, &catalog).unwrap()
        );
    }
    // A spatial V-LLM is not a command model, and a command model is not a spatial V-LLM.
    let spatial = tensormap_model::Model::new(ModelConfig::small(1, 12, 2, 4), 1).unwrap();
    let e = CommandModel::from_bytes(&spatial.to_vllm().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a command model"), "{e}");
    let e = tensormap_model::Model::from_vllm(&bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("header"), "{e}");
    // Every truncation and a flipped byte in each part are detected.
    for cut in [0, 10, 16, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            CommandModel::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    for at in [
        3,
        9,
        20,
        70,
        bytes.len() / 2,
        bytes.len() - 20,
        bytes.len() - 2,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(CommandModel::from_bytes(&bad).is_err(), "flip at {at}");
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(CommandModel::from_bytes(&extra).is_err());
}
