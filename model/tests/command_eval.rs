//! The held-out evaluation: its file reads, its references run to non-trivial answers on
//! the evaluation map, and the scorer scores a small fixed example as it should.
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_model::command::eval::{
    eval_cases, eval_catalog, eval_objects, judge, parse_cases, scores, Expected, EVAL_TYPES,
};
use tensormap_model::command::exec::{run, Answer};
use tensormap_model::command::grammar::Slots;
use tensormap_model::command::model::{Generated, Outcome};
use tensormap_model::command::query::Condition;
use tensormap_model::command::tql::parse;

#[test]
fn the_evaluation_set_reads_and_is_large_enough() {
    let cases = eval_cases().unwrap();
    let commands = cases
        .iter()
        .filter(|c| matches!(c.expected, Expected::Statement(_)))
        .count();
    let declines = cases
        .iter()
        .filter(|c| c.expected == Expected::Decline)
        .count();
    let others = cases
        .iter()
        .filter(|c| c.expected == Expected::NotACommand)
        .count();
    assert!(commands + declines >= 250, "{commands} + {declines}");
    assert!(others >= 20, "{others}");
    // No text twice.
    let mut texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), cases.len());
    // Every reference names only the map's types and columns.
    let catalog = eval_catalog();
    for c in &cases {
        if let Expected::Statement(q) = &c.expected {
            for cond in &q.conditions {
                match cond {
                    Condition::Type { types, .. } => {
                        assert!(
                            types.iter().all(|t| catalog.types.contains(t)),
                            "line {}",
                            c.line
                        )
                    }
                    Condition::Near { ty, .. } => {
                        assert!(catalog.types.contains(ty), "line {}", c.line)
                    }
                    Condition::Compare { column, .. } => assert!(
                        ["confidence", "x", "y", "z", "mass", "speed"].contains(&column.as_str()),
                        "line {}",
                        c.line
                    ),
                    Condition::Within { .. } => {}
                }
            }
            // What the reference says is what it reads back as.
            assert_eq!(
                parse(&q.to_tensorql("scene")).unwrap().1,
                *q,
                "line {}",
                c.line
            );
        }
    }
}

#[test]
fn references_have_answers_worth_comparing() {
    let objects = eval_objects();
    let total: usize = EVAL_TYPES.iter().map(|(_, n)| n).sum();
    assert_eq!(objects.len(), total);
    assert_eq!(objects, eval_objects(), "the map is the same every time");
    let mut empty = 0;
    let mut all = 0;
    let mut statements = 0;
    for c in eval_cases().unwrap() {
        let Expected::Statement(q) = &c.expected else {
            continue;
        };
        statements += 1;
        match run(q, &objects) {
            Answer::Rows(r) if r.is_empty() => empty += 1,
            Answer::Rows(r) if r.len() == objects.len() => all += 1,
            Answer::Count(0) => empty += 1,
            _ => {}
        }
    }
    // An empty answer cannot tell a right statement from many wrong ones: keep them rare.
    assert!(
        empty * 20 <= statements,
        "{empty} of {statements} references answer nothing"
    );
    assert!(all <= 5, "{all} references answer every object");
}

fn generated(statement: &str, outcome: Outcome) -> Generated {
    let (_, query) = parse(statement).unwrap();
    Generated {
        outcome,
        statement: statement.into(),
        query,
        probability: 0.9,
        symbols: vec![],
        slots: Slots::default(),
    }
}

#[test]
fn the_scorer_on_a_fixed_example() {
    let tsv = "# two commands, a refusal and a non-command\n\
        cubes near the origin\tSELECT * FROM scene WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 100)\n\
        how many spheres\tSELECT COUNT(*) FROM scene WHERE type = 'sphere'\n\
        find the dragons\tDECLINE\n\
        hello\tNOT_A_COMMAND\n";
    let cases = parse_cases(tsv).unwrap();
    assert_eq!(cases.len(), 4);
    assert_eq!(cases[0].line, 2);
    let objects = eval_objects();
    let got = [
        // Same rows, written differently (radius 100.0 vs 100, list of one): all right.
        generated(
            "SELECT * FROM scene WHERE type IN ('cube') AND WITHIN(position, [0, 0, 0], 100.0)",
            Outcome::Answer,
        ),
        // The right shape with the wrong type: intent only.
        generated(
            "SELECT COUNT(*) FROM scene WHERE type = 'cube'",
            Outcome::Answer,
        ),
        // Declined: right.
        generated("SELECT * FROM scene", Outcome::UnknownType),
        // A statement for a non-command: valid, but not declined.
        generated("SELECT * FROM scene", Outcome::NotSure),
    ];
    let verdicts: Vec<_> = cases
        .iter()
        .zip(&got)
        .map(|(c, g)| judge(&c.expected, g, &objects))
        .collect();
    assert!(verdicts[0].intent && verdicts[0].params && verdicts[0].success);
    assert!(verdicts[1].intent && !verdicts[1].params && !verdicts[1].success);
    assert!(verdicts[2].success);
    assert!(!verdicts[3].success);
    let s = scores(
        cases
            .iter()
            .zip(&got)
            .zip(&verdicts)
            .map(|((c, g), v)| (c, g, *v)),
    );
    assert_eq!((s.commands, s.not_commands), (3, 1));
    assert!((s.intent - 1.0).abs() < 1e-9);
    assert!((s.params - 2.0 / 3.0).abs() < 1e-9);
    assert!((s.success - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.declined, 0.0);
    // A right statement the model was not sure of is no success, but a right guess.
    let unsure = generated(
        "SELECT COUNT(*) FROM scene WHERE type = 'sphere'",
        Outcome::NotSure,
    );
    let v = judge(&cases[1].expected, &unsure, &objects);
    assert!(!v.success && v.best_guess && v.intent && v.params);
    // Bad files are refused with their line.
    let e = parse_cases("ok\tSELECT * FROM scene\nbad line\n").unwrap_err();
    assert!(e.contains("line 2"), "{e}");
    let e = parse_cases("x\tSELECT * FROM other\n").unwrap_err();
    assert!(e.contains("other"), "{e}");
}
