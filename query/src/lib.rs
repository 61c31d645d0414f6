//! tensormap-query: TensorQL, the query language of tensormap (shared/LANGUAGE.md).
//!
//! The pipeline: [`lexer`] → [`parser`] (an [`ast`] with positions) → [`plan`] (which
//! index answers the query) → [`exec`] (runs it on the engine's API in a [`Session`]).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod ast;
mod error;
pub mod eval;
pub mod exec;
pub mod lexer;
pub mod parser;
pub mod plan;
pub mod render;
mod session;

pub use error::{Error, Pos, Result};
pub use exec::QueryResult;
pub use parser::{parse_script, parse_statement, Parsed, Script};
pub use session::Session;
