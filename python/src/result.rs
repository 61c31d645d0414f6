//! `Result`: the rows of a statement, read as tuples (DB-API style), as NumPy columns, or
//! as an Arrow table through the Arrow PyCapsule interface (`__arrow_c_stream__`).

use numpy::{IntoPyArray, PyArray1, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use tensormap::{QueryResult, Value};

use crate::convert::value_to_py;

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
    /// The next row `fetchone` returns.
    next: parking_lot::Mutex<usize>,
}

impl PyQueryResult {
    pub fn new(r: QueryResult) -> Self {
        PyQueryResult {
            columns: r.columns,
            rows: r.rows,
            status: r.status,
            next: parking_lot::Mutex::new(0),
        }
    }

    fn row<'py>(&self, py: Python<'py>, row: &[Value]) -> PyResult<Bound<'py, PyTuple>> {
        let items = row
            .iter()
            .map(|v| value_to_py(py, v))
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
        let rows = self.rows[from..to]
            .iter()
            .map(|r| self.row(py, r))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
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

/// One column as a NumPy array, and its null mask when it has NULLs.
fn column<'py>(
    py: Python<'py>,
    rows: &[Vec<Value>],
    c: usize,
) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)> {
    let values = || rows.iter().map(move |r| r.get(c).unwrap_or(&Value::Null));
    let (kind, has_nulls) = kind_of(values());
    let mask = if has_nulls {
        let m: Vec<bool> = values().map(|v| matches!(v, Value::Null)).collect();
        Some(m.into_pyarray(py).into_any())
    } else {
        None
    };
    let np = py.import("numpy")?;
    let array = match kind {
        Kind::Number | Kind::Empty => {
            let v: Vec<f64> = values()
                .map(|v| match v {
                    Value::Number(n) => *n,
                    _ => f64::NAN,
                })
                .collect();
            v.into_pyarray(py).into_any()
        }
        Kind::Bool if !has_nulls => {
            let v: Vec<bool> = values().map(|v| matches!(v, Value::Bool(true))).collect();
            v.into_pyarray(py).into_any()
        }
        Kind::Vector(width) if !has_nulls => {
            let mut flat = Vec::with_capacity(rows.len().saturating_mul(width));
            for v in values() {
                if let Value::Vector(x) = v {
                    flat.extend_from_slice(x);
                }
            }
            let a: Bound<'py, PyArray1<f32>> = flat.into_pyarray(py);
            a.reshape([rows.len(), width])?.into_any()
        }
        _ => {
            // Text, NULL-bearing bools and vectors, mixed columns: an object array of the
            // Python values (vectors as float32 arrays).
            let items = values()
                .map(|v| match v {
                    Value::Vector(x) => Ok(x.to_vec().into_pyarray(py).into_any()),
                    other => value_to_py(py, other),
                })
                .collect::<PyResult<Vec<_>>>()?;
            let out = np.call_method1("empty", (items.len(), "object"))?;
            for (i, item) in items.into_iter().enumerate() {
                out.set_item(i, item)?;
            }
            out
        }
    };
    Ok((array, mask))
}

#[pymethods]
impl PyQueryResult {
    /// The column names (empty for a statement without rows).
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.columns.clone()
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
        self.row(py, row).map(Some)
    }

    /// The next `size` rows (fewer at the end) as tuples.
    #[pyo3(signature = (size = 1))]
    fn fetchmany<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyList>> {
        self.take(py, Some(size))
    }

    /// Every row not read yet, as tuples: numbers as float, text as str, vectors as lists
    /// of float, NULL as None.
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
    /// float64 array.)
    fn fetchnumpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (c, name) in self.columns.iter().enumerate() {
            let (array, _) = column(py, &self.rows, c)?;
            out.set_item(name, array)?;
        }
        Ok(out)
    }

    /// Every row as a `pyarrow.Table` (pyarrow must be installed): numbers as float64,
    /// text as string, vectors of one width as `fixed_size_list<float32>`, NULL as null.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let columns = PyList::empty(py);
        for (c, name) in self.columns.iter().enumerate() {
            let (array, mask) = column(py, &self.rows, c)?;
            columns.append((name, array, mask))?;
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
