//! The model catalog: models stored in the database like maps, so a model created, loaded
//! or trained once is there for every later session and process until it is dropped.
//!
//! The engine does not run models and knows no model format: a model is a name, a `kind`
//! (which program reads it: `vllm`, later `bert`, ...), its serialized bytes and a small
//! [`ModelInfo`] for `SHOW MODELS`. The bytes are a blob of the backend, written (and made
//! durable) by the commit that stores the model, before the batch holding its
//! [`ModelRecord`](tensormap_storage::ModelRecord) under key `model/<name>`; a crash in
//! between leaves an orphan blob that the next open removes, as for segment files. A
//! dropped or replaced model's blob is removed once the commit that dropped it is durable.

use std::sync::Arc;

use tensormap_storage::{codec, keys, Blob, ModelRecord};

use crate::txn::WriteTransaction;
use crate::{Error, Result};

/// The longest model kind, in bytes.
pub const MAX_MODEL_KIND_BYTES: usize = 64;

/// What `SHOW MODELS` lists about a model besides its name and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Parameters (weights) of the model.
    pub parameters: u64,
    /// Width of the vectors its embed function returns.
    pub output_width: usize,
    /// Training steps it has taken.
    pub steps: u64,
    /// Its last training loss, if it was trained.
    pub loss: Option<f32>,
}

/// A model of the catalog: its name, kind, summary and bytes.
#[derive(Debug, Clone)]
pub struct StoredModel {
    name: String,
    kind: String,
    info: ModelInfo,
    /// The blob id of its bytes (unique over the database's life: a replaced model gets a
    /// new one), so it also tells two versions of a model apart.
    blob: u64,
    bytes: Blob,
}

impl StoredModel {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kind (`vllm`, ...).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Its summary.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The id of the blob that holds its bytes: a model replaced by a later commit (a TRAIN)
    /// has another id, so a cache of decoded weights can key on it.
    pub fn blob_id(&self) -> u64 {
        self.blob
    }

    /// Its serialized bytes (mapped from the store's file when it was committed to disk).
    pub fn bytes(&self) -> &Blob {
        &self.bytes
    }

    pub(crate) fn record(&self) -> ModelRecord {
        ModelRecord {
            kind: self.kind.clone(),
            blob: self.blob,
            bytes: self.bytes.len() as u64,
            parameters: self.info.parameters,
            output_width: self.info.output_width.min(u32::MAX as usize) as u32,
            steps: self.info.steps,
            loss: self.info.loss,
        }
    }

    /// The same model with its bytes read from `blob` (the committed, mapped file).
    pub(crate) fn rebound(&self, blob: Blob) -> StoredModel {
        StoredModel {
            bytes: blob,
            ..self.clone()
        }
    }

    /// A model read back from its record and blob; the blob's length must be the record's.
    pub(crate) fn loaded(name: &str, key: &[u8], rec: ModelRecord, bytes: Blob) -> Result<Self> {
        let bad = |reason: String| Error::from(tensormap_storage::Error::corrupt(key, reason));
        if bytes.len() as u64 != rec.bytes {
            return Err(bad(format!(
                "its blob {:016x} holds {} bytes, the record says {}",
                rec.blob,
                bytes.len(),
                rec.bytes
            )));
        }
        check_kind(&rec.kind).map_err(|e| bad(e.to_string()))?;
        Ok(StoredModel {
            name: name.to_string(),
            kind: rec.kind,
            info: ModelInfo {
                parameters: rec.parameters,
                output_width: rec.output_width as usize,
                steps: rec.steps,
                loss: rec.loss,
            },
            blob: rec.blob,
            bytes,
        })
    }
}

fn check_kind(kind: &str) -> Result<()> {
    if kind.is_empty()
        || kind.len() > MAX_MODEL_KIND_BYTES
        || !kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::InvalidArgument(format!(
            "model kind '{}' must be 1 to {MAX_MODEL_KIND_BYTES} ASCII letters, digits, '_' or '-'",
            kind.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

impl WriteTransaction {
    /// Stores model `name` — replacing the model of that name, if there is one (a TRAIN
    /// stores the trained model so) — with its `kind`, summary and serialized `bytes`. The
    /// commit writes the bytes as a blob, then the record; a rollback leaves nothing.
    pub fn put_model(
        &mut self,
        name: &str,
        kind: &str,
        info: ModelInfo,
        bytes: &[u8],
    ) -> Result<()> {
        crate::txn::check_name(name, "model")?;
        check_kind(kind)?;
        if bytes.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "model '{name}' has no bytes to store"
            )));
        }
        let id = self.allocate_blob();
        let model = StoredModel {
            name: name.to_string(),
            kind: kind.to_string(),
            info,
            blob: id,
            bytes: Blob::copy_from(bytes),
        };
        let record = codec::encode(&model.record())?;
        self.forget_model(name);
        self.model_blobs.push((id, model.bytes.clone()));
        self.batch.put(keys::model(name), record);
        self.changed_models
            .insert(name.to_string(), Some(Arc::new(model)));
        Ok(())
    }

    /// Drops model `name`; its blob is removed once the commit is durable.
    pub fn drop_model(&mut self, name: &str) -> Result<()> {
        if self.model(name).is_none() {
            return Err(Error::ModelNotFound(name.to_string()));
        }
        self.forget_model(name);
        self.batch.delete(keys::model(name));
        self.changed_models.insert(name.to_string(), None);
        Ok(())
    }

    /// Schedules the removal of the bytes model `name` has now: a blob this transaction
    /// made is simply not written; a committed one is deleted after the commit.
    fn forget_model(&mut self, name: &str) {
        let Some(old) = self.model(name) else { return };
        let id = old.blob;
        if let Some(i) = self.model_blobs.iter().position(|(b, _)| *b == id) {
            self.model_blobs.remove(i);
        } else {
            self.dropped_blobs.push(id);
        }
    }

    /// Model `name` as this transaction sees it.
    pub fn model(&self, name: &str) -> Option<Arc<StoredModel>> {
        match self.changed_models.get(name) {
            Some(m) => m.clone(),
            None => self.base.models.get(name).cloned(),
        }
    }

    /// Every model as this transaction sees it, by name.
    pub fn models(&self) -> Vec<Arc<StoredModel>> {
        let mut all: std::collections::BTreeMap<&str, Arc<StoredModel>> = self
            .base
            .models
            .iter()
            .map(|(n, m)| (n.as_str(), m.clone()))
            .collect();
        for (n, m) in &self.changed_models {
            match m {
                Some(m) => all.insert(n.as_str(), m.clone()),
                None => all.remove(n.as_str()),
            };
        }
        all.into_values().collect()
    }

    /// The bytes of model `name` as this transaction sees it.
    pub fn model_bytes(&self, name: &str) -> Result<Blob> {
        self.model(name)
            .map(|m| m.bytes.clone())
            .ok_or_else(|| Error::ModelNotFound(name.to_string()))
    }
}
