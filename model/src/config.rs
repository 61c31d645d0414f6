//! `ModelConfig`: the sizes of a V-LLM, their validation, the 3B shape of the original
//! design, and the parameter count they imply.

use crate::error::{Error, Result};
use crate::tokenizer::SPECIAL_TOKENS;

/// Upper bound on any one width (dim, hidden, channels): keeps every product of two sizes
/// far from `usize` overflow and refuses absurd requests before anything is allocated.
const MAX_WIDTH: usize = 1 << 16;
/// Upper bound on layers and heads.
const MAX_COUNT: usize = 1 << 10;
/// Upper bound on the vocabulary (tokens).
const MAX_VOCAB: usize = 1 << 22;
/// Upper bound on the context (tokens in one sequence).
const MAX_CONTEXT: usize = 1 << 16;
/// Upper bound on the parameter count (f32 weights: 64 GiB).
const MAX_PARAMETERS: u64 = 1 << 34;

/// The sizes of a V-LLM. Field names follow the usual `vllm_config.yaml` where it has one
/// (`embedding_size` is `dim`, `hidden_size` is `hidden`, `spatial_channels` is `channels`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Width of the token embedding and of every layer (`embedding_size`). At least 6 (the
    /// 3-D positional encoding needs one sine/cosine pair per axis) and a multiple of `heads`.
    pub dim: usize,
    /// Width of each layer's feed-forward block (`hidden_size`).
    pub hidden: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Tokens in the vocabulary; must equal the tokenizer's (256 bytes + BPE merges + 4
    /// specials; 260 for the byte-level tokenizer).
    pub vocab_size: usize,
    /// Width of the spatial features (`spatial_channels`): the width of `m_embed` and of the
    /// object embeddings a spatial token carries; set it to the map's `channels`.
    pub channels: usize,
    /// Most tokens in one sequence (special tokens included).
    pub context: usize,
    /// Half-width of the model's coordinate cube, in model units (500 by default). A map's
    /// world cube `[-bounds, bounds]³` is scaled onto `[-max_position, max_position]³`;
    /// distances in the attention bias and the spatial loss are measured in units of
    /// `max_position` (see the crate docs, "Positions").
    pub max_position: f32,
    /// The tensor-map grid the model was made for (`tensor_dim`). Informational:
    /// stored in the `.vllm` file, not used by the network.
    pub tensor_dim: [u32; 3],
    /// Epsilon of every layer normalization (PyTorch's default 1e-5).
    pub norm_eps: f32,
}

impl Default for ModelConfig {
    /// The defaults of `CREATE MODEL m` without options: 2 layers of width 64, 4 heads,
    /// 32 channels (the default map's), the byte-level tokenizer, a context of 256 tokens.
    fn default() -> Self {
        ModelConfig {
            dim: 64,
            hidden: 256,
            heads: 4,
            layers: 2,
            vocab_size: 256 + SPECIAL_TOKENS,
            channels: 32,
            context: 256,
            max_position: 500.0,
            tensor_dim: [64, 64, 64],
            norm_eps: 1e-5,
        }
    }
}

impl ModelConfig {
    /// A byte-tokenizer model of the given sizes; `hidden = 4 · dim`, other fields default.
    pub fn small(layers: usize, dim: usize, heads: usize, channels: usize) -> Self {
        ModelConfig {
            dim,
            hidden: dim.saturating_mul(4),
            heads,
            layers,
            channels,
            ..ModelConfig::default()
        }
    }

    /// The "V-LLM-Spatial-3B" shape of the original design: 32 layers of width 768, 24 heads,
    /// a 3072-wide feed-forward block, a 50,000-token vocabulary (a BPE tokenizer with
    /// 49,740 merges), 32 spatial channels, a 64³ tensor grid. About 300 M parameters.
    pub fn spatial_3b() -> Self {
        ModelConfig {
            dim: 768,
            hidden: 3072,
            heads: 24,
            layers: 32,
            vocab_size: 50_000,
            channels: 32,
            context: 2048,
            max_position: 500.0,
            tensor_dim: [64, 64, 64],
            norm_eps: 1e-5,
        }
    }

    /// Sets the option `name` (as `CREATE MODEL … WITH (name = value)` spells it): `layers`,
    /// `dim`, `hidden`, `heads`, `channels`, `context`, `max_position`. Setting `dim` also
    /// sets `hidden` to `4 · dim` unless `hidden` is given after it. Values must be
    /// whole numbers except `max_position`. Validate the result with [`ModelConfig::validate`].
    pub fn set_option(&mut self, name: &str, value: f64) -> Result<()> {
        let whole = || -> Result<usize> {
            if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 1e9 {
                Ok(value as usize)
            } else {
                Err(Error::config(format!(
                    "option {name} must be a whole number, got {value}"
                )))
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "layers" => self.layers = whole()?,
            "dim" => {
                self.dim = whole()?;
                self.hidden = self.dim.saturating_mul(4);
            }
            "hidden" => self.hidden = whole()?,
            "heads" => self.heads = whole()?,
            "channels" => self.channels = whole()?,
            "context" => self.context = whole()?,
            "max_position" => self.max_position = value as f32,
            other => {
                return Err(Error::config(format!(
                    "unknown model option {other:?} (expected layers, dim, hidden, heads, \
                     channels, context or max_position)"
                )))
            }
        }
        Ok(())
    }

    /// Checks every rule; the error names the first broken one.
    pub fn validate(&self) -> Result<()> {
        let in_range = |name: &str, v: usize, lo: usize, hi: usize| -> Result<()> {
            if v < lo || v > hi {
                Err(Error::config(format!(
                    "{name} must be in {lo}..={hi}, got {v}"
                )))
            } else {
                Ok(())
            }
        };
        in_range("dim", self.dim, 6, MAX_WIDTH)?;
        in_range("hidden", self.hidden, 1, MAX_WIDTH)?;
        in_range("heads", self.heads, 1, MAX_COUNT)?;
        in_range("layers", self.layers, 1, MAX_COUNT)?;
        in_range("channels", self.channels, 1, MAX_WIDTH)?;
        in_range(
            "vocab_size",
            self.vocab_size,
            256 + SPECIAL_TOKENS,
            MAX_VOCAB,
        )?;
        in_range("context", self.context, 4, MAX_CONTEXT)?;
        if !self.dim.is_multiple_of(self.heads) {
            return Err(Error::config(format!(
                "dim ({}) must be a multiple of heads ({})",
                self.dim, self.heads
            )));
        }
        if !(self.max_position.is_finite() && self.max_position > 0.0) {
            return Err(Error::config(format!(
                "max_position must be finite and > 0, got {}",
                self.max_position
            )));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return Err(Error::config(format!(
                "norm_eps must be finite and > 0, got {}",
                self.norm_eps
            )));
        }
        let params = self.parameter_count();
        if params > MAX_PARAMETERS {
            return Err(Error::config(format!(
                "{params} parameters is more than the {MAX_PARAMETERS} this crate accepts"
            )));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads.max(1)
    }

    /// Sine/cosine frequencies per axis of the 3-D positional encoding: `⌊dim / 6⌋`.
    pub fn frequencies_per_axis(&self) -> usize {
        self.dim / 6
    }

    /// The number of weights (every tensor of [`crate::Model::parameter_names`]), computed
    /// without building the model. Saturates instead of overflowing on absurd sizes.
    pub fn parameter_count(&self) -> u64 {
        let (v, d, f, h, l, c) = (
            self.vocab_size as u64,
            self.dim as u64,
            self.hidden as u64,
            self.heads as u64,
            self.layers as u64,
            self.channels as u64,
        );
        let linear = |inp: u64, out: u64| inp.saturating_mul(out).saturating_add(out);
        let per_layer = linear(d, d)
            .saturating_mul(4)
            .saturating_add(h)
            .saturating_add(d.saturating_mul(4))
            .saturating_add(linear(d, f))
            .saturating_add(linear(f, d));
        v.saturating_mul(d)
            .saturating_add(linear(c, d))
            .saturating_add(per_layer.saturating_mul(l))
            .saturating_add(d.saturating_mul(2))
            .saturating_add(linear(d, c))
            .saturating_add(linear(d, v))
            .saturating_add(linear(d, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_named_shapes_validate() {
        ModelConfig::default().validate().unwrap();
        ModelConfig::small(4, 128, 4, 32).validate().unwrap();
        let big = ModelConfig::spatial_3b();
        big.validate().unwrap();
        // 32 layers × 7.08 M + embeddings and heads 2 × 38.4 M: about 0.3 B.
        let n = big.parameter_count();
        assert!((300_000_000..310_000_000).contains(&n), "{n}");
    }

    #[test]
    fn bad_sizes_are_named() {
        let bad = |c: ModelConfig, what: &str| {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        };
        let d = ModelConfig::default;
        bad(ModelConfig { heads: 5, ..d() }, "multiple of heads");
        bad(ModelConfig { dim: 4, ..d() }, "dim");
        bad(ModelConfig { layers: 0, ..d() }, "layers");
        bad(ModelConfig { context: 2, ..d() }, "context");
        bad(
            ModelConfig {
                max_position: f32::NAN,
                ..d()
            },
            "max_position",
        );
        bad(
            ModelConfig {
                norm_eps: 0.0,
                ..d()
            },
            "norm_eps",
        );
        let huge = ModelConfig {
            hidden: 65536,
            ..ModelConfig::small(1024, 65536, 16, 32)
        };
        bad(huge, "parameters");
    }

    #[test]
    fn options_set_fields_and_reject_unknown_names() {
        let mut c = ModelConfig::default();
        c.set_option("layers", 3.0).unwrap();
        c.set_option("DIM", 32.0).unwrap();
        c.set_option("channels", 8.0).unwrap();
        assert_eq!((c.layers, c.dim, c.hidden, c.channels), (3, 32, 128, 8));
        assert!(c.set_option("layers", 2.5).is_err());
        assert!(c.set_option("layers", -1.0).is_err());
        assert!(c.set_option("width", 2.0).is_err());
    }
}
