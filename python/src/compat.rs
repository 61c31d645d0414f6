//! Native helpers of `tensormap.compat.TensorMap3D` (the prototype's API on the engine),
//! for the calls a prototype user makes in a loop:
//!
//! - `_ObjectBuffer`: `embed_object` one call at a time. Each object is converted and
//!   checked against the map's rules when it is pushed (so a bad one raises at once, as the
//!   engine would), then the buffer goes into the map in one bulk insert.
//! - `_field_values`: the field's values at a list of cells (`query_region`,
//!   `spatial_attention`), read with one sphere query and placed through a table over the
//!   cells' bounding box, with zeros where nothing is splatted.

use std::collections::HashMap;

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use tensormap::{MapConfig, MapView, Object};

use crate::convert::{floats_1d, point, type_name};
use crate::database::PyDatabase;
use crate::error;

/// Objects embedded one at a time, checked, waiting for one bulk insert.
#[pyclass(module = "tensormap", name = "_ObjectBuffer")]
#[derive(Debug)]
pub struct ObjectBuffer {
    map: String,
    config: MapConfig,
    objects: Vec<Object>,
}

#[pymethods]
impl ObjectBuffer {
    /// An empty buffer for `map` of `db` (whose settings the objects are checked against).
    #[new]
    fn new(py: Python<'_>, db: &PyDatabase, map: String) -> PyResult<Self> {
        let db = db.db()?;
        let config = py
            .detach(|| db.read_map(&map, |view| Ok(view.config().clone())))
            .map_err(error::engine)?;
        Ok(ObjectBuffer {
            map,
            config,
            objects: Vec::new(),
        })
    }

    /// Adds an object: `position` 3 numbers, `features` the map's channels (arrays or
    /// sequences). Raises `tensormap.Error` (the engine's message) and adds nothing when the
    /// object breaks the map's rules.
    fn push(
        &mut self,
        id: String,
        kind: String,
        position: &Bound<'_, PyAny>,
        features: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let position = point(position, "position").map_err(|e| {
            error::Error::new_err(format!(
                "object '{id}': position must be 3 finite numbers ({e})"
            ))
        })?;
        let embedding = floats_1d(features, "features")?;
        let object = Object {
            id,
            kind,
            position,
            embedding,
            confidence: 1.0,
        };
        object.validate(&self.config).map_err(error::engine)?;
        self.objects.push(object);
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.objects.len()
    }

    /// Inserts every waiting object into the map of `db` in one transaction (the bulk path)
    /// and empties the buffer, even when the insert fails (then nothing was inserted).
    fn insert(&mut self, py: Python<'_>, db: &PyDatabase) -> PyResult<usize> {
        let db = db.db()?;
        let objects = std::mem::take(&mut self.objects);
        let n = objects.len();
        let map = &self.map;
        py.detach(|| db.write(|t| t.insert_many(map, objects)))
            .map_err(error::engine)?;
        Ok(n)
    }
}

/// Cells as `(i, j, k)` from an integer array `(m, 3)` or a sequence of 3-sequences (a
/// list of tuples, as the prototype's `query_region` returns).
fn cells_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<[i64; 3]>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'_, i64>>() {
        if a.shape()[1] != 3 {
            return Err(PyValueError::new_err(format!(
                "cells must have shape (m, 3), found {:?}",
                a.shape()
            )));
        }
        let view = a.as_array();
        return Ok(view
            .rows()
            .into_iter()
            .map(|r| [r[0], r[1], r[2]])
            .collect());
    }
    let bad = || {
        PyTypeError::new_err(format!(
            "region_indices must be a sequence of (x, y, z) cells, found {}",
            type_name(obj)
        ))
    };
    let one = |item: &Bound<'_, PyAny>| -> PyResult<[i64; 3]> {
        if let Ok(t) = item.cast::<PyTuple>() {
            if t.len() == 3 {
                return Ok([
                    t.get_item(0)?.extract()?,
                    t.get_item(1)?.extract()?,
                    t.get_item(2)?.extract()?,
                ]);
            }
        }
        let v: Vec<i64> = item.extract().map_err(|_| bad())?;
        match v.as_slice() {
            [x, y, z] => Ok([*x, *y, *z]),
            _ => Err(PyValueError::new_err(format!(
                "a cell must have 3 indices, found {}",
                v.len()
            ))),
        }
    };
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|item| one(&item)).collect();
    }
    obj.try_iter()
        .map_err(|_| bad())?
        .map(|item| one(&item?))
        .collect()
}

/// The values of `map`'s field at `cells` (see `cells_of`): a float32 array `(m,
/// channels)`, zeros where nothing is splatted or the cell is outside the grid. `centre` and
/// `reach` (world units), when given, are a sphere holding every cell's centre; by default
/// the sphere around the cells' bounding box.
#[pyfunction]
#[pyo3(signature = (db, map, cells, centre = None, reach = None))]
pub fn _field_values<'py>(
    py: Python<'py>,
    db: &PyDatabase,
    map: &str,
    cells: &Bound<'py, PyAny>,
    centre: Option<&Bound<'py, PyAny>>,
    reach: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let db = db.db()?;
    let cells = cells_of(cells)?;
    let centre = centre.map(|c| point(c, "centre")).transpose()?;
    let (values, channels) = py
        .detach(|| db.read_map(map, |view| gather(view, &cells, centre.zip(reach))))
        .map_err(error::engine)?;
    let m = cells.len();
    let a: Bound<'py, PyArray1<f32>> = values.into_pyarray(py);
    Ok(a.reshape([m, channels])?.into_any())
}

/// The field's values at `cells` (see `_field_values`), with the map's channels. `sphere`:
/// the world centre and radius of a sphere holding every cell centre, if known.
fn gather(
    view: &MapView<'_>,
    cells: &[[i64; 3]],
    sphere: Option<([f32; 3], f64)>,
) -> tensormap::Result<(Vec<f32>, usize)> {
    let config = view.config();
    let channels = config.channels as usize;
    let mut out = vec![0f32; cells.len() * channels];
    let Some(bbox) = Bbox::of(cells, config.resolution) else {
        return Ok((out, channels));
    };
    let (c, r) = match sphere {
        Some((c, r)) => (c, r as f32),
        None => enclosing(cells, config),
    };
    let set = view.voxels_within(c, r)?;
    let slots = bbox.slots(&set.cells);
    for (i, cell) in cells.iter().enumerate() {
        if let Some(j) = slots.get(cell) {
            out[i * channels..(i + 1) * channels]
                .copy_from_slice(&set.values[j * channels..(j + 1) * channels]);
        }
    }
    Ok((out, channels))
}

/// The prototype's region of `map`: the cells `d` from `cell` with `|d|² <= r²` (`r` in
/// cells), inside the grid, in x, then y, then z order, and the field's values there, read
/// with the sphere `centre`, `reach` (world units) that holds their centres. Returns
/// `(cells, values, values_copy)`: an int64 array `(m, 3)` and two float32 arrays `(m,
/// channels)` with the same values (one for the caller, one kept with the cells).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // the Python signature
pub fn _region<'py>(
    py: Python<'py>,
    db: &PyDatabase,
    map: &str,
    cell: [i64; 3],
    r: f64,
    centre: &Bound<'py, PyAny>,
    reach: f64,
) -> PyResult<Bound<'py, PyTuple>> {
    let db = db.db()?;
    let centre = point(centre, "centre")?;
    // A negative radius holds no cell (as in the prototype); NaN or infinity is refused.
    if !r.is_finite() {
        return Err(PyValueError::new_err(format!(
            "radius must be a finite number, found {r}"
        )));
    }
    let (cells, values, channels) = py
        .detach(|| {
            db.read_map(map, |view| {
                let n = i64::from(view.config().resolution);
                // The stencil's half-width (a radius past the grid reaches nothing more),
                // and per axis the offsets that stay inside the grid.
                let half = (r.floor() as i64).min(2 * n);
                let span = |a: usize| {
                    let lo = (-half).max(cell[a].saturating_neg());
                    let hi = half.min((n - 1).saturating_sub(cell[a]));
                    lo..=hi
                };
                let mut cells = Vec::new();
                for dx in span(0) {
                    for dy in span(1) {
                        for dz in span(2) {
                            if ((dx * dx + dy * dy + dz * dz) as f64) <= r * r {
                                cells.push([cell[0] + dx, cell[1] + dy, cell[2] + dz]);
                            }
                        }
                    }
                }
                let (values, channels) = gather(view, &cells, Some((centre, reach)))?;
                Ok((cells, values, channels))
            })
        })
        .map_err(error::engine)?;
    let m = cells.len();
    let flat: Vec<i64> = cells.iter().flatten().copied().collect();
    let kept = values.clone();
    let a: Bound<'py, PyArray1<f32>> = values.into_pyarray(py);
    let b: Bound<'py, PyArray1<f32>> = kept.into_pyarray(py);
    PyTuple::new(
        py,
        [
            flat.into_pyarray(py).reshape([m, 3])?.into_any(),
            a.reshape([m, channels])?.into_any(),
            b.reshape([m, channels])?.into_any(),
        ],
    )
}

/// A sphere (world centre, radius) holding the centre of every cell of `cells` inside the
/// grid: around their mean, as far as the farthest (tight for the round regions the
/// prototype asks for, where the bounding box's sphere would read five times the cells).
fn enclosing(cells: &[[i64; 3]], config: &MapConfig) -> ([f32; 3], f32) {
    let n = i64::from(config.resolution);
    let size = 2.0 * config.bounds / f64::from(config.resolution);
    let inside = || {
        cells
            .iter()
            .filter(move |c| c.iter().all(|v| (0..n).contains(v)))
    };
    let (mut sum, mut count) = ([0f64; 3], 0usize);
    for c in inside() {
        sum = [0, 1, 2].map(|a| sum[a] + c[a] as f64);
        count += 1;
    }
    let mean = sum.map(|v| v / count.max(1) as f64);
    let far2 = inside()
        .map(|c| (0..3).map(|a| (c[a] as f64 - mean[a]).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    let centre = mean.map(|m| (-config.bounds + (m + 0.5) * size) as f32);
    // A hundredth of a cell more, for rounding.
    (centre, ((far2.sqrt() + 0.01) * size) as f32)
}

/// The bounding box of the cells inside a grid of `n³`, inclusive.
#[derive(Debug, Clone, Copy)]
struct Bbox {
    lo: [i64; 3],
    hi: [i64; 3],
}

/// A dense table over a box's cells up to this many (4 MiB of u32); a hash map beyond.
const DENSE_CELLS: i64 = 1 << 20;

impl Bbox {
    /// None when no cell is inside the grid.
    fn of(cells: &[[i64; 3]], n: u32) -> Option<Bbox> {
        let n = i64::from(n);
        let mut b: Option<Bbox> = None;
        for c in cells
            .iter()
            .filter(|c| c.iter().all(|v| (0..n).contains(v)))
        {
            let b = b.get_or_insert(Bbox { lo: *c, hi: *c });
            b.lo = [0, 1, 2].map(|a| b.lo[a].min(c[a]));
            b.hi = [0, 1, 2].map(|a| b.hi[a].max(c[a]));
        }
        b
    }

    fn volume(&self) -> i64 {
        (0..3).map(|a| self.hi[a] - self.lo[a] + 1).product()
    }

    /// Where each cell of `found` (inside the box) is in `found`.
    fn slots(&self, found: &[[u32; 3]]) -> Slots {
        let inside =
            |c: &[u32; 3]| (0..3).all(|a| (self.lo[a]..=self.hi[a]).contains(&i64::from(c[a])));
        let cells = found.iter().enumerate().filter(|&(_, c)| inside(c));
        if self.volume() <= DENSE_CELLS {
            let mut table = vec![u32::MAX; self.volume() as usize];
            for (j, c) in cells {
                table[self.index(c.map(i64::from))] = j as u32;
            }
            Slots::Dense(*self, table)
        } else {
            Slots::Sparse(cells.map(|(j, c)| (c.map(i64::from), j)).collect())
        }
    }

    /// The offset of `c` (inside the box) in a dense table, x-major.
    fn index(&self, c: [i64; 3]) -> usize {
        let d = [0, 1, 2].map(|a| self.hi[a] - self.lo[a] + 1);
        (((c[0] - self.lo[0]) * d[1] + (c[1] - self.lo[1])) * d[2] + (c[2] - self.lo[2])) as usize
    }
}

/// Cell → index in a voxel set.
enum Slots {
    Dense(Bbox, Vec<u32>),
    Sparse(HashMap<[i64; 3], usize>),
}

impl Slots {
    fn get(&self, c: &[i64; 3]) -> Option<usize> {
        match self {
            Slots::Dense(b, table) => {
                if !(0..3).all(|a| (b.lo[a]..=b.hi[a]).contains(&c[a])) {
                    return None;
                }
                let j = *table.get(b.index(*c))?;
                (j != u32::MAX).then_some(j as usize)
            }
            Slots::Sparse(map) => map.get(c).copied(),
        }
    }
}
