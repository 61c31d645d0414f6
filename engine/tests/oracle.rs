//! Every index answer against brute force, on seeded random maps of 10k objects spread over
//! several segments, with tombstones and a live memtable; and on 100k objects in many
//! segment files, record-backed segments and tombstones, before and after a reopen.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use rand::Rng;
use std::sync::Arc;

use tensormap_engine::{Candidates, Database, MapConfig, MapView, MemoryBackend, Object, Options};

fn dist(a: [f32; 3], b: [f32; 3]) -> f64 {
    (0..3)
        .map(|i| (a[i] as f64 - b[i] as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn check_within(view: &MapView<'_>, model: &BTreeMap<String, Object>, c: [f32; 3], r: f32) {
    let mut got: Vec<&str> = view.within(c, r).unwrap().iter().map(|o| o.id()).collect();
    got.sort_unstable();
    let mut seen = got.clone();
    seen.dedup();
    assert_eq!(seen.len(), got.len(), "duplicate hits");
    for o in model.values() {
        let d = dist(o.position, c);
        let hit = got.binary_search(&o.id.as_str()).is_ok();
        if (d - r as f64).abs() > 1e-3 {
            assert_eq!(
                hit,
                d <= r as f64,
                "{} at distance {d} from {c:?}, r {r}",
                o.id
            );
        }
    }
    assert!(got.iter().all(|id| model.contains_key(*id)));
}

fn check_nearest(view: &MapView<'_>, model: &BTreeMap<String, Object>, p: [f32; 3], k: usize) {
    let got = view.nearest(p, k).unwrap();
    let mut all: Vec<(f64, &str)> = model
        .values()
        .map(|o| (dist(o.position, p), o.id.as_str()))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    assert_eq!(got.len(), k.min(all.len()));
    for (i, (o, d)) in got.iter().enumerate() {
        assert!(
            (*d as f64 - all[i].0).abs() < 1e-3,
            "rank {i}: {d} vs {}",
            all[i].0
        );
        assert!((dist(o.position(), p) - *d as f64).abs() < 1e-3);
        // Ids agree wherever the distance is not (nearly) tied with a neighbour.
        let tied = (i > 0 && all[i].0 - all[i - 1].0 < 1e-3)
            || (i + 1 < all.len() && all[i + 1].0 - all[i].0 < 1e-3);
        if !tied {
            assert_eq!(o.id(), all[i].1, "rank {i}");
        }
    }
    for w in got.windows(2) {
        assert!(w[0].1 <= w[1].1);
    }
}

fn check_attention(
    view: &MapView<'_>,
    candidates: &[&Object],
    got: &[(tensormap_engine::ObjectRef<'_>, f32)],
    q: &[f32],
    k: usize,
) {
    let scale = 1.0 / (q.len() as f64).sqrt();
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|o| {
            let s: f64 = o
                .embedding
                .iter()
                .zip(q)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            (s * scale, o.id.as_str())
        })
        .collect();
    let max = scored.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let sum: f64 = scored.iter().map(|s| (s.0 - max).exp()).sum();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    assert_eq!(got.len(), k.min(scored.len()), "{}", view.name());
    for (i, (o, w)) in got.iter().enumerate() {
        let want = (scored[i].0 - max).exp() / sum;
        assert!(
            (*w as f64 - want).abs() <= 1e-4 * want.max(1e-3),
            "rank {i}: {w} vs {want}"
        );
        let tied = (i > 0 && scored[i - 1].0 - scored[i].0 < 1e-5)
            || (i + 1 < scored.len() && scored[i].0 - scored[i + 1].0 < 1e-5);
        if !tied {
            assert_eq!(o.id(), scored[i].1, "rank {i}");
        }
    }
}

/// Builds a 10k-object map over several commits (so several segments), with updates and
/// deletes (tombstones), and returns the model.
fn build(db: &Database, seed: u64) -> BTreeMap<String, Object> {
    let cfg = MapConfig::default();
    db.create_map("m", cfg.clone()).unwrap();
    let mut rng = rng(seed);
    let mut model = BTreeMap::new();
    let mut next = 0;
    for batch in [5000, 2500, 1200, 800, 500] {
        let mut txn = db.begin_write().unwrap();
        for _ in 0..batch {
            next += 1;
            let o = object(&mut rng, format!("o{next}"), &cfg);
            txn.insert("m", o.clone()).unwrap();
            model.insert(o.id.clone(), o);
        }
        // Move some, delete some.
        let ids: Vec<String> = model.keys().cloned().collect();
        for _ in 0..100 {
            let id = &ids[rng.random_range(0..ids.len())];
            if rng.random_bool(0.5) {
                if model.remove(id).is_some() {
                    txn.delete("m", id).unwrap();
                }
            } else if let Some(o) = model.get_mut(id) {
                o.position = position(&mut rng, cfg.bounds);
                txn.update("m", o.clone()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    model
}

fn run_queries(view: &MapView<'_>, model: &BTreeMap<String, Object>, seed: u64, rounds: usize) {
    let mut rng = rng(seed);
    let channels = view.config().channels as usize;
    for _ in 0..rounds {
        let c = position(&mut rng, 520.0);
        let r = rng.random_range(0.0f32..150.0);
        check_within(view, model, c, r);
        check_nearest(view, model, c, rng.random_range(0..25));
        let q = vector(&mut rng, channels);
        let k = rng.random_range(0..15);
        let all: Vec<&Object> = model.values().collect();
        check_attention(
            view,
            &all,
            &view.attention(&q, Candidates::All, k).unwrap(),
            &q,
            k,
        );
        let near: Vec<&Object> = model
            .values()
            .filter(|o| dist(o.position, c) <= r as f64)
            .collect();
        // Boundary cases aside, the spatially filtered attention ranks the same rows.
        if model
            .values()
            .all(|o| (dist(o.position, c) - r as f64).abs() > 1e-3)
        {
            let got = view
                .attention(
                    &q,
                    Candidates::Within {
                        center: c,
                        radius: r,
                    },
                    k,
                )
                .unwrap();
            check_attention(view, &near, &got, &q, k);
        }
        let some: Vec<&str> = model
            .keys()
            .take(50)
            .map(String::as_str)
            .chain(["nope"])
            .collect();
        let chosen: Vec<&Object> = some.iter().filter_map(|id| model.get(*id)).collect();
        let got = view.attention(&q, Candidates::Ids(&some), k).unwrap();
        check_attention(view, &chosen, &got, &q, k);
    }
}

#[test]
fn committed_answers_match_brute_force() {
    let db = Database::open_in_memory().unwrap();
    let model = build(&db, 1);
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    assert_eq!(view.len(), model.len());
    assert!(view.stats().unwrap().index_segments >= 1);
    for o in model.values() {
        assert_eq!(view.get(&o.id).unwrap().to_object(), *o);
    }
    run_queries(&view, &model, 2, 60);
}

/// The answers of `rounds` seeded queries, for comparing two views.
fn answers(view: &MapView<'_>, seed: u64, rounds: usize) -> Vec<String> {
    let mut rng = rng(seed);
    let channels = view.config().channels as usize;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let c = position(&mut rng, 520.0);
        let r = rng.random_range(0.0f32..100.0);
        let mut within: Vec<&str> = view.within(c, r).unwrap().iter().map(|o| o.id()).collect();
        within.sort_unstable();
        let nearest: Vec<(String, f32)> = view
            .nearest(c, 10)
            .unwrap()
            .iter()
            .map(|(o, d)| (o.id().to_string(), *d))
            .collect();
        let q = vector(&mut rng, channels);
        let top: Vec<String> = view
            .attention(&q, Candidates::All, 10)
            .unwrap()
            .iter()
            .map(|(o, _)| o.id().to_string())
            .collect();
        out.push(format!("{within:?} {nearest:?} {top:?}"));
    }
    out
}

#[test]
fn a_reopened_database_of_many_segments_answers_as_before() {
    let backend = MemoryBackend::new();
    let options = Options {
        bulk_rows: 4000,
        seal_rows: 12_000,
        large_rows: 16_000,
    };
    let open = || Database::with_backend_options(Arc::new(backend.clone()), options).unwrap();
    let db = open();
    let cfg = MapConfig {
        channels: 8,
        ..Default::default()
    };
    db.create_map("m", cfg.clone()).unwrap();
    let mut rng = rng(21);
    let mut model: BTreeMap<String, Object> = BTreeMap::new();
    let mut next = 0;
    // Bulk commits (segment files), then small ones (records, sealed into files at 12k),
    // each moving and deleting some objects (tombstones), ending with records unsealed.
    let sizes = [30_000, 20_000, 9_000, 6_000]
        .into_iter()
        .chain(std::iter::repeat_n(1_500, 23));
    for size in sizes {
        let mut txn = db.begin_write().unwrap();
        let batch: Vec<Object> = (0..size)
            .map(|_| {
                next += 1;
                object(&mut rng, format!("o{next}"), &cfg)
            })
            .collect();
        for o in &batch {
            model.insert(o.id.clone(), o.clone());
        }
        if size >= 6_000 {
            txn.insert_many("m", batch).unwrap();
        } else {
            for o in batch {
                txn.insert("m", o).unwrap();
            }
        }
        let ids: Vec<String> = model.keys().cloned().collect();
        for _ in 0..400 {
            let id = &ids[rng.random_range(0..ids.len())];
            if rng.random_bool(0.5) {
                if model.remove(id).is_some() {
                    txn.delete("m", id).unwrap();
                }
            } else if let Some(o) = model.get_mut(id) {
                o.position = position(&mut rng, cfg.bounds);
                txn.update("m", o.clone()).unwrap();
            }
        }
        txn.commit().unwrap();
    }
    assert!(model.len() > 90_000, "{}", model.len());
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    let segments = view.stats().unwrap().index_segments;
    assert!(segments >= 3, "{segments} segments");
    assert!(
        backend.dump().keys().any(|k| k.len() > 5 && k[5] == 1),
        "no records left"
    );
    assert!(
        backend.dump().keys().any(|k| k.len() > 5 && k[5] == 6),
        "no tombstones"
    );
    run_queries(&view, &model, 22, 25);
    let before = answers(&view, 23, 40);
    drop(read);
    drop(db);
    let db = open();
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    assert_eq!(view.len(), model.len());
    for o in model.values().step_by(97) {
        assert_eq!(view.get(&o.id).unwrap().to_object(), *o);
    }
    assert_eq!(answers(&view, 23, 40), before);
    run_queries(&view, &model, 24, 25);
}

#[test]
fn a_checkpoint_merges_the_index_into_one_segment_with_the_same_answers() {
    let db = Database::open_in_memory().unwrap();
    let model = build(&db, 11);
    let segments = |db: &Database| {
        let read = db.begin_read().unwrap();
        let segments = read.map("m").unwrap().stats().unwrap().index_segments;
        segments
    };
    assert!(segments(&db) > 1);
    db.checkpoint().unwrap();
    assert_eq!(segments(&db), 1);
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    assert_eq!(view.len(), model.len());
    run_queries(&view, &model, 12, 40);
}

#[test]
fn answers_inside_a_write_transaction_see_its_changes() {
    let db = Database::open_in_memory().unwrap();
    let mut model = build(&db, 3);
    let cfg = MapConfig::default();
    let mut rng = rng(4);
    let mut txn = db.begin_write().unwrap();
    for i in 0..700 {
        let o = object(&mut rng, format!("new{i}"), &cfg);
        txn.insert("m", o.clone()).unwrap();
        model.insert(o.id.clone(), o);
    }
    for id in model.keys().take(300).cloned().collect::<Vec<_>>() {
        txn.delete("m", &id).unwrap();
        model.remove(&id);
    }
    let view = txn.map("m").unwrap();
    assert_eq!(view.len(), model.len());
    run_queries(&view, &model, 5, 30);
    // Readers still see the committed version.
    let read = db.begin_read().unwrap();
    assert_eq!(
        read.map("m")
            .unwrap()
            .get("new0")
            .map(|o| o.id().to_string()),
        None
    );
}

#[test]
fn voxel_region_and_attention_match_brute_force() {
    let db = Database::open_in_memory().unwrap();
    let cfg = MapConfig::default();
    db.create_map("m", cfg.clone()).unwrap();
    let mut rng = rng(9);
    let mut txn = db.begin_write().unwrap();
    let mut model = BTreeMap::new();
    for i in 0..300 {
        let mut o = object(&mut rng, format!("o{i}"), &cfg);
        o.position = o.position.map(|v| v * 0.3);
        txn.insert("m", o.clone()).unwrap();
        model.insert(o.id.clone(), o);
    }
    txn.commit().unwrap();
    let naive = naive_field(model.values(), &cfg);
    let read = db.begin_read().unwrap();
    let view = read.map("m").unwrap();
    for _ in 0..20 {
        let c = position(&mut rng, 200.0);
        let r = rng.random_range(0.0f32..200.0);
        let got = view.voxels_within(c, r).unwrap();
        let mut want: Vec<[u32; 3]> = naive
            .iter()
            .filter(|(cell, v)| {
                let centre = cell.map(|i| cfg.cell_center(i));
                v.iter().any(|x| *x != 0.0) && dist(centre, c) <= r as f64
            })
            .map(|(cell, _)| *cell)
            .collect();
        want.sort_unstable();
        let mut cells = got.cells.clone();
        cells.sort_unstable();
        assert_eq!(cells, want);
        for n in 0..got.len() {
            let reference = &naive[&got.cells[n]];
            for (a, b) in got.value(n).iter().zip(reference) {
                assert!((*a as f64 - b).abs() <= 1e-4 * b.abs().max(1.0));
            }
        }
        // Voxel attention: softmax over the region's cells.
        let q = vector(&mut rng, cfg.channels as usize);
        let top = got.attention(&q, 5);
        let scale = 1.0 / (cfg.channels as f64).sqrt();
        let scores: Vec<f64> = (0..got.len())
            .map(|n| {
                got.value(n)
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
                    * scale
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
        assert_eq!(top.len(), 5.min(got.len()));
        for (rank, (n, w)) in top.iter().enumerate() {
            assert!((scores[*n] - scores[order[rank]]).abs() < 1e-5);
            let want = (scores[*n] - max).exp() / sum;
            assert!((*w as f64 - want).abs() < 1e-5);
        }
    }
}

#[test]
fn bad_query_arguments_are_errors() {
    let db = Database::open_in_memory().unwrap();
    db.create_map(
        "m",
        MapConfig {
            channels: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let read = db.begin_read().unwrap();
    let v = read.map("m").unwrap();
    assert!(v.within([f32::NAN, 0.0, 0.0], 1.0).is_err());
    assert!(v.within([0.0; 3], -1.0).is_err());
    assert!(v.within([0.0; 3], f32::INFINITY).is_err());
    assert!(v.nearest([0.0, f32::INFINITY, 0.0], 3).is_err());
    assert!(v.attention(&[1.0], Candidates::All, 3).is_err());
    assert!(v.attention(&[1.0, f32::NAN], Candidates::All, 3).is_err());
    assert!(v.voxel(64, 0, 0).is_err());
    assert!(v.voxels_within([0.0; 3], f32::NAN).is_err());
    assert!(read.map("other").is_err());
    assert!(v
        .attention(&[1.0, 0.0], Candidates::All, 3)
        .unwrap()
        .is_empty());
    assert!(v.nearest([0.0; 3], 3).unwrap().is_empty());
}
