//! Training works: on objects whose embeddings cluster by type, a short seeded run makes
//! `m_embed(type)` rank that type's objects first by attention; the loss falls; the same
//! seed gives the same weights; a failed run changes nothing.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::ControlFlow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_model::{Error, Model, ModelConfig, ScoreInput, TrainOptions, TrainSample};

const TYPES: [&str; 5] = ["cube", "sphere", "pyramid", "cylinder", "torus"];
const CHANNELS: usize = 16;
const PER_TYPE: usize = 40;

/// Objects of 5 types: embeddings around a random centre per type (noise 0.5 per channel),
/// positions around a centre per type (±60 in a map of bounds 500).
fn scene(seed: u64) -> Vec<(String, [f32; 3], Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for t in TYPES {
        let centre: Vec<f32> = (0..CHANNELS).map(|_| rng.random_range(-1.0..1.0)).collect();
        let place: [f32; 3] = std::array::from_fn(|_| rng.random_range(-300.0..300.0));
        for _ in 0..PER_TYPE {
            let e = centre
                .iter()
                .map(|c| c + rng.random_range(-0.5..0.5))
                .collect();
            let p = std::array::from_fn(|k| place[k] + rng.random_range(-60.0..60.0));
            out.push((t.to_string(), p, e));
        }
    }
    out
}

fn samples(scene: &[(String, [f32; 3], Vec<f32>)]) -> Vec<TrainSample<'_>> {
    scene
        .iter()
        .map(|(t, p, e)| TrainSample {
            text: t,
            position: *p,
            embedding: e,
        })
        .collect()
}

fn tiny() -> ModelConfig {
    let mut c = ModelConfig::small(2, 32, 4, CHANNELS);
    c.context = 32;
    c
}

fn options() -> TrainOptions {
    TrainOptions {
        epochs: 8,
        learning_rate: 1e-2,
        batch_size: 32,
        seed: 5,
        dropout: 0.0,
        ..TrainOptions::default()
    }
}

/// For each type, how many of the top 20 objects by attention of `m_embed(type)` are of
/// that type (`ORDER BY ATTENTION(m_embed(type)) DESC LIMIT 20`, by brute force: the softmax
/// is monotonic, so ranking by `q · e` is ranking by attention).
fn top20_hits(model: &Model, scene: &[(String, [f32; 3], Vec<f32>)]) -> Vec<usize> {
    let queries = model.embed(&TYPES).unwrap();
    TYPES
        .iter()
        .zip(&queries)
        .map(|(t, q)| {
            let mut ranked: Vec<(f32, &str, usize)> = scene
                .iter()
                .enumerate()
                .map(|(i, (ty, _, e))| (q.iter().zip(e).map(|(a, b)| a * b).sum(), ty.as_str(), i))
                .collect();
            // Descending attention, ties by position in the map (ids in TensorQL).
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
            ranked[..20].iter().filter(|r| r.1 == *t).count()
        })
        .collect()
}

#[test]
fn training_ranks_each_type_first_by_attention() {
    let scene = scene(1);
    let samples = samples(&scene);
    let mut model = Model::new(tiny(), 7).unwrap();
    let before = top20_hits(&model, &scene);
    assert!(
        before.iter().any(|&h| h < 18),
        "an untrained model should not pass already: {before:?}"
    );
    let mut steps = Vec::new();
    let report = model
        .train(&samples, &options(), |p| {
            steps.push((p.step, p.total_steps, p.loss));
            ControlFlow::Continue(())
        })
        .unwrap();
    let after = top20_hits(&model, &scene);
    eprintln!(
        "top-20 hits per type: before {before:?}, after {after:?}; losses {:?}",
        report.epoch_losses
    );
    assert!(
        after.iter().all(|&h| h >= 18),
        "top-20 hits per type: {after:?}"
    );

    // The progress callback saw every step; the loss fell.
    let total = (5 * PER_TYPE).div_ceil(32) as u64 * 8;
    assert_eq!(report.steps, total);
    assert_eq!(steps.len() as u64, total);
    assert!(steps
        .iter()
        .enumerate()
        .all(|(i, s)| s.0 == i as u64 + 1 && s.1 == total));
    let first = report.epoch_losses[0];
    assert!(report.final_loss < 0.5 * first, "{:?}", report.epoch_losses);
    assert_eq!(model.info().steps, total);
    assert_eq!(model.info().loss, Some(report.final_loss));

    // m_score learned "the object is a <type>": each type's own objects score higher on
    // average than the others.
    for t in TYPES {
        let rows: Vec<ScoreInput> = scene
            .iter()
            .map(|(_, p, e)| ScoreInput {
                text: t,
                embedding: e,
                position: *p,
            })
            .collect();
        let scores = model.score(&rows, 500.0).unwrap();
        let mean = |own: bool| {
            let v: Vec<f32> = scene
                .iter()
                .zip(&scores)
                .filter(|((ty, _, _), _)| (ty == t) == own)
                .map(|(_, s)| *s)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(
            mean(true) > mean(false) + 1.0,
            "{t}: {} vs {}",
            mean(true),
            mean(false)
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_weights() {
    let scene = scene(2);
    let samples = samples(&scene);
    let opts = TrainOptions {
        epochs: 2,
        dropout: 0.1,
        ..options()
    };
    let run = |opts: &TrainOptions| {
        let mut m = Model::new(tiny(), 3).unwrap();
        m.train(&samples, opts, |_| ControlFlow::Continue(()))
            .unwrap();
        m.to_vllm().unwrap()
    };
    let a = run(&opts);
    assert_eq!(a, run(&opts), "same seed, same bytes");
    let other = TrainOptions {
        seed: 6,
        ..opts.clone()
    };
    assert_ne!(a, run(&other), "the seed drives shuffling and dropout");
}

#[test]
fn a_failed_run_changes_nothing() {
    let scene = scene(3);
    let samples = samples(&scene);
    let mut model = Model::new(tiny(), 9).unwrap();
    let before = model.to_vllm().unwrap();
    // Stopped by the callback at step 3.
    let e = model
        .train(&samples, &options(), |p| {
            if p.step == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled { steps: 3, .. }), "{e}");
    assert_eq!(model.to_vllm().unwrap(), before);
    // No objects, a bad embedding, a bad option: refused before any step.
    let e = model
        .train(&[], &options(), |_| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(e.to_string().contains("no objects to train on"), "{e}");
    let mut bad = samples.clone();
    let short = [0.0f32; 3];
    bad[17].embedding = &short;
    let e = model
        .train(&bad, &options(), |_| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(e.to_string().contains("sample 17"), "{e}");
    for (name, value) in [
        ("learning_rate", 0.0),
        ("batch_size", 0.0),
        ("dropout", 1.0),
    ] {
        let mut o = options();
        o.set_option(name, value).unwrap();
        assert!(
            model
                .train(&samples, &o, |_| ControlFlow::Continue(()))
                .is_err(),
            "{name}"
        );
    }
    assert!(options().set_option("epoch", 2.0).is_err());
    // A learning rate that blows the weights up: divergence is reported, nothing changes.
    let wild = TrainOptions {
        learning_rate: 1e30,
        max_grad_norm: 1e30,
        epochs: 3,
        ..options()
    };
    let e = model
        .train(&samples, &wild, |_| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(matches!(e, Error::Diverged { .. }), "{e}");
    assert_eq!(model.to_vllm().unwrap()[..], before[..]);
}
