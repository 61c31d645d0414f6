//! `Model`: a V-LLM's configuration, tokenizer, weights and training record; construction,
//! the `.vllm` round trip, `info`, and the raw forward pass. Inference (`embed`, `score`,
//! `generate`) is in `infer.rs` and `generate.rs`, training in `train/`.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::batch::{check_bounds, check_sequence, text_encodings, Batch, Sequence};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::network::{forward, Mode};
use crate::tokenizer::Tokenizer;
use crate::vllm::{self, WeightDtype};
use crate::weights::Weights;

/// What a model has been through: the `.vllm` `META` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Creation time in seconds since the Unix epoch (0: unknown). `Model::new` leaves it 0
    /// so that construction is a pure function of its arguments; set it with
    /// [`Model::set_created`].
    pub created_unix_s: u64,
    /// Optimizer steps taken over the model's life.
    pub training_steps: u64,
    /// Mean loss over the last training epoch; `None` before any training.
    pub loss: Option<f32>,
    /// Next-token accuracy over the last training epoch; `None` before any training.
    pub accuracy: Option<f32>,
}

/// A summary for `SHOW MODELS`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// `"vllm"`.
    pub kind: &'static str,
    /// Number of weights.
    pub parameters: u64,
    /// Width of `m_embed`'s vector: the model's `channels`.
    pub output_width: usize,
    /// Training steps over the model's life.
    pub steps: u64,
    /// Mean loss of the last training epoch.
    pub loss: Option<f32>,
    /// Next-token accuracy of the last training epoch.
    pub accuracy: Option<f32>,
}

/// One named weight tensor, as f32 values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name (`layers.0.attention.q_proj.weight`, ...).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: Vec<f32>,
}

/// The network's outputs for a batch of sequences, row-major over `(row, index)` with every
/// row padded to `len` (values at padded indices are meaningless).
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Rows (sequences).
    pub rows: usize,
    /// Padded length.
    pub len: usize,
    /// Each row's real length.
    pub lengths: Vec<usize>,
    /// Next-token logits, `rows · len · vocab_size`.
    pub logits: Vec<f32>,
    /// Spatial features (`tensor_projection`), `rows · len · channels`.
    pub features: Vec<f32>,
    /// Score head, `rows · len`.
    pub scores: Vec<f32>,
    vocab: usize,
    channels: usize,
}

impl Outputs {
    /// Logits at `(row, i)`.
    pub fn logits_at(&self, row: usize, i: usize) -> &[f32] {
        let at = (row * self.len + i) * self.vocab;
        &self.logits[at..at + self.vocab]
    }

    /// Spatial features at `(row, i)`.
    pub fn features_at(&self, row: usize, i: usize) -> &[f32] {
        let at = (row * self.len + i) * self.channels;
        &self.features[at..at + self.channels]
    }

    /// Score head at `(row, i)`.
    pub fn score_at(&self, row: usize, i: usize) -> f32 {
        self.scores[row * self.len + i]
    }
}

/// A V-LLM (see the crate docs for what it computes). Inference takes `&self` and the model
/// is `Send + Sync`: share it between threads behind an `Arc`. Training takes `&mut self`.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) config: ModelConfig,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) weights: Weights,
    pub(crate) meta: Metadata,
    /// Encodings of the first text positions (a cache, at most `TEXT_TABLE_VALUES` values;
    /// `batch::text_encodings`).
    pub(crate) text_pe: Vec<f32>,
    pub(crate) device: Device,
}

/// The configuration is valid and its vocabulary is the tokenizer's.
fn check_parts(config: &ModelConfig, tokenizer: &Tokenizer) -> Result<()> {
    config.validate()?;
    if tokenizer.vocab_size() != config.vocab_size {
        return Err(Error::config(format!(
            "vocab_size is {} but the tokenizer has {} tokens",
            config.vocab_size,
            tokenizer.vocab_size()
        )));
    }
    Ok(())
}

impl Model {
    /// A model of `config` with the byte-level tokenizer and weights drawn from `seed`
    /// (deterministic: the same arguments give the same weights on every machine).
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        Model::with_tokenizer(config, Tokenizer::bytes(), seed)
    }

    /// `CREATE MODEL m WITH (name = value, …)`: the default configuration with each option
    /// set ([`ModelConfig::set_option`]; `seed` picks the weights, default 0), validated,
    /// then [`Model::new`].
    pub fn create(options: &[(&str, f64)]) -> Result<Self> {
        let mut config = ModelConfig::default();
        let mut seed = 0u64;
        for &(name, value) in options {
            if name.eq_ignore_ascii_case("seed") {
                if !(value.is_finite()
                    && value >= 0.0
                    && value.fract() == 0.0
                    && value < 2f64.powi(53))
                {
                    return Err(Error::config(format!(
                        "option seed must be a whole number >= 0, got {value}"
                    )));
                }
                seed = value as u64;
            } else {
                config.set_option(name, value)?;
            }
        }
        Model::new(config, seed)
    }

    /// A model with the given tokenizer; `config.vocab_size` must equal its vocabulary.
    pub fn with_tokenizer(config: ModelConfig, tokenizer: Tokenizer, seed: u64) -> Result<Self> {
        check_parts(&config, &tokenizer)?;
        let device = Device::Cpu;
        let weights = Weights::init(&config, seed, &device)?;
        Model::from_parts(
            config,
            tokenizer,
            weights,
            Metadata {
                created_unix_s: 0,
                training_steps: 0,
                loss: None,
                accuracy: None,
            },
        )
    }

    pub(crate) fn from_parts(
        config: ModelConfig,
        tokenizer: Tokenizer,
        weights: Weights,
        meta: Metadata,
    ) -> Result<Self> {
        check_parts(&config, &tokenizer)?;
        let text_pe = text_encodings(&config);
        Ok(Model {
            config,
            tokenizer,
            weights,
            meta,
            text_pe,
            device: Device::Cpu,
        })
    }

    /// Reads a model from the bytes of a `.vllm` file (docs/FORMATS.md). Any damage is an
    /// [`Error::Format`] naming the section and byte offset.
    pub fn from_vllm(bytes: &[u8]) -> Result<Self> {
        vllm::read(bytes)
    }

    /// Reads a `.vllm` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Model::from_vllm(&bytes)
    }

    /// The model as `.vllm` bytes, weights in f32 (a lossless round trip).
    pub fn to_vllm(&self) -> Result<Vec<u8>> {
        vllm::write(self, WeightDtype::F32)
    }

    /// The model as `.vllm` bytes with the weights stored as `dtype`.
    pub fn to_vllm_as(&self, dtype: WeightDtype) -> Result<Vec<u8>> {
        vllm::write(self, dtype)
    }

    /// Writes a `.vllm` file atomically (a temporary file beside it, then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_vllm()?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The training record.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Sets the creation time (seconds since the Unix epoch).
    pub fn set_created(&mut self, unix_s: u64) {
        self.meta.created_unix_s = unix_s;
    }

    /// The summary `SHOW MODELS` prints.
    pub fn info(&self) -> ModelInfo {
        ModelInfo {
            kind: "vllm",
            parameters: self.config.parameter_count(),
            output_width: self.config.channels,
            steps: self.meta.training_steps,
            loss: self.meta.loss,
            accuracy: self.meta.accuracy,
        }
    }

    /// Every weight by name (canonical order) as f32 values with its shape.
    pub fn parameters(&self) -> Result<Vec<Parameter>> {
        self.weights
            .named()
            .into_iter()
            .map(|(name, t)| {
                let values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                Ok(Parameter {
                    name,
                    shape: t.dims().to_vec(),
                    values,
                })
            })
            .collect()
    }

    /// The names of the weights, in canonical order.
    pub fn parameter_names(&self) -> Vec<String> {
        self.weights.named().into_iter().map(|(n, _)| n).collect()
    }

    /// Runs the network on `seqs` (spatial tokens' positions in a map of half-width
    /// `bounds`) and returns every head at every position. One batched pass; for many rows
    /// prefer [`Model::embed`] and [`Model::score`], which read only what they need.
    pub fn forward(&self, seqs: &[Sequence], bounds: f32) -> Result<Outputs> {
        check_bounds(bounds)?;
        if seqs.is_empty() {
            return Err(Error::arg("forward needs at least one sequence"));
        }
        for s in seqs {
            check_sequence(&self.config, &self.tokenizer, s)?;
        }
        let batch = self.batch(seqs, bounds)?;
        let h = forward(
            &self.weights,
            &self.config,
            &batch,
            &mut Mode::Infer,
            None,
            None,
        )?;
        let w = &self.weights;
        let flat = |t: Tensor| -> Result<Vec<f32>> {
            Ok(t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
        };
        Ok(Outputs {
            rows: batch.b,
            len: batch.s,
            lengths: batch.lengths.clone(),
            logits: flat(w.output_head.forward(&h)?)?,
            features: flat(w.tensor_projection.forward(&h)?)?,
            scores: flat(w.score_head.forward(&h)?)?,
            vocab: self.config.vocab_size,
            channels: self.config.channels,
        })
    }

    pub(crate) fn batch(&self, seqs: &[Sequence], bounds: f32) -> Result<Batch> {
        Batch::new(
            &self.config,
            &self.tokenizer,
            seqs,
            bounds,
            &self.text_pe,
            self.weights.dtype(),
            &self.device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
    }

    #[test]
    fn info_reports_the_config() {
        let m = Model::new(ModelConfig::small(2, 12, 2, 4), 1).unwrap();
        let i = m.info();
        assert_eq!(
            (i.kind, i.output_width, i.steps, i.loss),
            ("vllm", 4, 0, None)
        );
        assert_eq!(i.parameters, m.config().parameter_count());
        let n: usize = m.parameters().unwrap().iter().map(|p| p.values.len()).sum();
        assert_eq!(n as u64, i.parameters);
    }

    #[test]
    fn create_reads_the_language_options() {
        let opts = [
            ("layers", 2.0),
            ("dim", 12.0),
            ("heads", 2.0),
            ("channels", 4.0),
            ("seed", 7.0),
        ];
        let m = Model::create(&opts).unwrap();
        assert_eq!(m.config(), &ModelConfig::small(2, 12, 2, 4));
        let again = Model::create(&opts).unwrap();
        assert_eq!(m.parameters().unwrap(), again.parameters().unwrap());
        let other = Model::create(&[("dim", 12.0), ("heads", 2.0), ("seed", 8.0)]).unwrap();
        assert_ne!(m.parameters().unwrap()[0], other.parameters().unwrap()[0]);
        assert!(Model::create(&[("seed", -1.0)]).is_err());
        assert!(Model::create(&[("heads", 5.0)]).is_err());
        assert!(Model::create(&[("colour", 1.0)]).is_err());
    }

    #[test]
    fn the_text_table_is_bounded_and_rows_past_it_are_computed_the_same() {
        // A file may claim a context and a width of 65,536 each: the table stays bounded.
        let mut wide = ModelConfig::small(1, 1024, 2, 4);
        wide.context = 1 << 16;
        let t = crate::batch::text_encodings(&wide);
        assert_eq!(t.len(), crate::batch::TEXT_TABLE_VALUES);
        // A model whose table ends after one row embeds and generates exactly as one whose
        // table covers the whole context (the encoder, the cached decoder, the batches).
        let full = Model::new(ModelConfig::small(2, 12, 2, 4), 3).unwrap();
        let mut short = full.clone();
        short.text_pe.truncate(full.config().dim);
        let texts = ["a red cube near the blue sphere", "x"];
        assert_eq!(full.embed(&texts).unwrap(), short.embed(&texts).unwrap());
        let g = crate::Sampling::greedy();
        assert_eq!(
            full.generate_tokens("a red cube", 12, &g).unwrap(),
            short.generate_tokens("a red cube", 12, &g).unwrap()
        );
    }

    #[test]
    fn a_vocabulary_that_does_not_match_the_tokenizer_is_refused() {
        let mut c = ModelConfig::small(1, 12, 2, 4);
        c.vocab_size = 300;
        let e = Model::new(c, 1).unwrap_err().to_string();
        assert!(e.contains("vocab_size"), "{e}");
    }
}
