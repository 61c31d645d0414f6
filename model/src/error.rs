//! The crate's one error type. Every variant says what was wrong and where: the `.vllm`
//! section and byte offset of a damaged file, the argument and row of a bad call.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tensormap-model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model configuration that cannot be built (a zero size, heads not dividing the width,
    /// a vocabulary that does not match the tokenizer, ...).
    #[error("invalid model configuration: {0}")]
    Config(String),

    /// A bad argument to an inference or training call: wrong embedding length, a non-finite
    /// number, a text longer than the model's context, no training samples.
    #[error("invalid argument: {0}")]
    Argument(String),

    /// A `.vllm` file that is truncated, damaged or not a `.vllm` file at all. `offset` is the
    /// byte offset in the file where the problem was detected.
    #[error(".vllm {section} at byte {offset}: {message}")]
    Format {
        /// The section being read: `header`, `CONF`, `TOKN`, `WGHT`, `META` or `end`.
        section: &'static str,
        /// Byte offset in the file.
        offset: u64,
        /// What was wrong.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A training run was stopped by its progress callback; the model is unchanged.
    #[error("training cancelled after {steps} of {total} steps; the model is unchanged")]
    Cancelled {
        /// Steps done before the stop.
        steps: u64,
        /// Steps planned.
        total: u64,
    },

    /// Training diverged (a loss or gradient that is not finite); the model is unchanged.
    #[error("training diverged at step {step}: {what} is not finite; the model is unchanged")]
    Diverged {
        /// The step (1-based) at which it happened.
        step: u64,
        /// `loss` or `gradient`.
        what: &'static str,
    },

    /// An error inside candle (a shape mismatch would be a bug of this crate).
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),

    /// A sentence encoder's model folder (or a part of its byte form) is unusable: a file that
    /// does not parse, a tensor missing or of the wrong shape, an unsupported configuration.
    /// `file` names the file (or section).
    #[error("{file}: {message}")]
    Encoder {
        /// The file (or byte-form section) at fault.
        file: String,
        /// What was wrong.
        message: String,
    },

    /// A sentence encoder's byte form that is truncated, damaged or not one at all.
    #[error("sentence encoder bytes, {section} at byte {offset}: {message}")]
    EncoderBytes {
        /// The section being read: `header`, `CONF`, `POOL`, `TOKN`, `WGHT` or `end`.
        section: &'static str,
        /// Byte offset in the blob.
        offset: u64,
        /// What was wrong.
        message: String,
    },

    /// The BPE tokenizer failed to encode a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

impl Error {
    pub(crate) fn format(section: &'static str, offset: u64, message: impl Into<String>) -> Self {
        Error::Format {
            section,
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn encoder(file: &str, message: impl Into<String>) -> Self {
        Error::Encoder {
            file: file.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn encoder_bytes(
        section: &'static str,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        Error::EncoderBytes {
            section,
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn arg(message: impl Into<String>) -> Self {
        Error::Argument(message.into())
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}
