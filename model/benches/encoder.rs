//! Criterion benchmarks of the BERT sentence encoder on the real all-MiniLM-L6-v2 (issue 13's
//! targets: ≥ 300 sentences/s batched, ≤ 15 ms for one sentence, on 2 cores): `embed` of 1k
//! short sentences in one call, and of one sentence alone.
//!
//! `scripts/fetch-test-models`, then `cargo bench -p tensormap-model --bench encoder`.
//! `scripts/reference_encoder.py --bench` times the NumPy reference on the same kind of
//! sentences (the same generator: 3 to 8 words of a 12-word vocabulary).
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_model::SentenceEncoder;

const WORDS: [&str; 12] = [
    "red", "cube", "crimson", "box", "a", "the", "map", "near", "blue", "sphere", "tall", "tree",
];

/// `n` short sentences of 3 to 8 words.
fn sentences(n: usize) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    (0..n)
        .map(|_| {
            let len = rng.random_range(3..9);
            (0..len)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn encoder(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-models/all-MiniLM-L6-v2");
    let enc = match SentenceEncoder::load(&dir) {
        Ok(enc) => enc,
        Err(e) => {
            eprintln!(
                "encoder bench: cannot load {} ({e}); run scripts/fetch-test-models",
                dir.display()
            );
            return;
        }
    };
    let texts = sentences(1000);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let mut g = c.benchmark_group("minilm");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("embed 1k short sentences", |b| {
        b.iter(|| black_box(enc.embed(black_box(&refs)).expect("embed")))
    });
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    g.bench_function("embed one sentence", |b| {
        b.iter(|| {
            black_box(
                enc.embed(black_box(&["a red cube near the tall tree"]))
                    .expect("embed"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, encoder);
criterion_main!(benches);
