//! Batch calls for engines that drive tensormap from outside, such as `tensormap.spark`'s
//! tasks: many radius searches in one call, and a stored model's embeddings of many texts
//! in one batch. Module functions taking a `Database`, each running with the GIL released.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::floats_2d;
use crate::database::PyDatabase;
use crate::error;

/// The radius search of every row of `centers` (an `(m, 3)` float array) in `map`:
/// `(query, ids, distances)` — for each hit, the row of its center (int64), its id and its
/// distance (float32) — grouped by center in row order, nearest first within a center
/// (ties by id). Same answers as `db.within` called `m` times.
#[pyfunction]
pub fn within_many<'py>(
    py: Python<'py>,
    db: &PyDatabase,
    map: &str,
    centers: &Bound<'py, PyAny>,
    radius: f64,
) -> PyResult<Bound<'py, PyTuple>> {
    if !(radius.is_finite() && radius >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "radius must be a finite number >= 0, found {radius}"
        )));
    }
    let (values, rows, _) = floats_2d(centers, Some(3), "centers")?;
    let flat = values.as_slice().to_vec();
    let db = db.db()?;
    let hits = py
        .detach(|| {
            db.read_map(map, |view| {
                let mut out = Vec::new();
                for (q, c) in flat.chunks_exact(3).enumerate().take(rows) {
                    let c = [c[0], c[1], c[2]];
                    let mut hits: Vec<(String, f32)> = view
                        .within(c, radius as f32)?
                        .into_iter()
                        .map(|o| {
                            let p = o.position();
                            let d2: f32 = (0..3).map(|a| (p[a] - c[a]) * (p[a] - c[a])).sum();
                            (o.id().to_string(), d2.sqrt())
                        })
                        .collect();
                    hits.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                    out.extend(hits.into_iter().map(|(id, d)| (q as i64, id, d)));
                }
                Ok(out)
            })
        })
        .map_err(error::engine)?;
    let mut query = Vec::with_capacity(hits.len());
    let mut ids = Vec::with_capacity(hits.len());
    let mut dist = Vec::with_capacity(hits.len());
    for (q, id, d) in hits {
        query.push(q);
        ids.push(id);
        dist.push(d);
    }
    let query: Bound<'py, PyArray1<i64>> = query.into_pyarray(py);
    let dist: Bound<'py, PyArray1<f32>> = dist.into_pyarray(py);
    PyTuple::new(
        py,
        [
            query.into_any(),
            PyList::new(py, ids)?.into_any(),
            dist.into_any(),
        ],
    )
}

/// The stored model `model`'s embeddings of `texts` (a V-LLM's `m_embed`, or a sentence
/// encoder's), in one batch: a float32 array `(len(texts), width)`.
#[pyfunction]
pub fn embed_texts<'py>(
    py: Python<'py>,
    db: &PyDatabase,
    model: &str,
    texts: Vec<String>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let db = db.db()?;
    let vectors = py
        .detach(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            db.embed_text(model, &refs)
        })
        .map_err(|e| {
            let err = error::Error::new_err(format!("embedding with '{model}': {}", e.message));
            let _ = err.value(py).setattr("kind", e.kind.name());
            err
        })?;
    let width = vectors.first().map_or(0, Vec::len);
    if vectors.iter().any(|v| v.len() != width) {
        return Err(error::Error::new_err(format!(
            "model '{model}' gave vectors of different widths"
        )));
    }
    let n = vectors.len();
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    let array = flat.into_pyarray(py).reshape([n, width])?;
    Ok(array)
}
