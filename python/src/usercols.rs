//! User columns (`label TEXT`, `seen_at TIMESTAMP`, ...) in the Python API: which columns
//! of a result are a map's user columns read as they are (so that `fetchall`, `fetchnumpy`
//! and `to_arrow` give them their types), Python values converted into stored cells for
//! `Database.insert(..., columns=...)`, and the cells of objects read for
//! `Database.properties`.
//!
//! The language reads an INTEGER as a number (an f64), a TIMESTAMP as UTC text and a BLOB
//! as hex text (docs/LANGUAGE.md, "User columns"); the binding turns them back into their
//! types with `user::to_cell`, the conversion an INSERT uses, so a value reads back as it
//! was stored. A column whose values do not all convert (it cannot happen for a column
//! typed here, but it costs nothing to check) falls back to the untyped conversion.

use numpy::{IntoPyArray, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyMemoryView, PyString};
use tensormap::query::ast::{ExprKind, SelectItem, Source, Statement};
use tensormap::user::{self, Cell, ColumnDef, ColumnType};
use tensormap::{Database, QueryResult, Value};

use crate::convert::type_name;

/// The built-in columns `SELECT *` gives before the user columns, in its order.
const STAR_BUILT_IN: usize = 5;

/// For each column of `result` (the result of the last statement of `sql`): the type of
/// the user column it reads, or `None`. Typed are the columns of a SELECT over one map
/// (no join, WITH or UNION) that are `*`, `map.*` or a bare column reference (aliased or
/// not) naming one of the map's user columns. Empty when nothing is typed, and without
/// parsing anything when every column has a built-in name.
pub fn result_types(db: &Database, sql: &str, result: &QueryResult) -> Vec<Option<ColumnType>> {
    if result.columns.is_empty() || !result.status.starts_with("SELECT") {
        return Vec::new();
    }
    // Only built-in names (`id`, `position`, ...: the common small query): no column reads
    // a user column under its own name, so the statement is not parsed a second time. A
    // user column aliased to a built-in name (`label AS id`) reads untyped.
    if result
        .columns
        .iter()
        .all(|c| user::BUILT_IN.contains(&c.as_str()))
    {
        return Vec::new();
    }
    let Ok(parsed) = tensormap::query::parse_script(sql) else {
        return Vec::new();
    };
    let Some(Statement::Select(sel)) = parsed.into_iter().last().map(|p| p.statement) else {
        return Vec::new();
    };
    if !sel.with.is_empty() || !sel.compound.is_empty() || !sel.joins.is_empty() {
        return Vec::new();
    }
    let Some(Source::Map(map)) = sel.from.as_ref().map(|t| &t.source) else {
        return Vec::new();
    };
    let Ok(defs) = db.read_map(map, |view| Ok(view.columns().to_vec())) else {
        return Vec::new();
    };
    if defs.is_empty() {
        return Vec::new();
    }
    let find = |name: &str| defs.iter().find(|d| d.name == name).map(|d| d.ty);
    let mut types = Vec::with_capacity(result.columns.len());
    for item in &sel.items {
        match item {
            SelectItem::Wildcard(_) | SelectItem::TableWildcard(..) => {
                types.extend(std::iter::repeat_n(None, STAR_BUILT_IN));
                types.extend(defs.iter().map(|d| Some(d.ty)));
            }
            SelectItem::Expr(e, _) => types.push(match &e.kind {
                ExprKind::Column(c) => find(c),
                ExprKind::QualifiedColumn { column, .. } => find(column),
                _ => None,
            }),
        }
    }
    // A shape this reading does not foresee: nothing typed rather than types misplaced.
    if types.len() != result.columns.len() || types.iter().all(Option::is_none) {
        return Vec::new();
    }
    types
}

/// Column `c` of `rows` as cells of type `ty`, or `None` when some value is not one.
pub fn typed_cells(rows: &[Vec<Value>], c: usize, ty: ColumnType) -> Option<Vec<Cell>> {
    rows.iter()
        .map(|r| user::to_cell(r.get(c).unwrap_or(&Value::Null), ty).ok())
        .collect()
}

/// Python's `datetime` pieces a TIMESTAMP is built from, imported once per call.
pub struct Datetimes<'py> {
    epoch: Bound<'py, PyAny>,
    timedelta: Bound<'py, PyAny>,
}

impl<'py> Datetimes<'py> {
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let dt = py.import("datetime")?;
        let utc = dt.getattr("timezone")?.getattr("utc")?;
        let epoch = dt
            .getattr("datetime")?
            .call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok(Datetimes {
            epoch,
            timedelta: dt.getattr("timedelta")?,
        })
    }

    /// Microseconds since the epoch as an aware `datetime` in UTC.
    fn at(&self, micros: i64) -> PyResult<Bound<'py, PyAny>> {
        // timedelta(microseconds=...) takes any int; days and seconds keep it exact.
        let days = micros.div_euclid(86_400_000_000);
        let rest = micros.rem_euclid(86_400_000_000);
        let delta = self.timedelta.call1((days, 0, rest))?;
        self.epoch.add(delta)
    }
}

/// A cell as a Python value: None, str, float, int, bool, an aware `datetime` (UTC) or
/// bytes.
pub fn cell_to_py<'py>(
    py: Python<'py>,
    c: &Cell,
    dates: &mut Option<Datetimes<'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match c {
        Cell::Null => py.None().into_bound(py),
        Cell::Text(s) => PyString::new(py, s).into_any(),
        Cell::Real(x) => PyFloat::new(py, *x).into_any(),
        Cell::Integer(i) => i.into_pyobject(py)?.into_any(),
        Cell::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Cell::Timestamp(t) => {
            if dates.is_none() {
                *dates = Some(Datetimes::new(py)?);
            }
            match dates {
                Some(d) => d.at(*t)?,
                None => py.None().into_bound(py),
            }
        }
        Cell::Blob(b) => PyBytes::new(py, b).into_any(),
    })
}

/// NumPy's `datetime64` NaT as an int64.
const NAT: i64 = i64::MIN;

/// A typed column as NumPy: TEXT an object array (str, None for NULL), REAL float64 (NaN
/// for NULL), INTEGER int64 and BOOLEAN bool (a `numpy.ma.MaskedArray` when there are
/// NULLs), TIMESTAMP `datetime64[us]` (UTC; NaT for NULL), BLOB an object array (bytes,
/// None for NULL).
pub fn cells_to_numpy<'py>(
    py: Python<'py>,
    ty: ColumnType,
    cells: &[Cell],
) -> PyResult<Bound<'py, PyAny>> {
    let nulls: Vec<bool> = cells.iter().map(|c| matches!(c, Cell::Null)).collect();
    let any_null = nulls.iter().any(|n| *n);
    let masked = |data: Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
        if !any_null {
            return Ok(data);
        }
        let ma = py.import("numpy")?.getattr("ma")?;
        ma.call_method1("masked_array", (data, nulls.clone().into_pyarray(py)))
    };
    Ok(match ty {
        ColumnType::Real => cells
            .iter()
            .map(|c| match c {
                Cell::Real(x) => *x,
                _ => f64::NAN,
            })
            .collect::<Vec<f64>>()
            .into_pyarray(py)
            .into_any(),
        ColumnType::Integer => masked(
            cells
                .iter()
                .map(|c| match c {
                    Cell::Integer(i) => *i,
                    _ => 0,
                })
                .collect::<Vec<i64>>()
                .into_pyarray(py)
                .into_any(),
        )?,
        ColumnType::Boolean => masked(
            cells
                .iter()
                .map(|c| matches!(c, Cell::Boolean(true)))
                .collect::<Vec<bool>>()
                .into_pyarray(py)
                .into_any(),
        )?,
        ColumnType::Timestamp => cells
            .iter()
            .map(|c| match c {
                Cell::Timestamp(t) => *t,
                _ => NAT,
            })
            .collect::<Vec<i64>>()
            .into_pyarray(py)
            .call_method1("view", ("datetime64[us]",))?,
        ColumnType::Text | ColumnType::Blob => {
            let mut dates = None;
            cells
                .iter()
                .map(|c| cell_to_py(py, c, &mut dates).map(Bound::unbind))
                .collect::<PyResult<Vec<Py<PyAny>>>>()?
                .into_pyarray(py)
                .into_any()
        }
    })
}

/// A typed column for `tensormap._arrow.table`: `("text", offsets, data)` (TEXT),
/// `("binary", offsets, data)` (BLOB) or `("typed", arrow type name, values)` with values
/// float64 (REAL), int64 (INTEGER, and TIMESTAMP as microseconds since the epoch, UTC) or
/// bool (BOOLEAN); NULLs travel in the null mask. These are the Arrow types COPY writes to
/// Parquet (docs/LANGUAGE.md, COPY).
pub fn cells_to_arrow_parts<'py>(
    py: Python<'py>,
    ty: ColumnType,
    cells: &[Cell],
) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    use pyo3::types::PyTuple;
    let typed = |name: &str, values: Bound<'py, PyAny>| {
        PyTuple::new(
            py,
            [
                "typed".into_pyobject(py)?.into_any(),
                name.into_pyobject(py)?.into_any(),
                values,
            ],
        )
    };
    match ty {
        ColumnType::Text | ColumnType::Blob => {
            let mut offsets: Vec<i64> = Vec::with_capacity(cells.len() + 1);
            let mut data = Vec::new();
            offsets.push(0);
            for c in cells {
                match c {
                    Cell::Text(s) => data.extend_from_slice(s.as_bytes()),
                    Cell::Blob(b) => data.extend_from_slice(b),
                    _ => {}
                }
                offsets.push(data.len() as i64);
            }
            let offsets = if i32::try_from(data.len()).is_ok() {
                let small: Vec<i32> = offsets.iter().map(|o| *o as i32).collect();
                small.into_pyarray(py).into_any()
            } else {
                offsets.into_pyarray(py).into_any()
            };
            let kind = if ty == ColumnType::Text {
                "text"
            } else {
                "binary"
            };
            PyTuple::new(
                py,
                [
                    kind.into_pyobject(py)?.into_any(),
                    offsets,
                    data.into_pyarray(py).into_any(),
                ],
            )
        }
        ColumnType::Real | ColumnType::Integer | ColumnType::Boolean | ColumnType::Timestamp => {
            let name = match ty {
                ColumnType::Real => "float64",
                ColumnType::Integer => "int64",
                ColumnType::Boolean => "bool",
                _ => "timestamp[us, UTC]",
            };
            let values = match ty {
                ColumnType::Boolean => cells
                    .iter()
                    .map(|c| matches!(c, Cell::Boolean(true)))
                    .collect::<Vec<bool>>()
                    .into_pyarray(py)
                    .into_any(),
                ColumnType::Real => cells
                    .iter()
                    .map(|c| match c {
                        Cell::Real(x) => *x,
                        _ => 0.0,
                    })
                    .collect::<Vec<f64>>()
                    .into_pyarray(py)
                    .into_any(),
                _ => cells
                    .iter()
                    .map(|c| match c {
                        Cell::Integer(i) | Cell::Timestamp(i) => *i,
                        _ => 0,
                    })
                    .collect::<Vec<i64>>()
                    .into_pyarray(py)
                    .into_any(),
            };
            typed(name, values)
        }
    }
}

/// The largest integer a number of the language (an f64) holds exactly: an INTEGER given
/// from Python must be within it, so that it reads back through TensorQL as it was given.
const MAX_EXACT: i64 = 1 << 53;

/// The values of `obj` (a sequence, a NumPy array — a masked one's masked entries as
/// NULL —, or anything with `to_pylist()`, such as a pyarrow array) as cells of column
/// `def`, `n` of them. Errors name the column and the index of the row.
pub fn cells_from_py(obj: &Bound<'_, PyAny>, def: &ColumnDef, n: usize) -> PyResult<Vec<Cell>> {
    let py = obj.py();
    let what = format!("columns['{}']", def.name);
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of {n} values (one per id), found {}",
            type_name(obj)
        )));
    }
    // A datetime64 array: microseconds since the epoch (NaT is NULL), whatever its unit.
    let items = if let Ok(a) = obj.cast::<PyUntypedArray>() {
        if a.ndim() != 1 {
            return Err(PyValueError::new_err(format!(
                "{what} must be 1-D, found shape {:?}",
                a.shape()
            )));
        }
        if a.dtype().kind() == b'M' {
            let micros = a
                .call_method1("astype", ("datetime64[us]",))?
                .call_method1("view", ("int64",))?;
            let mask = py
                .import("numpy")?
                .getattr("ma")?
                .call_method1("getmaskarray", (obj,))?;
            let micros: Vec<i64> = micros.call_method0("tolist")?.extract()?;
            let mask: Vec<bool> = mask.call_method0("tolist")?.extract()?;
            let cells: Vec<Option<Cell>> = micros
                .into_iter()
                .zip(mask)
                .map(|(t, masked)| (!masked && t != NAT).then_some(Cell::Timestamp(t)))
                .collect();
            return finish(cells, n, &what);
        }
        // `tolist` gives Python scalars (a masked array gives None where masked).
        obj.call_method0("tolist")?
    } else if obj.hasattr("to_pylist").unwrap_or(false) {
        obj.call_method0("to_pylist")?
    } else {
        obj.clone()
    };
    let iter = items.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of {n} values (one per id), found {}",
            type_name(obj)
        ))
    })?;
    let mut cells = Vec::with_capacity(n);
    for (i, item) in iter.enumerate() {
        let item = item?;
        let cell = cell_from_py(&item, def.ty)
            .map_err(|e| PyTypeError::new_err(format!("{what}[{i}]: {e}")))?;
        cells.push(Some(cell).filter(|c| *c != Cell::Null));
    }
    finish(cells, n, &what)
}

/// Checks the count; NULLs become `Cell::Null`.
fn finish(cells: Vec<Option<Cell>>, n: usize, what: &str) -> PyResult<Vec<Cell>> {
    if cells.len() != n {
        return Err(PyValueError::new_err(format!(
            "{what} has {} values for {n} ids",
            cells.len()
        )));
    }
    Ok(cells.into_iter().map(|c| c.unwrap_or(Cell::Null)).collect())
}

/// One Python value as a cell of type `ty`; the error says what was expected and found.
fn cell_from_py(v: &Bound<'_, PyAny>, ty: ColumnType) -> Result<Cell, String> {
    if v.is_none() {
        return Ok(Cell::Null);
    }
    // A NumPy scalar (np.int64(3), np.bool_(True), np.str_): the Python value it holds.
    let held;
    let v = if !(v.is_instance_of::<PyBool>()
        || v.is_instance_of::<PyInt>()
        || v.is_instance_of::<PyFloat>()
        || v.is_instance_of::<PyString>()
        || v.is_instance_of::<PyBytes>())
        && v.hasattr("dtype").unwrap_or(false)
        && v.hasattr("item").unwrap_or(false)
    {
        held = v.call_method0("item").map_err(|e| e.to_string())?;
        if held.is_none() {
            return Ok(Cell::Null);
        }
        &held
    } else {
        v
    };
    let found = || format!("expected {}, found {}", ty.name(), type_name(v));
    let is_bool = v.is_instance_of::<PyBool>();
    Ok(match ty {
        ColumnType::Text => Cell::Text(v.extract::<String>().map_err(|_| found())?),
        ColumnType::Real if is_bool => return Err(found()),
        ColumnType::Real => {
            if !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>()) {
                return Err(found());
            }
            let x: f64 = v.extract().map_err(|_| found())?;
            if x.is_nan() {
                // NaN is how NumPy and pandas write a missing float (and how fetchnumpy
                // gives a NULL REAL): it reads as NULL.
                return Ok(Cell::Null);
            }
            if !x.is_finite() {
                return Err(format!("expected a finite REAL, found {x}"));
            }
            Cell::Real(x)
        }
        ColumnType::Integer if is_bool => return Err(found()),
        ColumnType::Integer => {
            let i = if v.is_instance_of::<PyInt>() {
                v.extract::<i64>()
                    .map_err(|_| "an INTEGER out of the 64-bit range".to_string())?
            } else if v.is_instance_of::<PyFloat>() {
                let x: f64 = v.extract().map_err(|_| found())?;
                if x.fract() != 0.0 || !x.is_finite() {
                    return Err(format!("expected INTEGER, found {x}"));
                }
                x as i64
            } else {
                return Err(found());
            };
            if i.abs() > MAX_EXACT {
                return Err(format!(
                    "expected INTEGER within ±2^53 (what TensorQL reads exactly), found {i}"
                ));
            }
            Cell::Integer(i)
        }
        ColumnType::Boolean if is_bool => Cell::Boolean(v.extract().map_err(|_| found())?),
        ColumnType::Boolean => return Err(found()),
        ColumnType::Timestamp => {
            if let Ok(s) = v.extract::<String>() {
                Cell::Timestamp(user::parse_timestamp(&s).ok_or_else(|| {
                    format!("'{s}' is not a timestamp (YYYY-MM-DD[ HH:MM:SS[.ffffff]])")
                })?)
            } else if v.hasattr("isoformat").unwrap_or(false) {
                // datetime.datetime (naive is UTC) or datetime.date (midnight UTC).
                let s: String = v
                    .call_method0("isoformat")
                    .and_then(|s| s.extract())
                    .map_err(|_| found())?;
                Cell::Timestamp(
                    user::parse_timestamp(&s)
                        .ok_or_else(|| format!("{s} is not a time in the years 0000 to 9999"))?,
                )
            } else {
                return Err(found());
            }
        }
        ColumnType::Blob => {
            if v.is_instance_of::<PyBytes>()
                || v.is_instance_of::<PyByteArray>()
                || v.is_instance_of::<PyMemoryView>()
            {
                let b = v
                    .py()
                    .import("builtins")
                    .and_then(|m| m.getattr("bytes")?.call1((v,)))
                    .map_err(|_| found())?;
                let b = b.cast::<PyBytes>().map_err(|_| found())?;
                Cell::Blob(b.as_bytes().to_vec())
            } else if let Ok(s) = v.extract::<String>() {
                user::to_cell(&Value::text(&s), ColumnType::Blob)?
            } else {
                return Err(found());
            }
        }
    })
}
