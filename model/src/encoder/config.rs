//! What a BERT-family checkpoint says about itself: the network's sizes from `config.json`,
//! and the sentence-transformers head from `modules.json`, `1_Pooling/config.json` and
//! `sentence_bert_config.json` (pooling mode, L2 normalisation, maximum sequence length).
//! Parsing never trusts the file: every field is checked for presence, type and range, and
//! errors name the file and the field.

use serde_json::Value;

use crate::error::{Error, Result};

/// The largest size any one dimension of a configuration may have. Real checkpoints are far
/// below it (BERT-large: 1,024 wide, 4,096 feed-forward, 512 positions, 30,522 tokens); the
/// bound keeps a hostile configuration from asking for absurd shapes before any weight is
/// compared with it.
const MAX_DIM: usize = 1 << 20;
/// The most layers a configuration may have.
const MAX_LAYERS: usize = 1024;

/// The activation of the feed-forward layers (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact GELU, `x · Φ(x)` with the error function.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

/// The sizes of a BERT encoder, from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Tokens in the vocabulary (rows of `word_embeddings`).
    pub vocab_size: usize,
    /// Width of every hidden state (the embedding width before pooling).
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of `position_embeddings`: the longest sequence the network can read.
    pub max_position_embeddings: usize,
    /// Rows of `token_type_embeddings` (segment ids; a single sentence uses type 0).
    pub type_vocab_size: usize,
    /// The LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The feed-forward activation.
    pub hidden_act: Activation,
}

/// How token states become one sentence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingMode {
    /// The mean of the hidden states of the sentence's tokens (padding excluded).
    Mean,
    /// The hidden state of the first token (`[CLS]`).
    Cls,
}

/// The sentence-transformers head and the tokenization limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    /// Mean or CLS pooling.
    pub mode: PoolingMode,
    /// Whether the pooled vector is divided by its L2 norm (`2_Normalize`).
    pub normalize: bool,
    /// Tokens (special tokens included) a text is truncated to; at most
    /// `max_position_embeddings`.
    pub max_len: usize,
}

fn field<'a>(file: &str, v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name)
        .ok_or_else(|| Error::encoder(file, format!("missing field `{name}`")))
}

fn size(file: &str, v: &Value, name: &str) -> Result<usize> {
    let n = field(file, v, name)?
        .as_u64()
        .ok_or_else(|| Error::encoder(file, format!("`{name}` must be a non-negative integer")))?;
    if n == 0 || n > MAX_DIM as u64 {
        return Err(Error::encoder(
            file,
            format!("`{name}` is {n}, expected 1 to {MAX_DIM}"),
        ));
    }
    Ok(n as usize)
}

/// Parses JSON text, naming the file on error.
pub(crate) fn parse_json(file: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::encoder(file, format!("not valid JSON: {e}")))
}

impl BertConfig {
    /// Reads and checks `config.json`'s text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self> {
        let v = parse_json(file, text)?;
        match v.get("model_type").and_then(Value::as_str) {
            Some("bert") => {}
            Some(other) => {
                return Err(Error::encoder(
                    file,
                    format!(
                        "model_type is {other:?}; only \"bert\" (the BERT family) is supported"
                    ),
                ))
            }
            None => {
                return Err(Error::encoder(
                    file,
                    "missing field `model_type` (expected \"bert\")",
                ))
            }
        }
        if let Some(p) = v.get("position_embedding_type") {
            if p.as_str() != Some("absolute") {
                return Err(Error::encoder(
                    file,
                    format!("position_embedding_type {p} is not supported (only \"absolute\")"),
                ));
            }
        }
        let hidden_act = match v
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu")
        {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(Error::encoder(
                    file,
                    format!("hidden_act {other:?} is not supported (gelu, gelu_new, relu)"),
                ))
            }
        };
        let layer_norm_eps = match v.get("layer_norm_eps") {
            None => 1e-12,
            Some(e) => e
                .as_f64()
                .filter(|e| e.is_finite() && *e > 0.0)
                .ok_or_else(|| {
                    Error::encoder(file, "`layer_norm_eps` must be a positive number")
                })?,
        };
        let num_hidden_layers = size(file, &v, "num_hidden_layers")?;
        if num_hidden_layers > MAX_LAYERS {
            return Err(Error::encoder(
                file,
                format!(
                    "`num_hidden_layers` is {num_hidden_layers}, expected at most {MAX_LAYERS}"
                ),
            ));
        }
        let config = BertConfig {
            vocab_size: size(file, &v, "vocab_size")?,
            hidden_size: size(file, &v, "hidden_size")?,
            num_hidden_layers,
            num_attention_heads: size(file, &v, "num_attention_heads")?,
            intermediate_size: size(file, &v, "intermediate_size")?,
            max_position_embeddings: size(file, &v, "max_position_embeddings")?,
            type_vocab_size: size(file, &v, "type_vocab_size")?,
            layer_norm_eps,
            hidden_act,
        };
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(Error::encoder(
                file,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        // A text is [CLS] … [SEP]: two positions at least.
        if config.max_position_embeddings < 2 {
            return Err(Error::encoder(
                file,
                "max_position_embeddings must be at least 2",
            ));
        }
        Ok(config)
    }
}

impl Pooling {
    /// The head of a plain BERT checkpoint without sentence-transformers files: mean pooling,
    /// normalised (what `embed` users expect of a sentence encoder), the full context.
    pub fn default_for(config: &BertConfig) -> Self {
        Pooling {
            mode: PoolingMode::Mean,
            normalize: true,
            max_len: config.max_position_embeddings,
        }
    }

    /// Reads `1_Pooling/config.json` (`pooling` text, or `None` when the file is absent: mean
    /// pooling); `normalize` says whether `modules.json` lists a `Normalize` module;
    /// `max_seq_length` is `sentence_bert_config.json`'s, if any.
    pub fn parse(
        config: &BertConfig,
        pooling: Option<(&str, &str)>,
        normalize: bool,
        max_seq_length: Option<usize>,
    ) -> Result<Self> {
        let mode = match pooling {
            None => PoolingMode::Mean,
            Some((file, text)) => {
                let v = parse_json(file, text)?;
                let flag = |name: &str| v.get(name).and_then(Value::as_bool).unwrap_or(false);
                if let Some(dim) = v.get("word_embedding_dimension").and_then(Value::as_u64) {
                    if dim != config.hidden_size as u64 {
                        return Err(Error::encoder(
                            file,
                            format!(
                                "word_embedding_dimension is {dim} but the network's hidden_size is {}",
                                config.hidden_size
                            ),
                        ));
                    }
                }
                let modes: Vec<&str> = [
                    "pooling_mode_cls_token",
                    "pooling_mode_mean_tokens",
                    "pooling_mode_max_tokens",
                    "pooling_mode_mean_sqrt_len_tokens",
                    "pooling_mode_weightedmean_tokens",
                    "pooling_mode_lasttoken",
                ]
                .into_iter()
                .filter(|m| flag(m))
                .collect();
                match modes.as_slice() {
                    ["pooling_mode_mean_tokens"] => PoolingMode::Mean,
                    ["pooling_mode_cls_token"] => PoolingMode::Cls,
                    [] => return Err(Error::encoder(file, "no pooling mode is set")),
                    other => {
                        return Err(Error::encoder(
                            file,
                            format!(
                                "pooling {} is not supported (exactly one of mean or CLS)",
                                other.join(" + ")
                            ),
                        ))
                    }
                }
            }
        };
        let max_len = max_seq_length
            .unwrap_or(config.max_position_embeddings)
            .clamp(2, config.max_position_embeddings);
        Ok(Pooling {
            mode,
            normalize,
            max_len,
        })
    }
}
