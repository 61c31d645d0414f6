//! A session runs statements on a database: auto-commit outside `BEGIN`, one write
//! transaction between `BEGIN` and `COMMIT`/`ROLLBACK`.
//!
//! Every write statement checks all it will do before doing any of it, so a statement that
//! fails has no effect, also inside a transaction (which stays open).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tensormap_engine::{Database, Dtype, MapConfig, MapView, Object, Value, WriteTransaction};

use crate::ast::{CopyDirection, Expr, ExprKind, Select, Setting, Span, Statement};
use crate::copy::CopyFormats;
use crate::error::{Error, Pos, Result};
use crate::eval::{
    as_number, as_vector, Env, Row, Scope, TableInfo, TableKind, Tuples, OBJECT_COLUMNS,
};
use crate::exec::{explain, row_passes, select, QueryResult};
use crate::model::ModelHost;
use crate::parser::{parse_script, Parsed};
use crate::progress::{Progress, ProgressSink, Unit};

/// A connection's state: the database and the open transaction, if any.
pub struct Session {
    pub(crate) db: Database,
    pub(crate) txn: Option<WriteTransaction>,
    /// Parsed scripts by their text, so that a program repeating a statement (with `?`
    /// parameters, say) parses it once. Only short texts are kept, and at most
    /// [`CACHED_SCRIPTS`] of them (the cache starts over when full).
    cache: HashMap<String, Arc<Vec<Parsed>>>,
    /// Where long statements report their progress (the shell's bar), if anywhere.
    pub(crate) progress: Option<Arc<dyn ProgressSink>>,
    /// What runs model statements and provides model functions (`model.rs`), if anything.
    pub(crate) model_host: Option<Arc<dyn ModelHost>>,
    /// The file formats of COPY, if installed (the facade installs tensormap-interop's).
    copy: Option<Arc<dyn CopyFormats>>,
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
            progress: None,
            model_host: None,
            copy: None,
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
        let total: usize = parsed.iter().map(|p| p.params).sum();
        if total != params.len() {
            let mut parsed = parsed.to_vec();
            let at = first_param_pos(&mut parsed, params.len())
                .or_else(|| parsed.last().map(|p| p.pos))
                .unwrap_or(Pos { line: 1, col: 1 });
            return Err(Error::new(
                at,
                format!(
                    "the statement has {total} parameter{}, {} value{} given",
                    if total == 1 { "" } else { "s" },
                    params.len(),
                    if params.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let mut out = Vec::with_capacity(parsed.len());
        for p in parsed.iter() {
            if p.params == 0 {
                out.push(self.run(p)?);
            } else {
                let mut p = p.clone();
                bind(&mut p, params);
                out.push(self.run(&p)?);
            }
        }
        Ok(out)
    }

    /// Runs one parsed statement (its `?` parameters, if any, must have been bound: see
    /// [`Session::execute_with`]).
    pub fn run(&mut self, p: &Parsed) -> Result<QueryResult> {
        let pos = p.pos;
        if p.params > 0 {
            let mut copy = [p.clone()];
            let at = first_param_pos(&mut copy, 0).unwrap_or(pos);
            return Err(Error::new(
                at,
                format!(
                    "the statement has {} parameter{}, 0 values given",
                    p.params,
                    if p.params == 1 { "" } else { "s" }
                ),
            ));
        }
        let engine = |e| Error::engine(pos, e);
        match &p.statement {
            Statement::Begin => {
                if self.txn.is_some() {
                    return Err(Error::new(pos, "a transaction is already open"));
                }
                self.txn = Some(self.db.begin_write().map_err(engine)?);
                Ok(QueryResult::status("BEGIN"))
            }
            Statement::Commit => match self.txn.take() {
                Some(t) => {
                    let r = t.commit().map_err(engine);
                    self.sync_models();
                    r?;
                    Ok(QueryResult::status("COMMIT"))
                }
                None => Err(Error::new(pos, "no transaction is open")),
            },
            Statement::Rollback => match self.txn.take() {
                Some(t) => {
                    t.abort();
                    self.sync_models();
                    Ok(QueryResult::status("ROLLBACK"))
                }
                None => Err(Error::new(pos, "no transaction is open")),
            },
            Statement::Model(m) => self.run_model(m, pos),
            Statement::Select(sel) => self.read(sel, pos, |views, sel, db| {
                select(views, sel, db.functions())
            }),
            Statement::Render {
                select: sel,
                to,
                settings,
            } => {
                let svg3d = to
                    .as_ref()
                    .is_some_and(|p| p.to_ascii_lowercase().ends_with(".svg3d"));
                let opts = crate::render::options(settings, svg3d)?;
                let svg = self.read(sel, pos, |views, sel, db| {
                    let svg = crate::render::render_select(views, sel, &opts, db.functions())?;
                    Ok(QueryResult {
                        columns: vec!["svg".into()],
                        rows: vec![vec![Value::text(&svg)]],
                        status: "RENDER".into(),
                    })
                })?;
                match to {
                    None => Ok(svg),
                    Some(path) => {
                        let text = svg.rows[0][0].to_string();
                        write_atomically(path, &text)
                            .map_err(|e| Error::new(pos, format!("cannot write '{path}': {e}")))?;
                        Ok(QueryResult::status(format!(
                            "RENDER {} bytes to '{path}'",
                            text.len()
                        )))
                    }
                }
            }
            Statement::Explain(inner) => match inner.as_ref() {
                Statement::Select(sel) => {
                    // Names are checked as for running it, so EXPLAIN reports the same errors.
                    self.read(sel, pos, |views, sel, db| {
                        explain(views, sel, db.functions())
                    })
                }
                _ => Err(Error::new(pos, "EXPLAIN applies to SELECT")),
            },
            Statement::ShowMaps => {
                let mut rows = Vec::new();
                let maps = match &mut self.txn {
                    Some(t) => t
                        .map_names()
                        .into_iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                    None => self.db.maps().into_iter().map(|m| m.name).collect(),
                };
                for name in maps {
                    let r = self.read_map(&name, pos, |v| {
                        let c = v.config();
                        Ok(vec![
                            Value::text(v.name()),
                            Value::Number(c.resolution as f64),
                            Value::Number(c.channels as f64),
                            Value::Number(c.bounds),
                            Value::Number(v.len() as f64),
                        ])
                    })?;
                    rows.push(r);
                }
                Ok(QueryResult {
                    columns: ["name", "resolution", "channels", "bounds", "objects"]
                        .map(String::from)
                        .to_vec(),
                    status: format!("SHOW MAPS {}", rows.len()),
                    rows,
                })
            }
            Statement::Describe { name } => {
                // Committed bytes (0 for a map this transaction created).
                let bytes = self.db.map_stored_bytes(name).unwrap_or(0);
                let row = self.read_map(name, pos, |v| {
                    let c = v.config();
                    let s = v.stats().map_err(|e| Error::engine(pos, e))?;
                    Ok(vec![
                        Value::text(v.name()),
                        Value::Number(c.resolution as f64),
                        Value::Number(c.channels as f64),
                        Value::Number(c.bounds),
                        Value::text(c.dtype.name()),
                        Value::Number(c.sigma),
                        Value::Number(c.splat_radius as f64),
                        Value::Number(s.objects as f64),
                        Value::Number(s.bricks as f64),
                        Value::Number(s.covered_cells as f64),
                        Value::Number(bytes as f64),
                    ])
                })?;
                Ok(QueryResult {
                    columns: [
                        "name",
                        "resolution",
                        "channels",
                        "bounds",
                        "dtype",
                        "sigma",
                        "splat_radius",
                        "objects",
                        "bricks",
                        "covered_cells",
                        "bytes_on_disk",
                    ]
                    .map(String::from)
                    .to_vec(),
                    rows: vec![row],
                    status: "DESCRIBE".into(),
                })
            }
            Statement::CreateMap { name, settings } => {
                let config = map_config(settings)?;
                self.write(pos, |t| {
                    t.create_map(name, config).map_err(engine)?;
                    Ok(QueryResult::status("CREATE MAP"))
                })
            }
            Statement::DropMap { name, if_exists } => self.write(pos, |t| {
                if *if_exists && t.map(name).is_err() {
                    return Ok(QueryResult::status("DROP MAP"));
                }
                t.drop_map(name).map_err(engine)?;
                Ok(QueryResult::status("DROP MAP"))
            }),
            Statement::Snapshot { map, to, settings } => {
                let sink = self.progress.clone();
                let run =
                    |view: &MapView<'_>| crate::snapshot::snapshot(view, to, settings, sink, pos);
                match &mut self.txn {
                    Some(t) => run(&t.map(map).map_err(engine)?),
                    None => {
                        let r = self.db.begin_read().map_err(engine)?;
                        run(&r.map(map).map_err(engine)?)
                    }
                }
            }
            Statement::Restore { name, from } => {
                let sink = self.progress.clone();
                self.write(pos, |t| crate::snapshot::restore(t, name, from, sink, pos))
            }
            Statement::Insert { map, columns, rows } => {
                let functions = self.db.clone();
                self.write(pos, |t| {
                    insert(t, functions.functions(), map, columns, rows, pos)
                })
            }
            Statement::Copy {
                map,
                direction,
                path,
                settings,
            } => self.copy(map, *direction, path, settings, pos),
            Statement::Update { map, set, filter } => {
                let functions = self.db.clone();
                self.write(pos, |t| {
                    update(t, functions.functions(), map, set, filter.as_ref(), pos)
                })
            }
            Statement::Delete { map, filter } => {
                let functions = self.db.clone();
                self.write(pos, |t| {
                    delete(t, functions.functions(), map, filter.as_ref(), pos)
                })
            }
        }
    }

    /// Renders the objects the SELECT `sql` selects with `opts` (see `RENDER`).
    pub fn render(&mut self, sql: &str, opts: &tensormap_render::RenderOptions) -> Result<String> {
        let parsed = crate::parser::parse_statement(sql)?;
        let Statement::Select(sel) = parsed else {
            return Err(Error::new(
                Pos { line: 1, col: 1 },
                "render expects a SELECT statement",
            ));
        };
        let r = self.read(&sel, Pos { line: 1, col: 1 }, |views, sel, db| {
            let svg = crate::render::render_select(views, sel, opts, db.functions())?;
            Ok(QueryResult {
                columns: vec!["svg".into()],
                rows: vec![vec![Value::text(&svg)]],
                status: String::new(),
            })
        })?;
        Ok(r.rows[0][0].to_string())
    }

    /// Runs `f` on the maps a query reads (in FROM order), from the open transaction or a
    /// fresh read.
    fn read(
        &mut self,
        sel: &Select,
        pos: Pos,
        f: impl FnOnce(&[MapView<'_>], &Select, &Database) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        let names: Vec<&str> = sel.tables().map(|t| t.source.map()).collect();
        let at: Vec<Pos> = sel.tables().map(|t| t.pos.0).collect();
        // A missing map is reported where it is named.
        let locate = |e: tensormap_engine::Error| {
            let p = match &e {
                tensormap_engine::Error::MapNotFound(m) => {
                    names.iter().position(|n| n == m).map_or(pos, |i| at[i])
                }
                _ => pos,
            };
            Error::engine(p, e)
        };
        let db = self.db.clone();
        match &mut self.txn {
            Some(t) => {
                let views = t.maps(&names).map_err(locate)?;
                f(&views, sel, &db)
            }
            None => {
                let r = db.begin_read().map_err(|e| Error::engine(pos, e))?;
                let views = names
                    .iter()
                    .map(|n| r.map(n))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(locate)?;
                f(&views, sel, &db)
            }
        }
    }

    fn read_map<T>(
        &mut self,
        name: &str,
        pos: Pos,
        f: impl FnOnce(&MapView<'_>) -> Result<T>,
    ) -> Result<T> {
        match &mut self.txn {
            Some(t) => f(&t.map(name).map_err(|e| Error::engine(pos, e))?),
            None => {
                let r = self.db.begin_read().map_err(|e| Error::engine(pos, e))?;
                f(&r.map(name).map_err(|e| Error::engine(pos, e))?)
            }
        }
    }

    /// `COPY map TO|FROM path`: see [`crate::copy`]. An export reads the map as a query
    /// does (inside BEGIN: as the transaction has changed it); an import reads the file
    /// first, then adds its rows as one write (inside BEGIN: to the open transaction).
    fn copy(
        &mut self,
        map: &str,
        direction: CopyDirection,
        path: &str,
        settings: &[(String, Setting, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let Some(formats) = self.copy.clone() else {
            return Err(Error::new(
                pos,
                "COPY needs the file formats of tensormap-interop, which this session does not have (tensormap::Database installs them)",
            ));
        };
        let options = crate::copy::options(direction, path, settings, pos)?;
        let sink = self.progress.clone();
        let label = match direction {
            CopyDirection::To => format!("copy {map} to '{path}'"),
            CopyDirection::From => format!("copy {map} from '{path}'"),
        };
        let start = move |total| Progress::start(sink.clone(), &label, total, Unit::Rows);
        match direction {
            CopyDirection::To => self.read_map(map, pos, |view| {
                crate::copy::export(&*formats, view, path, &options, &start, pos)
            }),
            CopyDirection::From => {
                let config = self.read_map(map, pos, |view| Ok(view.config().clone()))?;
                let imported = crate::copy::read(&*formats, path, &options, &config, &start, pos)?;
                self.write(pos, |t| crate::copy::insert(t, map, &imported, pos))
            }
        }
    }

    /// Runs a write in the open transaction, or in its own committed one.
    pub(crate) fn write(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut WriteTransaction) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        match &mut self.txn {
            Some(t) => f(t),
            None => {
                let mut t = self.db.begin_write().map_err(|e| Error::engine(pos, e))?;
                let r = f(&mut t)?;
                t.commit().map_err(|e| Error::engine(pos, e))?;
                Ok(r)
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees
/// half a file.
fn write_atomically(path: &str, text: &str) -> std::io::Result<()> {
    let target = std::path::Path::new(path);
    let tmp = target.with_extension("tmp-render");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, target)
}

fn map_config(settings: &[(String, Setting, Span)]) -> Result<MapConfig> {
    let mut c = MapConfig::default();
    for (key, value, at) in settings {
        let pos = at.0;
        let number = || match value {
            Setting::Number(n) => Ok(*n),
            other => Err(Error::new(
                pos,
                format!("{key} must be a number, found {other}"),
            )),
        };
        let integer = || {
            let n = number()?;
            if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) {
                Ok(n as u32)
            } else {
                Err(Error::new(
                    pos,
                    format!("{key} must be a non-negative integer, found {n}"),
                ))
            }
        };
        match key.as_str() {
            "resolution" => c.resolution = integer()?,
            "channels" => c.channels = integer()?,
            "splat_radius" => c.splat_radius = integer()?,
            "bounds" => c.bounds = number()?,
            "sigma" => c.sigma = number()?,
            "dtype" => {
                c.dtype = match value {
                    Setting::Str(s) | Setting::Word(s) => {
                        Dtype::parse(s).map_err(|e| Error::new(pos, e.to_string()))?
                    }
                    other => {
                        return Err(Error::new(
                            pos,
                            format!("dtype must be 'f32', 'f16' or 'i8', found {other}"),
                        ))
                    }
                }
            }
            other => return Err(Error::new(pos, format!("unknown map setting '{other}'"))),
        }
        // The defaults are valid and each setting is checked alone: the first failure is
        // this setting's.
        c.validate().map_err(|e| Error::new(pos, e.to_string()))?;
    }
    Ok(c)
}

/// A constant expression's value (INSERT rows read no columns).
fn constant(env: &Env<'_>, e: &Expr) -> Result<Value> {
    match &e.kind {
        // The common case of a big INSERT: no checks to make.
        ExprKind::Numbers(v) => return Ok(Value::Vector(v.clone())),
        ExprKind::Number(n) => return Ok(Value::Number(*n)),
        _ => {}
    }
    env.check(e, &[], Some("VALUES"))?;
    env.eval(e, Scope::Row(&[], 0))
}

/// An environment for expressions over one map's objects.
fn one_map<'a>(functions: &'a tensormap_engine::Registry, map: &str) -> Env<'a> {
    Env::new(
        functions,
        vec![TableInfo {
            label: map.to_string(),
            kind: TableKind::Objects,
        }],
    )
}

/// The position of the first `?` that has no value among `given`, if any.
fn first_param_pos(parsed: &mut [Parsed], given: usize) -> Option<Pos> {
    let mut found = None;
    for p in parsed.iter_mut() {
        for e in p.statement.exprs_mut() {
            e.rewrite(&mut |x| {
                if let ExprKind::Param(i) = x.kind {
                    if i >= given && found.is_none() {
                        found = Some(x.pos);
                    }
                }
                true
            });
        }
    }
    found
}

/// Replaces the `?` parameters of `p` by the values they stand for.
fn bind(p: &mut Parsed, params: &[Value]) {
    if p.params == 0 {
        return;
    }
    p.params = 0;
    for e in p.statement.exprs_mut() {
        e.rewrite(&mut |x| {
            if let ExprKind::Param(i) = x.kind {
                if let Some(v) = params.get(i) {
                    x.kind = match v {
                        Value::Null => ExprKind::Null,
                        Value::Bool(b) => ExprKind::Bool(*b),
                        Value::Number(n) => ExprKind::Number(*n),
                        Value::Text(s) => ExprKind::Str(s.to_string()),
                        Value::Vector(v) => ExprKind::Numbers(v.clone()),
                    };
                }
                return false;
            }
            true
        });
    }
}

fn text(v: &Value, pos: Pos, what: &str) -> Result<String> {
    match v {
        Value::Text(s) => Ok(s.to_string()),
        other => Err(Error::new(
            pos,
            format!("{what} must be text, found a {}", other.type_name()),
        )),
    }
}

/// Sets column `col` of `o` to `v`.
fn assign(o: &mut Object, col: &str, v: &Value, pos: Pos) -> Result<()> {
    match col {
        "id" => o.id = text(v, pos, "id")?,
        "type" => o.kind = text(v, pos, "type")?,
        "position" => {
            let p = as_vector(v, pos, "position")?;
            o.position = <[f32; 3]>::try_from(&p[..]).map_err(|_| {
                Error::new(
                    pos,
                    format!("position must have 3 values, found {}", p.len()),
                )
            })?;
        }
        "x" => o.position[0] = as_number(v, pos, "x")? as f32,
        "y" => o.position[1] = as_number(v, pos, "y")? as f32,
        "z" => o.position[2] = as_number(v, pos, "z")? as f32,
        "embedding" => o.embedding = as_vector(v, pos, "embedding")?.to_vec(),
        "confidence" => o.confidence = as_number(v, pos, "confidence")? as f32,
        other => return Err(Error::new(pos, format!("unknown column '{other}'"))),
    }
    Ok(())
}

fn insert(
    t: &mut WriteTransaction,
    functions: &tensormap_engine::Registry,
    map: &str,
    columns: &[(String, Span)],
    rows: &[(Vec<Expr>, Span)],
    pos: Pos,
) -> Result<QueryResult> {
    let env = Env::new(functions, Vec::new());
    let default = ["id", "type", "position", "embedding", "confidence"];
    let cols: Vec<(String, Pos)> = if columns.is_empty() {
        default.iter().map(|c| (c.to_string(), pos)).collect()
    } else {
        columns.iter().map(|(c, s)| (c.clone(), s.0)).collect()
    };
    let mut seen_cols = HashSet::new();
    for (c, p) in &cols {
        if !OBJECT_COLUMNS.contains(&c.as_str()) {
            return Err(Error::new(*p, format!("unknown column '{c}'")));
        }
        if !seen_cols.insert(c.as_str()) {
            return Err(Error::new(*p, format!("column '{c}' given twice")));
        }
    }
    if !seen_cols.contains("id") {
        return Err(Error::new(pos, "INSERT needs an id column"));
    }
    let mut objects = Vec::with_capacity(rows.len());
    let mut ids: HashMap<String, Pos> = HashMap::with_capacity(rows.len());
    for (row, at) in rows {
        let at = at.0;
        if row.len() != cols.len() {
            return Err(Error::new(
                at,
                format!("{} values for {} columns", row.len(), cols.len()),
            ));
        }
        let mut o = Object::new("", "", [f32::NAN; 3], Vec::new());
        for ((c, _), e) in cols.iter().zip(row) {
            assign(&mut o, c, &constant(&env, e)?, e.pos)?;
        }
        // Ids repeated inside the statement are found here; the rules of the map and the
        // ids it has already, by the engine's batch check below (which validates every
        // object before adding any: one pass over its id tables, not a search each).
        if ids.insert(o.id.clone(), at).is_some() {
            return Err(Error::new(
                at,
                format!("map '{map}' already has an object with id '{}'", o.id),
            ));
        }
        objects.push(o);
    }
    let n = objects.len();
    if let Err(e) = t.insert_many(map, objects) {
        // The error names the object: report it at its row.
        let at = match &e {
            tensormap_engine::Error::DuplicateId { id, .. }
            | tensormap_engine::Error::InvalidObject { id, .. } => {
                ids.get(id).copied().unwrap_or(pos)
            }
            _ => pos,
        };
        return Err(Error::engine(at, e));
    }
    Ok(QueryResult::status(format!("INSERT {n}")))
}

/// The objects of `map` that `filter` selects, as owned copies, in id order.
fn matching(
    t: &mut WriteTransaction,
    env: &Env<'_>,
    map: &str,
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<Vec<Object>> {
    if let Some(f) = filter {
        env.check(f, &[], Some("WHERE"))?;
    }
    let view = t.map(map).map_err(|e| Error::engine(pos, e))?;
    // A top-level WITHIN is answered by the R*-tree, as in a query; the whole WHERE is then
    // checked on its rows.
    let candidates: Vec<_> = match filter.and_then(|f| crate::plan::range_of(env, f)) {
        Some((center, radius)) => view
            .within(center, radius)
            .map_err(|e| Error::engine(pos, e))?,
        None => view.objects().collect(),
    };
    let mut out = Vec::new();
    for o in candidates {
        if row_passes(env, filter, Row::Obj(o))? {
            out.push(o.to_object());
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn update(
    t: &mut WriteTransaction,
    functions: &tensormap_engine::Registry,
    map: &str,
    set: &[(String, Expr, Span)],
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<QueryResult> {
    let mut env = one_map(functions, map);
    // Batch functions (a model's m_score) scale positions by the map's bounds.
    env.context.bounds = t.map(map).ok().map(|v| v.config().bounds);
    for (c, e, at) in set {
        if c == "id" {
            return Err(Error::new(at.0, "the id of an object cannot be updated"));
        }
        if !OBJECT_COLUMNS.contains(&c.as_str()) {
            return Err(Error::new(at.0, format!("unknown column '{c}'")));
        }
        env.check(e, &[], Some("SET"))?;
    }
    let targets = matching(t, &env, map, filter, pos)?;
    let config = t
        .map(map)
        .map_err(|e| Error::engine(pos, e))?
        .config()
        .clone();
    let mut updated = Vec::with_capacity(targets.len());
    {
        let view = t.map(map).map_err(|e| Error::engine(pos, e))?;
        let mut rows = Tuples::new(1);
        let mut found = Vec::with_capacity(targets.len());
        for old in &targets {
            if let Some(row) = view.get(&old.id) {
                rows.push(&[Row::Obj(row)]);
                found.push(old);
            }
        }
        // Batch functions of SET (`m_embed(type)`) run once over all the targets.
        let exprs: Vec<&Expr> = set.iter().map(|(_, e, _)| e).collect();
        crate::batch::compute(&mut env, &exprs, &rows)?;
        for (i, old) in found.into_iter().enumerate() {
            let mut o = old.clone();
            for (c, e, _) in set {
                // Every expression sees the row as it was before this statement.
                let v = env.eval(e, Scope::Row(rows.get(i), i))?;
                assign(&mut o, c, &v, e.pos)?;
            }
            o.validate(&config).map_err(|e| Error::engine(pos, e))?;
            updated.push(o);
        }
    }
    let n = updated.len();
    for o in updated {
        t.update(map, o).map_err(|e| Error::engine(pos, e))?;
    }
    Ok(QueryResult::status(format!("UPDATE {n}")))
}

fn delete(
    t: &mut WriteTransaction,
    functions: &tensormap_engine::Registry,
    map: &str,
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<QueryResult> {
    let env = one_map(functions, map);
    let targets = matching(t, &env, map, filter, pos)?;
    let n = targets.len();
    for o in targets {
        t.delete(map, &o.id).map_err(|e| Error::engine(pos, e))?;
    }
    Ok(QueryResult::status(format!("DELETE {n}")))
}
