//! A session runs statements on a database: auto-commit outside `BEGIN`, one write
//! transaction between `BEGIN` and `COMMIT`/`ROLLBACK`.
//!
//! Every write statement checks all it will do before doing any of it, so a statement that
//! fails has no effect, also inside a transaction (which stays open).
//!
//! This file holds the session and the dispatch of a statement to its home:
//! - [`txn`]: BEGIN, COMMIT, ROLLBACK, and the transaction each statement runs in;
//! - [`params`]: `?` parameters bound to values;
//! - [`catalog`]: CREATE / DROP MAP, SHOW MAPS, DESCRIBE;
//! - [`dml`]: INSERT, UPDATE, DELETE;
//! - [`query`]: SELECT, EXPLAIN and RENDER;
//! - [`view`]: RENDER ... TO 'x.html' and the HTML view of a SELECT;
//! - [`files`]: the statements that read or write files (COPY, SNAPSHOT, RESTORE);
//! - [`ask`]: `[EXPLAIN] ASK map [USING model] 'text'`;
//! - [`settings`]: SET, SHOW and RESET of the statement limits, CHECKPOINT and VACUUM;
//! - the model statements are `crate::model`'s.

mod ask;
mod catalog;
mod dml;
mod files;
mod params;
mod query;
mod settings;
mod txn;
mod view;

use std::collections::HashMap;
use std::sync::Arc;

use tensormap_engine::{Database, Value, WriteTransaction};

use crate::ast::Statement;
use crate::copy::CopyFormats;
use crate::error::Result;
use crate::exec::QueryResult;
use crate::model::ModelHost;
use crate::parser::{parse_script, Parsed, Script};
use crate::progress::{Progress, ProgressSink, Unit};

/// A connection's state: the database and the open transaction, if any.
pub struct Session {
    pub(crate) db: Database,
    pub(crate) txn: Option<WriteTransaction>,
    /// Parsed scripts by their text, so that a program repeating a statement (with `?`
    /// parameters, say) parses it once. Only short texts are kept, and at most
    /// [`CACHED_SCRIPTS`] of them (the cache starts over when full).
    cache: HashMap<String, Arc<Vec<Parsed>>>,
    /// The shapes of the SELECTs run by [`Session::run_next`] (`crate::shapes`).
    shapes: crate::shapes::Shapes,
    /// Where long statements report their progress (the shell's bar), if anywhere.
    pub(crate) progress: Option<Arc<dyn ProgressSink>>,
    /// What runs model statements and provides model functions (`model.rs`), if anything.
    pub(crate) model_host: Option<Arc<dyn ModelHost>>,
    /// The file formats of COPY, if installed (the facade installs tensormap-interop's).
    copy: Option<Arc<dyn CopyFormats>>,
    /// Each statement's limits (`SET statement_timeout`, `SET memory_limit`).
    limits: crate::limits::Limits,
}

/// How many parsed scripts a session keeps.
pub const CACHED_SCRIPTS: usize = 256;

/// The longest script text a session keeps parsed, in bytes.
const CACHED_TEXT_BYTES: usize = 4096;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("in_transaction", &self.txn.is_some())
            .finish()
    }
}

impl Session {
    /// A session on `db`.
    pub fn new(db: Database) -> Self {
        Session {
            db,
            txn: None,
            cache: HashMap::new(),
            shapes: crate::shapes::Shapes::default(),
            progress: None,
            model_host: None,
            copy: None,
            limits: crate::limits::Limits::default(),
        }
    }

    /// Installs the file formats `COPY` reads and writes; without them COPY is an error.
    pub fn set_copy_formats(&mut self, formats: Option<Arc<dyn CopyFormats>>) {
        self.copy = formats;
    }

    /// Installs what runs model statements (`CREATE MODEL`, `TRAIN MODEL`, ...) and
    /// registers the functions of the stored models (`m_embed`, ...), now and whenever the
    /// models change; `None` makes model statements an error.
    pub fn set_model_host(&mut self, host: Option<Arc<dyn ModelHost>>) {
        self.model_host = host;
        self.sync_models();
    }

    /// Sets where long statements (SNAPSHOT, RESTORE, COPY, TRAIN MODEL) report their
    /// progress; `None` (the default) reports nowhere.
    pub fn set_progress(&mut self, sink: Option<Arc<dyn ProgressSink>>) {
        self.progress = sink;
    }

    /// Starts reporting a task's progress to this session's sink, if it has one.
    pub fn progress(&self, label: &str, total: u64, unit: Unit) -> Progress {
        Progress::start(self.progress.clone(), label, total, unit)
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Whether a `BEGIN` is open.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// The write transaction a `BEGIN` opened, if one is open: typed calls made for this
    /// session (a binding's bulk insert inside the program's transaction) join it, so they
    /// commit or roll back with its statements. A typed call that fails has changed nothing
    /// (the engine's rule), so the transaction stays as it was, as after a failed statement.
    pub fn transaction_mut(&mut self) -> Option<&mut WriteTransaction> {
        self.txn.as_mut()
    }

    /// Runs every statement of `sql`, stopping at the first error. The whole script is
    /// parsed first: a syntax error anywhere runs nothing.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<QueryResult>> {
        self.execute_with(sql, &[])
    }

    /// Runs every statement of `sql` with its `?` parameters bound, in order, to `params`
    /// (numbers, text, vectors, NULL: values, never formatted into the text). The count
    /// must match; a mismatch is an error before anything runs.
    pub fn execute_with(&mut self, sql: &str, params: &[Value]) -> Result<Vec<QueryResult>> {
        let parsed = match self.cache.get(sql) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(parse_script(sql)?);
                if sql.len() <= CACHED_TEXT_BYTES {
                    if self.cache.len() >= CACHED_SCRIPTS {
                        self.cache.clear();
                    }
                    self.cache.insert(sql.to_string(), p.clone());
                }
                p
            }
        };
        params::check_count(&parsed, params.len())?;
        let mut out = Vec::with_capacity(parsed.len());
        for p in parsed.iter() {
            if p.params == 0 {
                out.push(self.run(p)?);
            } else {
                let mut p = p.clone();
                params::bind(&mut p, params);
                out.push(self.run(&p)?);
            }
        }
        Ok(out)
    }

    /// Runs one parsed statement (its `?` parameters, if any, must have been bound: see
    /// [`Session::execute_with`]).
    pub fn run(&mut self, p: &Parsed) -> Result<QueryResult> {
        if p.params > 0 {
            return Err(params::unbound(p));
        }
        let r = self.run_statement(p);
        // A full disk: the error names the statement that found it (the store's message
        // says what was being written; a COPY's reader passes it on as text).
        r.map_err(|mut e| {
            if e.message.to_lowercase().contains("no space left on device") {
                e.message = format!("{} failed: {}", p.statement.verb(), e.message);
            }
            e
        })
    }

    /// Runs the next statement of `script` ([`Script::next_shaped`]: a SELECT of a shape
    /// seen before is not parsed again); `None` at its end. A statement made from a shape
    /// that fails with an error naming a place is parsed and run again, so that the
    /// error's positions are its text's (a SELECT changes nothing).
    pub fn run_next(&mut self, script: &mut Script) -> Option<Result<QueryResult>> {
        let (parsed, shaped) = script.next_shaped(&mut self.shapes)?;
        let r = parsed.and_then(|p| self.run(&p));
        Some(match (r, shaped) {
            // A statement made from a kept shape carries the shape's first text's positions
            // inside it; errors that name a place in the text (a name not found, a value
            // refused: a SELECT changes nothing, and these come again the same way, mostly
            // while planning) are made again from this text, so that they name its places. Errors of running (a limit, storage, a model, I/O) are returned
            // as they are: running the statement again could take as long again.
            (Err(e), Some(at)) if positional(e.kind) => match script.reparse(at) {
                Some(again) => again.and_then(|p| self.run(&p)),
                None => Err(e),
            },
            (r, _) => r,
        })
    }

    fn run_statement(&mut self, p: &Parsed) -> Result<QueryResult> {
        let pos = p.pos;
        let _limits = crate::limits::enter(self.limits, pos);
        match &p.statement {
            Statement::Set { name, value } => self.set_setting(name, value, pos),
            Statement::Show { name } => self.show_setting(name, pos),
            Statement::Reset { name } => self.reset_setting(name, pos),
            Statement::Checkpoint { vacuum } => self.checkpoint(*vacuum, pos),
            Statement::Begin => self.begin(pos),
            Statement::Commit => self.commit(pos),
            Statement::Rollback => self.rollback(pos),
            Statement::Select(sel) => self.select(sel, pos),
            Statement::Explain(inner) => self.explain(inner, pos),
            Statement::ExplainAnalyze(inner) => self.explain_analyze(inner, pos),
            Statement::Render {
                select,
                to,
                settings,
            } => self.render_statement(select, to.as_deref(), settings, pos),
            Statement::ShowMaps => self.show_maps(pos),
            Statement::Describe { name } => self.describe(name, pos),
            Statement::CreateMap {
                name,
                columns,
                settings,
            } => self.create_map(name, columns, settings, pos),
            Statement::AlterColumns { name, change } => self.alter_columns(name, change, pos),
            Statement::DropMap { name, if_exists } => self.drop_map(name, *if_exists, pos),
            Statement::RenameMap { name, to } => self.rename_map(name, to, pos),
            Statement::Insert {
                map,
                columns,
                rows,
                query,
                on_conflict,
            } => self.insert(
                dml::Insert {
                    map,
                    columns,
                    rows,
                    query: query.as_deref(),
                    on_conflict: on_conflict.as_ref(),
                },
                pos,
            ),
            Statement::Update { map, set, filter } => self.update(map, set, filter.as_ref(), pos),
            Statement::Delete { map, filter } => self.delete(map, filter.as_ref(), pos),
            Statement::Copy {
                map,
                direction,
                path,
                settings,
            } => self.copy(map, *direction, path, settings, pos),
            Statement::Snapshot { map, to, settings } => self.snapshot(map, to, settings, pos),
            Statement::Restore { name, from } => self.restore(name, from, pos),
            Statement::Model(m) => self.run_model(m, pos),
            Statement::Ask(a) => self.run_ask(a, pos),
        }
    }
}

/// Kinds of error that point at a place in the statement and that running the same
/// statement again reproduces at once (see [`Session::run_next`]).
fn positional(kind: crate::error::ErrorKind) -> bool {
    use crate::error::ErrorKind::*;
    matches!(kind, Syntax | NotFound | InvalidValue)
}
