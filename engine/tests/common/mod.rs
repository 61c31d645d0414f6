//! Seeded random data and naive reference implementations shared by the engine's tests.
#![allow(dead_code)]
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_engine::{MapConfig, MapView, Object};

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn vector(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

pub fn position(rng: &mut ChaCha8Rng, bounds: f64) -> [f32; 3] {
    let b = bounds as f32;
    [0; 3].map(|_| rng.random_range(-b..=b))
}

pub fn object(rng: &mut ChaCha8Rng, id: String, cfg: &MapConfig) -> Object {
    let kinds = ["cube", "sphere", "pyramid", "torus", "point"];
    Object::new(
        id,
        kinds[rng.random_range(0..kinds.len())],
        position(rng, cfg.bounds),
        vector(rng, cfg.channels as usize),
    )
    .with_confidence(rng.random_range(0.0..=1.0))
}

/// The seed formula, in f64: the field of `objects` as a map of covered cells.
pub fn naive_field<'a>(
    objects: impl IntoIterator<Item = &'a Object>,
    cfg: &MapConfig,
) -> HashMap<[u32; 3], Vec<f64>> {
    let mut field: HashMap<[u32; 3], Vec<f64>> = HashMap::new();
    let r = cfg.splat_radius as i64;
    let res = cfg.resolution as i64;
    for o in objects {
        let c = o.position.map(|p| {
            let v = ((p as f64 + cfg.bounds) * cfg.resolution as f64 / (2.0 * cfg.bounds)).floor();
            (v as i64).clamp(0, res - 1)
        });
        for dx in -r..=r {
            for dy in -r..=r {
                for dz in -r..=r {
                    let n = [c[0] + dx, c[1] + dy, c[2] + dz];
                    if n.iter().any(|v| *v < 0 || *v >= res) {
                        continue;
                    }
                    let w = (-((dx * dx + dy * dy + dz * dz) as f64)
                        / (2.0 * cfg.sigma * cfg.sigma))
                        .exp();
                    let cell = field
                        .entry(n.map(|v| v as u32))
                        .or_insert_with(|| vec![0.0; cfg.channels as usize]);
                    for (a, e) in cell.iter_mut().zip(&o.embedding) {
                        *a += w * *e as f64;
                    }
                }
            }
        }
    }
    field
}

/// Asserts every cell of `view`'s field equals the naive splat of `objects` within
/// `tol(expected value, brick peak)`, and that no other cell holds a value.
pub fn assert_field_matches(
    view: &MapView<'_>,
    objects: &BTreeMap<String, Object>,
    tol: &dyn Fn(f64, f64) -> f64,
) {
    let cfg = view.config();
    let naive = naive_field(objects.values(), cfg);
    // Brick peaks of the reference, for the i8 tolerance.
    let mut peaks: HashMap<[u32; 3], f64> = HashMap::new();
    for (cell, v) in &naive {
        let p = peaks.entry(cell.map(|c| c / 8)).or_insert(0.0);
        *p = v.iter().fold(*p, |m, x| m.max(x.abs()));
    }
    let all = view
        .voxels_within([0.0; 3], (cfg.bounds * 2.0) as f32)
        .expect("voxels");
    let mut seen = 0;
    for n in 0..all.len() {
        let cell = all.cells[n];
        let got = all.value(n);
        let zero = vec![0.0; cfg.channels as usize];
        let want = naive.get(&cell).unwrap_or(&zero);
        let peak = peaks.get(&cell.map(|c| c / 8)).copied().unwrap_or(0.0);
        for (ch, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= tol(*w, peak),
                "cell {cell:?} channel {ch}: field {g}, reference {w} (peak {peak})"
            );
        }
        if naive.contains_key(&cell) {
            seen += 1;
        }
    }
    // Every covered reference cell with a value that survives rounding must be present.
    for (cell, v) in &naive {
        let peak = peaks[&cell.map(|c| c / 8)];
        if v.iter().any(|x| x.abs() > tol(*x, peak)) {
            let got = view.voxel(cell[0], cell[1], cell[2]).expect("voxel");
            assert!(
                got.iter().any(|g| *g != 0.0),
                "cell {cell:?} missing from the field"
            );
        }
    }
    assert!(seen <= naive.len());
}

pub fn f32_tolerance(w: f64, _peak: f64) -> f64 {
    1e-4 * w.abs().max(1.0)
}
