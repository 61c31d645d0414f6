//! The package's exceptions and the conversion of tensormap's errors into them.
//!
//! `tensormap.Error` is raised for everything the engine refuses or fails with (an unknown
//! map, a duplicate id, a position outside the bounds, a damaged store); its subclass
//! `tensormap.QueryError` for TensorQL statements, with the `line` and `column` (1-based)
//! where the error was detected and the bare `message`. Both carry `kind`, the kind of the
//! failure as the engine names it (`not_found`, `conflict`, `invalid_value`, `storage`, ...:
//! the same list as the Rust crates' `ErrorKind`), so a program can tell them apart
//! without reading the text. Arguments the binding itself cannot take (a wrong dtype or
//! shape) raise Python's `TypeError` / `ValueError`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    tensormap,
    Error,
    PyException,
    "An error of tensormap: the engine refused a call or the store failed. Nothing changed."
);
create_exception!(
    tensormap,
    QueryError,
    Error,
    "An error of a TensorQL statement; `line` and `column` (1-based) say where it was detected."
);

/// A `tensormap.Error` for an engine error, with its `kind`.
pub fn engine(e: tensormap::Error) -> PyErr {
    let kind = e.kind();
    let err = Error::new_err(e.to_string());
    Python::attach(|py| {
        // As below: an attribute that cannot be set leaves the full text.
        let _ = err.value(py).setattr("kind", kind.name());
    });
    err
}

/// A `tensormap.QueryError` carrying the statement position.
pub fn query(py: Python<'_>, e: tensormap::QueryError) -> PyErr {
    let err = QueryError::new_err(e.to_string());
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail short of memory
    // exhaustion; if it did, the exception still carries the full text.
    let _ = value.setattr("line", e.pos.line);
    let _ = value.setattr("column", e.pos.col);
    let _ = value.setattr("message", e.message);
    let _ = value.setattr("kind", e.kind.name());
    err
}

/// The error of a call made on a closed database (kind `conflict`: the database's state
/// does not allow it).
pub fn closed() -> PyErr {
    let err = Error::new_err("the database is closed");
    Python::attach(|py| {
        let _ = err
            .value(py)
            .setattr("kind", tensormap::ErrorKind::Conflict.name());
    });
    err
}
