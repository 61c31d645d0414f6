//! The built-in command model: the file `model/data/command.vllm`, trained by
//! `model/examples/train_commands.rs` from a seed (docs/ask.md, "Training") and compiled
//! into the crate, so `ASK` works on any map with no file to install.

use super::model::CommandModel;
use crate::error::Result;

/// The built-in model's file.
pub const BYTES: &[u8] = include_bytes!("../../data/command.vllm");

impl CommandModel {
    /// The built-in command model, decoded from [`BYTES`] (a few milliseconds: callers
    /// that ask often keep it, as the database's model cache does).
    pub fn builtin() -> Result<CommandModel> {
        CommandModel::from_bytes(BYTES)
    }
}
