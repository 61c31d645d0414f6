//! tensormap-models: the model host of TensorQL — an adapter crate, as tensormap-interop is
//! for COPY's formats. It implements the query crate's [`tensormap_query::ModelHost`] with
//! the models of tensormap-model, and the facade (`tensormap::Database`) installs it in every
//! session:
//!
//! - the V-LLM (kind `vllm`): CREATE, LOAD (a `.vllm` file), TRAIN and SAVE MODEL, and the
//!   functions `m_embed(text)`, `m_score(text, embedding, position)` and
//!   `m_generate(text, max_tokens [, temperature, top_k, seed])`;
//! - command models (kind `command`, LOAD MODEL of a command model's `.vllm` file), used by
//!   `ASK map USING m 'text'`; `ASK` without `USING` uses the built-in command model, decoded
//!   once per database (`ask.rs`);
//! - BERT-family sentence encoders (kind `bert`, LOAD MODEL of a Hugging Face folder), whose
//!   one function is `m_embed(text)`: the pooled, normalised embedding.
//!
//! What each function computes is defined in tensormap-model's crate documentation; the
//! language's side is docs/LANGUAGE.md, "Models".
//!
//! The functions are batch functions: the executor hands `m_embed` and `m_score` every row
//! of a stage at once and they run as batched forward passes (`functions.rs`). A stored
//! model's weights are decoded from its bytes on first use and kept in the database's one
//! [`ModelCache`], keyed by the model's blob id (a TRAIN stores the trained model under a
//! new blob id), shared by every connection, the Python cursors and the HTTP server.
//!
//! Files: `ask.rs` (ASK's catalog and answer), `cache.rs` (the decoded models), `host.rs` (the [`Host`]: the statements and the
//! registration of each model's functions), `functions.rs` (the functions over rows and
//! their argument checks), `calls.rs` (the facade's typed calls: embed texts, generate with
//! details).

mod ask;
mod cache;
mod calls;
mod functions;
mod host;
mod train_commands;

pub use cache::ModelCache;
pub use calls::{GenerateArgs, Generated, Generation};
pub use functions::MAX_GENERATE_TOKENS;
pub use host::Host;

use tensormap_engine::{CallError, ErrorKind};

/// The kind of the V-LLM.
pub const VLLM: &str = "vllm";

/// The kind of a command model (`ASK map USING m '…'`): no functions, only ASK.
pub const COMMAND: &str = "command";

/// The kind of a sentence encoder (LOAD MODEL of a Hugging Face folder).
pub const ENCODER: &str = "bert";

/// A model crate error as a call's error, with its kind.
fn model_error(e: tensormap_model::Error) -> CallError {
    use tensormap_model::Error as M;
    let kind = match &e {
        M::Config(_) | M::Argument(_) => ErrorKind::InvalidValue,
        M::Format { .. } | M::Encoder { .. } | M::EncoderBytes { .. } => ErrorKind::FileFormat,
        M::Io { .. } => ErrorKind::Io,
        _ => ErrorKind::Model,
    };
    CallError::new(kind, e.to_string()).with_source(e)
}
