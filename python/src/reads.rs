//! The typed reads (`within`, `nearest`, `attention`) as plain Rust over the facade, shared
//! by the `Database` methods and the bench hooks (`bench.rs`), so that the hooks time
//! exactly the Rust work a method does and the difference is the binding's.
//!
//! A read answers with `Hits`: the ids packed into one `String` (one allocation, not one
//! per id) and one float32 per id. Everything here runs on the calling thread with the GIL
//! released; only `Hits::into_py_tuple` needs it.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use tensormap::{Candidates, Database, Result};

/// The answer of a read: `ids[i]` is `text[ends[i - 1]..ends[i]]` (from 0 for the first),
/// with `values[i]` (a distance or a weight).
#[derive(Debug, Default)]
pub struct Hits {
    text: String,
    ends: Vec<usize>,
    values: Vec<f32>,
}

impl Hits {
    /// Packs `(id, value)` pairs, in their order.
    fn pack<'a>(pairs: impl ExactSizeIterator<Item = (&'a str, f32)>) -> Hits {
        let mut h = Hits {
            text: String::new(),
            ends: Vec::with_capacity(pairs.len()),
            values: Vec::with_capacity(pairs.len()),
        };
        for (id, v) in pairs {
            h.text.push_str(id);
            h.ends.push(h.text.len());
            h.values.push(v);
        }
        h
    }

    /// The number of hits.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// `(ids, values)`: a list of str and a float32 array.
    pub fn into_py_tuple<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let mut start = 0;
        let ids = self.ends.iter().map(|&end| {
            let s = PyString::new(py, &self.text[start..end]);
            start = end;
            s
        });
        let ids = PyList::new(py, ids)?;
        let values: Bound<'py, PyArray1<f32>> = self.values.into_pyarray(py);
        PyTuple::new(py, [ids.into_any(), values.into_any()])
    }
}

/// The objects of `map` within `radius` of `center`, nearest first (ties by id), with
/// their distances.
pub fn within(db: &Database, map: &str, c: [f32; 3], radius: f32) -> Result<Hits> {
    db.read_map(map, |view| {
        let mut hits: Vec<(f32, &str)> = view
            .within(c, radius)?
            .into_iter()
            .map(|o| {
                let p = o.position();
                let d2: f32 = (0..3).map(|a| (p[a] - c[a]) * (p[a] - c[a])).sum();
                (d2.sqrt(), o.id())
            })
            .collect();
        hits.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        Ok(Hits::pack(hits.into_iter().map(|(d, id)| (id, d))))
    })
}

/// The `k` objects of `map` nearest `p`, nearest first (ties by id).
pub fn nearest(db: &Database, map: &str, p: [f32; 3], k: usize) -> Result<Hits> {
    db.read_map(map, |view| {
        let hits = view.nearest(p, k)?;
        Ok(Hits::pack(hits.iter().map(|(o, d)| (o.id(), *d))))
    })
}

/// Where `attention` looks: everything, a sphere, or a list of ids.
#[derive(Debug)]
pub enum Among {
    All,
    Within([f32; 3], f32),
    Ids(Vec<String>),
}

/// The top `k` softmax weights of `query` over `among` in `map`, highest first.
pub fn attention(db: &Database, map: &str, query: &[f32], among: &Among, k: usize) -> Result<Hits> {
    db.read_map(map, |view| {
        let refs: Vec<&str>;
        let candidates = match among {
            Among::All => Candidates::All,
            Among::Within(center, radius) => Candidates::Within {
                center: *center,
                radius: *radius,
            },
            Among::Ids(ids) => {
                refs = ids.iter().map(String::as_str).collect();
                Candidates::Ids(&refs)
            }
        };
        let hits = view.attention(query, candidates, k)?;
        Ok(Hits::pack(hits.iter().map(|(o, w)| (o.id(), *w))))
    })
}
