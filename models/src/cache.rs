//! The decoded models of one database: a stored model's weights decoded from its bytes once,
//! on first use, and shared by every connection of the database, its Python cursors and its
//! HTTP server.
//!
//! Entries are keyed by the model's blob id, which is unique over the database's life (a
//! TRAIN or a replacement stores a new blob), so an entry never goes stale. The cache holds
//! entries weakly: an entry lives while something uses it — the registered functions of the
//! model (each session's [`crate::Host`] keeps the entries of the models it registered), or
//! a call in progress — and a dropped model's weights are freed when its functions go.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use tensormap_engine::{CallError, ErrorKind, StoredModel};
use tensormap_model::command::CommandModel;
use tensormap_model::{Model, SentenceEncoder};
use tensormap_storage::Blob;

/// The decoded models of one database (see the module header).
#[derive(Debug, Default)]
pub struct ModelCache {
    entries: Mutex<HashMap<u64, Weak<Decoded>>>,
    /// The built-in command model of `ASK`, decoded on the first ASK.
    builtin_command: OnceLock<Result<Arc<CommandModel>, CallError>>,
}

/// A stored model's bytes and, once used, its decoded form.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The model's name when it was stored (for messages).
    name: String,
    bytes: Blob,
    vllm: OnceLock<Result<Arc<Model>, CallError>>,
    encoder: OnceLock<Result<Arc<SentenceEncoder>, CallError>>,
    command: OnceLock<Result<Arc<CommandModel>, CallError>>,
}

impl ModelCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry of `stored`: the one in use if any, else a new one (not decoded yet).
    pub(crate) fn get(&self, stored: &StoredModel) -> Arc<Decoded> {
        let mut entries = self.entries.lock();
        if let Some(d) = entries.get(&stored.blob_id()).and_then(Weak::upgrade) {
            return d;
        }
        let d = Arc::new(Decoded {
            name: stored.name().to_string(),
            bytes: stored.bytes().clone(),
            vllm: OnceLock::new(),
            encoder: OnceLock::new(),
            command: OnceLock::new(),
        });
        // Forget the entries nothing uses any more (their models were dropped or replaced).
        entries.retain(|_, w| w.strong_count() > 0);
        entries.insert(stored.blob_id(), Arc::downgrade(&d));
        d
    }

    /// The built-in command model (`ASK` without `USING`), decoded on first use and kept
    /// for the database's life.
    pub(crate) fn builtin_command(&self) -> Result<Arc<CommandModel>, CallError> {
        self.builtin_command
            .get_or_init(|| {
                CommandModel::builtin().map(Arc::new).map_err(|e| {
                    CallError::new(
                        ErrorKind::Model,
                        format!("the built-in command model cannot be read: {e}"),
                    )
                    .with_source(e)
                })
            })
            .clone()
    }

    /// How many decoded models are in use (for tests).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Whether no decoded model is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Decoded {
    /// The V-LLM, decoded on first use.
    pub(crate) fn vllm(&self) -> Result<Arc<Model>, CallError> {
        self.vllm
            .get_or_init(|| {
                Model::from_vllm(self.bytes.bytes())
                    .map(Arc::new)
                    .map_err(|e| unreadable(&self.name, e))
            })
            .clone()
    }

    /// The command model, decoded on first use.
    pub(crate) fn command(&self) -> Result<Arc<CommandModel>, CallError> {
        self.command
            .get_or_init(|| {
                CommandModel::from_bytes(self.bytes.bytes())
                    .map(Arc::new)
                    .map_err(|e| unreadable(&self.name, e))
            })
            .clone()
    }

    /// The sentence encoder, decoded on first use.
    pub(crate) fn encoder(&self) -> Result<Arc<SentenceEncoder>, CallError> {
        self.encoder
            .get_or_init(|| {
                SentenceEncoder::from_bytes(self.bytes.bytes())
                    .map(Arc::new)
                    .map_err(|e| unreadable(&self.name, e))
            })
            .clone()
    }
}

/// The error of stored bytes that do not decode: the database's own data is at fault, so
/// it is a model failure, not the caller's.
fn unreadable(name: &str, e: tensormap_model::Error) -> CallError {
    CallError::new(
        ErrorKind::Model,
        format!("the stored model '{name}' cannot be read: {e}"),
    )
    .with_source(e)
}
