//! Model statements in a session: CREATE / LOAD / TRAIN / SAVE / SHOW / DROP MODEL(S).
//!
//! The query crate does not run models (it must not build candle): a [`ModelHost`],
//! installed by the program (the `tensormap` facade installs the V-LLM's), turns settings,
//! files and maps into a model's bytes and summary, and registers each stored model's
//! functions (`m_embed`, `m_score`, `m_generate`). The session stores what the host
//! returns through the engine's model catalog, in the statement's transaction: a model
//! created, loaded or trained is there once that transaction commits, and nothing of it
//! is left after a rollback or an error. Without a host, model statements other than
//! `SHOW MODELS` and `DROP MODEL` are an error.

use std::sync::Arc;

use tensormap_engine::{MapView, ModelInfo, Registry, StoredModel, Value};

use crate::ast::{ModelStatement, Setting, Span};
use crate::error::{CallError, Error, Pos, Result};
use crate::exec::QueryResult;
use crate::progress::StepProgress;
use crate::session::Session;

/// A model as the host made it: what the engine stores.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBytes {
    /// Its kind (`vllm`, ...).
    pub kind: String,
    /// Its summary for `SHOW MODELS`.
    pub info: ModelInfo,
    /// Its serialized form (a `.vllm` file's bytes).
    pub bytes: Vec<u8>,
}

/// Which statement's option [`ModelHost::check_option`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsOf {
    /// `CREATE MODEL … WITH (…)`
    Create,
    /// `TRAIN MODEL … WITH (…)`
    Train,
}

/// Reports training progress: `(step, total_steps, loss)` after each step.
pub type TrainCallback<'a> = dyn FnMut(u64, u64, f32) + 'a;

/// What runs models for a session: everything that needs the model code. Its errors have a
/// kind ([`CallError`]); the session adds the statement's position.
pub trait ModelHost: Send + Sync {
    /// Checks one option `name = value` of CREATE or TRAIN on its own (so a bad one is
    /// reported where it is written).
    fn check_option(&self, of: OptionsOf, name: &str, value: f64) -> Result<(), CallError>;

    /// `CREATE MODEL … WITH (options)`: a new model.
    fn create(&self, options: &[(String, f64)]) -> Result<ModelBytes, CallError>;

    /// `LOAD MODEL … FROM path`: a model read from a file (or folder).
    fn load(&self, path: &str) -> Result<ModelBytes, CallError>;

    /// `TRAIN MODEL … ON map WITH (options)`: `model` fine-tuned on the objects of `map`;
    /// `progress` is called after every step.
    fn train(
        &self,
        model: &StoredModel,
        map: &MapView<'_>,
        options: &[(String, f64)],
        progress: &mut TrainCallback<'_>,
    ) -> Result<ModelBytes, CallError>;

    /// `SAVE MODEL … TO path`.
    fn save(&self, model: &StoredModel, path: &str) -> Result<(), CallError>;

    /// `ASK`: the statement `text` asks for over `map`, written by the stored command model
    /// `model`, or by the host's built-in one when `model` is `None` (`crate::ask`). A host
    /// without command models says so.
    fn ask(
        &self,
        map: &MapView<'_>,
        model: Option<&StoredModel>,
        text: &str,
    ) -> Result<crate::ask::Asked, CallError> {
        let _ = (map, model, text);
        Err(CallError::from(
            "this program's model host has no command model: ASK is not available",
        ))
    }

    /// `TRAIN MODEL … ON map WITH (task = 'commands', examples = …)`: the command model
    /// `base` (or, when `None`, the built-in one) fine-tuned on `pairs` over `map`
    /// (`crate::train_commands`). A host without command models says so.
    fn train_commands(
        &self,
        base: Option<&StoredModel>,
        map: &MapView<'_>,
        pairs: &[crate::train_commands::CommandPair],
        options: &[(String, f64)],
        progress: &mut TrainCallback<'_>,
    ) -> Result<ModelBytes, CallError> {
        let _ = (base, map, pairs, options, progress);
        Err(CallError::from(
            "this program's model host has no command model: TRAIN … task = 'commands' is not available",
        ))
    }

    /// Makes exactly the functions of `models` callable through `registry` (registering
    /// those of new or changed models, removing those of models no longer there).
    fn sync(&self, registry: &Registry, models: &[Arc<StoredModel>]);
}

/// Model names name functions (`m_embed`): they must be plain identifiers.
pub(crate) fn check_model_name(name: &str, pos: Pos) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            pos,
            format!(
                "model name '{}' must be an identifier of at most 64 characters \
                 ([A-Za-z_][A-Za-z0-9_]*): it names the functions {0}_embed, {0}_score, {0}_generate",
                name.chars().take(64).collect::<String>()
            ),
        ))
    }
}

/// The numeric settings of CREATE or TRAIN, each checked by the host where it is written.
fn options(
    host: &dyn ModelHost,
    of: OptionsOf,
    settings: &[(String, Setting, Span)],
) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::with_capacity(settings.len());
    for (key, value, at) in settings {
        let n = match value {
            Setting::Number(n) => *n,
            other => {
                return Err(Error::invalid(
                    at.0,
                    format!("{key} must be a number, found {other}"),
                ))
            }
        };
        if out.iter().any(|(k, _)| k == key) {
            return Err(Error::syntax(at.0, format!("{key} is given twice")));
        }
        host.check_option(of, key, n)
            .map_err(|e| Error::call(at.0, None, e))?;
        out.push((key.clone(), n));
    }
    Ok(out)
}

impl Session {
    /// Runs a model statement (see the module header).
    pub(crate) fn run_model(&mut self, m: &ModelStatement, pos: Pos) -> Result<QueryResult> {
        let engine = |e| Error::engine(pos, e);
        let host = || {
            self.model_host.clone().ok_or_else(|| {
                Error::internal(
                    pos,
                    "this program runs no models: model statements need a model host \
                     (the tensormap library and the tmap shell install one)",
                )
            })
        };
        let r = match m {
            ModelStatement::Show => return Ok(self.show_models()),
            ModelStatement::Create { name, settings } => {
                let host = host()?;
                check_model_name(name, pos)?;
                let opts = options(host.as_ref(), OptionsOf::Create, settings)?;
                self.write(pos, |t| {
                    if t.model(name).is_some() {
                        return Err(engine(tensormap_engine::Error::ModelExists(name.clone())));
                    }
                    let made = host.create(&opts).map_err(|e| Error::call(pos, None, e))?;
                    t.put_model(name, &made.kind, made.info, &made.bytes)
                        .map_err(engine)?;
                    Ok(QueryResult::status("CREATE MODEL"))
                })
            }
            ModelStatement::Load { name, path } => {
                let host = host()?;
                check_model_name(name, pos)?;
                self.write(pos, |t| {
                    if t.model(name).is_some() {
                        return Err(engine(tensormap_engine::Error::ModelExists(name.clone())));
                    }
                    let made = host
                        .load(path)
                        .map_err(|e| Error::call(pos, Some(&format!("cannot load '{path}'")), e))?;
                    t.put_model(name, &made.kind, made.info, &made.bytes)
                        .map_err(engine)?;
                    Ok(QueryResult::status("LOAD MODEL"))
                })
            }
            ModelStatement::Train {
                name,
                map,
                settings,
            } if crate::train_commands::names_task(settings) => {
                return self.train_commands(name, map, settings, pos)
            }
            ModelStatement::Train {
                name,
                map,
                settings,
            } => {
                let host = host()?;
                let opts = options(host.as_ref(), OptionsOf::Train, settings)?;
                let sink = self.progress.clone();
                self.write(pos, |t| {
                    let model = t.model(name).ok_or_else(|| {
                        engine(tensormap_engine::Error::ModelNotFound(name.clone()))
                    })?;
                    let made = {
                        let view = t.map(map).map_err(engine)?;
                        if view.is_empty() {
                            return Err(Error::invalid(
                                pos,
                                format!("map '{map}' has no objects to train on"),
                            ));
                        }
                        let mut steps =
                            StepProgress::new(sink.clone(), format!("train {name} on {map}"));
                        let mut report = |step, total, loss| steps.report(step, total, loss);
                        host.train(&model, &view, &opts, &mut report)
                            .map_err(|e| Error::call(pos, None, e))?
                    };
                    let steps = made.info.steps;
                    let loss = made.info.loss;
                    t.put_model(name, &made.kind, made.info, &made.bytes)
                        .map_err(engine)?;
                    Ok(QueryResult::status(match loss {
                        Some(l) => format!("TRAIN MODEL {steps} steps, loss {l:.4}"),
                        None => format!("TRAIN MODEL {steps} steps"),
                    }))
                })
            }
            ModelStatement::Save { name, path } => {
                let host = host()?;
                let model = match &self.txn {
                    Some(t) => t.model(name),
                    None => self.db.begin_read().map_err(engine)?.model(name),
                }
                .ok_or_else(|| engine(tensormap_engine::Error::ModelNotFound(name.clone())))?;
                host.save(&model, path)
                    .map_err(|e| Error::call(pos, Some(&format!("cannot save to '{path}'")), e))?;
                return Ok(QueryResult::status(format!(
                    "SAVE MODEL {} bytes to '{path}'",
                    model.bytes().len()
                )));
            }
            ModelStatement::Drop { name, if_exists } => self.write(pos, |t| {
                if *if_exists && t.model(name).is_none() {
                    return Ok(QueryResult::status("DROP MODEL"));
                }
                t.drop_model(name).map_err(engine)?;
                Ok(QueryResult::status("DROP MODEL"))
            }),
        };
        // The functions follow the catalog, whether the statement worked or not.
        self.sync_models();
        r
    }

    /// `SHOW MODELS`: name, kind, parameters, output width, steps, loss.
    fn show_models(&self) -> QueryResult {
        let models = match &self.txn {
            Some(t) => t.models(),
            None => self.db.models(),
        };
        let rows: Vec<Vec<Value>> = models
            .iter()
            .map(|m| {
                let i = m.info();
                vec![
                    Value::text(m.name()),
                    Value::text(m.kind()),
                    Value::Number(i.parameters as f64),
                    Value::Number(i.output_width as f64),
                    Value::Number(i.steps as f64),
                    i.loss.map_or(Value::Null, |l| {
                        Value::Number(tensormap_engine::widen_f32(l))
                    }),
                ]
            })
            .collect();
        QueryResult {
            columns: [
                "name",
                "kind",
                "parameters",
                "output_width",
                "steps",
                "loss",
            ]
            .map(String::from)
            .to_vec(),
            status: format!("SHOW MODELS {}", rows.len()),
            rows,
        }
    }

    /// Makes the registered model functions those of the models this session sees (its
    /// open transaction's, or the committed ones).
    pub(crate) fn sync_models(&self) {
        let Some(host) = &self.model_host else {
            return;
        };
        let models = match &self.txn {
            Some(t) => t.models(),
            None => self.db.models(),
        };
        host.sync(self.db.functions(), &models);
    }
}
