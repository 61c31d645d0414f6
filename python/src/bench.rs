//! Bench hooks (private, for python/benches/): each loops one Rust call over the facade —
//! the very function the matching `Database` method runs with the GIL released (`reads.rs`,
//! `Database::execute_with`) — with no Python in between, so that a bench can time the
//! Rust call and the Python call in the same process on the same data. The difference is
//! the binding's cost: argument conversion, releasing and taking the GIL, building the
//! Python answer.
//!
//! Each returns the number of hits of the last call (so the loop's work cannot be dropped,
//! and the bench can check it matches the Python call's). The caller times the call.

use pyo3::prelude::*;
use tensormap::Value;

use crate::convert::{floats_1d, floats_2d, param};
use crate::database::{among, PyDatabase};
use crate::error;
use crate::reads;

/// The points of an `(n, 3)` array.
fn rows3(obj: &Bound<'_, PyAny>) -> PyResult<Vec<[f32; 3]>> {
    let (flat, n, _) = floats_2d(obj, Some(3), "points")?;
    let s = flat.as_slice();
    Ok((0..n)
        .map(|i| [s[3 * i], s[3 * i + 1], s[3 * i + 2]])
        .collect())
}

/// `db.within(map, c, radius)` in Rust for every row `c` of `centers`.
#[pyfunction]
pub fn _bench_within(
    py: Python<'_>,
    db: &PyDatabase,
    map: &str,
    centers: &Bound<'_, PyAny>,
    radius: f64,
) -> PyResult<usize> {
    let (db, centers) = (db.db()?, rows3(centers)?);
    py.detach(|| -> tensormap::Result<usize> {
        let mut last = 0;
        for c in centers {
            last = reads::within(&db, map, c, radius as f32)?.len();
        }
        Ok(last)
    })
    .map_err(error::engine)
}

/// `db.nearest(map, p, k)` in Rust for every row `p` of `points`.
#[pyfunction]
pub fn _bench_nearest(
    py: Python<'_>,
    db: &PyDatabase,
    map: &str,
    points: &Bound<'_, PyAny>,
    k: usize,
) -> PyResult<usize> {
    let (db, points) = (db.db()?, rows3(points)?);
    py.detach(|| -> tensormap::Result<usize> {
        let mut last = 0;
        for p in points {
            last = reads::nearest(&db, map, p, k)?.len();
        }
        Ok(last)
    })
    .map_err(error::engine)
}

/// `db.attention(map, query, k, ...)` in Rust, `repeat` times.
#[pyfunction]
#[pyo3(signature = (db, map, query, k, repeat, *, center = None, radius = None, ids = None))]
#[allow(clippy::too_many_arguments)] // the Python signature
pub fn _bench_attention(
    py: Python<'_>,
    db: &PyDatabase,
    map: &str,
    query: &Bound<'_, PyAny>,
    k: usize,
    repeat: usize,
    center: Option<&Bound<'_, PyAny>>,
    radius: Option<f64>,
    ids: Option<&Bound<'_, PyAny>>,
) -> PyResult<usize> {
    let (db, q) = (db.db()?, floats_1d(query, "query")?);
    let among = among(center, radius, ids)?;
    py.detach(|| -> tensormap::Result<usize> {
        let mut last = 0;
        for _ in 0..repeat {
            last = reads::attention(&db, map, &q, &among, k)?.len();
        }
        Ok(last)
    })
    .map_err(error::engine)
}

/// `db.execute(sql, params)` in Rust (the statement, not reading its rows) for each
/// sequence of parameters in `seq_of_params`; the row count of the last.
#[pyfunction]
pub fn _bench_execute(
    py: Python<'_>,
    db: &PyDatabase,
    sql: &str,
    seq_of_params: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    let db = db.db()?;
    let mut all: Vec<Vec<Value>> = Vec::new();
    for params in seq_of_params.try_iter()? {
        let params = params?;
        let values = params
            .try_iter()?
            .enumerate()
            .map(|(i, v)| param(&v?, i))
            .collect::<PyResult<Vec<_>>>()?;
        all.push(values);
    }
    py.detach(|| -> Result<usize, tensormap::QueryError> {
        let mut last = 0;
        for params in &all {
            let results = db.execute_with(sql, params)?;
            last = results.last().map_or(0, |r| r.rows.len());
        }
        Ok(last)
    })
    .map_err(|e| error::query(py, e))
}

/// The memory-bandwidth bound of a scan over `values` (a float32 array, C-contiguous):
/// every value read once and summed, on as many threads as the engine's attention uses
/// (the available cores, at most 8), `repeat` times. Returns the sum (so the reads cannot
/// be dropped).
#[pyfunction]
pub fn _bench_read_bound(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    repeat: usize,
) -> PyResult<f64> {
    let (values, _, _) = floats_2d(values, None, "values")?;
    let all = values.as_slice();
    Ok(py.detach(|| {
        let mut total = 0.0;
        for _ in 0..repeat {
            total = sum_on_threads(&[all]);
        }
        total
    }))
}

/// The same bound over the embeddings of `map` where the map holds them (its segments'
/// memory, heap or mapped file: `MapView::embedding_runs`), as the engine's
/// `attention_states` bench measures it: the bytes attention reads, in the pages it reads
/// them from.
#[pyfunction]
pub fn _bench_map_bound(
    py: Python<'_>,
    db: &PyDatabase,
    map: &str,
    repeat: usize,
) -> PyResult<f64> {
    let db = db.db()?;
    py.detach(|| {
        db.read_map(map, |view| {
            let mut runs: Vec<&[f32]> = Vec::new();
            view.embedding_runs(&mut |r| runs.push(r));
            let mut total = 0.0;
            for _ in 0..repeat {
                total = sum_on_threads(&runs);
            }
            Ok(total)
        })
    })
    .map_err(error::engine)
}

/// The sum of every value of `runs`, split into equal parts on the threads attention uses
/// (the available cores, at most 8).
fn sum_on_threads(runs: &[&[f32]]) -> f64 {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let total: usize = runs.iter().map(|r| r.len()).sum();
    let chunk = total.div_ceil(threads).max(1);
    let parts: Vec<&[f32]> = runs.iter().flat_map(|r| r.chunks(chunk)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<&[f32]> = parts.iter().copied().skip(t).step_by(threads).collect();
                s.spawn(move || mine.iter().map(|p| sum(p)).sum::<f64>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::NAN))
            .sum::<f64>()
    })
}

/// The sum of `v`, 16 lanes at a time (independent accumulators, so it vectorizes).
fn sum(v: &[f32]) -> f64 {
    let mut acc = [0f32; 16];
    let mut blocks = v.chunks_exact(16);
    for b in &mut blocks {
        for (a, x) in acc.iter_mut().zip(b) {
            *a += *x;
        }
    }
    let tail: f32 = blocks.remainder().iter().sum();
    acc.iter().map(|a| f64::from(*a)).sum::<f64>() + f64::from(tail)
}

/// Waits until the engine's background merges of `db` are done (so that a bench times its
/// reads alone on the CPU).
#[pyfunction]
pub fn _wait_for_merges(py: Python<'_>, db: &PyDatabase) -> PyResult<()> {
    let db = db.db()?;
    py.detach(|| db.wait_for_merges());
    Ok(())
}
