//! `Database`: one connection to a tensormap database — TensorQL with `?` parameters, the
//! typed calls that take and return NumPy arrays, transactions and rendering.
//!
//! Every call releases the GIL while the engine works, so other Python threads run
//! meanwhile. A connection may be shared by threads: its TensorQL statements run one at a
//! time (one session, one `BEGIN`), while the typed reads (`within`, `nearest`,
//! `attention`, `voxels`) of a connection outside a transaction read the latest committed
//! version without waiting for anyone. `cursor()` gives another connection to the same data
//! with its own session, for a thread that needs its own transaction.

use std::sync::Arc;

use numpy::{IntoPyArray, PyArrayMethods};
use parking_lot::RwLock;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple};
use tensormap::render::html::HtmlOptions;
use tensormap::{
    Dtype, MapConfig, Object, ObjectColumns, OptionError, OptionValue, RenderOptions, Value,
};

use crate::convert::{floats_1d, floats_2d, param, point, type_name};
use crate::error;
use crate::html::Html;
use crate::reads::{self, Among};
use crate::result::PyQueryResult;
use crate::svg::Svg;
use crate::usercols;

/// A connection to a tensormap database (`tensormap.connect(path)`).
#[pyclass(module = "tensormap", name = "Database", frozen)]
#[derive(Debug)]
pub struct PyDatabase {
    /// `None` once closed. Calls clone the `Arc` and work without holding the lock, so
    /// `close()` never waits for a running call (the database closes when it ends).
    inner: RwLock<Option<Arc<tensormap::Database>>>,
    /// Where it lives (`None`: in memory), for `repr`.
    path: Option<String>,
}

impl PyDatabase {
    fn from_facade(db: tensormap::Database, path: Option<String>) -> Self {
        PyDatabase {
            inner: RwLock::new(Some(Arc::new(db))),
            path,
        }
    }

    pub(crate) fn db(&self) -> PyResult<Arc<tensormap::Database>> {
        self.inner.read().clone().ok_or_else(error::closed)
    }

    /// Runs TensorQL with the GIL released; the last statement's result.
    fn run(&self, py: Python<'_>, sql: &str, params: Vec<Value>) -> PyResult<PyQueryResult> {
        let db = self.db()?;
        let results = py
            .detach(|| db.execute_with(sql, &params))
            .map_err(|e| error::query(py, e))?;
        let last = results.into_iter().last().unwrap_or_default();
        // The types of the user columns it reads: a second parse and a catalog read, only
        // for a SELECT with a column of no built-in name (a small query of ids and
        // positions pays nothing for them).
        let types = usercols::result_types(&db, sql, &last);
        Ok(PyQueryResult::new(last).with_types(types))
    }
}

/// The user column values `given` (column name → `n` values) for `Database.insert` on map
/// `map`, as `insert_with_values` takes them: per row, the cells of the given columns.
fn user_values(
    py: Python<'_>,
    db: &tensormap::Database,
    map: &str,
    given: &Bound<'_, PyDict>,
    n: usize,
) -> PyResult<Vec<Vec<(u32, tensormap::user::Cell)>>> {
    let defs = py
        .detach(|| db.read_map(map, |view| Ok(view.columns().to_vec())))
        .map_err(error::engine)?;
    let mut rows: Vec<Vec<(u32, tensormap::user::Cell)>> =
        (0..n).map(|_| Vec::with_capacity(given.len())).collect();
    for (name, values) in given.iter() {
        let name: String = name.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "columns must map column names (str) to values, found a key of type {}",
                type_name(&name)
            ))
        })?;
        let def = defs.iter().find(|d| d.name == name).ok_or_else(|| {
            let known: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            PyValueError::new_err(format!(
                "map '{map}' has no user column '{name}' (its user columns: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let cells = usercols::cells_from_py(&values, def, n)?;
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.push((def.id, cell));
        }
    }
    Ok(rows)
}

/// Where `attention` looks, from its keyword arguments.
pub(crate) fn among(
    center: Option<&Bound<'_, PyAny>>,
    radius: Option<f64>,
    ids: Option<&Bound<'_, PyAny>>,
) -> PyResult<Among> {
    let region = match (center, radius) {
        (Some(c), Some(r)) => Some((point(c, "center")?, r as f32)),
        (None, None) => None,
        _ => {
            return Err(PyTypeError::new_err(
                "attention takes center and radius together",
            ))
        }
    };
    let ids = ids.map(|i| strings(i, "ids")).transpose()?;
    match (region, ids) {
        (Some(_), Some(_)) => Err(PyTypeError::new_err(
            "attention takes either center and radius, or ids",
        )),
        (Some((c, r)), None) => Ok(Among::Within(c, r)),
        (None, Some(ids)) => Ok(Among::Ids(ids)),
        (None, None) => Ok(Among::All),
    }
}

/// `ids`, one str per object.
fn strings(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of str, found a single str"
        )));
    }
    let bad = || {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of str, found {}",
            type_name(obj)
        ))
    };
    // A list (the common case): each item read in place, one copy into its String.
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            let s = item.cast::<PyString>().map_err(|_| bad())?;
            out.push(s.to_cow()?.into_owned());
        }
        return Ok(out);
    }
    obj.extract::<Vec<String>>().map_err(|_| bad())
}

/// The ids of a bulk insert, read with one copy of their text: a list of `str` joined by
/// Python into one string (one UTF-8 buffer, split here), not one buffer per id.
enum Ids {
    /// The ids end to end, and where each ends.
    Packed { text: String, ends: Vec<usize> },
    /// One `String` per id (ids that hold the separator, or a sequence `join` refuses).
    Each(Vec<String>),
}

impl Ids {
    fn read(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Ids> {
        if !obj.is_instance_of::<PyString>() {
            if let Some(ids) = Self::joined(obj) {
                return Ok(ids);
            }
        }
        // Anything else (and every error message) as `strings` reads it.
        strings(obj, what).map(Ids::Each)
    }

    /// `"\0".join(obj)`, split again; `None` where that cannot stand for the ids: not a
    /// sequence of `str`, or an id that holds a NUL (the count would not match).
    fn joined(obj: &Bound<'_, PyAny>) -> Option<Ids> {
        let n = obj.len().ok()?;
        let sep = PyString::new(obj.py(), "\0");
        let joined = sep.call_method1("join", (obj,)).ok()?;
        let text: String = joined.cast::<PyString>().ok()?.to_cow().ok()?.into_owned();
        let mut ends = Vec::with_capacity(n);
        if n > 0 {
            ends.extend(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == 0)
                    .map(|(i, _)| i),
            );
            ends.push(text.len());
        }
        (ends.len() == n).then_some(Ids::Packed { text, ends })
    }

    fn len(&self) -> usize {
        match self {
            Ids::Packed { ends, .. } => ends.len(),
            Ids::Each(v) => v.len(),
        }
    }

    /// Each id, borrowed.
    fn slices(&self) -> Vec<&str> {
        match self {
            Ids::Packed { text, ends } => {
                let mut start = 0;
                ends.iter()
                    .map(|&end| {
                        // Every end is a NUL's position or the end: a char boundary.
                        let id = text.get(start..end).unwrap_or_default();
                        start = end + 1;
                        id
                    })
                    .collect()
            }
            Ids::Each(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[pymethods]
impl PyDatabase {
    /// Opens (creating if missing) the database directory `path`, or a database in memory
    /// when `path` is None. Same as `tensormap.connect(path)`.
    #[new]
    #[pyo3(signature = (path = None))]
    pub fn open(py: Python<'_>, path: Option<std::path::PathBuf>) -> PyResult<Self> {
        let shown = path.as_ref().map(|p| p.display().to_string());
        let db = py
            .detach(|| match &path {
                Some(p) => tensormap::Database::open(p),
                None => tensormap::Database::open_in_memory(),
            })
            .map_err(error::engine)?;
        Ok(Self::from_facade(db, shown))
    }

    /// Runs the TensorQL `sql` (one statement or several separated by `;`) with its `?`
    /// parameters bound, in order, to `params` — None, bool, int, float, str, or a vector
    /// (a NumPy array or a sequence of numbers). Returns the result of the last statement.
    /// Raises `tensormap.QueryError` (with `line` and `column`) when a statement fails; the
    /// statements before it have run.
    #[pyo3(signature = (sql, params = None))]
    fn execute(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyQueryResult> {
        let values = match params {
            None => Vec::new(),
            Some(p) if p.is_instance_of::<PyString>() || p.is_instance_of::<PyDict>() => {
                return Err(PyTypeError::new_err(format!(
                    "params must be a sequence of values, found {}",
                    type_name(p)
                )))
            }
            Some(p) => p
                .try_iter()
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "params must be a sequence of values, found {}",
                        type_name(p)
                    ))
                })?
                .enumerate()
                .map(|(i, v)| param(&v?, i))
                .collect::<PyResult<Vec<_>>>()?,
        };
        self.run(py, sql, values)
    }

    /// Runs `sql` once for each sequence of parameters in `seq_of_params`, stopping at the
    /// first error (each run commits on its own unless a transaction is open).
    fn executemany(
        &self,
        py: Python<'_>,
        sql: &str,
        seq_of_params: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        for params in seq_of_params.try_iter()? {
            self.execute(py, sql, Some(&params?))?;
        }
        Ok(())
    }

    /// Another connection to the same database: the same data, its own session (its own
    /// transaction). Use one per thread that opens transactions. One writer at a time: a
    /// write on one connection waits while another connection has a transaction open, so a
    /// thread must not write through a second connection while its own is in one.
    fn cursor(&self) -> PyResult<PyDatabase> {
        let db = self.db()?;
        Ok(Self::from_facade((*db).clone(), self.path.clone()))
    }

    /// Closes this connection (an open transaction is rolled back). The database closes
    /// when its last connection does. Later calls raise `tensormap.Error`.
    fn close(&self) {
        self.inner.write().take();
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.read().is_none()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    /// A context manager: `with db.transaction(): ...` runs the block in one transaction,
    /// committed (durably) when the block ends, rolled back if it raises.
    fn transaction(slf: Py<Self>) -> Transaction {
        Transaction { db: slf }
    }

    /// Opens a transaction (TensorQL `BEGIN`).
    fn begin(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, "BEGIN", Vec::new()).map(drop)
    }

    /// Commits the open transaction; it is durable when this returns.
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, "COMMIT", Vec::new()).map(drop)
    }

    /// Rolls the open transaction back.
    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, "ROLLBACK", Vec::new()).map(drop)
    }

    /// Whether a transaction is open on this connection.
    #[getter]
    fn in_transaction(&self) -> PyResult<bool> {
        Ok(self.db()?.in_transaction())
    }

    /// Creates map `name` (in the open transaction, if any).
    #[pyo3(signature = (name, *, resolution = 64, channels = 32, bounds = 500.0, dtype = "f32", sigma = 2.0, splat_radius = 3))]
    #[allow(clippy::too_many_arguments)]
    fn create_map(
        &self,
        py: Python<'_>,
        name: &str,
        resolution: u32,
        channels: u32,
        bounds: f64,
        dtype: &str,
        sigma: f64,
        splat_radius: u32,
    ) -> PyResult<()> {
        let db = self.db()?;
        let dtype = Dtype::parse(dtype).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let config = MapConfig {
            resolution,
            channels,
            bounds,
            dtype,
            sigma,
            splat_radius,
        };
        py.detach(|| db.write(|t| t.create_map(name, config)))
            .map_err(error::engine)
    }

    /// Drops map `name` and everything in it.
    fn drop_map(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let db = self.db()?;
        py.detach(|| db.write(|t| t.drop_map(name)))
            .map_err(error::engine)
    }

    /// Inserts `n` objects into `map` on the bulk path, all or none: `ids` (n str), `types`
    /// (one str for all, or n), `positions` a float32 array `(n, 3)`, `embeddings` a
    /// float32 array `(n, channels)`, `confidence` None (1.0), one number or `n` numbers.
    /// Float32 C-contiguous arrays are read in place; other float dtypes are converted.
    /// Returns `n`. Raises `tensormap.Error` (nothing inserted) for a duplicate id, a
    /// position outside the bounds, a NaN, a wrong embedding width or an unknown map.
    ///
    /// `columns` gives values of the map's user columns: a dict from column name to `n`
    /// values (a list, a NumPy array — a masked array's masked entries and a float
    /// array's NaN are NULL, a `datetime64` array is read in its unit —, or a pyarrow
    /// array). None is NULL; TEXT takes str, REAL int or float, INTEGER int (or a whole
    /// float) within ±2^53, BOOLEAN bool, TIMESTAMP a `datetime` (naive is UTC), a `date`
    /// or text as TensorQL reads it, BLOB bytes or hex text. A column the dict leaves out
    /// holds its DEFAULT (NULL without one). A wrong type raises `TypeError` naming the
    /// column and the row (`columns['speed'][2]`), a NULL in a NOT NULL column
    /// `tensormap.Error`; either way nothing is inserted. Without `columns`, a map with a
    /// NOT NULL column that has no DEFAULT refuses the insert.
    #[pyo3(signature = (map, ids, types, positions, embeddings, confidence = None, *, columns = None))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn insert(
        &self,
        py: Python<'_>,
        map: &str,
        ids: &Bound<'_, PyAny>,
        types: &Bound<'_, PyAny>,
        positions: &Bound<'_, PyAny>,
        embeddings: &Bound<'_, PyAny>,
        confidence: Option<&Bound<'_, PyAny>>,
        columns: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<usize> {
        let db = self.db()?;
        let ids = Ids::read(ids, "ids")?;
        let n = ids.len();
        let kinds: Vec<String> = if types.is_instance_of::<PyString>() {
            vec![types.extract()?]
        } else {
            let t = strings(types, "types")?;
            if t.len() != n {
                return Err(PyValueError::new_err(format!(
                    "types has {} values for {n} ids",
                    t.len()
                )));
            }
            t
        };
        let (positions, rows, _) = floats_2d(positions, Some(3), "positions")?;
        if rows != n {
            return Err(PyValueError::new_err(format!(
                "positions has {rows} rows for {n} ids"
            )));
        }
        let (embeddings, rows, _) = floats_2d(embeddings, None, "embeddings")?;
        if rows != n {
            return Err(PyValueError::new_err(format!(
                "embeddings has {rows} rows for {n} ids"
            )));
        }
        let confidences: Vec<f32> = match confidence {
            None => vec![1.0],
            Some(c) if c.extract::<f64>().is_ok() => vec![c.extract::<f64>()? as f32],
            Some(c) => {
                let v = floats_1d(c, "confidence")?;
                if v.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "confidence has {} values for {n} ids",
                        v.len()
                    )));
                }
                v
            }
        };
        let (p, e) = (positions.as_slice(), embeddings.as_slice());
        if let Some(given) = columns {
            let values = user_values(py, &db, map, given, n)?;
            let ids = ids.slices();
            let channels = e.len().checked_div(n).unwrap_or(0);
            let objects: Vec<Object> = (0..n)
                .map(|i| {
                    let kind = kinds.get(i).or(kinds.first()).map_or("", String::as_str);
                    let c = confidences.get(i).or(confidences.first()).copied();
                    Object::new(
                        ids[i],
                        kind,
                        [p[3 * i], p[3 * i + 1], p[3 * i + 2]],
                        e[i * channels..(i + 1) * channels].to_vec(),
                    )
                    .with_confidence(c.unwrap_or(1.0))
                })
                .collect();
            py.detach(|| db.write(|t| t.insert_with_values(map, &objects, values)))
                .map_err(error::engine)?;
            return Ok(n);
        }
        py.detach(|| {
            // The columns go to the engine as they are: no `Object` per row.
            let ids = ids.slices();
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            let columns = ObjectColumns {
                ids: &ids,
                kinds: &kinds,
                positions: p,
                embeddings: e,
                confidences: &confidences,
            };
            db.write(|t| t.insert_columns(map, columns))
        })
        .map_err(error::engine)?;
        Ok(n)
    }

    /// The objects of `map` within `radius` of `center`, from the R-tree: `(ids,
    /// distances)`, nearest first (ties by id), distances a float32 array.
    fn within<'py>(
        &self,
        py: Python<'py>,
        map: &str,
        center: &Bound<'py, PyAny>,
        radius: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let db = self.db()?;
        let c = point(center, "center")?;
        py.detach(|| reads::within(&db, map, c, radius as f32))
            .map_err(error::engine)?
            .into_py_tuple(py)
    }

    /// The `k` objects of `map` nearest `point`, from the R-tree: `(ids, distances)`,
    /// nearest first (ties by id).
    fn nearest<'py>(
        &self,
        py: Python<'py>,
        map: &str,
        point: &Bound<'py, PyAny>,
        k: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let db = self.db()?;
        let p = crate::convert::point(point, "point")?;
        py.detach(|| reads::nearest(&db, map, p, k))
            .map_err(error::engine)?
            .into_py_tuple(py)
    }

    /// The user column values of the objects `ids` of `map`: a dict from column name (all
    /// of the map's user columns, in declared order, or those `columns` names) to a NumPy
    /// array with one value per id, typed as `Result.fetchnumpy` types a user column (TEXT
    /// and BLOB object arrays of str and bytes, REAL float64 with NaN for NULL, INTEGER
    /// int64 and BOOLEAN bool — masked arrays when there are NULLs —, TIMESTAMP
    /// `datetime64[us]` in UTC with NaT for NULL). Pairs with `within`, `nearest` and
    /// `attention`: `db.properties("m", db.nearest("m", p, 5)[0])`. Raises
    /// `tensormap.Error` for an unknown map or id, `ValueError` for an unknown column.
    #[pyo3(signature = (map, ids, columns = None))]
    fn properties<'py>(
        &self,
        py: Python<'py>,
        map: &str,
        ids: &Bound<'py, PyAny>,
        columns: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let db = self.db()?;
        let ids = strings(ids, "ids")?;
        let wanted = match columns {
            None => None,
            Some(c) if c.is_instance_of::<PyString>() => Some(vec![c.extract::<String>()?]),
            Some(c) => Some(strings(c, "columns")?),
        };
        let read = py.detach(|| {
            db.read_map(map, |view| {
                let defs = view.columns();
                let chosen: Vec<&tensormap::user::ColumnDef> = match &wanted {
                    None => defs.iter().collect(),
                    Some(names) => {
                        let mut chosen = Vec::with_capacity(names.len());
                        for name in names {
                            match defs.iter().find(|d| d.name == *name) {
                                Some(d) => chosen.push(d),
                                None => return Ok(Err(name.clone())),
                            }
                        }
                        chosen
                    }
                };
                let mut cells = vec![Vec::with_capacity(ids.len()); chosen.len()];
                for id in &ids {
                    let o = view
                        .get(id)
                        .ok_or_else(|| tensormap::Error::ObjectNotFound {
                            map: map.to_string(),
                            id: id.clone(),
                        })?;
                    let table = o.user_table();
                    for (k, def) in chosen.iter().enumerate() {
                        cells[k].push(table.cell(id, def).clone());
                    }
                }
                let named: Vec<(String, tensormap::user::ColumnType)> =
                    chosen.iter().map(|d| (d.name.clone(), d.ty)).collect();
                Ok(Ok((named, cells)))
            })
        });
        let (named, cells) = read.map_err(error::engine)?.map_err(|name| {
            PyValueError::new_err(format!("map '{map}' has no user column '{name}'"))
        })?;
        let out = PyDict::new(py);
        for ((name, ty), cells) in named.into_iter().zip(cells) {
            out.set_item(name, usercols::cells_to_numpy(py, ty, &cells)?)?;
        }
        Ok(out)
    }

    /// Scaled dot-product attention of `query` (channels values) over the objects of
    /// `map` — all of them, those within `radius` of `center`, or those with `ids` — :
    /// `(ids, weights)` of the top `k`, highest first (ties by id), where the weight is
    /// `softmax(q·e/√channels)` over all candidates (so the weights of all candidates sum
    /// to 1).
    #[pyo3(signature = (map, query, k, *, center = None, radius = None, ids = None))]
    #[allow(clippy::too_many_arguments)]
    fn attention<'py>(
        &self,
        py: Python<'py>,
        map: &str,
        query: &Bound<'py, PyAny>,
        k: usize,
        center: Option<&Bound<'py, PyAny>>,
        radius: Option<f64>,
        ids: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let db = self.db()?;
        let q = floats_1d(query, "query")?;
        let among = among(center, radius, ids)?;
        py.detach(|| reads::attention(&db, map, &q, &among, k))
            .map_err(error::engine)?
            .into_py_tuple(py)
    }

    /// The occupied cells of `map`'s voxel field whose centre is within `radius` of
    /// `center`: `(cells, values)`, cells an int64 array `(m, 3)` of `(i, j, k)`, values a
    /// float32 array `(m, channels)`.
    fn voxels<'py>(
        &self,
        py: Python<'py>,
        map: &str,
        center: &Bound<'py, PyAny>,
        radius: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let db = self.db()?;
        let c = point(center, "center")?;
        let set = py
            .detach(|| db.read_map(map, |view| view.voxels_within(c, radius as f32)))
            .map_err(error::engine)?;
        let m = set.len();
        let cells: Vec<i64> = set.cells.iter().flat_map(|c| c.map(i64::from)).collect();
        let cells = cells.into_pyarray(py).reshape([m, 3])?;
        let values = set.values.into_pyarray(py).reshape([m, set.channels])?;
        PyTuple::new(py, [cells.into_any(), values.into_any()])
    }

    /// Renders the objects the SELECT `sql` chooses. `format="svg"` (the default): an `SVG`
    /// (shown by Jupyter), with the camera and drawing settings of TensorQL's `RENDER ...
    /// WITH (...)`: `width`, `height` (pixels), `camera` and `rotation` (3 numbers), `fov`,
    /// `perspective`, `heatmap`, `axes`, `legend` (bools), `effects` (`"liquid"`,
    /// `"wireframe"`). `format="html"`: an `HTML` interactive view with the settings of
    /// `RENDER ... TO 'x.html' WITH (...)`: `title`, `color_by`, `distance_from`, `effects`,
    /// `point_budget`, `sample`, `slice`, `slice_at`, `glow`, `field_lines`,
    /// `field_resolution`.
    #[pyo3(signature = (sql, format = "svg", **settings))]
    fn render(
        &self,
        py: Python<'_>,
        sql: &str,
        format: &str,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let db = self.db()?;
        match format {
            "svg" => {
                let opts = render_options(settings)?;
                let text = py
                    .detach(|| db.render(sql, &opts))
                    .map_err(|e| error::query(py, e))?;
                Ok(Py::new(py, Svg::new(text))?.into_any())
            }
            "html" => {
                let mut opts = HtmlOptions::default();
                set_options(settings, &mut |k, v| opts.set(k, v), &HtmlOptions::KNOWN)?;
                let (text, objects) = py
                    .detach(|| {
                        db.render_html(sql, &opts)
                            .map(|doc| (doc.to_string(), doc.count()))
                    })
                    .map_err(|e| error::query(py, e))?;
                Ok(Py::new(py, Html::new(text, objects))?.into_any())
            }
            other => Err(PyValueError::new_err(format!(
                "format must be 'svg' or 'html', found '{other}'"
            ))),
        }
    }

    /// Asks `text` of `map` in plain language: TensorQL's `ASK map 'text'` (or `ASK map
    /// USING model 'text'`), answered by the built-in command model (or the stored command
    /// model `model`) as one read-only statement, run when the model is confident. Returns
    /// the statement's result; raises `tensormap.QueryError` when the model is not sure, the
    /// text is no question about the map or names a type it does not have (the message shows
    /// the model's best guess), and for an empty or too long text or a missing map or model.
    /// `explain=True` runs nothing and returns `EXPLAIN ASK`'s row: `statement`,
    /// `probability`, `outcome`, `threshold`, `model`.
    #[pyo3(signature = (map, text, *, model = None, explain = false))]
    fn ask(
        &self,
        py: Python<'_>,
        map: &str,
        text: &str,
        model: Option<&str>,
        explain: bool,
    ) -> PyResult<PyQueryResult> {
        let name = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        let sql = format!(
            "{}ASK {}{} '{}'",
            if explain { "EXPLAIN " } else { "" },
            name(map),
            model.map_or(String::new(), |m| format!(" USING {}", name(m))),
            text.replace('\'', "''")
        );
        self.run(py, &sql, Vec::new())
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { " (closed)" } else { "" };
        match &self.path {
            Some(p) => format!("<tensormap.Database '{p}'{state}>"),
            None => format!("<tensormap.Database in memory{state}>"),
        }
    }
}

/// `RenderOptions` from keyword arguments, each checked by the render crate's one table of
/// options (the names and ranges `RENDER ... WITH` accepts): an unknown name is a
/// `TypeError`, a value of the wrong type or out of range a `ValueError`.
fn render_options(settings: Option<&Bound<'_, PyDict>>) -> PyResult<RenderOptions> {
    let mut o = RenderOptions::default();
    set_options(settings, &mut |k, v| o.set(k, v), &RenderOptions::NAMES)?;
    Ok(o)
}

/// Hands each keyword argument to `set` as the render crate's `OptionValue`; a name not
/// in `known` is a `TypeError`, a refused value a `ValueError`.
fn set_options(
    settings: Option<&Bound<'_, PyDict>>,
    set: &mut dyn FnMut(&str, OptionValue<'_>) -> Result<(), OptionError>,
    known: &[&str],
) -> PyResult<()> {
    let Some(settings) = settings else {
        return Ok(());
    };
    for (key, value) in settings.iter() {
        let key: String = key.extract()?;
        if !known.contains(&key.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "render got an unknown setting '{key}' ({})",
                known.join(", ")
            )));
        }
        let (text, vector): (String, Vec<f64>);
        let v = if value.is_instance_of::<PyBool>() {
            OptionValue::Bool(value.extract()?)
        } else if let Ok(n) = value.extract::<f64>() {
            OptionValue::Number(n)
        } else if value.is_instance_of::<PyString>() {
            text = value.extract()?;
            OptionValue::Text(&text)
        } else {
            vector = floats_1d(&value, &key)?
                .into_iter()
                .map(f64::from)
                .collect();
            OptionValue::Vector(&vector)
        };
        set(&key, v).map_err(|e| match e {
            OptionError::Unknown(name) => PyTypeError::new_err(format!(
                "render got an unknown setting '{name}' ({})",
                known.join(", ")
            )),
            OptionError::Invalid(message) => PyValueError::new_err(message),
        })?;
    }
    Ok(())
}

/// `with db.transaction():` — BEGIN on entry, COMMIT on a normal exit, ROLLBACK when the
/// block raises.
#[pyclass(module = "tensormap", frozen)]
#[derive(Debug)]
pub struct Transaction {
    db: Py<PyDatabase>,
}

#[pymethods]
impl Transaction {
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyDatabase>> {
        self.db.get().begin(py)?;
        Ok(self.db.clone_ref(py))
    }

    #[pyo3(signature = (exc_type, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let db = self.db.get();
        // The block may have committed or rolled back itself.
        if db.closed() || !db.in_transaction()? {
            return Ok(false);
        }
        if exc_type.is_some_and(|t| !t.is_none()) {
            db.rollback(py)?;
        } else {
            db.commit(py)?;
        }
        Ok(false)
    }
}
