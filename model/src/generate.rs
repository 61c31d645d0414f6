//! `generate` (`m_generate`): seeded sampling with temperature and top-k, one token at a time
//! over a growing key/value cache.
//!
//! A generated token at sequence index `i` is placed at `text_position(i)`, like the prompt's
//! tokens: every token has a 3-D place, and generation is repeatable (a position predicted
//! by an untrained layer would be noise that no training shapes).
//!
//! The step runs on `decode.rs`'s fused f32 cache for f32 weights, else on `cache.rs`'s
//! candle step; the two agree within 1e-5 (tests below), and the selection of each token
//! ([`pick`]) is shared.

use candle_core::DType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::batch::Sequence;
use crate::cache::{Continuation, Prefix};
use crate::decode::Decoder;
use crate::error::{Error, Result};
use crate::fastexp::exp_nonpositive;
use crate::flat::{lock, Path};
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
    /// `m_generate`'s defaults: temperature 0.7, top-k 50; stream seed 0.
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
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let Some(&best) = cand.iter().min_by(|a, b| order(a, b)) else {
        return tok.eos();
    };
    if sampling.temperature == 0.0 {
        return best.0;
    }
    // The first `top_k` in that order, sorted (a partial selection: a large vocabulary is
    // not sorted whole for 50 candidates).
    if sampling.top_k > 0 && sampling.top_k < cand.len() {
        cand.select_nth_unstable_by(sampling.top_k - 1, order);
        cand.truncate(sampling.top_k);
    }
    cand.sort_by(order);
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
    // `exp` of `l − max ≤ 0` in f32 (relative error below 3e-7), summed in f64: one
    // exponential per vocabulary entry and step, which libm's f64 `exp` made a tenth of
    // a generation step.
    let e = |l: f64| exp_nonpositive((l - max) as f32) as f64;
    let total: f64 = allowed().map(e).sum();
    match logits.get(id as usize) {
        Some(&l) if total > 0.0 && max.is_finite() => e(l as f64) / total,
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
    /// them (what the HTTP server's `/vllm/generate` answers).
    pub fn generate_detailed(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: &Sampling,
    ) -> Result<Generation> {
        self.generate_with(prompt, max_tokens, sampling, Path::Fused)
    }

    /// [`Model::generate_detailed`] on the chosen path (the fused one falls back to candle's
    /// for weights that are not f32).
    pub(crate) fn generate_with(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: &Sampling,
        path: Path,
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

        // Read locks on the weights, kept only when they are f32 (the fused path's).
        let locked = match path {
            Path::Fused => Some(lock(&self.weights)).filter(|l| l.slices().is_some()),
            Path::Candle => None,
        };
        let slices = locked.as_ref().and_then(|l| l.slices());
        let mut steps = match &slices {
            Some(w) => Steps::Fused(Decoder::new(w, cfg, &self.text_pe)),
            None => Steps::Candle(None),
        };
        let mut row = steps.run(self, &seq, &seq.ids)?;
        let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
        let mut out = Vec::new();
        let mut positions = Vec::new();
        let mut p_sum = 0f64;
        while out.len() < max_tokens && steps.len() < cfg.context {
            let id = pick(&row, tok, sampling, &mut rng);
            if id == tok.eos() {
                break;
            }
            // The new token sits at sequence index `steps.len()`.
            let pos = text_position(steps.len());
            out.push(id);
            positions.push(pos.map(|c| c as f32));
            p_sum += probability(&row, tok, id);
            if out.len() == max_tokens || steps.len() + 1 == cfg.context {
                break;
            }
            row = steps.run(self, &seq, &[id])?;
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

/// The cache generation extends, and how.
enum Steps<'a> {
    Fused(Decoder<'a>),
    /// The prefix, once the prompt has run.
    Candle(Option<Prefix>),
}

impl Steps<'_> {
    /// Tokens in the cache.
    fn len(&self) -> usize {
        match self {
            Steps::Fused(d) => d.len(),
            Steps::Candle(p) => p.as_ref().map_or(0, |p| p.len()),
        }
    }

    /// Runs `ids` (the prompt `seq`'s ids first, then one new token a call) and returns
    /// the next-token logits after the last of them.
    fn run(&mut self, m: &Model, seq: &Sequence, ids: &[u32]) -> Result<Vec<f32>> {
        let w = &m.weights;
        let logits = match self {
            Steps::Fused(d) => {
                let h = d.extend(ids)?;
                return Ok(d.logits(&h));
            }
            Steps::Candle(prefix @ None) => {
                let p = Prefix::new(w, &m.config, &m.tokenizer, seq, &m.text_pe, &m.device)?;
                let logits = w.output_head.forward(&p.hidden)?;
                *prefix = Some(p);
                logits
            }
            Steps::Candle(Some(prefix)) => {
                let pos = text_position(prefix.len());
                let (h, kv) = prefix.step(
                    w,
                    &m.config,
                    &Continuation {
                        ids,
                        positions: &[pos],
                        objects: None,
                    },
                )?;
                prefix.push(pos, kv)?;
                w.output_head.forward(&h)?
            }
        };
        Ok(logits
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    fn tiny() -> Model {
        Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.vllm")).unwrap()
    }

    /// The largest `|a − b| / (1 + |b|)`.
    fn gap(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
            .fold(0.0, f32::max)
    }

    /// The fused step's logits equal candle's step's within 1e-5 (relative to 1 + |logit|)
    /// at every step of a run of up to 40 tokens: the prompt at once, then one at a time.
    #[test]
    fn the_fused_step_equals_the_candle_step() {
        let bench = Model::new(ModelConfig::small(4, 128, 4, 32), 1).unwrap();
        for m in [tiny(), bench] {
            let mut seq = m.text_sequence("the red cube").unwrap();
            seq.ids.pop();
            let locked = lock(&m.weights);
            let w = locked.slices().unwrap();
            let mut fused = Steps::Fused(Decoder::new(&w, &m.config, &m.text_pe));
            let mut candle = Steps::Candle(None);
            let (mut a, mut b) = (
                fused.run(&m, &seq, &seq.ids).unwrap(),
                candle.run(&m, &seq, &seq.ids).unwrap(),
            );
            let mut worst = gap(&a, &b);
            for i in 0..40u32.min((m.config.context - seq.ids.len()) as u32) {
                let id = 97 + (i * 7) % 26;
                a = fused.run(&m, &seq, &[id]).unwrap();
                b = candle.run(&m, &seq, &[id]).unwrap();
                worst = worst.max(gap(&a, &b));
            }
            assert_eq!(fused.len(), candle.len());
            eprintln!("fused against candle step: {worst:e}");
            assert!(worst < 1e-5, "{worst}");
        }
    }

    #[test]
    fn both_paths_generate_the_same_text() {
        let m = tiny();
        for sampling in [
            Sampling::greedy(),
            Sampling::default(),
            Sampling {
                temperature: 1.0,
                top_k: 0,
                seed: 9,
            },
        ] {
            let a = m
                .generate_with("the cu", 24, &sampling, Path::Fused)
                .unwrap();
            let b = m
                .generate_with("the cu", 24, &sampling, Path::Candle)
                .unwrap();
            assert_eq!((&a.tokens, &a.positions), (&b.tokens, &b.positions));
            assert!((a.confidence - b.confidence).abs() < 1e-5);
        }
        // Weights that are not f32 take candle's path.
        let mut m64 = m.clone();
        m64.weights = m
            .weights
            .map(&m.config, |_, t| Ok(t.to_dtype(DType::F64)?))
            .unwrap();
        let a = m64
            .generate_tokens("the cu", 8, &Sampling::greedy())
            .unwrap();
        assert_eq!(
            a,
            m.generate_tokens("the cu", 8, &Sampling::greedy()).unwrap()
        );
    }

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
