//! Running `[EXPLAIN] ASK map [USING model] 'text'`: the host writes a statement, the real
//! parser reads it, and a confident answer runs as a SELECT (`crate::ask` has the rules).

use tensormap_engine::Value;

use super::Session;
use crate::ask::{AskOutcome, Asked};
use crate::ast::{Ask, Select, Statement};
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::parser::parse_statement;

/// At most this many characters of the text are quoted back in messages.
const QUOTED_CHARS: usize = 60;

fn quoted(text: &str) -> String {
    let mut s: String = text.chars().take(QUOTED_CHARS).collect();
    if text.chars().nth(QUOTED_CHARS).is_some() {
        s.push('…');
    }
    format!("'{s}'")
}

impl Session {
    /// Runs `[EXPLAIN] ASK` (module docs).
    pub(super) fn run_ask(&mut self, a: &Ask, pos: Pos) -> Result<QueryResult> {
        let host = self.model_host.clone().ok_or_else(|| {
            Error::internal(
                pos,
                "this program runs no models: ASK needs a model host \
                 (the tensormap library and the tmap shell install one)",
            )
        })?;
        let model = match &a.model {
            None => None,
            Some(name) => Some(
                match &self.txn {
                    Some(t) => t.model(name),
                    None => self
                        .db
                        .begin_read()
                        .map_err(|e| Error::engine(pos, e))?
                        .model(name),
                }
                .ok_or_else(|| {
                    Error::engine(pos, tensormap_engine::Error::ModelNotFound(name.clone()))
                })?,
            ),
        };
        let asked = self.read_map(&a.map, pos, |view| {
            host.ask(view, model.as_deref(), &a.text)
                .map_err(|e| Error::call(pos, Some("ASK"), e))
        })?;
        let select = checked_select(&asked.statement, &a.map, pos)?;
        if a.explain {
            return Ok(explained(&asked));
        }
        let guess = |why: String| {
            format!(
                "{why}; nothing was run. Best guess: {} (probability {:.2})",
                asked.statement, asked.probability
            )
        };
        match asked.outcome {
            AskOutcome::Answer => self.select(&select, pos),
            AskOutcome::NotSure => Err(Error::invalid(
                pos,
                guess(format!(
                    "ASK is not sure what {} asks of map '{}': the {} command model's best \
                     statement has probability {:.2}, below its threshold {:.2}",
                    quoted(&a.text),
                    a.map,
                    asked.model,
                    asked.probability,
                    asked.threshold
                )),
            )),
            AskOutcome::NotACommand => Err(Error::invalid(
                pos,
                guess(format!(
                    "{} does not read as a question about map '{}' (probability {:.2})",
                    quoted(&a.text),
                    a.map,
                    asked.probability
                )),
            )),
            AskOutcome::UnknownType => Err(Error::not_found(
                pos,
                guess(format!(
                    "{} names a type of object that map '{}' does not have",
                    quoted(&a.text),
                    a.map
                )),
            )),
        }
    }
}

/// The model's statement, parsed by the real parser: one SELECT over `map` alone.
fn checked_select(statement: &str, map: &str, pos: Pos) -> Result<Box<Select>> {
    let wrong = |why: String| {
        Error::internal(
            pos,
            format!("the command model wrote {statement:?}, which {why}"),
        )
    };
    match parse_statement(statement) {
        Ok(Statement::Select(sel)) => {
            if let Some(t) = sel.tables().find(|t| t.source.map() != Some(map)) {
                return Err(wrong(match t.source.map() {
                    Some(other) => format!("reads map '{other}'"),
                    None => "reads a subquery".into(),
                }));
            }
            if !sel.with.is_empty() || !sel.compound.is_empty() {
                return Err(wrong("is not one plain SELECT".into()));
            }
            Ok(sel)
        }
        Ok(_) => Err(wrong("is not a SELECT".into())),
        Err(e) => Err(wrong(format!("does not parse: {e}"))),
    }
}

/// `EXPLAIN ASK`'s one row.
fn explained(asked: &Asked) -> QueryResult {
    QueryResult {
        columns: ["statement", "probability", "outcome", "threshold", "model"]
            .map(String::from)
            .to_vec(),
        rows: vec![vec![
            Value::text(&asked.statement),
            Value::Number(asked.probability),
            Value::text(asked.outcome.name()),
            Value::Number(asked.threshold),
            Value::text(&asked.model),
        ]],
        status: "EXPLAIN ASK".into(),
    }
}
