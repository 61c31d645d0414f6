//! `ASK`'s model side: the map's catalog (the types that occur in it), the command model
//! (the built-in one, decoded once per database in the [`ModelCache`], or a stored command
//! model), and its answer as the query crate's [`Asked`].

use std::collections::BTreeSet;

use tensormap_engine::{CallError, ErrorKind, MapView, StoredModel};
use tensormap_model::command::{Catalog, CommandModel, Outcome};
use tensormap_query::{AskOutcome, Asked};

use crate::cache::ModelCache;
use crate::{model_error, COMMAND};

/// The name `EXPLAIN ASK` gives the built-in model.
pub const BUILT_IN: &str = "built-in";

/// What the command model can name in `map`: its name and the types that occur in it (in
/// byte order, so the same map always reads the same way).
pub(crate) fn catalog(map: &MapView<'_>) -> Catalog {
    let types: BTreeSet<&str> = map.objects().map(|o| o.kind()).collect();
    Catalog::new(map.name(), types)
}

/// `ASK` over `map` with the stored command model `model`, or the built-in one.
pub(crate) fn ask(
    cache: &ModelCache,
    map: &MapView<'_>,
    model: Option<&StoredModel>,
    text: &str,
) -> Result<Asked, CallError> {
    let (command, name) = match model {
        None => (cache.builtin_command()?, BUILT_IN.to_string()),
        Some(m) if m.kind() == COMMAND => (cache.get(m).command()?, m.name().to_string()),
        Some(m) => {
            return Err(CallError::new(
                ErrorKind::InvalidValue,
                format!(
                    "model '{}' is a {} model; ASK … USING needs a command model (LOAD MODEL \
                     of a command model's .vllm file)",
                    m.name(),
                    m.kind()
                ),
            ))
        }
    };
    answer(&command, &catalog(map), text, name)
}

/// The command model's answer for `text` over `catalog`.
pub(crate) fn answer(
    model: &CommandModel,
    catalog: &Catalog,
    text: &str,
    name: String,
) -> Result<Asked, CallError> {
    let g = model.ask(text, catalog).map_err(model_error)?;
    Ok(Asked {
        statement: g.statement,
        probability: f64::from(g.probability),
        outcome: match g.outcome {
            Outcome::Answer => AskOutcome::Answer,
            Outcome::NotSure => AskOutcome::NotSure,
            Outcome::NotACommand => AskOutcome::NotACommand,
            Outcome::UnknownType => AskOutcome::UnknownType,
        },
        threshold: f64::from(model.settings().threshold),
        model: name,
    })
}
