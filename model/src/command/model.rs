//! [`CommandModel`]: a V-LLM that writes statements, and [`CommandModel::ask`], the
//! grammar-constrained decoding behind `ASK map 'text'`.
//!
//! Decoding is greedy over the key/value cache of `[BOS] text [SEP]` (the crate's `Prefix`):
//! at each step the output head's logits are read for the symbols the grammar allows (and
//! `EOS` where the statement may end), normalised over those alone, and the most likely is
//! taken (ties to the lower symbol). The statement's probability is the product of the
//! chosen symbols' normalised probabilities: `P(statement | text)` under the constrained
//! model. Below the model's threshold the answer is [`Outcome::NotSure`].

use std::path::Path;

use candle_core::{DType, Tensor};

use super::catalog::Catalog;
use super::format::{self, Settings};
use super::grammar::{Decoded, Parser, Slots};
use super::lexer::lex;
use super::linking::link;
use super::query::Query;
use super::resolve::resolve;
use super::symbols::{Sym, SYMBOLS};
use super::tokens::{self, ByteMerge, Prompt};
use crate::batch::Sequence;
use crate::cache::{Continuation, Prefix};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::positions::text_position;
use crate::vllm::WeightDtype;

/// Most bytes of a command's text.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Most symbols of a statement (the grammar's longest, with its `EOS`, is 60).
pub const MAX_STATEMENT: usize = 64;
/// The threshold of a model that has not been calibrated.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// How ASK should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Run the statement: the model is confident it is what the text asks.
    Answer,
    /// The statement's probability is below the threshold: show it as a guess, do not run.
    NotSure,
    /// The model read the text as no question about the map; the statement is its best
    /// guess had it been one.
    NotACommand,
    /// The text names a type the map does not have; the statement leaves it out.
    UnknownType,
}

/// What [`CommandModel::ask`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// How to answer.
    pub outcome: Outcome,
    /// The statement (for a refusal: the best guess), as TensorQL.
    pub statement: String,
    /// The same statement.
    pub query: Query,
    /// `P(statement | text)` under the constrained model; for [`Outcome::NotACommand`], the
    /// probability of declining.
    pub probability: f32,
    /// The symbols decoded (without `EOS`).
    pub symbols: Vec<Sym>,
    /// What the text's slots stood for.
    pub slots: Slots,
}

/// A greedy decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    /// The symbols (without `EOS`).
    pub symbols: Vec<Sym>,
    /// What they read as.
    pub decoded: Decoded,
    /// The product of the chosen symbols' probabilities.
    pub probability: f64,
}

/// A V-LLM trained to write statements (module docs).
#[derive(Debug, Clone)]
pub struct CommandModel {
    pub(crate) model: Model,
    pub(crate) settings: Settings,
    /// Output-head rows of the symbols then `EOS`: `(SYMBOLS + 1, D)` and `(SYMBOLS + 1)`.
    head: (Tensor, Tensor),
}

/// The output-head rows a command model reads: every symbol, then `EOS`.
pub(crate) fn output_ids(model: &Model) -> Vec<u32> {
    Sym::all()
        .map(Sym::token)
        .chain([model.tokenizer.eos()])
        .collect()
}

impl CommandModel {
    /// A fresh model of `config`'s sizes (its `vocab_size` is set from the tokenizer) with
    /// the text merges `merges`, weights drawn from `seed`.
    pub fn new(mut config: ModelConfig, merges: &[ByteMerge], seed: u64) -> Result<Self> {
        let tok = tokens::tokenizer(merges)?;
        config.vocab_size = tok.vocab_size();
        if config.context < MAX_STATEMENT + 16 {
            return Err(Error::config(format!(
                "a command model needs a context of at least {}",
                MAX_STATEMENT + 16
            )));
        }
        let model = Model::with_tokenizer(config, tok, seed)?;
        CommandModel::from_model(
            model,
            Settings {
                threshold: DEFAULT_THRESHOLD,
                seed: 0,
                examples: 0,
            },
        )
    }

    pub(crate) fn from_model(model: Model, settings: Settings) -> Result<Self> {
        tokens::text_merges(&model.tokenizer)?;
        if model.config.context < MAX_STATEMENT + 16 {
            return Err(Error::config(format!(
                "a context of {} is too short for a command model",
                model.config.context
            )));
        }
        let ids = output_ids(&model);
        let ids = Tensor::from_vec(ids.clone(), ids.len(), &model.device)?;
        let w = &model.weights.output_head;
        let head = (w.w.index_select(&ids, 0)?, w.b.index_select(&ids, 0)?);
        Ok(CommandModel {
            model,
            settings,
            head,
        })
    }

    /// Reads a command model file's bytes (see `format.rs`); a spatial V-LLM or damaged
    /// bytes are an error naming the section and offset.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (model, settings) = format::read(bytes)?;
        CommandModel::from_model(model, settings)
    }

    /// Reads a command model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CommandModel::from_bytes(&bytes)
    }

    /// The model's file bytes, weights stored as `dtype`.
    pub fn to_bytes(&self, dtype: WeightDtype) -> Result<Vec<u8>> {
        format::write(&self.model, &self.settings, dtype)
    }

    /// Writes the model's file (weights as `dtype`) atomically: a temporary file, then a
    /// rename.
    pub fn save(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes(dtype)?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The network.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The settings kept in the file.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records the training corpus (its seed and size) in the settings the file keeps.
    pub fn set_corpus(&mut self, seed: u64, examples: u64) {
        self.settings.seed = seed;
        self.settings.examples = examples;
    }

    /// Sets the confidence threshold (in `[0, 1]`).
    pub fn set_threshold(&mut self, threshold: f32) -> Result<()> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::arg(format!(
                "a threshold must be in [0, 1], got {threshold}"
            )));
        }
        self.settings.threshold = threshold;
        Ok(())
    }

    /// The text as the model reads it, checked: not empty, at most [`MAX_TEXT_BYTES`], and
    /// short enough to leave room for the longest statement in the context.
    pub fn prompt(&self, text: &str, catalog: &Catalog) -> Result<Prompt> {
        catalog.validate()?;
        if text.trim().is_empty() {
            return Err(Error::arg("the command is empty: ASK needs a question"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(Error::arg(format!(
                "the command is {} bytes; ASK reads at most {MAX_TEXT_BYTES}",
                text.len()
            )));
        }
        let p = tokens::prompt(&self.model.tokenizer, &link(&lex(text), catalog), catalog)?;
        let room = self.model.config.context - MAX_STATEMENT;
        if p.ids.len() > room {
            return Err(Error::arg(format!(
                "the command reads as {} tokens; the command model takes at most {room}",
                p.ids.len()
            )));
        }
        Ok(p)
    }

    /// Greedy constrained decoding of `prompt` (module docs); with `decline: false` the
    /// refusal is not allowed.
    pub fn decode(&self, prompt: &Prompt, decline: bool) -> Result<Decoding> {
        let m = &self.model;
        let (cfg, w) = (&m.config, &m.weights);
        let seq = Sequence {
            ids: prompt.ids.clone(),
            spatial: Vec::new(),
        };
        crate::batch::check_sequence(cfg, &m.tokenizer, &seq)?;
        let mut prefix = Prefix::new(w, cfg, &m.tokenizer, &seq, &m.text_pe, &m.device)?;
        let mut hidden = prefix.hidden.clone();
        let mut parser = Parser::new(&prompt.slots);
        let mut symbols = Vec::new();
        let mut probability = 1f64;
        loop {
            let logits = hidden
                .matmul(&self.head.0.t()?)?
                .broadcast_add(&self.head.1)?
                .flatten_all()?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
            let allowed = parser.allowed();
            // (output index, logit): symbol indices, then EOS at SYMBOLS.
            let mut cand: Vec<(usize, f64)> = allowed
                .symbols()
                .filter(|&s| decline || s != Sym::Decline)
                .map(|s| (s.index(), logits[s.index()] as f64))
                .collect();
            if allowed.end {
                cand.push((SYMBOLS, logits[SYMBOLS] as f64));
            }
            let Some(&(mut best, mut top)) = cand.first() else {
                break;
            };
            for &(i, l) in &cand[1..] {
                if l > top {
                    (best, top) = (i, l);
                }
            }
            let total: f64 = cand.iter().map(|&(_, l)| (l - top).exp()).sum();
            probability /= total;
            if best == SYMBOLS {
                break;
            }
            let sym = Sym::from_index(best).ok_or_else(|| Error::arg("no such symbol"))?;
            parser
                .push(sym)
                .map_err(|e| Error::arg(format!("decoding: {e}")))?;
            symbols.push(sym);
            let pos = text_position(prefix.len());
            if prefix.len() >= cfg.context {
                return Err(Error::arg("the statement ran past the model's context"));
            }
            let (h, kv) = prefix.step(
                w,
                cfg,
                &Continuation {
                    ids: &[sym.token()],
                    positions: &[pos],
                    objects: None,
                },
            )?;
            prefix.push(pos, kv)?;
            hidden = h;
        }
        let decoded = parser
            .finish()
            .map_err(|e| Error::arg(format!("decoding: {e}")))?;
        Ok(Decoding {
            symbols,
            decoded,
            probability,
        })
    }

    /// `ASK`: the statement `text` asks for over the map of `catalog` (module docs).
    pub fn ask(&self, text: &str, catalog: &Catalog) -> Result<Generated> {
        let prompt = self.prompt(text, catalog)?;
        let first = self.decode(&prompt, true)?;
        let (decoding, declined) = match first.decoded {
            Decoded::Decline => (self.decode(&prompt, false)?, Some(first.probability)),
            Decoded::Statement(_) => (first, None),
        };
        let Decoded::Statement(form) = &decoding.decoded else {
            return Err(Error::arg("decoding declined where it may not"));
        };
        let r = resolve(form, &prompt.slots);
        let outcome = if declined.is_some() {
            Outcome::NotACommand
        } else if r.unknown_type {
            Outcome::UnknownType
        } else if decoding.probability < self.settings.threshold as f64 {
            Outcome::NotSure
        } else {
            Outcome::Answer
        };
        Ok(Generated {
            outcome,
            statement: r.query.to_tensorql(&catalog.map),
            query: r.query,
            probability: declined.unwrap_or(decoding.probability) as f32,
            symbols: decoding.symbols,
            slots: prompt.slots,
        })
    }
}
