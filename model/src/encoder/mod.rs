//! Pretrained BERT-family sentence encoders (BERT, MiniLM, BGE/E5-style checkpoints): a
//! Hugging Face model folder read into a [`SentenceEncoder`] that turns texts into pooled,
//! normalised embeddings — what `m_embed(text)` of a model of kind `"bert"` returns.
//!
//! ```no_run
//! use tensormap_model::SentenceEncoder;
//!
//! # fn main() -> tensormap_model::Result<()> {
//! let enc = SentenceEncoder::load("target/test-models/all-MiniLM-L6-v2")?;
//! let e = enc.embed(&["A man is eating food.", "A man is eating a piece of bread."])?;
//! assert_eq!(e[0].len(), enc.width()); // 384
//! let blob = enc.to_bytes()?;          // the database stores this, kind "bert"
//! assert_eq!(SentenceEncoder::from_bytes(&blob)?.embed(&["A man is eating food."])?[0], e[0]);
//! # Ok(())
//! # }
//! ```
//!
//! # The folder
//! Required: `config.json` (`model_type` `"bert"`), `model.safetensors`, `tokenizer.json`.
//! Optional (sentence-transformers): `modules.json` (a `…Normalize` module turns on L2
//! normalisation), `1_Pooling/config.json` (mean or CLS pooling), `sentence_bert_config.json`
//! (`max_seq_length`, the truncation length). Without `modules.json` the encoder mean-pools
//! and normalises, reading up to `max_position_embeddings` tokens.
//!
//! # What `embed` computes
//! Each text is tokenized by its `tokenizer.json` (WordPiece for BERT; `[CLS] text [SEP]`),
//! truncated to `max_len` tokens (specials included; the tokenizer file's own truncation and
//! padding settings are replaced). Texts are sorted by length and run in batches of at most
//! [`BATCH`], padded to its longest text with an attention mask (at most [`BATCH_TOKENS`] padded
//! tokens a batch), so the result does not
//! depend on how texts are batched (up to float rounding, ~1e-6). Mean pooling averages the
//! hidden states of the text's tokens (specials included, padding excluded), CLS pooling
//! takes the first; normalisation divides by `max(‖v‖₂, 1e-12)`. The empty text is
//! `[CLS] [SEP]`. Results come back in input order.
//!
//! # Threads
//! [`SentenceEncoder`] is `Send + Sync`; `embed` takes `&self`. Candle's matrix products use
//! every core inside one call.

mod config;
mod format;
mod network;

use std::path::Path;

use candle_core::{Device, Tensor, D};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

pub use config::{Activation, BertConfig, Pooling, PoolingMode};

use crate::error::{Error, Result};
use network::Bert;

/// The most texts run through the network at once: large batches make large matrix products
/// (the 6 × 6 linear layers are ~70% of the time), and texts are sorted by length first, so
/// little is spent on padding.
pub const BATCH: usize = 256;
/// The most padded tokens (texts × longest) in one batch, which bounds the attention scores
/// (`texts × heads × longest²` floats: 16 × 12 × 256² × 4 bytes = 50 MB for MiniLM's longest).
pub const BATCH_TOKENS: usize = 4096;

/// A pretrained BERT-family sentence encoder: configuration, pooling head, tokenizer and
/// f32 weights. See the module documentation.
pub struct SentenceEncoder {
    bert: Bert,
    pooling: Pooling,
    tokenizer: Tokenizer,
    /// `config.json` as read, kept for the byte form.
    config_json: String,
    /// `tokenizer.json` as read, kept for the byte form.
    tokenizer_json: String,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("config", self.bert.config())
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `modules.json` lists a Normalize module.
fn lists_normalize(file: &str, text: &str) -> Result<bool> {
    let v = config::parse_json(file, text)?;
    let modules = v
        .as_array()
        .ok_or_else(|| Error::encoder(file, "expected a JSON array of modules"))?;
    Ok(modules.iter().any(|m| {
        m.get("type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.ends_with("Normalize"))
    }))
}

/// Checks a post-processor as the `tokenizers` crate checks one it builds: reading
/// `tokenizer.json` skips the check of a `TemplateProcessing` (every special token its
/// templates name is defined, the pair template uses both sequences), and encoding then
/// panics on an undefined one. So the template is built again through its builder, which
/// checks; and its `single` template (the one `embed` applies, to one text) may name the
/// first sequence only: encoding a text with one naming `$B` panics too. Sequences of
/// post-processors are checked one by one.
fn check_post_processor(file: &str, p: &PostProcessorWrapper) -> Result<()> {
    let bad = |m: String| Error::encoder(file, format!("the tokenizer's post-processor: {m}"));
    match p {
        PostProcessorWrapper::Template(t) => {
            TemplateProcessing::builder()
                .single(t.single.clone())
                .pair(t.get_pair().clone())
                .special_tokens(t.get_special_tokens().clone())
                .build()
                .map_err(|e| bad(e.to_string()))?;
            // A template is a list of {"Sequence": {"id": "A" | "B", ..}} and
            // {"SpecialToken": {..}} (its pieces are not public).
            let single = serde_json::to_value(&t.single).map_err(|e| bad(e.to_string()))?;
            let second = single.as_array().into_iter().flatten().any(|piece| {
                piece
                    .get("Sequence")
                    .and_then(|s| s.get("id"))
                    .is_some_and(|id| id.as_str() != Some("A"))
            });
            if second {
                return Err(bad(
                    "the single template names the second sequence ($B)".to_string()
                ));
            }
            Ok(())
        }
        PostProcessorWrapper::Sequence(seq) => {
            let mut i = 0;
            while let Some(p) = seq.get(i) {
                check_post_processor(file, p)?;
                i += 1;
            }
            Ok(())
        }
        PostProcessorWrapper::Roberta(_)
        | PostProcessorWrapper::Bert(_)
        | PostProcessorWrapper::ByteLevel(_) => Ok(()),
    }
}

/// Parses `tokenizer.json` and sets the encoder's truncation, no padding.
///
/// The text is parsed as JSON first and the tokenizer read from that value: `tokenizers`
/// reads a decoder from a text stream with `expect`, so a syntax error inside `"decoder"`
/// panicked (the `encoder_load` fuzz target's second crasher), where from a value it
/// cannot. A `Precompiled` normalizer is refused before `tokenizers` sees it: its reader
/// `expect`s a valid character map (BERT tokenizers have none).
fn build_tokenizer(file: &str, json: &str, max_len: usize) -> Result<Tokenizer> {
    let value = config::parse_json(file, json)?;
    if let Some(n) = value.get("normalizer") {
        refuse_precompiled(file, n)?;
    }
    let mut tok: Tokenizer = serde_json::from_value(value)
        .map_err(|e| Error::encoder(file, format!("the tokenizer does not parse: {e}")))?;
    if let Some(p) = tok.get_post_processor() {
        check_post_processor(file, p)?;
    }
    tok.with_padding(None::<PaddingParams>);
    tok.with_truncation(Some(TruncationParams {
        max_length: max_len,
        ..Default::default()
    }))
    .map_err(|e| Error::encoder(file, format!("cannot truncate to {max_len} tokens: {e}")))?;
    Ok(tok)
}

/// Refuses a `Precompiled` normalizer, alone or anywhere in a `Sequence` (nested at most
/// [`MAX_NORMALIZER_DEPTH`] deep).
fn refuse_precompiled(file: &str, normalizer: &serde_json::Value) -> Result<()> {
    fn walk(file: &str, n: &serde_json::Value, depth: usize) -> Result<()> {
        if depth > MAX_NORMALIZER_DEPTH {
            return Err(Error::encoder(
                file,
                format!("normalizers nest more than {MAX_NORMALIZER_DEPTH} deep"),
            ));
        }
        if n.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
            return Err(Error::encoder(
                file,
                "a `Precompiled` normalizer is not supported (BERT tokenizers have none)",
            ));
        }
        if let Some(inner) = n.get("normalizers").and_then(|v| v.as_array()) {
            for m in inner {
                walk(file, m, depth + 1)?;
            }
        }
        Ok(())
    }
    walk(file, normalizer, 0)
}

/// How deep `Sequence` normalizers may nest in `tokenizer.json`.
const MAX_NORMALIZER_DEPTH: usize = 16;

impl SentenceEncoder {
    /// Loads a Hugging Face model folder (see the module documentation). A missing required
    /// file, a configuration that is not a BERT one, a tensor missing or of the wrong shape,
    /// a tokenizer that does not parse: each an error naming the file (and the tensor).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config_path = dir.join("config.json");
        let config_json = read_text(&config_path)?;
        let config_name = config_path.display().to_string();
        let config = BertConfig::parse(&config_name, &config_json)?;

        let modules_path = dir.join("modules.json");
        let normalize = match read_optional(&modules_path)? {
            Some(text) => lists_normalize(&modules_path.display().to_string(), &text)?,
            None => true,
        };
        let pooling_path = dir.join("1_Pooling").join("config.json");
        let pooling_text = read_optional(&pooling_path)?;
        let pooling_name = pooling_path.display().to_string();
        let st_path = dir.join("sentence_bert_config.json");
        let max_seq_length = match read_optional(&st_path)? {
            None => None,
            Some(text) => {
                let name = st_path.display().to_string();
                let v = config::parse_json(&name, &text)?;
                match v.get("max_seq_length") {
                    None => None,
                    Some(n) => Some(n.as_u64().filter(|n| *n >= 2).ok_or_else(|| {
                        Error::encoder(&name, "`max_seq_length` must be an integer ≥ 2")
                    })? as usize),
                }
            }
        };
        let pooling = Pooling::parse(
            &config,
            pooling_text.as_deref().map(|t| (pooling_name.as_str(), t)),
            normalize,
            max_seq_length,
        )?;

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_json = read_text(&tokenizer_path)?;

        let weights_path = dir.join("model.safetensors");
        let weights_name = weights_path.display().to_string();
        if !weights_path.is_file() {
            return Err(Error::Io {
                path: weights_path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let found = candle_core::safetensors::load(&weights_path, &Device::Cpu).map_err(|e| {
            Error::encoder(
                &weights_name,
                format!("not a readable safetensors file: {e}"),
            )
        })?;
        let weights = network::select_weights(&config, found, &weights_name)?;
        Self::assemble(
            config,
            pooling,
            config_json,
            &tokenizer_path.display().to_string(),
            tokenizer_json,
            weights,
        )
    }

    fn assemble(
        config: BertConfig,
        pooling: Pooling,
        config_json: String,
        tokenizer_name: &str,
        tokenizer_json: String,
        weights: Vec<Tensor>,
    ) -> Result<Self> {
        let tokenizer = build_tokenizer(tokenizer_name, &tokenizer_json, pooling.max_len)?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(Error::encoder(
                tokenizer_name,
                format!(
                    "the tokenizer has {vocab} tokens but the network's vocab_size is {}",
                    config.vocab_size
                ),
            ));
        }
        Ok(SentenceEncoder {
            bert: Bert::new(config, weights)?,
            pooling,
            tokenizer,
            config_json,
            tokenizer_json,
        })
    }

    /// Values in one embedding (`hidden_size`; 384 for MiniLM-L6).
    pub fn width(&self) -> usize {
        self.bert.config().hidden_size
    }

    /// The network's sizes.
    pub fn config(&self) -> &BertConfig {
        self.bert.config()
    }

    /// The pooling head and truncation length.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Parameters of the network (the pooler of a checkpoint, unused, is not counted).
    pub fn parameters(&self) -> usize {
        self.bert.weights.iter().map(Tensor::elem_count).sum()
    }

    /// The token ids the network reads for `text` (`[CLS] … [SEP]`, truncated).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot encode {text:?}: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The embeddings of `texts`, in order, each [`width`](Self::width) values (see the
    /// module documentation for what is computed).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let vocab = self.bert.config().vocab_size;
        let mut tokens = Vec::with_capacity(texts.len());
        for (row, text) in texts.iter().enumerate() {
            let ids = self.tokenize(text)?;
            if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
                return Err(Error::Tokenizer(format!(
                    "text {row}: token id {bad} is outside the network's vocabulary of {vocab}"
                )));
            }
            if ids.is_empty() {
                return Err(Error::Tokenizer(format!(
                    "text {row}: the tokenizer produced no tokens"
                )));
            }
            tokens.push(ids);
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            // Ascending lengths: the batch's longest is its last text.
            let mut end = start + 1;
            while end < order.len()
                && end - start < BATCH
                && (end - start + 1) * tokens[order[end]].len() <= BATCH_TOKENS
            {
                end += 1;
            }
            let chunk = &order[start..end];
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| tokens[i].as_slice()).collect();
            for (&i, e) in chunk.iter().zip(self.embed_batch(&rows)?) {
                out[i] = e;
            }
            start = end;
        }
        Ok(out)
    }

    /// Runs one padded batch and pools it.
    fn embed_batch(&self, rows: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let batch = rows.len();
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut ids = vec![0u32; batch * len];
        let mut mask = vec![0f32; batch * len];
        for (b, r) in rows.iter().enumerate() {
            ids[b * len..b * len + r.len()].copy_from_slice(r);
            mask[b * len..b * len + r.len()].fill(1.0);
        }
        let hidden = self.bert.forward(&ids, &mask, batch, len)?;
        let pooled = match self.pooling.mode {
            PoolingMode::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            PoolingMode::Mean => {
                let m = Tensor::from_slice(&mask, (batch, len, 1), &Device::Cpu)?;
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                let count = m.sum(1)?; // [B, 1], ≥ 1: every row has [CLS] and [SEP]
                sum.broadcast_div(&count)?
            }
        };
        let pooled = if self.pooling.normalize {
            let norm = pooled
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .maximum(1e-12)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        };
        Ok(pooled.to_vec2::<f32>()?)
    }
}
