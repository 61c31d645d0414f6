//! The voxel field against a naive f64 implementation of the reference splat formula, for all
//! three dtypes, through inserts, updates, deletes and brick checkpoints.

mod common;

use std::collections::BTreeMap;

use common::*;
use rand::Rng;
use tensormap_engine::{Database, Dtype, MapConfig, Object};

fn tolerance(dtype: Dtype) -> Box<dyn Fn(f64, f64) -> f64> {
    match dtype {
        Dtype::F32 => Box::new(f32_tolerance),
        // Quantized dtypes round a cell at every checkpoint that stores its brick (the field
        // in memory is kept equal to what was stored) and once more at read, so the error is
        // relative to the magnitudes the brick has held: a few roundings of the brick peak.
        // f16 keeps 11 significant bits.
        Dtype::F16 => Box::new(|w: f64, peak: f64| 1e-3 * w.abs() + 6.0 * peak / 2048.0 + 1e-5),
        // i8: half a step (peak / 127 / 2) per rounding.
        Dtype::I8 => Box::new(|_, peak: f64| 3.0 * peak / 127.0 + 1e-4),
    }
}

fn config(dtype: Dtype) -> MapConfig {
    MapConfig {
        resolution: 32,
        channels: 6,
        bounds: 100.0,
        dtype,
        sigma: 1.5,
        splat_radius: 3,
    }
}

#[test]
fn each_dtype_matches_the_reference_through_changes_and_checkpoints() {
    for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
        let cfg = config(dtype);
        let db = Database::open_in_memory().unwrap();
        db.create_map("m", cfg.clone()).unwrap();
        let mut rng = rng(11);
        let mut model: BTreeMap<String, Object> = BTreeMap::new();
        let mut next = 0;
        let mut checkpoints = 0;
        for round in 0..12 {
            let mut txn = db.begin_write().unwrap();
            for _ in 0..60 {
                next += 1;
                let mut o = object(&mut rng, format!("o{next}"), &cfg);
                if next % 7 == 0 {
                    // On the faces and corners: the splat is clipped by the grid.
                    o.position = [100.0, -100.0, rng.random_range(-100.0..100.0)];
                }
                txn.insert("m", o.clone()).unwrap();
                model.insert(o.id.clone(), o);
            }
            let ids: Vec<String> = model.keys().cloned().collect();
            for id in ids.iter().take(20 + round) {
                if rng.random_bool(0.5) {
                    txn.delete("m", id).unwrap();
                    model.remove(id);
                } else {
                    let mut o = model[id].clone();
                    o.position = position(&mut rng, cfg.bounds);
                    o.embedding = vector(&mut rng, cfg.channels as usize);
                    txn.update("m", o.clone()).unwrap();
                    model.insert(id.clone(), o);
                }
            }
            let before = db.begin_read().unwrap().stats("m").unwrap().journal_splats;
            txn.commit().unwrap();
            if round % 3 == 2 {
                db.checkpoint().unwrap();
            }
            let read = db.begin_read().unwrap();
            let stats = read.stats("m").unwrap();
            if stats.journal_splats < before {
                checkpoints += 1;
            }
            assert_field_matches(&read.map("m").unwrap(), &model, &*tolerance(dtype));
        }
        assert!(checkpoints > 0, "{dtype:?}: no checkpoint happened");
    }
}

#[test]
fn deleting_everything_leaves_an_empty_field() {
    let cfg = config(Dtype::F32);
    let db = Database::open_in_memory().unwrap();
    db.create_map("m", cfg.clone()).unwrap();
    let mut rng = rng(12);
    let mut txn = db.begin_write().unwrap();
    for i in 0..200 {
        txn.insert("m", object(&mut rng, format!("o{i}"), &cfg))
            .unwrap();
    }
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..200 {
        txn.delete("m", &format!("o{i}")).unwrap();
    }
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let s = read.stats("m").unwrap();
    assert_eq!((s.objects, s.bricks, s.covered_cells), (0, 0, 0));
    assert!(read
        .voxels_within("m", [0.0; 3], 1000.0)
        .unwrap()
        .is_empty());
}

#[test]
fn splat_radius_zero_and_single_brick_grids() {
    let cfg = MapConfig {
        resolution: 8,
        channels: 2,
        bounds: 10.0,
        splat_radius: 0,
        ..Default::default()
    };
    let db = Database::open_in_memory().unwrap();
    db.create_map("m", cfg.clone()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.insert(
        "m",
        Object::new("a", "point", [0.0, 0.0, 0.0], vec![1.0, -2.0]),
    )
    .unwrap();
    txn.insert(
        "m",
        Object::new("b", "point", [0.1, 0.1, 0.1], vec![0.5, 0.5]),
    )
    .unwrap();
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.voxel("m", 4, 4, 4).unwrap(), vec![1.5, -1.5]);
    assert_eq!(read.stats("m").unwrap().covered_cells, 1);
}
