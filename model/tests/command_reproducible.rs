//! The built-in command model is reproducible from a seed: the corpus generator and the
//! trainer (`examples/train_commands.rs`: corpus, BPE merges, initial weights, batches,
//! dropout) write the same bytes for the same seed, and other bytes for another.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ops::ControlFlow;

use tensormap_model::command::corpus::corpus;
use tensormap_model::command::lexer::lex;
use tensormap_model::command::linking::{link, Item};
use tensormap_model::command::tokens::learn_merges;
use tensormap_model::command::train::TrainOptions;
use tensormap_model::command::CommandModel;
use tensormap_model::{ModelConfig, WeightDtype};

/// A small run of the trainer's steps (as `train_commands` does them): its `.vllm` bytes.
fn run(seed: u64) -> Vec<u8> {
    let pairs = corpus(seed, 48);
    let mut counts: HashMap<String, u64> = HashMap::new();
    for p in &pairs {
        for item in link(&lex(&p.text), &p.catalog) {
            let w = match item {
                Item::Word(w) => format!(" {w}"),
                Item::Punct(c) => c.to_string(),
                _ => continue,
            };
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    let merges = learn_merges(&counts, 40).unwrap();
    let mut config = ModelConfig::small(1, 16, 2, 8);
    config.context = 192;
    let mut model = CommandModel::new(config, &merges, seed).unwrap();
    let examples: Vec<_> = pairs
        .iter()
        .filter_map(|p| model.example(&p.text, &p.catalog, &p.answer).ok())
        .collect();
    assert!(
        examples.len() > 40,
        "{} of 48 examples encode",
        examples.len()
    );
    let options = TrainOptions {
        epochs: 1,
        batch_size: 16,
        seed,
        ..TrainOptions::default()
    };
    model
        .train(&examples, &options, |_| ControlFlow::Continue(()))
        .unwrap();
    model.set_corpus(seed, pairs.len() as u64);
    model.to_bytes(WeightDtype::F16).unwrap()
}

#[test]
fn the_same_seed_writes_the_same_model_file() {
    let a = run(5);
    assert_eq!(a, run(5), "two runs with seed 5 wrote different bytes");
    assert_ne!(a, run(6), "seeds 5 and 6 wrote the same bytes");
}
