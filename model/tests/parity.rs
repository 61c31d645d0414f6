//! Parity with the independent NumPy reference (scripts/reference_vllm.py): the committed
//! tiny model (written by the reference, mixed f16/f32 weights, BPE merges, a real distance
//! bias) and the reference's outputs. Logits, spatial features, scores, `m_embed`,
//! `m_score`, greedy generation, the tokenizer and the training loss must agree within 1e-4.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tensormap_model::{
    Model, Sampling, ScoreInput, Sequence, SpatialToken, TrainOptions, TrainSample,
};

const TOL: f64 = 1e-4;

fn data() -> (Model, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let model = Model::load(format!("{dir}/tiny.vllm")).unwrap();
    let text = std::fs::read_to_string(format!("{dir}/vectors.json")).unwrap();
    (model, serde_json::from_str(&text).unwrap())
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn pos(v: &Value) -> [f32; 3] {
    let p = f32s(v);
    [p[0], p[1], p[2]]
}

/// Largest |a − b| over two equally long slices.
fn max_diff(what: &str, got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    got.iter()
        .zip(want)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max)
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    let d = max_diff(what, got, want);
    assert!(d < TOL, "{what}: max difference {d:e}");
}

#[test]
fn metadata_and_tokenizer_match() {
    let (m, v) = data();
    let meta = &v["meta"];
    assert_eq!(m.metadata().created_unix_s, meta[0].as_u64().unwrap());
    assert_eq!(m.metadata().training_steps, meta[1].as_u64().unwrap());
    assert_eq!(m.metadata().loss, Some(1.25));
    assert_eq!(m.tokenizer().merges().len(), 6);
    for case in v["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            m.tokenizer().encode(text).unwrap(),
            u32s(&case["ids"]),
            "{text:?}"
        );
    }
}

#[test]
fn forward_matches_on_a_padded_batch_with_spatial_tokens() {
    let (m, v) = data();
    let f = &v["forward"];
    let seqs: Vec<Sequence> = f["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sequence {
            ids: u32s(&s["ids"]),
            spatial: s["spatial"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| SpatialToken {
                    embedding: f32s(&o["embedding"]),
                    position: pos(&o["position"]),
                })
                .collect(),
        })
        .collect();
    let lens: Vec<usize> = seqs.iter().map(|s| s.ids.len()).collect();
    assert!(lens.iter().min() < lens.iter().max(), "the batch pads");
    let out = m
        .forward(&seqs, f["bounds"].as_f64().unwrap() as f32)
        .unwrap();
    let mut worst = 0f64;
    for (r, len) in lens.iter().enumerate() {
        for i in 0..*len {
            let want = &f["logits"][r][i];
            worst = worst.max(max_diff("logits", out.logits_at(r, i), &f32s(want)));
            let want = &f["features"][r][i];
            worst = worst.max(max_diff("features", out.features_at(r, i), &f32s(want)));
            let want = f["scores"][r][i].as_f64().unwrap();
            worst = worst.max((out.score_at(r, i) as f64 - want).abs());
        }
    }
    eprintln!("forward: largest difference {worst:e}");
    assert!(worst < TOL, "largest difference {worst:e}");
}

#[test]
fn embed_and_score_match() {
    let (m, v) = data();
    let e = &v["embed"];
    let texts: Vec<&str> = e["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let got = m.embed(&texts).unwrap();
    for (g, want) in got.iter().zip(e["vectors"].as_array().unwrap()) {
        close("m_embed", g, &f32s(want));
    }
    let s = &v["score"];
    let rows: Vec<(String, Vec<f32>, [f32; 3])> = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["text"].as_str().unwrap().to_string(),
                f32s(&r["embedding"]),
                pos(&r["position"]),
            )
        })
        .collect();
    let inputs: Vec<ScoreInput> = rows
        .iter()
        .map(|(t, e, p)| ScoreInput {
            text: t,
            embedding: e,
            position: *p,
        })
        .collect();
    let got = m
        .score(&inputs, s["bounds"].as_f64().unwrap() as f32)
        .unwrap();
    close("m_score", &got, &f32s(&s["values"]));
}

#[test]
fn greedy_generation_matches() {
    let (m, v) = data();
    let g = &v["generate"];
    let ids = m
        .generate_tokens(
            g["prompt"].as_str().unwrap(),
            g["max_tokens"].as_u64().unwrap() as usize,
            &Sampling::greedy(),
        )
        .unwrap();
    assert_eq!(ids, u32s(&g["ids"]));
}

#[test]
fn training_loss_matches() {
    let (m, v) = data();
    for case in v["loss"].as_array().unwrap() {
        let owned: Vec<(String, Vec<f32>, [f32; 3])> = case["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["text"].as_str().unwrap().to_string(),
                    f32s(&s["embedding"]),
                    pos(&s["position"]),
                )
            })
            .collect();
        let samples: Vec<TrainSample> = owned
            .iter()
            .map(|(t, e, p)| TrainSample {
                text: t,
                position: *p,
                embedding: e,
            })
            .collect();
        let options = TrainOptions {
            bounds: case["bounds"].as_f64().unwrap() as f32,
            ..TrainOptions::default()
        };
        let got = m.loss(&samples, &options).unwrap();
        for (name, g) in [
            ("lm", got.lm),
            ("spatial", got.spatial),
            ("attention", got.attention),
            ("match", got.matching),
            ("total", got.total),
        ] {
            let want = case[name].as_f64().unwrap();
            assert!((g - want).abs() < TOL, "{name}: {g} vs {want}");
        }
    }
}
