//! The command model: plain language to one read-only TensorQL statement over a map
//! (`ASK map 'text'`). The design is in docs/ask.md; in short:
//!
//! 1. [`lexer`] turns the text into words, punctuation and numbers (digits and number
//!    words); [`linking`] finds the words that name the map's types and numeric columns
//!    ([`Catalog`], given at query time; plurals and typos forgiven).
//! 2. The V-LLM reads `[BOS] text [SEP]`, where every number, type and column is a slot
//!    token ([`symbols`]), and writes the statement one symbol at a time; [`grammar`]'s
//!    automaton allows only symbols that keep it a well-formed SELECT naming slots that
//!    exist, so every output is valid by construction.
//! 3. [`resolve`] fills the slots in; [`query`] writes the TensorQL text; [`tql`] reads it
//!    back. [`model`] holds it together: [`CommandModel::ask`].
//!
//! Around it: [`builtin`] (the model compiled into the crate), [`format`](mod@format) (the model's
//! file: a `.vllm` of model type 3 with a `CMDS` section), [`tokens`] (the tokenizer: symbol merges, then text merges learned from the
//! corpus), [`corpus`] (the synthetic training corpus, from a seed), [`train`] (training on
//! its pairs), [`eval`] and [`exec`] (the held-out evaluation set, its map, the scores and
//! the brute-force executor they compare answers with).

pub mod builtin;
pub mod catalog;
pub mod corpus;
pub mod eval;
pub mod exec;
pub mod format;
pub mod grammar;
pub mod lexer;
pub mod linking;
pub mod model;
pub mod query;
pub mod resolve;
pub mod symbols;
pub mod tokens;
pub mod tql;
pub mod train;

pub use catalog::{Catalog, Column};
pub use model::{CommandModel, Generated, Outcome};
pub use query::{Condition, Op, Order, Projection, Query};
