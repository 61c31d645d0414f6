//! `TRAIN MODEL m ON map WITH (task = 'commands', examples = 'pairs', ...)`: a command
//! model (the one `ASK map USING m '...'` asks) fine-tuned on (text, statement) examples a
//! user keeps in a map of the database.
//!
//! The examples map holds one object per example: its **id is the text** (a phrasing, so
//! each phrasing is one example) and its **type is the statement** (many phrasings may
//! share one: `SELECT type, COUNT(*) FROM pairs GROUP BY type` lists them). Its positions
//! and embeddings are not read. Examples are read in id order.
//!
//! - `m` a command model: it is fine-tuned further; `m` not there: it starts as a copy of
//!   the built-in command model; `m` of another kind: an error.
//! - Every statement is checked by the real parser before any training: one `SELECT` over
//!   `map` alone (never a write); the host then checks that the command model can write it
//!   from the text (its values are ones the text gives, its form one of docs/ask.md's).
//! - Options (numbers): `epochs`, `learning_rate`, `batch_size`, `dropout`, `seed`,
//!   `replay` (corpus examples mixed in per example of the user's, so the model keeps what
//!   it knew). The host checks their ranges.
//!
//! A statement that fails (no examples, a bad one, a map that is not there, bad options)
//! changes nothing: the model is stored only when every step succeeded.

use tensormap_engine::WriteTransaction;

use crate::ast::{Setting, Span, Statement};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::model::check_model_name;
use crate::parser::parse_statement;
use crate::progress::StepProgress;
use crate::session::Session;

/// The numeric options `TRAIN … WITH (task = 'commands')` takes.
pub const OPTIONS: [&str; 6] = [
    "epochs",
    "learning_rate",
    "batch_size",
    "dropout",
    "seed",
    "replay",
];

/// At most this many examples are read from the examples map.
pub const MAX_EXAMPLES: usize = 10_000;

/// One example a user keeps: a text and the statement it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandPair {
    /// The phrasing (the example object's id).
    pub text: String,
    /// The statement, TensorQL (the example object's type).
    pub statement: String,
}

/// Whether TRAIN's settings name a task (`task = '...'`): this file's statement.
pub(crate) fn names_task(settings: &[(String, Setting, Span)]) -> bool {
    settings.iter().any(|(k, _, _)| k == "task")
}

/// The examples map and the numeric options of `settings`.
fn settings_of(
    settings: &[(String, Setting, Span)],
    pos: Pos,
) -> Result<(String, Vec<(String, f64)>)> {
    let mut examples = None;
    let mut options: Vec<(String, f64)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value, at) in settings {
        if seen.contains(&key.as_str()) {
            return Err(Error::syntax(at.0, format!("{key} is given twice")));
        }
        seen.push(key);
        match (key.as_str(), value) {
            ("task", Setting::Str(t)) if t == "commands" => {}
            ("task", other) => {
                return Err(Error::invalid(
                    at.0,
                    format!(
                        "task must be 'commands' (a command model for ASK), found {other}; \
                         without task, TRAIN fine-tunes a V-LLM on the map's objects"
                    ),
                ))
            }
            ("examples", Setting::Str(m)) | ("examples", Setting::Word(m)) => {
                examples = Some(m.clone())
            }
            ("examples", other) => {
                return Err(Error::invalid(
                    at.0,
                    format!("examples must name a map, found {other}"),
                ))
            }
            (k, Setting::Number(n)) if OPTIONS.contains(&k) => options.push((key.clone(), *n)),
            (k, other) if OPTIONS.contains(&k) => {
                return Err(Error::invalid(
                    at.0,
                    format!("{key} must be a number, found {other}"),
                ))
            }
            _ => {
                return Err(Error::invalid(
                    at.0,
                    format!(
                        "TRAIN … WITH (task = 'commands') has no option {key}: it takes \
                         examples = 'map' and {}",
                        OPTIONS.join(", ")
                    ),
                ))
            }
        }
    }
    let examples = examples.ok_or_else(|| {
        Error::invalid(
            pos,
            "TRAIN … WITH (task = 'commands') needs examples = 'map': the map whose objects \
             are the examples (id: the text, type: the statement)",
        )
    })?;
    Ok((examples, options))
}

/// The examples of map `examples`, each statement checked to be one SELECT over `map`.
fn read_pairs(
    t: &mut WriteTransaction,
    examples: &str,
    map: &str,
    pos: Pos,
) -> Result<Vec<CommandPair>> {
    let view = t.map(examples).map_err(|e| Error::engine(pos, e))?;
    if view.is_empty() {
        return Err(Error::invalid(
            pos,
            format!(
                "map '{examples}' has no examples: each object is one, its id the text and \
                 its type the statement"
            ),
        ));
    }
    if view.len() > MAX_EXAMPLES {
        return Err(Error::invalid(
            pos,
            format!(
                "map '{examples}' has {} objects; TRAIN reads at most {MAX_EXAMPLES} examples",
                view.len()
            ),
        ));
    }
    let mut pairs: Vec<CommandPair> = view
        .objects()
        .map(|o| CommandPair {
            text: o.id().to_string(),
            statement: o.kind().to_string(),
        })
        .collect();
    pairs.sort_by(|a, b| a.text.cmp(&b.text));
    for p in &pairs {
        let wrong = |why: String| {
            Error::invalid(
                pos,
                format!(
                    "example '{}' of map '{examples}': its statement {:?} {why}",
                    p.text, p.statement
                ),
            )
        };
        match parse_statement(&p.statement) {
            Ok(Statement::Select(sel)) => {
                if let Some(t) = sel.tables().find(|t| t.source.map() != Some(map)) {
                    return Err(wrong(match t.source.map() {
                        Some(other) => format!("reads map '{other}', not '{map}'"),
                        None => "reads a subquery".into(),
                    }));
                }
            }
            Ok(_) => {
                return Err(wrong(
                    "is not a SELECT: ASK answers with one read-only statement".into(),
                ))
            }
            Err(e) => return Err(wrong(format!("does not parse: {e}"))),
        }
    }
    Ok(pairs)
}

impl Session {
    /// Runs `TRAIN MODEL name ON map WITH (task = 'commands', …)` (module docs).
    pub(crate) fn train_commands(
        &mut self,
        name: &str,
        map: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let host = self.model_host.clone().ok_or_else(|| {
            Error::internal(
                pos,
                "this program runs no models: model statements need a model host \
                 (the tensormap library and the tmap shell install one)",
            )
        })?;
        check_model_name(name, pos)?;
        let (examples, options) = settings_of(settings, pos)?;
        let sink = self.progress.clone();
        let r = self.write(pos, |t| {
            let engine = |e| Error::engine(pos, e);
            let base = t.model(name);
            // The map asked about must exist before its examples are read.
            t.map(map).map_err(engine)?;
            let pairs = read_pairs(t, &examples, map, pos)?;
            let made = {
                let view = t.map(map).map_err(engine)?;
                let mut steps =
                    StepProgress::new(sink.clone(), format!("train {name} on {examples}"));
                let mut report = |step, total, loss| steps.report(step, total, loss);
                host.train_commands(base.as_deref(), &view, &pairs, &options, &mut report)
                    .map_err(|e| Error::call(pos, None, e))?
            };
            let steps = made.info.steps;
            let loss = made.info.loss;
            t.put_model(name, &made.kind, made.info, &made.bytes)
                .map_err(engine)?;
            Ok(QueryResult::status(match loss {
                Some(l) => format!(
                    "TRAIN MODEL {} examples, {steps} steps, loss {l:.4}",
                    pairs.len()
                ),
                None => format!("TRAIN MODEL {} examples, {steps} steps", pairs.len()),
            }))
        });
        self.sync_models();
        r
    }
}
