//! # tensormap
//!
//! An embedded spatial database engine: link it like SQLite and get a persistent,
//! transactional store of *tensor maps*. Each map is a sparse octree of tensor voxels (a
//! 3-D grid of vectors) kept together with a packed R-tree index of the objects embedded in it.
//! Query it with TensorQL ([`Database::execute`]) or through the typed API underneath.
//!
//! ```
//! use tensormap::{Candidates, Database, MapConfig, Object};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path().join("scene.db"))?;
//! db.execute("CREATE MAP scene WITH (channels = 4)")?;
//! db.execute("INSERT INTO scene (id, type, position, embedding) VALUES
//!     ('cube_1', 'cube', [100, 50, -30], [0.2, -0.4, 0.6, 0.1]),
//!     ('ball_7', 'sphere', [-100, 30, 50], [0.9, 0.1, 0.0, 0.3])")?;
//! let r = db.execute("SELECT id FROM scene WHERE WITHIN(position, [90, 50, -30], 20)")?;
//! assert_eq!(r[0].rows[0][0].to_string(), "cube_1");
//!
//! // The same data through the typed API.
//! let mut txn = db.begin_write()?;
//! txn.insert("scene", Object::new("pyr_2", "pyramid", [0.0, 0.0, 0.0], vec![0.0, 1.0, 0.0, 0.0]))?;
//! txn.commit()?; // durable when this returns
//! let read = db.begin_read()?;
//! let scene = read.map("scene")?;
//! assert_eq!(scene.nearest([1.0, 0.0, 0.0], 1)?[0].0.id(), "pyr_2");
//! let top = scene.attention(&[1.0, 0.0, 0.0, 0.0], Candidates::All, 1)?;
//! assert_eq!(top[0].0.id(), "ball_7");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

pub mod json;

pub use tensormap_models::{GenerateArgs, Generated, Generation, ModelCache, MAX_GENERATE_TOKENS};

/// User columns: a map's typed columns (`ColumnDef`, `ColumnType`, `Cell`), how a value of
/// the language becomes a stored cell and back (`to_cell`, `cell_value`), and TIMESTAMP's
/// text form (`parse_timestamp`, `format_timestamp`).
pub use tensormap_engine::user;
pub use tensormap_engine::{
    format_f32, format_number, widen_f32, Backend, Candidates, Compression, Dtype, Field,
    FieldStats, Format, MapConfig, MapInfo, MapStats, MapView, MemoryBackend, Object,
    ObjectColumns, ObjectRef, Options, ReadTransaction, RestoreInfo, SnapshotInfo, SnapshotOptions,
    Value, VoxelSet, WriteTransaction, MAX_COMPONENT, MAX_JOURNAL_BULK, MAX_JOURNAL_SPLATS,
    MAX_MAP_NAME_BYTES, MAX_TEXT_BYTES,
};
/// TensorQL: parser, planner, executor.
pub use tensormap_query as query;
pub use tensormap_query::{QueryResult, Session};
/// The renderer: scenes, cameras, SVG and .svg3d.
pub use tensormap_render as render;
pub use tensormap_render::{Camera, OptionError, OptionValue, RenderOptions};
/// The storage layer: backends, codecs and on-disk records.
pub use tensormap_storage as storage;

/// Runs a closure with a gate asked before every commit made on this thread — TensorQL's
/// auto-commits and `COMMIT`, `CHECKPOINT`, the typed calls' — and a refused commit rolled
/// back ([`Error::CommitRefused`]); an admitted one runs to its end. A server uses it so
/// that a request it answered as timed out commits nothing, and a request whose work
/// reached a commit is answered with its outcome (tensormap-server's `deadline.rs`).
pub use tensormap_engine::with_commit_gate;
/// The error of a call that is not a statement: a registered function's, the model calls'
/// ([`Database::generate`], [`Database::embed_text`]).
pub use tensormap_engine::CallError;
/// Errors of the typed API (the engine's).
pub use tensormap_engine::Error;
/// What kind of failure an error is (one list for the engine's, TensorQL's and the calls'
/// errors).
pub use tensormap_engine::ErrorKind;
/// Errors of TensorQL statements, with line and column.
pub use tensormap_query::Error as QueryError;
/// The result type of the typed API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A database and one TensorQL session on it (its open `BEGIN`, if any).
///
/// It dereferences to the engine's [`tensormap_engine::Database`], so the typed API
/// (`begin_write`, `begin_read`, `create_map`, `register_function`, ...) is available too.
/// While a TensorQL transaction is open it holds the writer lock: a `begin_write` on the
/// same thread would wait for it forever.
pub struct Database {
    engine: tensormap_engine::Database,
    session: Arc<Mutex<Session>>,
    /// The decoded models of the database, shared by all its connections.
    models: Arc<ModelCache>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("engine", &self.engine)
            .finish()
    }
}

/// Another connection to the same database: it shares the data, the registered functions
/// and the decoded models, and has its own TensorQL session (its own `BEGIN`).
impl Clone for Database {
    fn clone(&self) -> Self {
        Self::connect(self.engine.clone(), self.models.clone())
    }
}

impl std::ops::Deref for Database {
    type Target = tensormap_engine::Database;
    fn deref(&self) -> &Self::Target {
        &self.engine
    }
}

impl Database {
    /// Opens the database directory at `path`, creating it if missing. Opening costs
    /// milliseconds whatever the size (see [`tensormap_engine::Database::open`]); a database
    /// another process has open is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_engine(tensormap_engine::Database::open(path)?))
    }

    /// [`Database::open`] with storage options.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        Ok(Self::from_engine(tensormap_engine::Database::open_with(
            path, options,
        )?))
    }

    /// A database that lives in memory only.
    pub fn open_in_memory() -> Result<Self> {
        Ok(Self::from_engine(
            tensormap_engine::Database::open_in_memory()?,
        ))
    }

    /// A database over any storage backend.
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        Ok(Self::from_engine(tensormap_engine::Database::with_backend(
            backend,
        )?))
    }

    /// A database over any storage backend, with storage options.
    pub fn with_backend_options(backend: Arc<dyn Backend>, options: Options) -> Result<Self> {
        Ok(Self::from_engine(
            tensormap_engine::Database::with_backend_options(backend, options)?,
        ))
    }

    /// Wraps an engine database with a fresh session, which has COPY's file formats
    /// (Parquet, CSV, JSON: [`tensormap_interop`]) and runs models
    /// ([`tensormap_models`]), with a model cache of its own (its clones share it).
    pub fn from_engine(engine: tensormap_engine::Database) -> Self {
        Self::connect(engine, Arc::new(ModelCache::new()))
    }

    /// A connection on `engine` with the database's model cache.
    fn connect(engine: tensormap_engine::Database, models: Arc<ModelCache>) -> Self {
        let mut session = Session::new(engine.clone());
        // Model statements and the stored models' functions (m_embed, ...).
        session.set_model_host(Some(Arc::new(tensormap_models::Host::new(models.clone()))));
        session.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
        let session = Arc::new(Mutex::new(session));
        Database {
            engine,
            session,
            models,
        }
    }

    /// Sets where this connection's long statements (SNAPSHOT, RESTORE, COPY, TRAIN MODEL)
    /// report their progress; `None` reports nowhere. The shell draws a bar from it.
    pub fn set_progress(&self, sink: Option<Arc<dyn tensormap_query::ProgressSink>>) {
        self.session.lock().set_progress(sink);
    }

    /// Sets this connection's per-statement limits, as `SET statement_timeout` and `SET
    /// memory_limit` do (docs/LANGUAGE.md, "Settings and maintenance"); `None` is no limit.
    /// A server calls it on every connection it hands out.
    pub fn set_limits(
        &self,
        statement_timeout: Option<std::time::Duration>,
        memory_limit: Option<u64>,
    ) {
        let mut session = self.session.lock();
        session.set_statement_timeout(statement_timeout);
        session.set_memory_limit(memory_limit);
    }

    /// Runs every TensorQL statement of `sql` in order and returns each statement's result.
    /// The whole script is parsed first: a syntax error anywhere runs nothing. A statement
    /// that fails stops the script (the ones before it have run; inside `BEGIN` they are
    /// still uncommitted).
    pub fn execute(&self, sql: &str) -> std::result::Result<Vec<QueryResult>, QueryError> {
        self.session.lock().execute(sql)
    }

    /// Runs `sql` with its `?` parameters bound, in order, to `params`, so that a program
    /// passes numbers, text and vectors as values and never formats them into the text:
    ///
    /// ```
    /// # use tensormap::{Database, Value};
    /// # let db = Database::open_in_memory()?;
    /// db.execute("CREATE MAP m WITH (channels = 2)")?;
    /// db.execute_with(
    ///     "INSERT INTO m (id, position, embedding) VALUES (?, ?, ?)",
    ///     &[Value::text("a"), Value::vector(&[1.0, 2.0, 3.0]), Value::vector(&[0.5, 0.25])],
    /// )?;
    /// let r = db.execute_with(
    ///     "SELECT id FROM m WHERE WITHIN(position, ?, ?)",
    ///     &[Value::vector(&[0.0, 0.0, 0.0]), Value::Number(5.0)],
    /// )?;
    /// assert_eq!(r[0].rows[0][0], Value::text("a"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The number of values must match the number of `?` in the whole script; otherwise
    /// nothing runs and the error names the first `?` without a value.
    pub fn execute_with(
        &self,
        sql: &str,
        params: &[Value],
    ) -> std::result::Result<Vec<QueryResult>, QueryError> {
        self.session.lock().execute_with(sql, params)
    }

    /// An iterator that parses and runs one statement of `sql` per step, so a script's
    /// results can be consumed (printed, streamed) as they come. It stops after the first
    /// error (a statement with a syntax error is reported when it is reached; the ones
    /// before it have run).
    pub fn execute_iter(&self, sql: &str) -> Statements {
        Statements {
            script: tensormap_query::Script::new(sql),
            session: self.session.clone(),
            failed: false,
        }
    }

    /// Runs the statements of a [`tensormap_query::Script`] one per step, like
    /// [`Database::execute_iter`]; a script made with `Script::starting_at` reports
    /// positions in the larger text it came from (the shell reads files so).
    pub fn execute_script(&self, script: tensormap_query::Script) -> Statements {
        Statements {
            script,
            session: self.session.clone(),
            failed: false,
        }
    }

    /// Renders the objects that the SELECT `select` chooses as SVG text (its select list
    /// aside), with the map's field as a heatmap when `opts.heatmap` (see `RENDER`).
    pub fn render(
        &self,
        select: &str,
        opts: &RenderOptions,
    ) -> std::result::Result<String, QueryError> {
        self.session.lock().render(select, opts)
    }

    /// The interactive HTML view of what the SELECT `select` chooses (see `RENDER ... TO
    /// 'x.html'`), checked and encoded: its `len()` is known, `write_to` writes the page.
    pub fn render_html(
        &self,
        select: &str,
        opts: &render::html::HtmlOptions,
    ) -> std::result::Result<render::html::HtmlDocument, QueryError> {
        self.session.lock().render_html(select, opts)
    }

    /// The objects, columns and field the HTML view of `select` draws (the served viewer
    /// indexes them with [`render::html::ServedMap`]).
    pub fn view_scene(
        &self,
        select: &str,
    ) -> std::result::Result<render::html::ViewScene, QueryError> {
        self.session.lock().view_scene(select)
    }

    /// Generates text with the stored V-LLM `model` (with none, the database's only V-LLM),
    /// as `m_generate(prompt, max_tokens, temperature, top_k, seed)` does, with the details:
    /// the tokens, their positions and the model's confidence. The models are those this
    /// connection sees (its open `BEGIN`'s, else the committed ones). A missing model is an
    /// error of kind [`ErrorKind::NotFound`]; bad arguments [`ErrorKind::InvalidValue`].
    pub fn generate(
        &self,
        model: Option<&str>,
        args: &GenerateArgs,
    ) -> std::result::Result<Generated, CallError> {
        self.models.generate(&self.stored_models(), model, args)
    }

    /// Embeds `texts` with the stored model `model` (a V-LLM's `m_embed`, or a sentence
    /// encoder's), one vector per text, in one batch.
    pub fn embed_text(
        &self,
        model: &str,
        texts: &[&str],
    ) -> std::result::Result<Vec<Vec<f32>>, CallError> {
        self.models.embed(&self.stored_models(), model, texts)
    }

    /// The decoded models of the database, shared by all its connections.
    pub fn model_cache(&self) -> &ModelCache {
        &self.models
    }

    /// The stored models this connection sees: its open `BEGIN`'s, else the committed ones.
    fn stored_models(&self) -> Vec<Arc<tensormap_engine::StoredModel>> {
        let mut session = self.session.lock();
        match session.transaction_mut() {
            Some(t) => t.models(),
            None => self.engine.models(),
        }
    }

    /// Whether a TensorQL `BEGIN` is open.
    pub fn in_transaction(&self) -> bool {
        self.session.lock().in_transaction()
    }

    /// Runs `f` in this connection's write transaction: the one its TensorQL `BEGIN`
    /// opened, if any (what `f` does then commits or rolls back with it), else a
    /// transaction of its own, committed (durably) when `f` succeeds. If `f` fails nothing
    /// has changed. Bindings use it so that a typed call made inside the program's
    /// `BEGIN` belongs to that transaction instead of waiting for its writer lock forever.
    pub fn write<T>(&self, f: impl FnOnce(&mut WriteTransaction) -> Result<T>) -> Result<T> {
        {
            let mut session = self.session.lock();
            if let Some(txn) = session.transaction_mut() {
                return f(txn);
            }
        }
        // No BEGIN: the session lock is not held while the engine works, so the
        // connection's other threads keep running their statements.
        let mut txn = self.engine.begin_write()?;
        let out = f(&mut txn)?;
        txn.commit()?;
        Ok(out)
    }

    /// Runs `f` on map `name` as this connection sees it: with the changes of its open
    /// `BEGIN` if there is one, else the latest committed version (a read transaction, so
    /// it neither waits for nor blocks a writer).
    pub fn read_map<T>(&self, name: &str, f: impl FnOnce(&MapView<'_>) -> Result<T>) -> Result<T> {
        {
            let mut session = self.session.lock();
            if let Some(txn) = session.transaction_mut() {
                return f(&txn.map(name)?);
            }
        }
        let read = self.engine.begin_read()?;
        f(&read.map(name)?)
    }
}

/// The statements of a script, run one per `next()` (see [`Database::execute_iter`]).
#[derive(Debug)]
pub struct Statements {
    script: tensormap_query::Script,
    session: Arc<Mutex<Session>>,
    failed: bool,
}

impl Statements {
    /// The text of the script (for showing where an error is).
    pub fn text(&self) -> &str {
        self.script.text()
    }
}

impl Iterator for Statements {
    type Item = std::result::Result<QueryResult, QueryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            // Nothing runs after an error.
            return None;
        }
        let r = self.session.lock().run_next(&mut self.script)?;
        self.failed = r.is_err();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: &str) -> Object {
        Object::new(id, "cube", [1.0, 2.0, 3.0], vec![0.5, 0.25])
    }

    #[test]
    fn typed_writes_join_the_open_begin_and_roll_back_with_it() {
        let db = Database::open_in_memory().unwrap();
        db.execute("CREATE MAP m WITH (channels = 2); BEGIN")
            .unwrap();
        db.write(|t| t.insert_many("m", vec![object("a"), object("b")]))
            .unwrap();
        // The connection sees its own uncommitted objects; another does not.
        assert_eq!(db.read_map("m", |v| Ok(v.len())).unwrap(), 2);
        assert_eq!(db.clone().read_map("m", |v| Ok(v.len())).unwrap(), 0);
        let r = db.execute("SELECT COUNT(*) FROM m").unwrap();
        assert_eq!(r[0].rows[0][0], Value::Number(2.0));
        db.execute("ROLLBACK").unwrap();
        assert_eq!(db.read_map("m", |v| Ok(v.len())).unwrap(), 0);
    }

    #[test]
    fn a_failed_typed_write_leaves_the_begin_as_it_was() {
        let db = Database::open_in_memory().unwrap();
        db.execute("CREATE MAP m WITH (channels = 2); BEGIN")
            .unwrap();
        db.write(|t| t.insert("m", object("a"))).unwrap();
        let dup = db.write(|t| t.insert_many("m", vec![object("b"), object("a")]));
        assert!(matches!(dup, Err(Error::DuplicateId { .. })));
        db.execute("COMMIT").unwrap();
        assert_eq!(db.read_map("m", |v| Ok(v.len())).unwrap(), 1);
        // Outside BEGIN a typed write commits on its own.
        db.write(|t| t.insert("m", object("c"))).unwrap();
        assert_eq!(db.clone().read_map("m", |v| Ok(v.len())).unwrap(), 2);
        assert!(matches!(
            db.read_map("nope", |v| Ok(v.len())),
            Err(Error::MapNotFound(_))
        ));
    }

    #[test]
    fn connections_share_one_model_cache_and_calls_have_kinds() {
        let db = Database::open_in_memory().unwrap();
        db.execute(
            "CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 4, seed = 3)",
        )
        .unwrap();
        let other = db.clone();
        let args = GenerateArgs {
            prompt: "the".into(),
            max_tokens: 3.0,
            temperature: Some(0.0),
            top_k: None,
            seed: None,
        };
        let a = db.generate(None, &args).unwrap();
        let b = other.generate(Some("tiny"), &args).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.model, "tiny");
        // One decoded model for the database, whichever connection used it.
        assert_eq!(db.model_cache().len(), 1);
        assert_eq!(other.model_cache().len(), 1);
        // The typed embed agrees with the TensorQL function.
        let v = other.embed_text("tiny", &["red cube"]).unwrap();
        let r = db.execute("SELECT tiny_embed('red cube')").unwrap();
        assert_eq!(r[0].rows[0][0], Value::vector(&v[0]));
        // Errors have kinds.
        assert_eq!(
            db.generate(Some("nope"), &args).unwrap_err().kind,
            ErrorKind::NotFound
        );
        let bad = GenerateArgs {
            max_tokens: -1.0,
            ..args
        };
        let e = db.generate(None, &bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidValue);
        assert!(e.message.starts_with("m_generate: max_tokens"), "{e}");
        let e = db.execute("SELECT nope_embed('x')").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = db.execute("CREATE MODEL tiny").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
    }
}
