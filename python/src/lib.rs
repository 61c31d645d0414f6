//! The native module `tensormap._tensormap` of the Python package `tensormap`: bindings
//! over the facade crate (`tensormap::Database`), with NumPy arrays in and out.
//!
//! The pure-Python part of the package (python/tensormap/) re-exports these classes, adds
//! `connect` and `tensormap.compat.TensorMap3D` (the prototype's API on the engine).

mod batch;
mod bench;
mod compat;
mod convert;
mod database;
mod error;
mod html;
mod reads;
mod result;
mod svg;
mod usercols;

use pyo3::prelude::*;

/// mimalloc for the extension's own allocations (Python's objects keep Python's
/// allocator): a query through `execute` allocates a few blocks per result row (the row,
/// its text values) and frees them when the result goes, and glibc's malloc and free
/// (with its fastbin consolidation) were ≈ 20 % of an `execute(...).fetchall()` of 100
/// rows; the shell uses mimalloc for the same reason (cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opens the database directory `path` (created if missing), or a database in memory when
/// `path` is None.
#[pyfunction]
#[pyo3(signature = (path = None))]
fn connect(py: Python<'_>, path: Option<std::path::PathBuf>) -> PyResult<database::PyDatabase> {
    database::PyDatabase::open(py, path)
}

#[pymodule]
fn _tensormap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(batch::within_many, m)?)?;
    m.add_function(wrap_pyfunction!(batch::embed_texts, m)?)?;
    m.add_class::<database::PyDatabase>()?;
    m.add_class::<database::Transaction>()?;
    m.add_class::<result::PyQueryResult>()?;
    m.add_class::<svg::Svg>()?;
    m.add_class::<html::Html>()?;
    m.add_class::<compat::ObjectBuffer>()?;
    m.add_function(wrap_pyfunction!(compat::_field_values, m)?)?;
    m.add_function(wrap_pyfunction!(compat::_region, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_within, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_nearest, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_attention, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_execute, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_read_bound, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_bench_map_bound, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_wait_for_merges, m)?)?;
    m.add("Error", py.get_type::<error::Error>())?;
    m.add("QueryError", py.get_type::<error::QueryError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
