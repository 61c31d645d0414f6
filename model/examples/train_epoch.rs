//! One training epoch over 10k clustered objects (the model bench's data), timed per step:
//! `cargo run --release -p tensormap-model --example train_epoch -- LAYERS DIM [EPOCHS]`.
//! For profiling (`perf record`), not a benchmark: the figures are in BENCHMARKS.md.

// A command-line tool for the developer: a bad argument or a failed run stops it with the
// reason (clippy.toml).
#![allow(clippy::expect_used)]

use std::ops::ControlFlow;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_model::{Model, ModelConfig, TrainOptions, TrainSample};

const CHANNELS: usize = 32;

fn main() {
    let arg = |i: usize, default: usize| -> usize {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a whole number"))
    };
    let (layers, dim, epochs) = (arg(1, 2), arg(2, 64), arg(3, 1));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let types = ["cube", "sphere", "pyramid", "cylinder", "torus"];
    let centres: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..CHANNELS).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let objects: Vec<(usize, [f32; 3], Vec<f32>)> = (0..10_000)
        .map(|i| {
            let t = i % 5;
            let e = centres[t]
                .iter()
                .map(|c| c + rng.random_range(-0.5..0.5))
                .collect();
            (
                t,
                std::array::from_fn(|_| rng.random_range(-500.0..500.0)),
                e,
            )
        })
        .collect();
    let samples: Vec<TrainSample> = objects
        .iter()
        .map(|(t, p, e)| TrainSample {
            text: types[*t],
            position: *p,
            embedding: e,
        })
        .collect();
    let mut model = Model::new(ModelConfig::small(layers, dim, 4, CHANNELS), 1).expect("model");
    let options = TrainOptions {
        epochs,
        ..TrainOptions::default()
    };
    let start = Instant::now();
    let report = model
        .train(&samples, &options, |_| ControlFlow::Continue(()))
        .expect("train");
    let t = start.elapsed().as_secs_f64();
    println!(
        "{layers} layers × {dim}: {} steps in {t:.2} s ({:.2} ms a step), epoch losses {:?}",
        report.steps,
        t * 1e3 / report.steps as f64,
        report.epoch_losses
    );
}
