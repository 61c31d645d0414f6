//! Criterion benchmarks of the V-LLM at issue 11's tiny size (4 layers, width 128, 4 heads,
//! 32 channels): one forward pass of 64 tokens, `m_score` over 10k rows, `m_embed` of 1k
//! short texts, `m_generate` tokens/s, and one training epoch over 10k objects.
//!
//! `cargo bench -p tensormap-model --bench model` (add `-- train` for the epoch alone). The
//! benchmark also writes the model it times to `target/vllm-bench.vllm`, so that
//! `scripts/reference_vllm.py --bench target/vllm-bench.vllm` times NumPy on the same weights.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_model::{
    Model, ModelConfig, Sampling, ScoreInput, Sequence, TrainOptions, TrainSample,
};

const CHANNELS: usize = 32;

fn model() -> Model {
    let m = Model::new(ModelConfig::small(4, 128, 4, CHANNELS), 1).expect("model");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/vllm-bench.vllm");
    m.save(path).expect("write target/vllm-bench.vllm");
    m
}

/// `n` objects of 5 types: embeddings and positions clustered by type.
fn objects(n: usize, seed: u64) -> Vec<(String, [f32; 3], Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let types = ["cube", "sphere", "pyramid", "cylinder", "torus"];
    let centres: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..CHANNELS).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    (0..n)
        .map(|i| {
            let t = i % 5;
            let e = centres[t]
                .iter()
                .map(|c| c + rng.random_range(-0.5..0.5))
                .collect();
            let p = std::array::from_fn(|_| rng.random_range(-500.0..500.0));
            (types[t].to_string(), p, e)
        })
        .collect()
}

fn inference(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("vllm");
    g.measurement_time(Duration::from_secs(10));

    // One sequence of 64 tokens, every head at every position.
    let mut seq = Sequence::text(m.tokenizer(), &"abcdefghijklmnopqrstuvwxyz".repeat(3)[..62])
        .expect("sequence");
    assert_eq!(seq.ids.len(), 64);
    seq.spatial.clear();
    g.throughput(Throughput::Elements(64));
    g.bench_function("forward_64_tokens", |b| {
        b.iter(|| {
            black_box(
                m.forward(std::slice::from_ref(&seq), 500.0)
                    .expect("forward"),
            )
        })
    });

    // m_score over 10k rows sharing one text.
    let objs = objects(10_000, 2);
    let rows: Vec<ScoreInput> = objs
        .iter()
        .map(|(_, p, e)| ScoreInput {
            text: "red cube",
            embedding: e,
            position: *p,
        })
        .collect();
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("score_10k_rows", |b| {
        b.iter(|| black_box(m.score(&rows, 500.0).expect("score")))
    });

    // m_embed of 1k distinct short texts.
    let words = [
        "red", "blue", "green", "small", "large", "cube", "sphere", "torus", "cone",
    ];
    let texts: Vec<String> = (0..1000)
        .map(|i| format!("{} {} {i}", words[i % 5], words[5 + i % 4]))
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("embed_1k_texts", |b| {
        b.iter(|| black_box(m.embed(&refs).expect("embed")))
    });

    // m_generate: 32 sampled tokens (a seed whose text does not stop early).
    let sampling = Sampling {
        temperature: 0.7,
        top_k: 50,
        seed: 1,
    };
    let n = m
        .generate_tokens("the red cube", 32, &sampling)
        .expect("generate")
        .len();
    assert_eq!(n, 32, "pick a seed that generates 32 tokens");
    g.throughput(Throughput::Elements(32));
    g.bench_function("generate_32_tokens", |b| {
        b.iter(|| {
            black_box(
                m.generate_tokens("the red cube", 32, &sampling)
                    .expect("generate"),
            )
        })
    });
    g.finish();
}

fn train(c: &mut Criterion) {
    let base = model();
    let objs = objects(10_000, 3);
    let samples: Vec<TrainSample> = objs
        .iter()
        .map(|(t, p, e)| TrainSample {
            text: t,
            position: *p,
            embedding: e,
        })
        .collect();
    let options = TrainOptions {
        epochs: 1,
        ..TrainOptions::default()
    };
    let mut g = c.benchmark_group("vllm");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(1));
    g.measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("train_epoch_10k_objects", |b| {
        b.iter_batched(
            || base.clone(),
            |mut m| {
                m.train(&samples, &options, |_| ControlFlow::Continue(()))
                    .expect("train");
                m
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, inference, train);
criterion_main!(benches);
