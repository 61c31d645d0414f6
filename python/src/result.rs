//! `Result`: the rows of a statement, read as tuples (DB-API style), as NumPy columns, or
//! as an Arrow table through the Arrow PyCapsule interface (`__arrow_c_stream__`).

use numpy::{IntoPyArray, PyArray1, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tensormap::user::ColumnType;
use tensormap::{QueryResult, Value};

use crate::convert::value_to_py;
use crate::usercols::{self, Datetimes};

/// The result of a statement: its column names, its rows, its status line.
///
/// `fetchone()` / `fetchmany()` / `fetchall()` read rows as tuples and advance a cursor, as
/// in Python's DB-API; `fetchnumpy()` and `to_arrow()` return every row as columns.
#[pyclass(module = "tensormap", name = "Result", frozen)]
#[derive(Debug)]
pub struct PyQueryResult {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    status: String,
    /// The type of each column that reads a map's user column as it is (see
    /// `usercols::result_types`); empty when none does.
    types: Vec<Option<ColumnType>>,
    /// The next row `fetchone` returns.
    next: parking_lot::Mutex<usize>,
}

impl PyQueryResult {
    pub fn new(r: QueryResult) -> Self {
        PyQueryResult {
            columns: r.columns,
            rows: r.rows,
            status: r.status,
            types: Vec::new(),
            next: parking_lot::Mutex::new(0),
        }
    }

    /// With the types of the user columns it reads (one per column, or empty).
    pub fn with_types(mut self, types: Vec<Option<ColumnType>>) -> Self {
        if types.len() == self.columns.len() {
            self.types = types;
        }
        self
    }

    /// The declared type of column `c`, when it reads a user column.
    fn type_of(&self, c: usize) -> Option<ColumnType> {
        self.types.get(c).copied().flatten()
    }

    /// A row as a tuple: typed user columns as `usercols::cell_to_py` gives them (INTEGER
    /// as int, TIMESTAMP as an aware datetime, BLOB as bytes), the rest as `value_to_py`.
    fn row<'py>(
        &self,
        py: Python<'py>,
        row: &[Value],
        dates: &mut Option<Datetimes<'py>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if self.types.is_empty() {
            return Row(row).into_pyobject(py);
        }
        let items = row
            .iter()
            .enumerate()
            .map(|(c, v)| match self.type_of(c) {
                Some(ty) => match tensormap::user::to_cell(v, ty) {
                    Ok(cell) => usercols::cell_to_py(py, &cell, dates),
                    Err(_) => value_to_py(py, v),
                },
                None => value_to_py(py, v),
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }

    /// Rows `from..to` as tuples, moving the cursor to `to`.
    fn take<'py>(&self, py: Python<'py>, count: Option<usize>) -> PyResult<Bound<'py, PyList>> {
        let mut next = self.next.lock();
        let from = (*next).min(self.rows.len());
        let to = match count {
            Some(n) => from.saturating_add(n).min(self.rows.len()),
            None => self.rows.len(),
        };
        *next = to;
        drop(next);
        if !self.types.is_empty() {
            let mut dates = None;
            let rows = self.rows[from..to]
                .iter()
                .map(|r| self.row(py, r, &mut dates))
                .collect::<PyResult<Vec<_>>>()?;
            return PyList::new(py, rows);
        }
        PyList::new(py, self.rows[from..to].iter().map(|r| Row(r)))
    }
}

/// A value converted as `value_to_py` does, where Python wants it: the rows' tuples and
/// the list of them are filled in place, with no vector of objects in between.
struct PyValue<'a>(&'a Value);

impl<'py> IntoPyObject<'py> for PyValue<'_> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, self.0)
    }
}

/// A row as a tuple.
struct Row<'a>(&'a [Value]);

impl<'py> IntoPyObject<'py> for Row<'_> {
    type Target = PyTuple;
    type Output = Bound<'py, PyTuple>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.0.iter().map(PyValue))
    }
}

/// The type a column's values share, for its NumPy array.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Only NULLs (or no rows).
    Empty,
    Number,
    Bool,
    Text,
    /// Vectors of one length.
    Vector(usize),
    /// Anything else: an object array.
    Mixed,
}

fn kind_of<'a>(values: impl Iterator<Item = &'a Value>) -> (Kind, bool) {
    let mut kind = Kind::Empty;
    let mut nulls = false;
    for v in values {
        let k = match v {
            Value::Null => {
                nulls = true;
                continue;
            }
            Value::Number(_) => Kind::Number,
            Value::Bool(_) => Kind::Bool,
            Value::Text(_) => Kind::Text,
            Value::Vector(x) => Kind::Vector(x.len()),
        };
        kind = match kind {
            Kind::Empty => k,
            same if same == k => same,
            _ => Kind::Mixed,
        };
    }
    (kind, nulls)
}

/// One column of a result in one flat buffer (or Python objects where the values have no
/// common type), with its null mask when it has NULLs. `fetchnumpy` and `to_arrow` both
/// start here: a new column type is one more variant.
enum Column {
    /// float64, NaN for NULL.
    Numbers(Vec<f64>),
    /// Without NULLs.
    Bools(Vec<bool>),
    /// Vectors of one width, without NULLs: `rows × width` float32, row-major.
    Vectors(Vec<f32>, usize),
    /// UTF-8 text: row `i` is `data[offsets[i]..offsets[i + 1]]` ("" for NULL).
    Text { offsets: Vec<i64>, data: Vec<u8> },
    /// Python values (vectors as float32 arrays), None for NULL.
    Objects(Vec<Py<PyAny>>),
}

/// Column `c` of `rows`, and its null mask when it has NULLs.
fn column<'py>(
    py: Python<'py>,
    rows: &[Vec<Value>],
    c: usize,
) -> PyResult<(Column, Option<Vec<bool>>)> {
    let values = || rows.iter().map(move |r| r.get(c).unwrap_or(&Value::Null));
    let (kind, has_nulls) = kind_of(values());
    let mask = has_nulls.then(|| values().map(|v| matches!(v, Value::Null)).collect());
    let column = match kind {
        Kind::Number | Kind::Empty => Column::Numbers(
            values()
                .map(|v| match v {
                    Value::Number(n) => *n,
                    _ => f64::NAN,
                })
                .collect(),
        ),
        Kind::Bool if !has_nulls => {
            Column::Bools(values().map(|v| matches!(v, Value::Bool(true))).collect())
        }
        Kind::Vector(width) if !has_nulls => {
            let mut flat = Vec::with_capacity(rows.len().saturating_mul(width));
            for v in values() {
                if let Value::Vector(x) = v {
                    flat.extend_from_slice(x);
                }
            }
            Column::Vectors(flat, width)
        }
        Kind::Text => {
            let mut offsets = Vec::with_capacity(rows.len() + 1);
            let mut data = Vec::new();
            offsets.push(0);
            for v in values() {
                if let Value::Text(t) = v {
                    data.extend_from_slice(t.as_bytes());
                }
                offsets.push(data.len() as i64);
            }
            Column::Text { offsets, data }
        }
        _ => Column::Objects(
            values()
                .map(|v| match v {
                    Value::Vector(x) => Ok(x.to_vec().into_pyarray(py).into_any().unbind()),
                    other => value_to_py(py, other).map(Bound::unbind),
                })
                .collect::<PyResult<Vec<_>>>()?,
        ),
    };
    Ok((column, mask))
}

/// Builds one column a value at a time, for `columns`' single pass over the rows. It gives
/// up (`Kind::Mixed`) where the values have no common flat type, and the column is then
/// built by `column`.
struct Builder {
    kind: Kind,
    nulls: Vec<bool>,
    any_null: bool,
    numbers: Vec<f64>,
    bools: Vec<bool>,
    floats: Vec<f32>,
    offsets: Vec<i64>,
    data: Vec<u8>,
}

impl Builder {
    fn new(rows: usize) -> Self {
        Builder {
            kind: Kind::Empty,
            nulls: Vec::with_capacity(rows),
            any_null: false,
            numbers: Vec::new(),
            bools: Vec::new(),
            floats: Vec::new(),
            offsets: vec![0],
            data: Vec::new(),
        }
    }

    fn push(&mut self, v: &Value) {
        if self.kind == Kind::Mixed {
            return;
        }
        if matches!(v, Value::Null) {
            self.nulls.push(true);
            self.any_null = true;
            match self.kind {
                // Numbers hold NaN for NULL; until the kind is known, so do leading NULLs.
                Kind::Empty | Kind::Number => self.numbers.push(f64::NAN),
                Kind::Text => self.offsets.push(self.data.len() as i64),
                // Bools and vectors with NULLs: an object array.
                _ => self.kind = Kind::Mixed,
            }
            return;
        }
        self.nulls.push(false);
        let k = match v {
            Value::Number(_) | Value::Null => Kind::Number,
            Value::Bool(_) => Kind::Bool,
            Value::Text(_) => Kind::Text,
            Value::Vector(x) => Kind::Vector(x.len()),
        };
        if self.kind == Kind::Empty {
            let leading = self.numbers.len();
            match k {
                Kind::Number => {}
                Kind::Text => {
                    self.numbers.clear();
                    self.offsets.resize(leading + 1, 0);
                }
                _ if leading > 0 => {
                    self.kind = Kind::Mixed;
                    return;
                }
                _ => {}
            }
            self.kind = k;
        } else if self.kind != k {
            self.kind = Kind::Mixed;
            return;
        }
        match v {
            Value::Number(n) => self.numbers.push(*n),
            Value::Bool(b) => self.bools.push(*b),
            Value::Text(t) => {
                self.data.extend_from_slice(t.as_bytes());
                self.offsets.push(self.data.len() as i64);
            }
            Value::Vector(x) => self.floats.extend_from_slice(x),
            Value::Null => {}
        }
    }

    fn finish(
        self,
        py: Python<'_>,
        rows: &[Vec<Value>],
        c: usize,
    ) -> PyResult<(Column, Option<Vec<bool>>)> {
        let mask = self.any_null.then_some(self.nulls);
        Ok(match self.kind {
            Kind::Mixed => return column(py, rows, c),
            Kind::Empty | Kind::Number => (Column::Numbers(self.numbers), mask),
            Kind::Bool => (Column::Bools(self.bools), mask),
            Kind::Text => (
                Column::Text {
                    offsets: self.offsets,
                    data: self.data,
                },
                mask,
            ),
            Kind::Vector(width) => (Column::Vectors(self.floats, width), mask),
        })
    }
}

/// Every column of `rows` (`count` of them), built in one pass over the rows.
fn build_columns(
    py: Python<'_>,
    rows: &[Vec<Value>],
    count: usize,
) -> PyResult<Vec<(Column, Option<Vec<bool>>)>> {
    let mut builders: Vec<Builder> = (0..count).map(|_| Builder::new(rows.len())).collect();
    for row in rows {
        for (c, b) in builders.iter_mut().enumerate() {
            b.push(row.get(c).unwrap_or(&Value::Null));
        }
    }
    builders
        .into_iter()
        .enumerate()
        .map(|(c, b)| b.finish(py, rows, c))
        .collect()
}

impl Column {
    /// As NumPy: float64, bool, a 2-D float32 array `(rows, width)`, or an object array
    /// (text as str, NULL as None).
    fn into_numpy<'py>(
        self,
        py: Python<'py>,
        rows: usize,
        mask: Option<&[bool]>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Column::Numbers(v) => v.into_pyarray(py).into_any(),
            Column::Bools(v) => v.into_pyarray(py).into_any(),
            Column::Vectors(flat, width) => {
                let a: Bound<'py, PyArray1<f32>> = flat.into_pyarray(py);
                a.reshape([rows, width])?.into_any()
            }
            Column::Text { offsets, data } => {
                let none = py.None();
                let items = (0..rows)
                    .map(|i| {
                        if mask.is_some_and(|m| m[i]) {
                            return Ok(none.clone_ref(py));
                        }
                        let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
                        let text = std::str::from_utf8(&data[a..b])
                            .map_err(|e| PyTypeError::new_err(e.to_string()))?;
                        Ok(PyString::new(py, text).into_any().unbind())
                    })
                    .collect::<PyResult<Vec<Py<PyAny>>>>()?;
                items.into_pyarray(py).into_any()
            }
            Column::Objects(items) => items.into_pyarray(py).into_any(),
        })
    }

    /// For `tensormap._arrow.table`: `(kind, arrays...)` with kind `numpy` (one array),
    /// `text` (int32 or int64 offsets and uint8 data: the buffers of Arrow's string or
    /// large_string) or `objects`.
    fn into_arrow_parts<'py>(self, py: Python<'py>, rows: usize) -> PyResult<Bound<'py, PyTuple>> {
        match self {
            Column::Text { offsets, data } => {
                // Arrow's `string` (int32 offsets) when the text fits, else `large_string`.
                let offsets = if i32::try_from(data.len()).is_ok() {
                    let small: Vec<i32> = offsets.iter().map(|o| *o as i32).collect();
                    small.into_pyarray(py).into_any()
                } else {
                    offsets.into_pyarray(py).into_any()
                };
                PyTuple::new(
                    py,
                    [
                        "text".into_pyobject(py)?.into_any(),
                        offsets,
                        data.into_pyarray(py).into_any(),
                    ],
                )
            }
            Column::Objects(items) => PyTuple::new(
                py,
                [
                    "objects".into_pyobject(py)?.into_any(),
                    items.into_pyarray(py).into_any(),
                ],
            ),
            other => PyTuple::new(
                py,
                [
                    "numpy".into_pyobject(py)?.into_any(),
                    other.into_numpy(py, rows, None)?,
                ],
            ),
        }
    }
}

#[pymethods]
impl PyQueryResult {
    /// The column names (empty for a statement without rows).
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.columns.clone()
    }

    /// The declared type of each column that reads a map's user column as it is (`TEXT`,
    /// `REAL`, `INTEGER`, `BOOLEAN`, `TIMESTAMP`, `BLOB`), None for the others: the
    /// columns of `*`, `map.*` and bare column names (aliased or not) of a SELECT over
    /// one map without a join, WITH or UNION. An empty list when no column is typed.
    #[getter]
    fn types(&self) -> Vec<Option<&'static str>> {
        self.types.iter().map(|t| t.map(ColumnType::name)).collect()
    }

    /// The status line: `SELECT 3`, `INSERT 2`, `CREATE MAP`, ...
    #[getter]
    fn status(&self) -> &str {
        &self.status
    }

    /// The DB-API description: one `(name, None, None, None, None, None, None)` per column.
    #[getter]
    fn description<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        let items = self
            .columns
            .iter()
            .map(|c| {
                let mut items = vec![c.into_pyobject(py)?.into_any()];
                items.extend(std::iter::repeat_n(py.None().into_bound(py), 6));
                PyTuple::new(py, items)
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Some(PyList::new(py, items)?))
    }

    /// The number of rows.
    #[getter]
    fn rowcount(&self) -> usize {
        self.rows.len()
    }

    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// The next row as a tuple, or None when every row has been read.
    fn fetchone<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut next = self.next.lock();
        let Some(row) = self.rows.get(*next) else {
            return Ok(None);
        };
        *next += 1;
        drop(next);
        self.row(py, row, &mut None).map(Some)
    }

    /// The next `size` rows (fewer at the end) as tuples.
    #[pyo3(signature = (size = 1))]
    fn fetchmany<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyList>> {
        self.take(py, Some(size))
    }

    /// Every row not read yet, as tuples: numbers as float, text as str, vectors as lists
    /// of float, NULL as None. A column that reads a map's user column (see `types`) has
    /// its declared type: INTEGER as int, TIMESTAMP as an aware `datetime` (UTC), BLOB as
    /// bytes, TEXT as str, REAL as float, BOOLEAN as bool.
    fn fetchall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.take(py, None)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.fetchone(py)
    }

    /// Every row as columns: a dict from column name to a NumPy array — float64 for
    /// numbers (NaN for NULL), bool, a 2-D float32 array `(rows, width)` for vectors of one
    /// width, and an object array for text and anything mixed. The cursor does not move.
    /// (Values carry their types, not the columns: without rows every column is an empty
    /// float64 array.) A column that reads a map's user column (see `types`) follows its
    /// declared type, rows or not: TEXT an object array of str, REAL float64 (NaN for
    /// NULL), INTEGER int64 and BOOLEAN bool — a `numpy.ma.MaskedArray` masking the NULLs
    /// when there are any —, TIMESTAMP `datetime64[us]` in UTC (NaT for NULL), BLOB an
    /// object array of bytes; None is NULL in the object arrays.
    fn fetchnumpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        let built = build_columns(py, &self.rows, self.columns.len())?;
        for (c, (name, (col, mask))) in self.columns.iter().zip(built).enumerate() {
            let typed = self
                .type_of(c)
                .and_then(|ty| Some((ty, usercols::typed_cells(&self.rows, c, ty)?)));
            let array = match typed {
                Some((ty, cells)) => usercols::cells_to_numpy(py, ty, &cells)?,
                None => col.into_numpy(py, self.rows.len(), mask.as_deref())?,
            };
            out.set_item(name, array)?;
        }
        Ok(out)
    }

    /// Every row as a `pyarrow.Table` (pyarrow must be installed): numbers as float64,
    /// text as string, vectors of one width as `fixed_size_list<float32>`, NULL as null.
    /// A column that reads a map's user column (see `types`) has the Arrow type COPY
    /// writes to Parquet: TEXT string, REAL float64, INTEGER int64, BOOLEAN bool,
    /// TIMESTAMP `timestamp[us, tz=UTC]`, BLOB binary.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let columns = PyList::empty(py);
        let built = build_columns(py, &self.rows, self.columns.len())?;
        for (c, (name, (col, mask))) in self.columns.iter().zip(built).enumerate() {
            let typed = self
                .type_of(c)
                .and_then(|ty| Some((ty, usercols::typed_cells(&self.rows, c, ty)?)));
            let parts = match &typed {
                Some((ty, cells)) => usercols::cells_to_arrow_parts(py, *ty, cells)?,
                None => col.into_arrow_parts(py, self.rows.len())?,
            };
            let mask = match &typed {
                Some((_, cells)) => {
                    let m: Vec<bool> = cells
                        .iter()
                        .map(|c| matches!(c, tensormap::user::Cell::Null))
                        .collect();
                    m.contains(&true).then_some(m)
                }
                None => mask,
            };
            let mask = mask.map(|m| m.into_pyarray(py));
            columns.append((name, parts, mask))?;
        }
        let helper = py.import("tensormap._arrow").map_err(|e| {
            PyTypeError::new_err(format!("to_arrow needs pyarrow (pip install pyarrow): {e}"))
        })?;
        helper.call_method1("table", (columns,))
    }

    /// The Arrow PyCapsule interface: the rows as an Arrow C stream, so `pyarrow.table(r)`,
    /// Polars, DuckDB and others read the result without knowing tensormap.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.to_arrow(py)?
            .call_method1("__arrow_c_stream__", (requested_schema,))
    }

    fn __repr__(&self) -> String {
        format!(
            "<tensormap.Result {} columns={:?} rows={}>",
            if self.status.is_empty() {
                "RENDER"
            } else {
                &self.status
            },
            self.columns,
            self.rows.len()
        )
    }
}
