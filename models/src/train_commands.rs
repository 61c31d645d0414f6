//! `TRAIN MODEL m ON map WITH (task = 'commands', examples = 'pairs')`'s model side: the
//! command model to start from (the stored one, or the built-in one), the user's examples
//! as training examples over the map's catalog, corpus examples mixed in so the model keeps
//! what it knew (`replay` per user example), and the run (`CommandModel::train`).
//!
//! Everything follows from the options (`seed` included), so the same statement on the
//! same data writes the same model.

use std::ops::ControlFlow;

use tensormap_engine::{CallError, ErrorKind, MapView, ModelInfo, StoredModel};
use tensormap_model::command::corpus::corpus;
use tensormap_model::command::train::TrainOptions;
use tensormap_model::command::CommandModel;
use tensormap_model::WeightDtype;
use tensormap_query::{CommandPair, ModelBytes, TrainCallback};

use crate::cache::ModelCache;
use crate::{model_error, COMMAND};

/// Corpus examples mixed in are at most this many.
const MAX_REPLAY: usize = 4_096;

/// The run's settings: the trainer's and `replay`.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    train: TrainOptions,
    replay: usize,
}

fn invalid(message: String) -> CallError {
    CallError::new(ErrorKind::InvalidValue, message)
}

/// The defaults for a handful of examples (a few seconds), then `options` over them.
fn settings(options: &[(String, f64)]) -> Result<Settings, CallError> {
    let mut s = Settings {
        train: TrainOptions {
            epochs: 10,
            learning_rate: 3e-4,
            batch_size: 16,
            seed: 1,
            dropout: 0.1,
            ..TrainOptions::default()
        },
        replay: 8,
    };
    let whole = |name: &str, v: f64, max: f64| -> Result<usize, CallError> {
        if v.is_finite() && v.fract() == 0.0 && (0.0..=max).contains(&v) {
            Ok(v as usize)
        } else {
            Err(invalid(format!(
                "option {name} must be a whole number in [0, {max}], got {v}"
            )))
        }
    };
    for (name, v) in options {
        let v = *v;
        match name.as_str() {
            "epochs" => s.train.epochs = whole(name, v, 1_000.0)?.max(1),
            "batch_size" => s.train.batch_size = whole(name, v, 4_096.0)?.max(1),
            "replay" => s.replay = whole(name, v, 64.0)?,
            "seed" => s.train.seed = whole(name, v, 2f64.powi(53))? as u64,
            "learning_rate" if v.is_finite() && v > 0.0 && v <= 1.0 => s.train.learning_rate = v,
            "dropout" if (0.0..1.0).contains(&v) => s.train.dropout = v,
            "learning_rate" => {
                return Err(invalid(format!(
                    "option learning_rate must be in (0, 1], got {v}"
                )))
            }
            "dropout" => {
                return Err(invalid(format!(
                    "option dropout must be in [0, 1), got {v}"
                )))
            }
            other => return Err(invalid(format!("TRAIN has no option {other} for commands"))),
        }
    }
    Ok(s)
}

/// The fine-tuned model's bytes (module docs).
pub(crate) fn train(
    cache: &ModelCache,
    base: Option<&StoredModel>,
    map: &MapView<'_>,
    pairs: &[CommandPair],
    options: &[(String, f64)],
    progress: &mut TrainCallback<'_>,
) -> Result<ModelBytes, CallError> {
    let s = settings(options)?;
    if pairs.is_empty() {
        return Err(invalid("there are no examples to train on".into()));
    }
    let start = match base {
        None => cache.builtin_command()?,
        Some(m) if m.kind() == COMMAND => cache.get(m).command()?,
        Some(m) => {
            return Err(invalid(format!(
                "model '{}' is a {} model; TRAIN … WITH (task = 'commands') fine-tunes a \
                 command model (name one that does not exist to start from the built-in one)",
                m.name(),
                m.kind()
            )))
        }
    };
    // A copy: a run that fails leaves the stored (or built-in) model as it was.
    let mut model: CommandModel = (*start).clone();
    let catalog = crate::ask::catalog(map);
    let mut examples = Vec::with_capacity(pairs.len() * (1 + s.replay));
    for p in pairs {
        let e = model
            .example_of_pair(&p.text, &p.statement, &catalog)
            .map_err(|e| {
                invalid(format!(
                    "example '{}': the command model cannot write its statement from its \
                     text over map '{}': {e}",
                    p.text,
                    map.name()
                ))
            })?;
        examples.push(e);
    }
    let replay = (pairs.len() * s.replay).min(MAX_REPLAY);
    for p in corpus(s.train.seed, replay) {
        // A corpus example the model's tokens cannot hold is left out.
        if let Ok(e) = model.example(&p.text, &p.catalog, &p.answer) {
            examples.push(e);
        }
    }
    model
        .train(&examples, &s.train, |p| {
            progress(p.step as u64, p.total as u64, p.loss);
            ControlFlow::Continue(())
        })
        .map_err(model_error)?;
    let bytes = model.to_bytes(WeightDtype::F32).map_err(model_error)?;
    let m = model.model();
    let i = m.info();
    Ok(ModelBytes {
        kind: COMMAND.to_string(),
        info: ModelInfo {
            parameters: i.parameters,
            output_width: i.output_width,
            steps: i.steps,
            loss: i.loss,
        },
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let ok = settings(&[("epochs".into(), 3.0), ("replay".into(), 0.0)]).unwrap();
        assert_eq!((ok.train.epochs, ok.replay), (3, 0));
        for (k, v, what) in [
            ("epochs", 1.5, "whole number"),
            ("replay", 65.0, "[0, 64]"),
            ("learning_rate", 0.0, "(0, 1]"),
            ("dropout", 1.0, "[0, 1)"),
            ("layers", 2.0, "no option layers"),
        ] {
            let err = settings(&[(k.into(), v)]).unwrap_err().to_string();
            assert!(err.contains(what), "{k} = {v}: {err}");
        }
    }
}
