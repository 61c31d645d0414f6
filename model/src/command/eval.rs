//! The held-out evaluation: the map it runs on (built from a seed), its cases
//! (`data/ask_eval.tsv`: commands written as people write them, with reference statements),
//! and the three scores of the product's quality table.
//!
//! - **Spatial intent**: the generated statement has the reference's shape — what it
//!   returns, which kinds of conditions (type, within, not within, near, comparison), which
//!   ordering (by distance or a column, which direction), whether it is limited — whatever
//!   its values.
//! - **Parameter extraction**: it has the reference's values — the multiset of its types,
//!   numbers (radii, thresholds, counts), centres and columns.
//! - **Command success**: ASK would run it (outcome `Answer`) and it returns the same
//!   answer as the reference on the evaluation map (the same ids in the same order when the
//!   reference orders them, the same count, the same counts per type), by the brute-force
//!   executor of `exec.rs`.
//!
//! A `DECLINE` case (a type the map does not have) scores on all three when ASK declines.
//! `NOT_A_COMMAND` cases are scored apart: how many ASK declines (every statement is valid by
//! construction either way).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::Catalog;
use super::exec::{run, Object};
use super::model::{Generated, Outcome};
use super::query::{Condition, Order, Projection, Query};
use super::tql::parse;

/// The evaluation map's name.
pub const EVAL_MAP: &str = "scene";
/// The evaluation map's seed.
pub const EVAL_SEED: u64 = 29;
/// The evaluation map's types and how many objects of each.
pub const EVAL_TYPES: [(&str, usize); 14] = [
    ("cube", 48),
    ("sphere", 42),
    ("torus", 20),
    ("cone", 30),
    ("cylinder", 28),
    ("pyramid", 24),
    ("tree", 40),
    ("lamp", 24),
    ("robot", 22),
    ("car", 20),
    ("bench", 18),
    ("box", 26),
    ("traffic_cone", 16),
    ("Drone", 14),
];

/// The evaluation set, as kept in the repository.
pub const EVAL_TSV: &str = include_str!("../../data/ask_eval.tsv");

/// The objects of the evaluation map: for each type in turn its objects, 60 % of them
/// normally distributed around the origin (σ = 160 per axis), the rest uniform; positions
/// within ±490 rounded to 0.01, confidence in [0.05, 1) rounded to 0.0001, `mass` in
/// [0.5, 100), `speed` in [0, 10) for robots, cars and drones and 0 for the rest; every
/// value exact in f32. Ids are `type_n`, `n` counting all objects from 0.
pub fn eval_objects() -> Vec<Object> {
    let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED);
    let round = |v: f64, step: f64| ((v / step).round() * step) as f32 as f64;
    let mut out = Vec::new();
    for (ty, count) in EVAL_TYPES {
        for _ in 0..count {
            let clustered = rng.random::<f64>() < 0.6;
            let mut p = [0f64; 3];
            for v in &mut p {
                let raw = if clustered {
                    // Box–Muller.
                    let u1: f64 = 1.0 - rng.random::<f64>();
                    let u2: f64 = rng.random();
                    160.0 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                } else {
                    rng.random_range(-490.0..490.0)
                };
                *v = round(raw.clamp(-490.0, 490.0), 0.01);
            }
            let confidence = round(rng.random_range(0.05..1.0), 0.0001);
            let mass = round(rng.random_range(0.5..100.0), 0.01);
            let moving = matches!(ty, "robot" | "car" | "Drone");
            let speed = if moving {
                round(rng.random_range(0.0..10.0), 0.01)
            } else {
                0.0
            };
            out.push(Object {
                id: format!("{}_{}", ty.to_lowercase(), out.len()),
                ty: ty.to_string(),
                position: p,
                confidence,
                columns: vec![("mass".into(), mass), ("speed".into(), speed)],
            });
        }
    }
    out
}

/// The evaluation map's catalog: its types, and its columns `mass` and `speed` (REAL).
pub fn eval_catalog() -> Catalog {
    Catalog::new(EVAL_MAP, EVAL_TYPES.iter().map(|(t, _)| *t))
        .with_column("mass", true)
        .with_column("speed", true)
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// This statement.
    Statement(Query),
    /// A refusal: the text names a type the map does not have.
    Decline,
    /// No question about the map: a refusal or any valid statement.
    NotACommand,
}

/// One evaluation case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Its line in the file (1-based).
    pub line: usize,
    /// The text.
    pub text: String,
    /// What it expects.
    pub expected: Expected,
}

/// Reads cases from the evaluation set's format (`text <TAB> reference`, `#` comments);
/// an error names the line.
pub fn parse_cases(tsv: &str) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (i, line) in tsv.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (text, reference) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {n}: no tab between the text and the reference"))?;
        let expected = match reference.trim() {
            "DECLINE" => Expected::Decline,
            "NOT_A_COMMAND" => Expected::NotACommand,
            sql => {
                let (map, q) = parse(sql).map_err(|e| format!("line {n}: {e}"))?;
                if map != EVAL_MAP {
                    return Err(format!(
                        "line {n}: the reference is over {map}, not {EVAL_MAP}"
                    ));
                }
                Expected::Statement(q)
            }
        };
        out.push(Case {
            line: n,
            text: text.to_string(),
            expected,
        });
    }
    Ok(out)
}

/// The evaluation set's cases.
pub fn eval_cases() -> Result<Vec<Case>, String> {
    parse_cases(EVAL_TSV)
}

/// A query's shape (module docs): projection, condition kinds (sorted), ordering, limited.
fn shape(q: &Query) -> (Projection, Vec<&'static str>, &'static str, bool) {
    let mut kinds: Vec<&'static str> = q
        .conditions
        .iter()
        .map(|c| match c {
            Condition::Type { negated: false, .. } => "type",
            Condition::Type { negated: true, .. } => "not type",
            Condition::Within { negated: false, .. } => "within",
            Condition::Within { negated: true, .. } => "not within",
            Condition::Near { .. } => "near",
            Condition::Compare { .. } => "compare",
        })
        .collect();
    kinds.sort_unstable();
    let order = match &q.order {
        None => "none",
        Some(Order::Distance {
            descending: false, ..
        }) => "nearest",
        Some(Order::Distance {
            descending: true, ..
        }) => "farthest",
        Some(Order::Column {
            descending: false, ..
        }) => "column asc",
        Some(Order::Column {
            descending: true, ..
        }) => "column desc",
    };
    (q.projection, kinds, order, q.limit.is_some())
}

/// A query's values (module docs), sorted.
fn values(q: &Query) -> Vec<String> {
    let mut v = Vec::new();
    let point = |p: &[f64; 3]| format!("p{p:?}");
    for c in &q.conditions {
        match c {
            Condition::Type { types, .. } => v.extend(types.iter().map(|t| format!("t{t}"))),
            Condition::Within { center, radius, .. } => {
                v.push(point(center));
                v.push(format!("n{radius}"));
            }
            Condition::Near { ty, radius } => {
                v.push(format!("t{ty}"));
                v.push(format!("n{radius}"));
            }
            Condition::Compare { column, value, .. } => {
                v.push(format!("c{column}"));
                v.push(format!("n{value}"));
            }
        }
    }
    match &q.order {
        Some(Order::Distance { center, .. }) => v.push(point(center)),
        Some(Order::Column { column, .. }) => v.push(format!("c{column}")),
        None => {}
    }
    if let Some(n) = q.limit {
        v.push(format!("n{n}"));
    }
    v.sort();
    v
}

/// How one generated statement scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Spatial intent.
    pub intent: bool,
    /// Parameter extraction.
    pub params: bool,
    /// Command success.
    pub success: bool,
    /// The statement returns the reference's answer, whatever the outcome (ASK's guess
    /// would have been right).
    pub best_guess: bool,
}

/// Scores `got` against a case's expectation on `objects` (module docs).
pub fn judge(expected: &Expected, got: &Generated, objects: &[Object]) -> Verdict {
    let declined = matches!(got.outcome, Outcome::NotACommand | Outcome::UnknownType);
    match expected {
        Expected::Decline | Expected::NotACommand => Verdict {
            intent: declined,
            params: declined,
            success: declined,
            best_guess: declined,
        },
        Expected::Statement(reference) => {
            let same = run(&got.query, objects) == run(reference, objects);
            Verdict {
                intent: !declined && shape(&got.query) == shape(reference),
                params: !declined && values(&got.query) == values(reference),
                success: got.outcome == Outcome::Answer && same,
                best_guess: same,
            }
        }
    }
}

/// The scores over a set of judged cases.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    /// Command cases (statements and `DECLINE`).
    pub commands: usize,
    /// Spatial intent, in `[0, 1]`.
    pub intent: f64,
    /// Parameter extraction.
    pub params: f64,
    /// Command success.
    pub success: f64,
    /// Right answer whatever the outcome.
    pub best_guess: f64,
    /// Command cases ASK answered `NotSure`.
    pub not_sure: usize,
    /// `NOT_A_COMMAND` cases.
    pub not_commands: usize,
    /// Of those, the share ASK declined.
    pub declined: f64,
}

/// Aggregates `(case, generated, verdict)` triples.
pub fn scores<'a>(judged: impl IntoIterator<Item = (&'a Case, &'a Generated, Verdict)>) -> Scores {
    let mut s = Scores::default();
    let (mut i, mut p, mut c, mut b, mut d) = (0, 0, 0, 0, 0);
    for (case, got, v) in judged {
        if case.expected == Expected::NotACommand {
            s.not_commands += 1;
            d += usize::from(v.success);
            continue;
        }
        s.commands += 1;
        i += usize::from(v.intent);
        p += usize::from(v.params);
        c += usize::from(v.success);
        b += usize::from(v.best_guess);
        s.not_sure += usize::from(got.outcome == Outcome::NotSure);
    }
    let share = |k: usize, n: usize| k as f64 / n.max(1) as f64;
    s.intent = share(i, s.commands);
    s.params = share(p, s.commands);
    s.success = share(c, s.commands);
    s.best_guess = share(b, s.commands);
    s.declined = share(d, s.not_commands);
    s
}

/// A case, what the model wrote for it, and how that scored.
pub type Judged = (Case, Generated, Verdict);

/// Runs `model` on every evaluation case over the evaluation map and scores it. A case whose
/// text the model cannot read (an error) is an error: the evaluation texts are all valid.
pub fn evaluate(model: &super::model::CommandModel) -> crate::error::Result<(Scores, Vec<Judged>)> {
    let cases = eval_cases().map_err(crate::error::Error::Argument)?;
    let catalog = eval_catalog();
    let objects = eval_objects();
    let mut judged = Vec::with_capacity(cases.len());
    for case in cases {
        let got = model.ask(&case.text, &catalog)?;
        let v = judge(&case.expected, &got, &objects);
        judged.push((case, got, v));
    }
    let s = scores(judged.iter().map(|(c, g, v)| (c, g, *v)));
    Ok((s, judged))
}
