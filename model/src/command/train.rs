//! Training a command model on (text, statement) pairs.
//!
//! Each example is the sequence `[BOS] text [SEP] s_1 … s_K`; the loss is the mean
//! cross-entropy of predicting `s_1 … s_K, EOS` from `SEP, s_1 … s_K`, with the logits of
//! every step restricted to the symbols the grammar allows there (the same distribution the
//! decoder samples, so no probability is spent on statements that cannot be written).
//!
//! The optimisation is the crate's: the network's training mode (`network::forward`,
//! seeded dropout), AdamW with decoupled weight decay, clipping to a global gradient norm,
//! linear warm-up then cosine decay (`train::learning_rate`). A run works on a copy of the
//! weights and replaces the model's only when every step succeeded. Batches are drawn by
//! shuffling, then sorting runs of 16 batches by length (little padding), then shuffling the
//! batches; all of it seeded, so the same examples, options and seed give the same bytes.

use std::ops::ControlFlow;

use candle_core::{DType, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::catalog::Catalog;
use super::grammar::{linearize, Allowed, Decoded, Parser};
use super::model::{output_ids, CommandModel};
use super::symbols::{Sym, SYMBOLS};
use super::tokens::Prompt;
use crate::batch::{Batch, Sequence, MASKED};
use crate::error::{Error, Result};
use crate::network::{forward, Mode};
use crate::train::learning_rate;
use crate::weights::Weights;

/// One training pair, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// `[BOS] text [SEP]`.
    pub prompt: Vec<u32>,
    /// The statement's symbols.
    pub target: Vec<Sym>,
    /// What the grammar allows before each target symbol and before the final `EOS`
    /// (`target.len() + 1` entries).
    pub allowed: Vec<Allowed>,
}

impl Example {
    /// The example of `prompt` answered by `decoded`; an error when the grammar does not
    /// accept it over the prompt's slots (a generator bug, or a pair that names a slot the
    /// text does not have).
    pub fn new(prompt: &Prompt, decoded: &Decoded) -> Result<Self> {
        let target = linearize(decoded);
        let mut parser = Parser::new(&prompt.slots);
        let mut allowed = Vec::with_capacity(target.len() + 1);
        for &s in &target {
            allowed.push(parser.allowed());
            parser
                .push(s)
                .map_err(|e| Error::arg(format!("the statement does not parse: {e}")))?;
        }
        allowed.push(parser.allowed());
        let back = parser
            .finish()
            .map_err(|e| Error::arg(format!("the statement does not parse: {e}")))?;
        if back != *decoded {
            return Err(Error::arg("the statement is not in canonical order"));
        }
        Ok(Example {
            prompt: prompt.ids.clone(),
            target,
            allowed,
        })
    }

    /// Tokens of the training sequence.
    pub fn len(&self) -> usize {
        self.prompt.len() + self.target.len()
    }

    /// Whether it has no tokens (never: a prompt has `BOS` and `SEP`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The options of a command training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Passes over the examples.
    pub epochs: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Examples per step.
    pub batch_size: usize,
    /// Seed of batching and dropout.
    pub seed: u64,
    /// AdamW's weight decay.
    pub weight_decay: f64,
    /// Warm-up steps (`None`: 5 % of the steps).
    pub warmup_steps: Option<usize>,
    /// Global gradient norm clip.
    pub max_grad_norm: f64,
    /// Dropout probability.
    pub dropout: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 4,
            learning_rate: 1e-3,
            batch_size: 64,
            seed: 1,
            weight_decay: 0.01,
            warmup_steps: None,
            max_grad_norm: 1.0,
            dropout: 0.1,
        }
    }
}

/// After each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Steps done (1-based).
    pub step: usize,
    /// Steps in the run.
    pub total: usize,
    /// The step's loss.
    pub loss: f32,
    /// The step's symbol accuracy.
    pub accuracy: f32,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Steps taken.
    pub steps: usize,
    /// Mean loss per epoch.
    pub epoch_losses: Vec<f32>,
    /// Symbol accuracy of the last epoch (teacher forcing).
    pub accuracy: f32,
}

/// Loss and counts of one batch.
struct BatchLoss {
    total: Tensor,
    correct: usize,
    predictions: usize,
}

fn batch_loss(
    cm: &CommandModel,
    weights: &Weights,
    batch: &[&Example],
    mode: &mut Mode,
) -> Result<BatchLoss> {
    let m = &cm.model;
    let device = &m.device;
    let seqs: Vec<Sequence> = batch
        .iter()
        .map(|e| Sequence {
            ids: e
                .prompt
                .iter()
                .copied()
                .chain(e.target.iter().map(|s| s.token()))
                .collect(),
            spatial: Vec::new(),
        })
        .collect();
    let b = Batch::new(
        &m.config,
        &m.tokenizer,
        &seqs,
        m.config.max_position,
        &m.text_pe,
        weights.dtype(),
        device,
    )?;
    let h = forward(weights, &m.config, &b, mode, None, None)?;
    let width = SYMBOLS + 1;
    let (mut rows, mut targets, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for (r, e) in batch.iter().enumerate() {
        let sep = e.prompt.len() - 1;
        for (t, allowed) in e.allowed.iter().enumerate() {
            rows.push((r * b.s + sep + t) as u32);
            targets.push(e.target.get(t).map_or(SYMBOLS, |s| s.index()) as u32);
            mask.extend((0..width).map(|i| {
                let ok = if i == SYMBOLS {
                    allowed.end
                } else {
                    allowed.mask & (1u64 << i) != 0
                };
                if ok {
                    0.0
                } else {
                    MASKED
                }
            }));
        }
    }
    let n = rows.len();
    let rows = Tensor::from_vec(rows, n, device)?;
    let ids = output_ids(m);
    let ids = Tensor::from_vec(ids.clone(), ids.len(), device)?;
    let head_w = weights.output_head.w.index_select(&ids, 0)?;
    let head_b = weights.output_head.b.index_select(&ids, 0)?;
    let logits = h
        .index_select(&rows, 0)?
        .matmul(&head_w.t()?)?
        .broadcast_add(&head_b)?;
    let mask = Tensor::from_vec(mask, (n, width), device)?.to_dtype(weights.dtype())?;
    let logits = (logits + mask)?;
    let targets_t = Tensor::from_vec(targets.clone(), n, device)?;
    let total = candle_nn::loss::cross_entropy(&logits, &targets_t)?;
    let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
    let correct = predicted
        .iter()
        .zip(&targets)
        .filter(|(p, t)| p == t)
        .count();
    Ok(BatchLoss {
        total,
        correct,
        predictions: n,
    })
}

/// Scales gradients to a global L2 norm of at most `max_norm` (PyTorch's `clip_grad_norm_`);
/// `None` when the norm is not finite. (The same rule as the crate's object training.)
fn clip(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max_norm: f64,
) -> Result<Option<()>> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    let norm = sq.sqrt();
    if !norm.is_finite() {
        return Ok(None);
    }
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * factor)?);
            }
        }
    }
    Ok(Some(()))
}

/// The batches of one epoch (module docs): indices into `examples`.
fn batches(examples: &[Example], size: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(rng);
    for run in order.chunks_mut(size * 16) {
        run.sort_by_key(|&i| examples[i].len());
    }
    let mut out: Vec<Vec<usize>> = order.chunks(size).map(<[usize]>::to_vec).collect();
    out.shuffle(rng);
    out
}

impl CommandModel {
    /// Trains on `examples` (module docs). `progress` after every step may stop the run
    /// ([`Error::Cancelled`]); on any error the model is unchanged.
    pub fn train(
        &mut self,
        examples: &[Example],
        options: &TrainOptions,
        mut progress: impl FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Report> {
        if examples.is_empty() || options.epochs == 0 || options.batch_size == 0 {
            return Err(Error::arg(
                "training needs examples, epochs >= 1 and batch_size >= 1",
            ));
        }
        let lr_ok = options.learning_rate.is_finite() && options.learning_rate > 0.0;
        if !lr_ok || !(0.0..1.0).contains(&options.dropout) {
            return Err(Error::arg(
                "learning_rate must be > 0 and dropout in [0, 1)",
            ));
        }
        let ctx = self.model.config.context;
        if let Some(e) = examples
            .iter()
            .find(|e| e.len() > ctx || e.prompt.len() < 2)
        {
            return Err(Error::arg(format!(
                "an example of {} tokens does not fit the context of {ctx}",
                e.len()
            )));
        }
        let per_epoch = examples.len().div_ceil(options.batch_size);
        let total = per_epoch * options.epochs;
        let warmup = options.warmup_steps.unwrap_or(total / 20).min(total);
        let mut vars = Vec::new();
        let cfg = self.model.config.clone();
        let weights = self.model.weights.map(&cfg, |_, t| {
            let v = Var::from_tensor(&t.copy()?)?;
            let t = v.as_tensor().clone();
            vars.push(v);
            Ok(t)
        })?;
        let mut opt = AdamW::new(
            vars.clone(),
            ParamsAdamW {
                lr: options.learning_rate,
                weight_decay: options.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut epoch_losses = Vec::new();
        let mut accuracy = 0.0;
        let mut step = 0;
        for _ in 0..options.epochs {
            let (mut sum, mut correct, mut predictions) = (0f64, 0, 0);
            for chunk in batches(examples, options.batch_size, &mut rng) {
                let batch: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
                let parts = batch_loss(
                    self,
                    &weights,
                    &batch,
                    &mut Mode::Train {
                        dropout: options.dropout,
                        rng: &mut rng,
                    },
                )?;
                step += 1;
                let loss = parts.total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                if !loss.is_finite() {
                    return Err(Error::Diverged {
                        step: step as u64,
                        what: "loss",
                    });
                }
                let mut grads = parts.total.backward()?;
                if clip(&mut grads, &vars, options.max_grad_norm)?.is_none() {
                    return Err(Error::Diverged {
                        step: step as u64,
                        what: "gradient",
                    });
                }
                opt.set_learning_rate(learning_rate(
                    step - 1,
                    total,
                    warmup,
                    options.learning_rate,
                ));
                opt.step(&grads)?;
                sum += loss;
                correct += parts.correct;
                predictions += parts.predictions;
                let report = Progress {
                    step,
                    total,
                    loss: loss as f32,
                    accuracy: parts.correct as f32 / parts.predictions.max(1) as f32,
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
        drop(opt);
        let trained = weights.map(&cfg, |_, t| Ok(t.copy()?.detach()))?;
        let settings = self.settings;
        let mut model = self.model.clone();
        model.weights = trained;
        model.meta.training_steps = model.meta.training_steps.saturating_add(total as u64);
        model.meta.loss = epoch_losses.last().copied();
        model.meta.accuracy = Some(accuracy);
        *self = CommandModel::from_model(model, settings)?;
        Ok(Report {
            steps: total,
            epoch_losses,
            accuracy,
        })
    }

    /// The mean loss and symbol accuracy of `examples` under the model (no dropout, no
    /// change), in batches of `batch_size`.
    pub fn evaluate(&self, examples: &[Example], batch_size: usize) -> Result<(f32, f32)> {
        let (mut sum, mut correct, mut predictions) = (0f64, 0, 0);
        for chunk in examples.chunks(batch_size.max(1)) {
            let batch: Vec<&Example> = chunk.iter().collect();
            let p = batch_loss(self, &self.model.weights, &batch, &mut Mode::Infer)?;
            sum += p.total.to_dtype(DType::F64)?.to_scalar::<f64>()? * p.predictions as f64;
            correct += p.correct;
            predictions += p.predictions;
        }
        let n = predictions.max(1) as f64;
        Ok(((sum / n) as f32, (correct as f64 / n) as f32))
    }

    /// The training example of `text` over `catalog` answered by `decoded`.
    pub fn example(&self, text: &str, catalog: &Catalog, decoded: &Decoded) -> Result<Example> {
        Example::new(&self.prompt(text, catalog)?, decoded)
    }

    /// The training example of a (text, statement) pair a user keeps (fine-tuning on one's
    /// own phrasing): the statement in the forms the model writes (docs/ask.md), over the
    /// map of `catalog`, its every value one the text offers. The error says what does not
    /// fit.
    pub fn example_of_pair(
        &self,
        text: &str,
        statement: &str,
        catalog: &Catalog,
    ) -> Result<Example> {
        let (map, query) = super::tql::parse(statement)
            .map_err(|e| Error::arg(format!("statement {statement:?}: {e}")))?;
        if map != catalog.map {
            return Err(Error::arg(format!(
                "statement {statement:?} is over {map}, not {}",
                catalog.map
            )));
        }
        let prompt = self.prompt(text, catalog)?;
        let form = super::resolve::form_of(&query, &prompt.slots)
            .map_err(|e| Error::arg(format!("text {text:?}: {e}")))?;
        Example::new(&prompt, &Decoded::Statement(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    fn model() -> CommandModel {
        let mut config = ModelConfig::small(1, 24, 2, 4);
        config.context = 128;
        CommandModel::new(config, &[], 1).unwrap()
    }

    #[test]
    fn a_users_pair_becomes_an_example_or_says_what_does_not_fit() {
        let m = model();
        let catalog = Catalog::new("yard", ["crate", "forklift"]).with_column("load", true);
        let e = m
            .example_of_pair(
                "forklifts with a load over 2 near 10, 20, 0",
                "SELECT * FROM yard WHERE type = 'forklift' AND load > 2 \
                 ORDER BY DISTANCE(position, [10, 20, 0])",
                &catalog,
            )
            .unwrap();
        assert_eq!(
            e.target,
            [
                Sym::SelectRows,
                Sym::Where,
                Sym::TypeEq,
                Sym::Type(0),
                Sym::And,
                Sym::Col(0),
                Sym::Gt,
                Sym::Num(0),
                Sym::OrderByDistance,
                Sym::Point,
                Sym::Num(1),
                Sym::Num(2),
                Sym::Num(3),
                Sym::Asc
            ]
        );
        assert_eq!(e.allowed.len(), e.target.len() + 1);
        for (stmt, what) in [
            ("SELECT * FROM yard WHERE type = 'crate'", "crate"),
            ("SELECT * FROM other", "other"),
            ("DELETE FROM yard", "expected select"),
            ("SELECT * FROM yard LIMIT 9", "9"),
        ] {
            let err = m
                .example_of_pair("forklifts near 10, 20, 0", stmt, &catalog)
                .unwrap_err()
                .to_string();
            assert!(err.contains(what), "{stmt}: {err}");
        }
    }

    #[test]
    fn a_short_run_learns_and_a_cancelled_one_changes_nothing() {
        let catalog = Catalog::new("m", ["cube", "sphere"]);
        let mut m = model();
        let pairs = [
            (
                "count the cubes",
                "SELECT COUNT(*) FROM m WHERE type = 'cube'",
            ),
            ("show the spheres", "SELECT * FROM m WHERE type = 'sphere'"),
            (
                "cubes within 5 of the origin",
                "SELECT * FROM m WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 5)",
            ),
        ];
        let examples: Vec<Example> = pairs
            .iter()
            .map(|(t, s)| m.example_of_pair(t, s, &catalog).unwrap())
            .collect();
        let before = m.evaluate(&examples, 8).unwrap();
        let options = TrainOptions {
            epochs: 30,
            batch_size: 3,
            dropout: 0.0,
            learning_rate: 3e-3,
            ..TrainOptions::default()
        };
        let snapshot = m.to_bytes(crate::vllm::WeightDtype::F32).unwrap();
        let e = m
            .train(&examples, &options, |p| {
                if p.step == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled { steps: 3, .. }), "{e}");
        assert_eq!(m.to_bytes(crate::vllm::WeightDtype::F32).unwrap(), snapshot);
        let report = m
            .train(&examples, &options, |_| ControlFlow::Continue(()))
            .unwrap();
        let after = m.evaluate(&examples, 8).unwrap();
        assert!(after.0 < before.0 / 4.0, "loss {before:?} -> {after:?}");
        assert_eq!(after.1, 1.0, "{report:?}");
        for (text, statement) in pairs {
            assert_eq!(m.ask(text, &catalog).unwrap().statement, statement);
        }
        // The same run again gives the same bytes.
        let mut again = model();
        again
            .train(&examples, &options, |_| ControlFlow::Continue(()))
            .unwrap();
        assert_eq!(
            again.to_bytes(crate::vllm::WeightDtype::F32).unwrap(),
            m.to_bytes(crate::vllm::WeightDtype::F32).unwrap()
        );
    }
}
