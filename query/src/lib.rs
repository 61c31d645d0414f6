//! tensormap-query: TensorQL, the query language of tensormap (docs/LANGUAGE.md).
//!
//! The pipeline: [`lexer`] → [`parser`] (an [`ast`] with positions) → [`run`] (WITH,
//! compound queries, subqueries) → [`plan`] (which index answers each map, how maps are
//! joined) → [`join`] and [`exec`] (run it on the engine's API in a [`Session`]; a
//! script's SELECTs that differ only in their vectors are parsed once: `shapes`). [`reader`] splits a script read from a file or a pipe
//! into statements, in bounded memory.

pub mod ask;
pub mod ast;
mod batch;
pub mod copy;
mod error;
pub mod eval;
pub mod exec;
mod func;
pub mod join;
pub mod lexer;
mod limits;
pub mod model;
pub mod parser;
pub mod plan;
pub mod progress;
pub mod reader;
pub mod render;
pub mod render_html;
pub mod run;
mod session;
mod shapes;
mod snapshot;
pub mod train_commands;
mod window;

pub use ask::{AskOutcome, Asked};
pub use copy::{CopyError, CopyFormats, CopyOptions, Exported, Format, Imported, Partitioning};
pub use error::{CallError, Error, ErrorKind, Pos, Result};
pub use exec::QueryResult;
pub use model::{ModelBytes, ModelHost, OptionsOf, TrainCallback};
pub use parser::{
    first_file_statement, parse_script, parse_statement, script_access, Parsed, Script, Shaped,
};
pub use progress::{Progress, ProgressSink, Unit};
pub use reader::{Chunk, ReadError, ScriptReader};
pub use session::Session;
pub use train_commands::CommandPair;
