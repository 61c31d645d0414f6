//! `generate` (`m_generate`): seeded sampling with temperature and top-k, one token at a time
//! over a growing key/value cache.
//!
//! A generated token at sequence index `i` is placed at `text_position(i)`, like the prompt's
//! tokens. (The seed's `_predict_next_position` built a fresh, randomly initialized
//! `nn.Linear` on every call, so its positions were noise that no training could shape; the
//! fixed schedule keeps the intent — every token has a 3-D place — and makes generation
//! repeatable.)

use candle_core::DType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cache::{Continuation, Prefix};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::positions::text_position;
use crate::tokenizer::Tokenizer;

/// How `generate` picks each token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Logits are divided by it before the softmax; 0 picks the most likely token (greedy).
    pub temperature: f32,
    /// Sample among the `top_k` most likely tokens; 0 means all.
    pub top_k: usize,
    /// Seed of the sampling stream: the same seed gives the same text.
    pub seed: u64,
}

impl Default for Sampling {
    /// The seed's defaults: temperature 0.7, top-k 50; stream seed 0.
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_k: 50,
            seed: 0,
        }
    }
}

impl Sampling {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Sampling {
            temperature: 0.0,
            top_k: 0,
            seed: 0,
        }
    }
}

/// Picks the next token from `logits`. `PAD`, `BOS` and `SPATIAL` are never picked.
/// Ties (greedy, and the top-k cut) go to the lower id.
pub fn pick(logits: &[f32], tok: &Tokenizer, sampling: &Sampling, rng: &mut ChaCha8Rng) -> u32 {
    let banned = [tok.pad(), tok.bos(), tok.spatial()];
    let mut cand: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(id, &l)| (id as u32, l))
        .filter(|(id, l)| !banned.contains(id) && !l.is_nan())
        .collect();
    // Descending by logit, then ascending by id: a total, repeatable order.
    cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some(&(best, _)) = cand.first() else {
        return tok.eos();
    };
    if sampling.temperature == 0.0 {
        return best;
    }
    if sampling.top_k > 0 {
        cand.truncate(sampling.top_k);
    }
    let t = sampling.temperature as f64;
    let top = cand[0].1 as f64 / t;
    let weights: Vec<f64> = cand.iter().map(|c| (c.1 as f64 / t - top).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (c, w) in cand.iter().zip(&weights) {
        if u < *w {
            return c.0;
        }
        u -= w;
    }
    cand[cand.len() - 1].0
}

/// What [`Model::generate_detailed`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The new text (bytes that are not UTF-8 replaced by U+FFFD).
    pub text: String,
    /// The new token ids (`EOS` not included).
    pub tokens: Vec<u32>,
    /// Each new token's position in model units (the text schedule: `text_position` of
    /// its index in the sequence, `BOS` being 0).
    pub positions: Vec<[f32; 3]>,
    /// The mean over the new tokens of the probability the model gave each (softmax of
    /// the logits at temperature 1 over the tokens it may pick), in `[0, 1]`; 0 when
    /// nothing was generated.
    pub confidence: f32,
}

/// The probability of `id` under the softmax of `logits` over the tokens [`pick`] may
/// choose.
fn probability(logits: &[f32], tok: &Tokenizer, id: u32) -> f64 {
    let banned = [tok.pad(), tok.bos(), tok.spatial()];
    let allowed = || {
        logits
            .iter()
            .enumerate()
            .filter(|(i, l)| !banned.contains(&(*i as u32)) && !l.is_nan())
            .map(|(_, &l)| l as f64)
    };
    let max = allowed().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = allowed().map(|l| (l - max).exp()).sum();
    match logits.get(id as usize) {
        Some(&l) if total > 0.0 && max.is_finite() => (l as f64 - max).exp() / total,
        _ => 0.0,
    }
}

impl Model {
    /// `m_generate`: continues `[BOS] prompt` until `EOS`, `max_tokens` new tokens, or the
    /// end of the context, and returns the new text (bytes that are not UTF-8 are replaced
    /// by U+FFFD).
    pub fn generate(&self, prompt: &str, max_tokens: usize, sampling: &Sampling) -> Result<String> {
        Ok(self.generate_detailed(prompt, max_tokens, sampling)?.text)
    }

    /// The token ids [`Model::generate`] produces (`EOS` not included).
    pub fn generate_tokens(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: &Sampling,
    ) -> Result<Vec<u32>> {
        Ok(self.generate_detailed(prompt, max_tokens, sampling)?.tokens)
    }

    /// [`Model::generate`] with the tokens, their positions and the model's confidence in
    /// them (what the seed's `/vllm/generate` answers).
    pub fn generate_detailed(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: &Sampling,
    ) -> Result<Generation> {
        if !(sampling.temperature.is_finite() && sampling.temperature >= 0.0) {
            return Err(Error::arg(format!(
                "temperature must be finite and >= 0, got {}",
                sampling.temperature
            )));
        }
        let tok = &self.tokenizer;
        let cfg = &self.config;
        let mut seq = self.text_sequence(prompt)?;
        seq.ids.pop(); // no EOS: the text goes on
        let mut prefix = Prefix::new(&self.weights, cfg, tok, &seq, &self.text_pe, &self.device)?;
        let w = &self.weights;
        let mut logits = w.output_head.forward(&prefix.hidden)?;
        let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
        let mut out = Vec::new();
        let mut positions = Vec::new();
        let mut p_sum = 0f64;
        while out.len() < max_tokens && prefix.len() < cfg.context {
            let row = logits
                .flatten_all()?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
            let id = pick(&row, tok, sampling, &mut rng);
            if id == tok.eos() {
                break;
            }
            // The new token sits at sequence index `prefix.len()`.
            let pos = text_position(prefix.len());
            out.push(id);
            positions.push(pos.map(|c| c as f32));
            p_sum += probability(&row, tok, id);
            if out.len() == max_tokens || prefix.len() + 1 == cfg.context {
                break;
            }
            let (h, kv) = prefix.step(
                w,
                cfg,
                &Continuation {
                    ids: &[id],
                    positions: &[pos],
                    objects: None,
                },
            )?;
            prefix.push(pos, kv)?;
            logits = w.output_head.forward(&h)?;
        }
        let confidence = if out.is_empty() {
            0.0
        } else {
            (p_sum / out.len() as f64) as f32
        };
        Ok(Generation {
            text: String::from_utf8_lossy(&tok.decode(&out)).into_owned(),
            tokens: out,
            positions,
            confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_best_allowed_token_and_ties_go_low() {
        let tok = Tokenizer::bytes();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut l = vec![0f32; 260];
        l[tok.bos() as usize] = 9.0; // banned
        l[65] = 3.0;
        l[66] = 3.0;
        assert_eq!(pick(&l, &tok, &Sampling::greedy(), &mut rng), 65);
    }

    #[test]
    fn sampling_is_seeded_and_respects_top_k() {
        let tok = Tokenizer::bytes();
        let l: Vec<f32> = (0..260).map(|i| (i % 7) as f32 * 0.3).collect();
        let s = Sampling {
            temperature: 1.0,
            top_k: 5,
            seed: 3,
        };
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|_| pick(&l, &tok, &s, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        // The 5 best: logit 1.8 at ids 6, 13, 20, 27, 34 (ties by id).
        assert!(draw(1).iter().all(|id| [6, 13, 20, 27, 34].contains(id)));
    }
}
