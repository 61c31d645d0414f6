//! The built-in command model (`model/data/command.vllm`, written by
//! `examples/train_commands.rs`): it reads, it answers the held-out evaluation set at least
//! as well as its recorded scores allow (a regression check, with a margin under the
//! figures in docs/ask.md), it answers the documented examples exactly, and it declines
//! what it should.
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_model::command::eval::{eval_catalog, evaluate};
use tensormap_model::command::{Catalog, CommandModel, Outcome};

const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/command.vllm");

fn model() -> CommandModel {
    CommandModel::load(MODEL).expect("the built-in command model reads")
}

#[test]
fn the_built_in_model_scores_on_the_held_out_set() {
    let m = model();
    let (s, judged) = evaluate(&m).unwrap();
    let failures: Vec<String> = judged
        .iter()
        .filter(|(_, _, v)| !v.success)
        .map(|(c, g, _)| {
            format!(
                "line {}: {:?} -> {:?} {}",
                c.line, c.text, g.outcome, g.statement
            )
        })
        .collect();
    assert!(
        s.success >= 0.95 && s.intent >= 0.96 && s.params >= 0.97,
        "intent {:.3} params {:.3} success {:.3}\n{}",
        s.intent,
        s.params,
        s.success,
        failures.join("\n")
    );
    assert!(s.declined >= 0.9, "declined {:.3}", s.declined);
}

#[test]
fn the_documented_examples() {
    let m = model();
    let demo = Catalog::new("demo", ["cube", "sphere", "pyramid", "torus", "point"]);
    let g = m
        .ask("Find all cubes within 200 units of center", &demo)
        .unwrap();
    assert_eq!(g.outcome, Outcome::Answer);
    assert_eq!(
        g.statement,
        "SELECT * FROM demo WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 200)"
    );
    let g = m.ask("the 5 objects nearest to 0,0,0", &demo).unwrap();
    assert_eq!(
        g.statement,
        "SELECT * FROM demo ORDER BY DISTANCE(position, [0, 0, 0]) LIMIT 5"
    );
    let g = m.ask("show me the tori near the origin", &demo).unwrap();
    assert_eq!(
        g.statement,
        "SELECT * FROM demo WHERE type = 'torus' ORDER BY DISTANCE(position, [0, 0, 0])"
    );
    // The same text, another map: the types are the map's own.
    let other = Catalog::new("yard", ["Crate", "forklift", "pallet_jack"]);
    let g = m
        .ask(
            "how many pallet jacks are within 40 m of (10, -5, 0)?",
            &other,
        )
        .unwrap();
    assert_eq!(
        g.statement,
        "SELECT COUNT(*) FROM yard WHERE type = 'pallet_jack' AND WITHIN(position, [10, -5, 0], 40)"
    );
}

#[test]
fn it_declines_what_is_no_question_about_the_map() {
    let m = model();
    let catalog = eval_catalog();
    for text in [
        "good morning!",
        "wie viele Würfel gibt es",
        "delete all cubes",
    ] {
        let g = m.ask(text, &catalog).unwrap();
        assert_eq!(g.outcome, Outcome::NotACommand, "{text:?}: {}", g.statement);
    }
    let g = m.ask("show me the giraffes", &catalog).unwrap();
    assert_eq!(g.outcome, Outcome::UnknownType, "{}", g.statement);
}
