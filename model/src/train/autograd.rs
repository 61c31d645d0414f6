//! The candle path of a training step: the loss of `loss.rs` on candle tensors, candle's
//! autograd, clipping, candle-nn's AdamW. It runs for weights that are not f32 and is the
//! oracle the fused trainer (`fused/`) is tested against.

use candle_core::{DType, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand_chacha::ChaCha8Rng;

use super::fused::{StepError, StepOptions, StepOutcome};
use super::loss::{batch_loss, LossWeights, TrainSample};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::network::Mode;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// Training variables (copies of the model's weights) and the optimizer.
pub struct Trainer {
    vars: Vec<Var>,
    weights: Weights,
    opt: AdamW,
}

impl Trainer {
    /// Starts from copies of `w`.
    pub fn new(
        w: &Weights,
        cfg: &ModelConfig,
        learning_rate: f64,
        weight_decay: f64,
    ) -> Result<Self> {
        let mut vars = Vec::new();
        let weights = w.map(cfg, |_, t| {
            let v = Var::from_tensor(&t.copy()?)?;
            let t = v.as_tensor().clone();
            vars.push(v);
            Ok(t)
        })?;
        let opt = AdamW::new(
            vars.clone(),
            ParamsAdamW {
                lr: learning_rate,
                weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Trainer { vars, weights, opt })
    }

    /// The trained weights, detached from the variables.
    pub fn weights(&self, cfg: &ModelConfig) -> Result<Weights> {
        self.weights.map(cfg, |_, t| Ok(t.copy()?.detach()))
    }

    /// One step (see `fused::Trainer::step`).
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
        let parts = batch_loss(
            &self.weights,
            cfg,
            tok,
            text_pe,
            samples,
            tokens,
            options.bounds,
            LossWeights {
                spatial: options.spatial,
                alignment: options.alignment,
            },
            &mut Mode::Train {
                dropout: options.dropout,
                rng,
            },
        )?;
        let loss = parts
            .total
            .to_dtype(DType::F64)
            .and_then(|t| t.to_scalar::<f64>())
            .map_err(Error::from)?;
        if !loss.is_finite() {
            return Err(StepError::Loss);
        }
        let mut grads = parts.total.backward().map_err(Error::from)?;
        clip(&mut grads, &self.vars, options.max_grad_norm)?;
        self.opt.set_learning_rate(lr);
        self.opt.step(&grads).map_err(Error::from)?;
        Ok(StepOutcome {
            loss,
            correct: parts.correct,
            predictions: parts.predictions,
        })
    }
}

/// Scales `grads` so that their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when below 1).
fn clip(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max_norm: f64,
) -> std::result::Result<(), StepError> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g
                .sqr()
                .and_then(|g| g.sum_all())
                .and_then(|g| g.to_dtype(DType::F64))
                .and_then(|g| g.to_scalar::<f64>())
                .map_err(Error::from)?;
        }
    }
    let norm = sq.sqrt();
    if !norm.is_finite() {
        return Err(StepError::Gradient);
    }
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * factor).map_err(Error::from)?);
            }
        }
    }
    Ok(())
}
