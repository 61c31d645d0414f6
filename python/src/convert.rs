//! Conversions between Python objects and tensormap's values and arrays.
//!
//! Arrays come in as NumPy float32 without a copy when they are float32 and C-contiguous;
//! other floating dtypes (and sequences) are converted to float32 once. Integer, complex,
//! string and object arrays are refused with a `TypeError` naming the argument, so a wrong
//! dtype never turns silently into numbers.

use numpy::{
    PyArray1, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString};
use tensormap::{widen_f32, Value};

/// A float32 matrix borrowed from a NumPy array, or converted into an owned buffer.
pub enum Floats2<'py> {
    /// A C-contiguous float32 array, read in place.
    Borrowed(PyReadonlyArray2<'py, f32>),
    /// A copy, row-major.
    Owned(Vec<f32>),
}

impl Floats2<'_> {
    /// The values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        match self {
            // A borrowed array was checked to be contiguous when it was taken.
            Floats2::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Floats2::Owned(v) => v,
        }
    }
}

/// The dtype kind letters NumPy uses for floating-point arrays.
fn is_float_kind(kind: u8) -> bool {
    kind == b'f'
}

/// `obj` as an `(n, cols)` float32 matrix (`cols` fixed when given), with the shape it has.
/// `what` names the argument in errors.
pub fn floats_2d<'py>(
    obj: &Bound<'py, PyAny>,
    cols: Option<usize>,
    what: &str,
) -> PyResult<(Floats2<'py>, usize, usize)> {
    let py = obj.py();
    let arr: Bound<'py, PyAny> = if obj.cast::<PyUntypedArray>().is_ok() {
        obj.clone()
    } else {
        // A list of lists and the like: NumPy converts it (and refuses ragged input).
        let np = py.import("numpy")?;
        np.call_method1("asarray", (obj,))
            .map_err(|e| PyTypeError::new_err(format!("{what} must be a float array: {e}")))?
    };
    let untyped = arr.cast::<PyUntypedArray>()?;
    let kind = untyped.dtype().kind();
    if !is_float_kind(kind) {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a float32 array, found dtype {}",
            untyped.dtype()
        )));
    }
    let shape = untyped.shape().to_vec();
    let expected = match cols {
        Some(c) => format!("(n, {c})"),
        None => "(n, channels)".to_string(),
    };
    if shape.len() != 2 || cols.is_some_and(|c| shape[1] != c) {
        return Err(PyValueError::new_err(format!(
            "{what} must have shape {expected}, found {shape:?}"
        )));
    }
    let (rows, width) = (shape[0], shape[1]);
    if let Ok(a) = arr.extract::<PyReadonlyArray2<'py, f32>>() {
        if a.is_c_contiguous() {
            return Ok((Floats2::Borrowed(a), rows, width));
        }
        let v: Vec<f32> = a.as_array().iter().copied().collect();
        return Ok((Floats2::Owned(v), rows, width));
    }
    // Another float dtype (float64, float16): one conversion to float32.
    let np = py.import("numpy")?;
    let converted = np.call_method1("ascontiguousarray", (arr, "float32"))?;
    let a = converted.extract::<PyReadonlyArray2<'py, f32>>()?;
    let v = a.as_slice().map(<[f32]>::to_vec).unwrap_or_default();
    Ok((Floats2::Owned(v), rows, width))
}

/// `obj` as a vector of float32: a 1-D float array or a sequence of numbers.
pub fn floats_1d(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f32>> {
    if let Ok(untyped) = obj.cast::<PyUntypedArray>() {
        if !is_float_kind(untyped.dtype().kind())
            && untyped.dtype().kind() != b'i'
            && untyped.dtype().kind() != b'u'
        {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a float array, found dtype {}",
                untyped.dtype()
            )));
        }
        if untyped.ndim() != 1 {
            return Err(PyValueError::new_err(format!(
                "{what} must be 1-D, found shape {:?}",
                untyped.shape()
            )));
        }
        // A contiguous float32 array (the common case): one copy, without registering a
        // borrow of the array (a readonly borrow costs more than copying a few values).
        if let Ok(a) = obj.cast::<PyArray1<f32>>() {
            if let Ok(v) = a.to_vec() {
                return Ok(v);
            }
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, f32>>() {
            return Ok(a.as_array().iter().copied().collect());
        }
        let np = obj.py().import("numpy")?;
        let converted = np.call_method1("asarray", (obj, "float32"))?;
        let a = converted.extract::<PyReadonlyArray1<'_, f32>>()?;
        return Ok(a.as_array().iter().copied().collect());
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of numbers, found str"
        )));
    }
    let values: Vec<f64> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a sequence of numbers, found {}",
            type_name(obj)
        ))
    })?;
    Ok(values.into_iter().map(|v| v as f32).collect())
}

/// A 3-vector (a point) from a sequence or a 1-D array.
pub fn point(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<[f32; 3]> {
    let v = floats_1d(obj, what)?;
    match v.as_slice() {
        [x, y, z] => Ok([*x, *y, *z]),
        _ => Err(PyValueError::new_err(format!(
            "{what} must have 3 values, found {}",
            v.len()
        ))),
    }
}

/// The Python type name of `obj`, for errors.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A `?` parameter: None, bool, int, float, str, or a vector (a 1-D array or a sequence of
/// numbers). `index` (0-based) names it in errors.
pub fn param(obj: &Bound<'_, PyAny>, index: usize) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Number(obj.extract()?));
    }
    if obj.is_instance_of::<PyString>() {
        let s: String = obj.extract()?;
        return Ok(Value::text(&s));
    }
    // NumPy scalars (np.float32(1.5), np.int64(3), np.bool_(True)) and 0-d arrays bind as
    // the Python scalar their `item()` gives.
    let scalar = match obj.cast::<PyUntypedArray>() {
        Ok(array) => array.ndim() == 0,
        Err(_) => obj.hasattr("dtype").unwrap_or(false) && obj.hasattr("item").unwrap_or(false),
    };
    if scalar {
        let item = obj.call_method0("item")?;
        if item.is_instance_of::<PyBool>()
            || item.is_instance_of::<PyInt>()
            || item.is_instance_of::<PyFloat>()
            || item.is_instance_of::<PyString>()
        {
            return param(&item, index);
        }
        return Err(PyTypeError::new_err(format!(
            "parameter {}: cannot bind a NumPy scalar of type {}",
            index + 1,
            type_name(obj)
        )));
    }
    match floats_1d(obj, &format!("parameter {}", index + 1)) {
        Ok(v) => Ok(Value::vector(&v)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "parameter {}: cannot bind a value of type {} (use None, bool, int, float, str or a vector of numbers)",
            index + 1,
            type_name(obj)
        ))),
    }
}

/// A tensormap value as a Python object: None, bool, float, str, or a list of floats for a
/// vector (each element as its shortest decimal, so `[0.1]` reads back as `[0.1]`).
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => PyFloat::new(py, *n).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Vector(v) => PyList::new(py, v.iter().map(|x| widen_f32(*x)))?.into_any(),
    })
}
