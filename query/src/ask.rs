//! `ASK map [USING model] 'text'`: plain language answered as one read-only statement.
//! This file holds what the model host returns; the statement's run is `session/ask.rs`.
//!
//! The query crate does not run models: the installed [`crate::ModelHost`] turns the text
//! and the map's catalog into a statement ([`ModelHost::ask`](crate::ModelHost::ask), with
//! the database's built-in command model, or the stored command model `USING` names). The
//! session then trusts nothing of it: the statement is parsed by the real parser and must be
//! one `SELECT` that reads only the map asked about, else ASK fails (an internal error: the
//! command model's decoder is built never to write anything else).
//!
//! - `ASK` runs the statement when the model is confident ([`AskOutcome::Answer`]); the rows
//!   come back as from the statement itself. Otherwise nothing runs and the error says why
//!   and shows the model's best guess: not sure (its probability is below the model's
//!   threshold), not a question about the map, or a type the map does not have.
//! - `EXPLAIN ASK` runs nothing and returns one row: `statement`, `probability`, `outcome`
//!   (`answer`, `not sure`, `not a command`, `unknown type`), `threshold`, `model`.

/// How a command model would answer a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskOutcome {
    /// Confident: run the statement.
    Answer,
    /// The statement's probability is below the model's threshold.
    NotSure,
    /// The text is no question about the map.
    NotACommand,
    /// The text names a type the map does not have.
    UnknownType,
}

impl AskOutcome {
    /// Its name in `EXPLAIN ASK`'s `outcome` column.
    pub fn name(self) -> &'static str {
        match self {
            AskOutcome::Answer => "answer",
            AskOutcome::NotSure => "not sure",
            AskOutcome::NotACommand => "not a command",
            AskOutcome::UnknownType => "unknown type",
        }
    }
}

/// What a command model wrote for a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    /// The statement (for an outcome other than `Answer`, the best guess), as TensorQL.
    pub statement: String,
    /// `P(statement | text)` under the grammar-constrained model (for `NotACommand`: the
    /// probability of declining).
    pub probability: f64,
    /// How to answer.
    pub outcome: AskOutcome,
    /// The model's confidence threshold.
    pub threshold: f64,
    /// Which model answered: `built-in` or the stored model's name.
    pub model: String,
}
