//! Training (`TRAIN MODEL m ON map`): AdamW with weight decay over every weight, gradient
//! clipping to a global norm, linear warm-up then cosine decay of the learning rate, seeded
//! shuffling and dropout. The loss is in `loss.rs`.
//!
//! A step runs on one of two paths that compute the same function: the fused trainer
//! (`fused/`: the forward and backward passes written out on f32 buffers, both cores) for
//! f32 weights — every model this crate builds or reads — and candle's autograd
//! (`autograd.rs`) for other dtypes; the latter is also the oracle the former is tested
//! against (`agreement.rs`, and a gradient test in `fused/`). Both draw the shuffles and
//! dropout masks from one seeded stream in the same order.
//!
//! A run works on a copy of the weights and replaces the model's only when every step has
//! succeeded: a bad argument, a non-finite loss or gradient, or a stop asked by the progress
//! callback leaves the model exactly as it was. The same samples, options and seed give the
//! same weights, bit for bit, on any number of cores (the fused trainer splits a batch the
//! same way whatever the cores, and no product splits a sum between threads).

#[cfg(test)]
mod agreement;
mod autograd;
mod fused;
#[cfg(test)]
mod gradcheck;
mod loss;

use std::collections::HashMap;
use std::ops::ControlFlow;

use candle_core::DType;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use fused::{StepError, StepOptions};
pub use loss::TrainSample;
use loss::{batch_loss, LossWeights};

use crate::batch::{check_bounds, check_object};
use crate::error::{Error, Result};
use crate::flat::{lock, Path};
use crate::model::Model;
use crate::network::Mode;

/// Options of a training run (`TRAIN MODEL … WITH (…)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Passes over the samples.
    pub epochs: usize,
    /// Peak learning rate (after warm-up).
    pub learning_rate: f64,
    /// Samples per step (the last step of an epoch may have fewer).
    pub batch_size: usize,
    /// Seed of the shuffling and dropout stream.
    pub seed: u64,
    /// AdamW's decoupled weight decay, applied to every weight.
    pub weight_decay: f64,
    /// Steps of linear warm-up; `None`: 5 % of the steps.
    pub warmup_steps: Option<usize>,
    /// Gradients are scaled down to this global L2 norm when above it.
    pub max_grad_norm: f64,
    /// Dropout probability.
    pub dropout: f64,
    /// Weight of the spatial loss.
    pub spatial_weight: f64,
    /// Weight of the alignment terms (attention and match).
    pub alignment_weight: f64,
    /// Half-width of the map the samples' positions are in.
    pub bounds: f32,
}

impl Default for TrainOptions {
    /// `TRAIN MODEL`'s defaults: 20 epochs, learning rate 3e-4, batch 32, seed 1, weight
    /// decay 0.01, clipping at 1.0, dropout 0.1, spatial weight 0.1; bounds 500.
    fn default() -> Self {
        TrainOptions {
            epochs: 20,
            learning_rate: 3e-4,
            batch_size: 32,
            seed: 1,
            weight_decay: 0.01,
            warmup_steps: None,
            max_grad_norm: 1.0,
            dropout: 0.1,
            spatial_weight: 0.1,
            alignment_weight: 1.0,
            bounds: 500.0,
        }
    }
}

impl TrainOptions {
    /// Sets the option `name` as `TRAIN … WITH (name = value)` spells it: `epochs`,
    /// `learning_rate`, `batch_size`, `seed`, `weight_decay`, `warmup_steps`,
    /// `max_grad_norm`, `dropout`, `spatial_weight`, `alignment_weight`.
    pub fn set_option(&mut self, name: &str, value: f64) -> Result<()> {
        let whole = || -> Result<usize> {
            if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 1e12 {
                Ok(value as usize)
            } else {
                Err(Error::arg(format!(
                    "option {name} must be a whole number, got {value}"
                )))
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "epochs" => self.epochs = whole()?,
            "learning_rate" => self.learning_rate = value,
            "batch_size" => self.batch_size = whole()?,
            "seed" => self.seed = whole()? as u64,
            "weight_decay" => self.weight_decay = value,
            "warmup_steps" => self.warmup_steps = Some(whole()?),
            "max_grad_norm" => self.max_grad_norm = value,
            "dropout" => self.dropout = value,
            "spatial_weight" => self.spatial_weight = value,
            "alignment_weight" => self.alignment_weight = value,
            other => {
                return Err(Error::arg(format!(
                    "unknown training option {other:?} (expected epochs, learning_rate, \
                     batch_size, seed, weight_decay, warmup_steps, max_grad_norm, dropout, \
                     spatial_weight or alignment_weight)"
                )))
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let positive = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::arg(format!(
                    "{name} must be finite and > 0, got {v}"
                )))
            }
        };
        let non_negative = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::arg(format!(
                    "{name} must be finite and >= 0, got {v}"
                )))
            }
        };
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::arg("epochs and batch_size must be at least 1"));
        }
        positive("learning_rate", self.learning_rate)?;
        positive("max_grad_norm", self.max_grad_norm)?;
        non_negative("weight_decay", self.weight_decay)?;
        non_negative("spatial_weight", self.spatial_weight)?;
        non_negative("alignment_weight", self.alignment_weight)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::arg(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        check_bounds(self.bounds)
    }
}

/// What the progress callback sees after each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainProgress {
    /// Steps done in this run (1-based).
    pub step: u64,
    /// Steps this run will take.
    pub total_steps: u64,
    /// The epoch of the step (0-based).
    pub epoch: usize,
    /// The step's loss.
    pub loss: f32,
}

/// The outcome of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Steps taken in this run.
    pub steps: u64,
    /// Mean loss of each epoch.
    pub epoch_losses: Vec<f32>,
    /// Mean loss of the last epoch (stored in the model's metadata).
    pub final_loss: f32,
    /// Next-token accuracy of the last epoch.
    pub accuracy: f32,
}

/// The learning rate of step `t` (0-based) of `total`: linear warm-up over `warmup`
/// steps to `peak`, then cosine decay towards 0.
pub fn learning_rate(t: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if t < warmup {
        peak * (t + 1) as f64 / warmup as f64
    } else {
        let span = (total - warmup).max(1) as f64;
        peak * 0.5 * (1.0 + (std::f64::consts::PI * (t - warmup) as f64 / span).cos())
    }
}

/// The loss of one batch and its terms (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossReport {
    /// `lm + w_s · spatial + w_a · (attention + match)`.
    pub total: f64,
    /// Next-token cross-entropy.
    pub lm: f64,
    /// Spatial consistency.
    pub spatial: f64,
    /// Attention alignment of `m_embed`.
    pub attention: f64,
    /// `m_score` matching.
    pub matching: f64,
}

impl Model {
    /// The training loss of `samples` taken as one batch, in their order, without dropout
    /// (`options` gives the loss weights and `bounds`). The model is not changed.
    pub fn loss(&self, samples: &[TrainSample<'_>], options: &TrainOptions) -> Result<LossReport> {
        options.validate()?;
        let tokens = self.check_samples(samples)?;
        let toks: Vec<&[u32]> = samples
            .iter()
            .map(|s| tokens.get(s.text).map_or(&[][..], |t| &t[..]))
            .collect();
        let p = batch_loss(
            &self.weights,
            &self.config,
            &self.tokenizer,
            &self.text_pe,
            samples,
            &toks,
            options.bounds,
            LossWeights {
                spatial: options.spatial_weight,
                alignment: options.alignment_weight,
            },
            &mut Mode::Infer,
        )?;
        Ok(LossReport {
            total: p.total.to_dtype(DType::F64)?.to_scalar::<f64>()?,
            lm: p.lm,
            spatial: p.spatial,
            attention: p.attention,
            matching: p.matching,
        })
    }

    /// Checks every sample and tokenizes each distinct text once.
    fn check_samples<'s>(&self, samples: &[TrainSample<'s>]) -> Result<HashMap<&'s str, Vec<u32>>> {
        if samples.is_empty() {
            return Err(Error::arg("no objects to train on"));
        }
        let cfg = &self.config;
        let mut tokens: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, s) in samples.iter().enumerate() {
            check_object(cfg, s.embedding, s.position)
                .map_err(|e| Error::arg(format!("sample {i}: {e}")))?;
            if !tokens.contains_key(s.text) {
                let t = self.tokenizer.encode(s.text)?;
                // BOS, EOS and two spatial tokens around the text.
                if t.len() + 4 > cfg.context {
                    return Err(Error::arg(format!(
                        "sample {i}: a text of {} tokens does not fit the context of {}",
                        t.len(),
                        cfg.context
                    )));
                }
                tokens.insert(s.text, t);
            }
        }
        Ok(tokens)
    }

    /// Fine-tunes the model on `samples` (a map's objects: type, position, embedding) with
    /// the loss of the crate docs. `progress` is called after every step; returning
    /// `ControlFlow::Break` stops the run with [`Error::Cancelled`]. On success the new
    /// weights replace the old ones and the metadata counts the steps and keeps the last
    /// epoch's loss and accuracy; on any error the model is unchanged.
    pub fn train(
        &mut self,
        samples: &[TrainSample<'_>],
        options: &TrainOptions,
        progress: impl FnMut(&TrainProgress) -> ControlFlow<()>,
    ) -> Result<TrainReport> {
        self.train_with(samples, options, progress, Path::Fused)
    }

    /// [`Model::train`] on the chosen path: the fused trainer (`fused/`) for f32 weights,
    /// else, or when asked, candle's autograd (`autograd.rs`).
    pub(crate) fn train_with(
        &mut self,
        samples: &[TrainSample<'_>],
        options: &TrainOptions,
        mut progress: impl FnMut(&TrainProgress) -> ControlFlow<()>,
        path: Path,
    ) -> Result<TrainReport> {
        options.validate()?;
        let tokens = self.check_samples(samples)?;
        let cfg = &self.config;
        let per_epoch = samples.len().div_ceil(options.batch_size);
        let total = per_epoch
            .checked_mul(options.epochs)
            .filter(|&t| t <= 1 << 40)
            .ok_or_else(|| Error::arg("too many training steps"))?;
        let warmup = options.warmup_steps.unwrap_or(total / 20).min(total);

        // Work on copies: the model's own weights stay untouched until the end.
        let fused = path == Path::Fused && lock(&self.weights).slices().is_some();
        let mut trainer = if fused {
            Trainer::Fused(Box::new(fused::Trainer::new(
                &self.weights,
                options.weight_decay,
            )?))
        } else {
            Trainer::Autograd(autograd::Trainer::new(
                &self.weights,
                cfg,
                options.learning_rate,
                options.weight_decay,
            )?)
        };
        let step_options = StepOptions {
            dropout: options.dropout,
            spatial: options.spatial_weight,
            alignment: options.alignment_weight,
            max_grad_norm: options.max_grad_norm,
            bounds: options.bounds,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut epoch_losses = Vec::with_capacity(options.epochs);
        let mut accuracy = 0.0;
        let mut step = 0usize;
        for epoch in 0..options.epochs {
            order.shuffle(&mut rng);
            let (mut sum, mut correct, mut predictions) = (0f64, 0usize, 0usize);
            for chunk in order.chunks(options.batch_size) {
                let batch: Vec<TrainSample> = chunk.iter().map(|&i| samples[i]).collect();
                let toks: Vec<&[u32]> = batch
                    .iter()
                    .map(|s| tokens.get(s.text).map_or(&[][..], |t| &t[..]))
                    .collect();
                let lr = learning_rate(step, total, warmup, options.learning_rate);
                step += 1;
                let (tok, pe) = (&self.tokenizer, &self.text_pe[..]);
                let outcome = match &mut trainer {
                    Trainer::Fused(t) => {
                        t.step(cfg, tok, pe, &batch, &toks, step_options, &mut rng, lr)
                    }
                    Trainer::Autograd(t) => {
                        t.step(cfg, tok, pe, &batch, &toks, step_options, &mut rng, lr)
                    }
                };
                let outcome = outcome.map_err(|e| match e {
                    StepError::Loss => Error::Diverged {
                        step: step as u64,
                        what: "loss",
                    },
                    StepError::Gradient => Error::Diverged {
                        step: step as u64,
                        what: "gradient",
                    },
                    StepError::Other(e) => e,
                })?;
                sum += outcome.loss;
                correct += outcome.correct;
                predictions += outcome.predictions;
                let report = TrainProgress {
                    step: step as u64,
                    total_steps: total as u64,
                    epoch,
                    loss: outcome.loss as f32,
                };
                if progress(&report).is_break() {
                    return Err(Error::Cancelled {
                        steps: step as u64,
                        total: total as u64,
                    });
                }
            }
            epoch_losses.push((sum / per_epoch as f64) as f32);
            accuracy = correct as f32 / predictions.max(1) as f32;
        }
        let trained = match &trainer {
            Trainer::Fused(t) => t.weights(cfg, &self.device)?,
            Trainer::Autograd(t) => t.weights(cfg)?,
        };
        let final_loss = epoch_losses.last().copied().unwrap_or(f32::NAN);
        self.weights = trained;
        self.meta.training_steps = self.meta.training_steps.saturating_add(total as u64);
        self.meta.loss = Some(final_loss);
        self.meta.accuracy = Some(accuracy);
        Ok(TrainReport {
            steps: total as u64,
            epoch_losses,
            final_loss,
            accuracy,
        })
    }
}

/// The weights being trained, on one of the two paths.
enum Trainer {
    Fused(Box<fused::Trainer>),
    Autograd(autograd::Trainer),
}
