//! The fused trainer: one training step — forward pass, loss, backward pass, clipping,
//! AdamW — written out by hand on f32 buffers (`flat.rs`), with faer for the matrix
//! products. It computes what the candle path (`loss.rs` + candle's autograd + candle-nn's
//! AdamW) computes, and is what [`crate::Model::train`] runs on f32 weights.
//!
//! Why: at a training batch's sizes (32 sequences of ~10 tokens, width 64) candle's cost
//! per op — a fresh tensor, a dispatch to its thread pool and the spin at its barrier, a
//! few hundred ops forward and as many backward, ~630 more for AdamW — was most of a step;
//! its matrix products were under 5% of the profile.
//!
//! A step packs the batch without padding (`batch.rs`) and splits the sequences into two
//! parts of about equal rows. Each part draws its dropout masks from the run's stream
//! exactly as the candle path draws them (`dropout.rs`); its forward pass, per-sequence
//! loss terms and backward pass run on a thread of their own when candle's thread count is
//! 2 or more (else one after the other: the same arithmetic); the attention term, which
//! compares every sequence with every sample, runs between them; the two parts' gradients
//! are added (part 0's + part 1's, always in that order), clipped, and AdamW steps. The
//! split depends on the batch only, so the result is the same on any number of cores.
//!
//! Agreement with the candle path: the same function up to float rounding — sums in
//! another order, faer's products against gemm's, the fast erf and exp (`gelu.rs`,
//! `fastexp.rs`) against libm's — about 1e-6 relative per step; the tests below compare a
//! step's gradients, `train/agreement.rs` the loss curves and weights of whole runs.

mod adamw;
mod batch;
mod dropout;
mod heads;
mod network;

use candle_core::Device;
use rand_chacha::ChaCha8Rng;

use crate::config::ModelConfig;
use crate::error::Result;
use crate::flat::WeightSet;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

use super::loss::TrainSample;
use adamw::{clip, AdamW};
use batch::Packed;
use dropout::{Masks, Plan};
use heads::{attention_term, features_backward, per_part, HeadBuffers, Scales};
use network::{backward, forward, Part, Tape};

/// What one step reports.
#[derive(Debug, Clone, Copy)]
pub struct StepOutcome {
    /// The batch's loss (before the update).
    pub loss: f64,
    /// Right next-token predictions, of `predictions`.
    pub correct: usize,
    /// Next-token predictions.
    pub predictions: usize,
}

/// Why a step failed.
#[derive(Debug)]
pub enum StepError {
    /// The loss is not finite.
    Loss,
    /// The gradient's norm is not finite.
    Gradient,
    /// Anything else.
    Other(crate::Error),
}

impl From<crate::Error> for StepError {
    fn from(e: crate::Error) -> Self {
        StepError::Other(e)
    }
}

/// The loss weights and options a step needs.
#[derive(Debug, Clone, Copy)]
pub struct StepOptions {
    /// Dropout probability.
    pub dropout: f64,
    /// `w_s`.
    pub spatial: f64,
    /// `w_a`.
    pub alignment: f64,
    /// Clipping norm.
    pub max_grad_norm: f64,
    /// Map half-width of the samples' positions.
    pub bounds: f32,
}

/// Gradients, shaped as the weights.
type Grads = WeightSet<Vec<f32>>;

/// What one part of a batch works in, kept from step to step.
#[derive(Debug)]
struct Slot {
    /// The part's gradient.
    grads: Grads,
    tape: Tape,
    heads: HeadBuffers,
    masks: Masks,
}

/// The weights being trained, each part's buffers and AdamW's state.
#[derive(Debug)]
pub struct Trainer {
    params: WeightSet<Vec<f32>>,
    slots: [Slot; 2],
    adam: AdamW,
    /// Whether the two parts run on two threads (candle's thread count is 2 or more).
    parallel: bool,
}

impl Trainer {
    /// Starts from a copy of `w` (f32 weights).
    pub fn new(w: &Weights, weight_decay: f64) -> Result<Self> {
        let params = WeightSet::copy_of(w)?;
        let slot = || Slot {
            grads: params.zeros_like(),
            tape: Tape::default(),
            heads: HeadBuffers::default(),
            masks: Masks::default(),
        };
        let slots = [slot(), slot()];
        let adam = AdamW::new(&params, weight_decay);
        Ok(Trainer {
            params,
            slots,
            adam,
            parallel: candle_core::utils::get_num_threads() >= 2,
        })
    }

    /// The trained weights as tensors.
    pub fn weights(&self, cfg: &ModelConfig, device: &Device) -> Result<Weights> {
        self.params.to_weights(cfg, device)
    }

    /// One step on `samples` (checked; `tokens[i]` is sample i's text tokenized) at
    /// learning rate `lr`, drawing dropout from `rng`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        cfg: &ModelConfig,
        tok: &Tokenizer,
        text_pe: &[f32],
        samples: &[TrainSample<'_>],
        tokens: &[&[u32]],
        options: StepOptions,
        rng: &mut ChaCha8Rng,
        lr: f64,
    ) -> std::result::Result<StepOutcome, StepError> {
        let outcome = self.gradients(cfg, tok, text_pe, samples, tokens, options, rng)?;
        let grads = &mut self.slots[0].grads;
        clip(grads, options.max_grad_norm).ok_or(StepError::Gradient)?;
        self.adam.step(&mut self.params, grads, lr);
        Ok(outcome)
    }

    /// The loss of a step and, in slot 0's `grads`, its gradient.
    #[allow(clippy::too_many_arguments)]
    fn gradients(
        &mut self,
        cfg: &ModelConfig,
        tok: &Tokenizer,
        text_pe: &[f32],
        samples: &[TrainSample<'_>],
        tokens: &[&[u32]],
        options: StepOptions,
        rng: &mut ChaCha8Rng,
    ) -> std::result::Result<StepOutcome, StepError> {
        let packed = Packed::new(cfg, tok, text_pe, samples, tokens, options.bounds)?;
        let b = samples.len();
        let plan = Plan::new(rng, options.dropout, cfg, b, packed.s);
        let embeddings: Vec<&[f32]> = samples.iter().map(|s| s.embedding).collect();
        let with_negatives = packed.negatives > 0;
        let a = options.alignment as f32;
        let scales = Scales {
            lm: 1.0 / packed.predictions.max(1) as f32,
            spatial: options.spatial as f32 / packed.pairs.max(1) as f32,
            positive: a / b as f32 * if with_negatives { 0.5 } else { 1.0 },
            negative: a * 0.5 / packed.negatives.max(1) as f32,
        };
        let parts = split(&packed, &embeddings);
        let threads = self.parallel && parts.len() == 2;
        for slot in &mut self.slots {
            for t in slot.grads.each_mut() {
                t.fill(0.0);
            }
        }

        // Forward passes and the per-sequence terms.
        let params = &self.params;
        let [s0, s1] = &mut self.slots;
        let sums = on_parts(&parts, [s0, s1], threads, &|part, slot| {
            let masks = plan.as_ref().map(|p| {
                p.draw_into(part.seqs.clone(), &mut slot.masks);
                &slot.masks
            });
            forward(params, cfg, part, masks, &mut slot.tape);
            let h = &slot.tape.h;
            per_part(
                params,
                cfg,
                part,
                h,
                scales,
                &mut slot.grads,
                &mut slot.heads,
            )
        });

        // The attention term over the whole batch.
        let c = cfg.channels;
        let mut q = Vec::with_capacity(b * c);
        for (part, slot) in parts.iter().zip(&self.slots) {
            for s in &packed.seqs[part.seqs.clone()] {
                let local = s.eos() - part.rows.start;
                q.extend_from_slice(&slot.heads.features[local * c..][..c]);
            }
        }
        let same = |i: usize, j: usize| samples[i].text == samples[j].text;
        let (attention, dq) = attention_term(&q, &embeddings, same, c, a);
        let mut at = 0;
        for (part, slot) in parts.iter().zip(&mut self.slots) {
            for s in &packed.seqs[part.seqs.clone()] {
                let local = s.eos() - part.rows.start;
                let df = &mut slot.heads.dfeatures[local * c..][..c];
                for (g, x) in df.iter_mut().zip(&dq[at..at + c]) {
                    *g += x;
                }
                at += c;
            }
        }
        let (mut lm, mut spatial, mut positive, mut negative, mut correct) =
            (0.0, 0.0, 0.0, 0.0, 0);
        for l in &sums {
            lm += l.lm;
            spatial += l.spatial;
            positive += l.positive;
            negative += l.negative;
            correct += l.correct;
        }
        let matching = if with_negatives {
            0.5 * (positive / b as f64 + negative / packed.negatives as f64)
        } else {
            positive / b as f64
        };
        let loss = lm / packed.predictions.max(1) as f64
            + options.spatial * spatial / packed.pairs.max(1) as f64
            + options.alignment * (attention + matching);
        if !loss.is_finite() {
            return Err(StepError::Loss);
        }

        // Backward passes.
        let dropout = plan.is_some();
        let [s0, s1] = &mut self.slots;
        on_parts(&parts, [s0, s1], threads, &|part, slot| {
            let Slot {
                grads,
                tape,
                heads,
                masks,
            } = slot;
            features_backward(params, cfg, &tape.h, heads, grads);
            let masks = dropout.then_some(&*masks);
            backward(params, cfg, part, masks, tape, &mut heads.dh, grads);
        });

        let [s0, s1] = &mut self.slots;
        for (a, b) in s0.grads.each_mut().into_iter().zip(s1.grads.each()) {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
        }
        Ok(StepOutcome {
            loss,
            correct,
            predictions: packed.predictions,
        })
    }
}

/// The parts of a batch: its sequences split where the rows reach half (one part for a
/// single sequence).
fn split<'a>(packed: &'a Packed, embeddings: &'a [&'a [f32]]) -> Vec<Part<'a>> {
    let b = packed.seqs.len();
    let half = packed.rows() / 2;
    let cut = if b < 2 {
        b
    } else {
        packed
            .seqs
            .iter()
            .position(|s| s.row + s.len > half)
            .map_or(b - 1, |i| (i + 1).clamp(1, b - 1))
    };
    let row_of = |i: usize| packed.seqs.get(i).map_or(packed.rows(), |s| s.row);
    [0..cut, cut..b]
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|seqs| Part {
            packed,
            rows: row_of(seqs.start)..row_of(seqs.end),
            seqs,
            embeddings,
        })
        .collect()
}

/// Runs `work` on each part with its own slot: part 1 on a thread of its own when
/// `threads`, part 0 on the calling thread.
fn on_parts<T: Send>(
    parts: &[Part],
    slots: [&mut Slot; 2],
    threads: bool,
    work: &(impl Fn(&Part, &mut Slot) -> T + Sync),
) -> Vec<T> {
    let [s0, s1] = slots;
    match parts {
        [p0, p1] if threads => std::thread::scope(|s| {
            let other = s.spawn(|| work(p1, s1));
            let first = work(p0, s0);
            let second = other
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            vec![first, second]
        }),
        [p0, p1] => vec![work(p0, s0), work(p1, s1)],
        [p0] => vec![work(p0, s0)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Var;
    use rand::SeedableRng;

    use super::*;
    use crate::model::Model;
    use crate::network::Mode;
    use crate::train::loss::{batch_loss, LossWeights};

    /// One step's gradient, fused against candle's autograd (the oracle), on the committed
    /// tiny model (BPE merges, a trained distance bias) with dropout: a batch with padding,
    /// a repeated type and two parts, and a batch of one sample (one part, no negative).
    /// Every tensor's gradient within 1e-4 of its largest value plus 1e-6 of the largest of
    /// all (seen: 2e-6 of the tensor's), and the same loss.
    #[test]
    fn gradients_equal_candles_autograd() {
        let texts = [
            "cube",
            "red cube",
            "cube",
            "a sphere",
            "the tall tower",
            "cube",
        ];
        compare_gradients(&texts);
        compare_gradients(&texts[4..5]);
    }

    /// Two threads or one: the same weights, bit for bit.
    #[test]
    fn threads_do_not_change_the_result() {
        let m = Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.vllm")).unwrap();
        let texts = ["cube", "red cube", "a sphere", "cube", "the tall tower"];
        let c = m.config.channels;
        let emb: Vec<Vec<f32>> = (0..5)
            .map(|i| (0..c).map(|k| ((i + k) % 5) as f32 * 0.3 - 0.6).collect())
            .collect();
        let samples: Vec<TrainSample> = (0..5)
            .map(|i| TrainSample {
                text: texts[i],
                position: [i as f32 * 50.0, -20.0, 3.0],
                embedding: &emb[i],
            })
            .collect();
        let tokens: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| m.tokenizer.encode(t).unwrap())
            .collect();
        let toks: Vec<&[u32]> = tokens.iter().map(|t| &t[..]).collect();
        let options = StepOptions {
            dropout: 0.1,
            spatial: 0.1,
            alignment: 1.0,
            max_grad_norm: 1.0,
            bounds: 500.0,
        };
        let run = |parallel: bool| {
            let mut t = Trainer::new(&m.weights, 0.01).unwrap();
            t.parallel = parallel;
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            for _ in 0..3 {
                let (tok, pe) = (&m.tokenizer, &m.text_pe[..]);
                t.step(&m.config, tok, pe, &samples, &toks, options, &mut rng, 1e-2)
                    .unwrap();
            }
            t.params
        };
        assert_eq!(run(true), run(false));
    }

    fn compare_gradients(texts: &[&str]) {
        let m = Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.vllm")).unwrap();
        let c = m.config.channels;
        let emb: Vec<Vec<f32>> = (0..texts.len())
            .map(|i| {
                (0..c)
                    .map(|k| ((i * 7 + k * 3) % 11) as f32 * 0.2 - 1.0)
                    .collect()
            })
            .collect();
        let samples: Vec<TrainSample> = (0..texts.len())
            .map(|i| TrainSample {
                text: texts[i],
                position: [
                    i as f32 * 40.0 - 100.0,
                    30.0 - i as f32 * 7.0,
                    12.0 * i as f32,
                ],
                embedding: &emb[i],
            })
            .collect();
        let tokens: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| m.tokenizer.encode(t).unwrap())
            .collect();
        let toks: Vec<&[u32]> = tokens.iter().map(|t| &t[..]).collect();
        let options = StepOptions {
            dropout: 0.2,
            spatial: 0.1,
            alignment: 1.0,
            max_grad_norm: 1.0,
            bounds: 250.0,
        };

        let mut fused = Trainer::new(&m.weights, 0.01).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let outcome = fused
            .gradients(
                &m.config,
                &m.tokenizer,
                &m.text_pe,
                &samples,
                &toks,
                options,
                &mut rng,
            )
            .unwrap();

        let mut vars = Vec::new();
        let w = m
            .weights
            .map(&m.config, |_, t| {
                let v = Var::from_tensor(t)?;
                let t = v.as_tensor().clone();
                vars.push(v);
                Ok(t)
            })
            .unwrap();
        let mut rng2 = ChaCha8Rng::seed_from_u64(3);
        let parts = batch_loss(
            &w,
            &m.config,
            &m.tokenizer,
            &m.text_pe,
            &samples,
            &toks,
            options.bounds,
            LossWeights {
                spatial: options.spatial,
                alignment: options.alignment,
            },
            &mut Mode::Train {
                dropout: options.dropout,
                rng: &mut rng2,
            },
        )
        .unwrap();
        assert_eq!(rng, rng2, "both paths drew the same dropout");
        let loss = parts.total.to_scalar::<f32>().unwrap() as f64;
        assert!(
            ((outcome.loss - loss) / loss).abs() < 1e-6,
            "{} vs {loss}",
            outcome.loss
        );
        assert_eq!(
            (outcome.correct, outcome.predictions),
            (parts.correct, parts.predictions)
        );
        let grads = parts.total.backward().unwrap();
        let names = m.parameter_names();
        let want: Vec<Vec<f32>> = vars
            .iter()
            .zip(fused.slots[0].grads.each())
            .map(|(v, got)| {
                grads
                    .get(v.as_tensor())
                    .map(|g| g.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                    .unwrap_or_else(|| vec![0.0; got.len()])
            })
            .collect();
        let largest = |v: &[f32]| v.iter().fold(0f32, |a, x| a.max(x.abs()));
        let global = want.iter().map(|w| largest(w)).fold(0f32, f32::max);
        let mut worst = 0f32;
        for ((name, got), want) in names.iter().zip(fused.slots[0].grads.each()).zip(&want) {
            let scale = largest(want);
            let gap = got
                .iter()
                .zip(want)
                .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
            // Some gradients are exactly zero, so both paths give rounding noise: the key
            // projections' biases (a constant added to every score of a row), and with one
            // sample the features head's bias (the spatial term sees differences of
            // features only). Hence the second, absolute term.
            assert!(
                gap <= 1e-4 * scale + 1e-6 * global,
                "{name}: off by {gap:e} of {scale:e}"
            );
            if scale > 1e-3 * global {
                worst = worst.max(gap / scale);
            }
        }
        eprintln!("largest gradient difference: {worst:e} of the tensor's largest value");
    }
}
