//! Trains the built-in command model (`ASK map 'text'`) from a seed and scores it on the
//! held-out evaluation set (model/data/ask_eval.tsv). Run:
//!
//! ```text
//! cargo run --release -p tensormap-model --example train_commands -- --seed 1 \
//!     --out command.vllm [--examples 100000] [--epochs 3] [--layers 3] [--dim 96] \
//!     [--heads 4] [--merges 800] [--batch 64] [--lr 1e-3] [--dropout 0.1] [--threads 1]
//! cargo run --release -p tensormap-model --example train_commands -- --seed 2 \
//!     --init command.vllm --out next.vllm [--examples ...] [--lr ...]   # continue training
//! cargo run --release -p tensormap-model --example train_commands -- --score command.vllm
//! cargo run --release -p tensormap-model --example train_commands -- --types cube,sphere \
//!     --ask 'all cubes near the origin' [--ask ...]      # the built-in model's answers
//! ```
//! Everything (corpus, tokenizer merges, initial weights, batches, dropout) follows from the
//! seed: the same arguments give the same file. The defaults are the built-in model's
//! (model/data/command.vllm; docs/ask.md, "Measured").
// Test and example code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use tensormap_model::command::corpus::{corpus, Pair};
use tensormap_model::command::eval::{evaluate, Expected};
use tensormap_model::command::lexer::lex;
use tensormap_model::command::linking::{link, Item};
use tensormap_model::command::model::Outcome;
use tensormap_model::command::tokens::learn_merges;
use tensormap_model::command::train::{Example, TrainOptions};
use tensormap_model::command::CommandModel;
use tensormap_model::{ModelConfig, WeightDtype};

struct Args {
    seed: u64,
    examples: usize,
    epochs: usize,
    layers: usize,
    dim: usize,
    heads: usize,
    merges: usize,
    batch: usize,
    lr: f64,
    dropout: f64,
    threads: usize,
    out: Option<String>,
    score: Option<String>,
    init: Option<String>,
    show: usize,
    ask: Vec<String>,
    types: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        seed: 1,
        examples: 100_000,
        epochs: 3,
        layers: 3,
        dim: 96,
        heads: 4,
        merges: 800,
        batch: 64,
        lr: 1e-3,
        dropout: 0.1,
        threads: 1,
        out: None,
        score: None,
        init: None,
        show: 40,
        ask: Vec::new(),
        types: Vec::new(),
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let num = || {
            val.parse::<f64>()
                .unwrap_or_else(|_| panic!("{} needs a number", v[i]))
        };
        match v[i].as_str() {
            "--seed" => a.seed = num() as u64,
            "--examples" => a.examples = num() as usize,
            "--epochs" => a.epochs = num() as usize,
            "--layers" => a.layers = num() as usize,
            "--dim" => a.dim = num() as usize,
            "--heads" => a.heads = num() as usize,
            "--merges" => a.merges = num() as usize,
            "--batch" => a.batch = num() as usize,
            "--lr" => a.lr = num(),
            "--dropout" => a.dropout = num(),
            "--threads" => a.threads = num() as usize,
            "--show" => a.show = num() as usize,
            "--out" => a.out = Some(val),
            "--score" => a.score = Some(val),
            "--init" => a.init = Some(val),
            "--ask" => a.ask.push(val),
            "--types" => a.types = val.split(',').map(str::to_string).collect(),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn word_counts(pairs: &[Pair]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for p in pairs {
        for item in link(&lex(&p.text), &p.catalog) {
            let w = match item {
                Item::Word(w) => format!(" {w}"),
                Item::Punct(c) => c.to_string(),
                _ => continue,
            };
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

fn encode(model: &CommandModel, pairs: &[Pair]) -> Vec<Example> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut failed = 0;
    for p in pairs {
        match model.example(&p.text, &p.catalog, &p.answer) {
            Ok(e) => out.push(e),
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("skipped {:?}: {e}", p.text);
                }
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} examples skipped");
    }
    out
}

fn score(model: &CommandModel, show: usize) {
    let t = Instant::now();
    let (s, judged) = evaluate(model).expect("evaluation");
    let ms = t.elapsed().as_secs_f64() * 1e3 / judged.len() as f64;
    let mut shown = 0;
    for (case, got, v) in &judged {
        if !v.success && shown < show {
            shown += 1;
            let want = match &case.expected {
                Expected::Statement(q) => q.to_tensorql("scene"),
                Expected::Decline => "DECLINE".into(),
                Expected::NotACommand => "NOT_A_COMMAND".into(),
            };
            println!(
                "line {}: {:?}\n  want {want}\n  got  {:?} p={:.3} {}",
                case.line, case.text, got.outcome, got.probability, got.statement
            );
        }
    }
    let not_sure = judged
        .iter()
        .filter(|(_, g, _)| g.outcome == Outcome::NotSure)
        .count();
    println!(
        "held-out: {} commands: spatial intent {:.3}, parameter extraction {:.3}, command \
         success {:.3} (right answer whatever the outcome {:.3}; not sure {not_sure}); \
         {} not-a-command texts: declined {:.3}; {ms:.1} ms per ASK",
        s.commands, s.intent, s.params, s.success, s.best_guess, s.not_commands, s.declined
    );
}

fn main() {
    let a = args();
    // candle's CPU kernels split work between threads that spin while they wait: on a
    // machine whose cores are busy with other work one thread is several times faster.
    // (Read by candle on first use, so set before any tensor exists.)
    std::env::set_var("RAYON_NUM_THREADS", a.threads.to_string());
    if !a.ask.is_empty() {
        // The built-in model's answers over a map named `m` with `--types`.
        let model = CommandModel::builtin().expect("built-in model");
        let catalog = tensormap_model::command::Catalog::new("m", a.types.clone());
        for text in &a.ask {
            // The answer, and the median of 101 timed runs (the model's part of one ASK).
            let mut ms: Vec<f64> = (0..101)
                .map(|_| {
                    let t = Instant::now();
                    model.ask(text, &catalog).expect("ask");
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            ms.sort_by(f64::total_cmp);
            let g = model.ask(text, &catalog).expect("ask");
            println!(
                "{text:?}: {:?} p={:.3} {} (p50 {:.2} ms, p90 {:.2} ms)",
                g.outcome, g.probability, g.statement, ms[50], ms[90]
            );
        }
        return;
    }
    if let Some(path) = &a.score {
        let model = CommandModel::load(path).expect("load");
        score(&model, a.show);
        return;
    }
    let t0 = Instant::now();
    let pairs = corpus(a.seed, a.examples);
    let valid_pairs = corpus(a.seed.wrapping_add(1_000_003), 2_000);
    println!(
        "corpus: {} pairs in {:.1} s",
        pairs.len(),
        t0.elapsed().as_secs_f64()
    );
    // A run from a model file keeps its network and tokenizer and trains on; otherwise the
    // merges are learned from this corpus and the weights drawn from the seed.
    let mut model = match &a.init {
        Some(path) => CommandModel::load(path).expect("load --init"),
        None => {
            let merges = learn_merges(&word_counts(&pairs), a.merges).expect("merges");
            let mut config = ModelConfig::small(a.layers, a.dim, a.heads, 8);
            config.context = 192;
            CommandModel::new(config, &merges, a.seed).expect("model")
        }
    };
    let train = encode(&model, &pairs);
    let valid = encode(&model, &valid_pairs);
    let tokens: usize = train.iter().map(Example::len).sum();
    println!(
        "vocabulary {}, {} parameters; {} examples, {:.1} tokens each",
        model.model().config().vocab_size,
        model.model().config().parameter_count(),
        train.len(),
        tokens as f64 / train.len() as f64
    );
    let options = TrainOptions {
        epochs: a.epochs,
        learning_rate: a.lr,
        batch_size: a.batch,
        seed: a.seed,
        dropout: a.dropout,
        ..TrainOptions::default()
    };
    let t1 = Instant::now();
    let mut window = (0f64, 0f64, 0usize);
    let report = model
        .train(&train, &options, |p| {
            window.0 += p.loss as f64;
            window.1 += p.accuracy as f64;
            window.2 += 1;
            if p.step % 100 == 0 || p.step == p.total {
                let s = t1.elapsed().as_secs_f64();
                println!(
                    "step {}/{}: loss {:.4} accuracy {:.4} ({:.0} examples/s)",
                    p.step,
                    p.total,
                    window.0 / window.2 as f64,
                    window.1 / window.2 as f64,
                    (p.step * a.batch) as f64 / s
                );
                window = (0.0, 0.0, 0);
            }
            ControlFlow::Continue(())
        })
        .expect("training");
    let train_s = t1.elapsed().as_secs_f64();
    let (vl, va) = model.evaluate(&valid, 256).expect("validation");
    println!(
        "trained {} steps in {train_s:.0} s; epoch losses {:?}; validation loss {vl:.4}, symbol \
         accuracy {va:.4}",
        report.steps, report.epoch_losses
    );
    // Exact statements on the validation corpus, and how their probability separates
    // right from wrong (what the threshold is chosen from; the evaluation set is not used).
    let decoded: Vec<(f64, bool)> = valid_pairs
        .iter()
        .take(1000)
        .map(|p| {
            let prompt = model.prompt(&p.text, &p.catalog).expect("prompt");
            let d = model.decode(&prompt, true).expect("decode");
            (d.probability, d.decoded == p.answer)
        })
        .collect();
    let exact = decoded.iter().filter(|d| d.1).count();
    println!(
        "validation corpus: {exact}/{} exact statements",
        decoded.len()
    );
    for t in [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] {
        let answered: Vec<&(f64, bool)> = decoded.iter().filter(|d| d.0 >= t).collect();
        let right = answered.iter().filter(|d| d.1).count();
        println!(
            "  threshold {t:.1}: answers {:.3} of the texts, {:.3} of them right",
            answered.len() as f64 / decoded.len() as f64,
            right as f64 / answered.len().max(1) as f64
        );
    }
    let mut model = model;
    model.set_corpus(a.seed, a.examples as u64);
    score(&model, a.show);
    if let Some(out) = &a.out {
        model.save(out, WeightDtype::F16).expect("save");
        let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        println!("wrote {out} ({:.2} MB, f16 weights)", size as f64 / 1e6);
    }
}
