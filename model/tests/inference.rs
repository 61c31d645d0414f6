//! Batched inference against the plain forward pass: `embed` and `score` (prefix cache,
//! sorted and deduplicated batches) give what the network gives on each full sequence;
//! generation is seeded, and its key/value cache agrees with recomputing the sequence.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tensormap_model::{Error, Model, ModelConfig, Sampling, ScoreInput, Sequence, SpatialToken};

fn model() -> Model {
    let mut c = ModelConfig::small(3, 24, 4, 6);
    c.context = 40;
    Model::new(c, 42).unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn emb(i: usize) -> Vec<f32> {
    (0..6)
        .map(|k| ((i * 7 + k * 3) % 11) as f32 / 5.0 - 1.0)
        .collect()
}

fn pos(i: usize) -> [f32; 3] {
    [
        (i as f32 * 37.0) % 200.0 - 100.0,
        50.0 - i as f32 * 9.0,
        (i * i) as f32 % 90.0,
    ]
}

#[test]
fn embed_reads_the_eos_features_of_each_text() {
    let m = model();
    let texts = [
        "red cube",
        "",
        "a longer description: a sphere",
        "red cube",
        "z",
    ];
    let batched = m.embed(&texts).unwrap();
    assert_eq!(batched.len(), texts.len());
    for (t, got) in texts.iter().zip(&batched) {
        assert_eq!(got.len(), 6);
        let seq = Sequence::text(m.tokenizer(), t).unwrap();
        let out = m.forward(std::slice::from_ref(&seq), 500.0).unwrap();
        let want = out.features_at(0, seq.ids.len() - 1);
        assert!(close(got, want, 1e-5), "{t:?}: {got:?} vs {want:?}");
        // One text alone gives the same vector as in the batch.
        assert!(close(&m.embed(&[t]).unwrap()[0], got, 1e-5));
    }
    assert_eq!(batched[0], batched[3]);
    assert!(m.embed(&[]).unwrap().is_empty());
}

#[test]
fn score_with_a_cached_prefix_equals_the_full_sequence() {
    let m = model();
    let bounds = 200.0;
    let texts = ["cube", "red sphere", "cube", "cube", "red sphere", "tor"];
    let embs: Vec<Vec<f32>> = (0..texts.len()).map(emb).collect();
    let rows: Vec<ScoreInput> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| ScoreInput {
            text: t,
            embedding: &embs[i],
            position: pos(i),
        })
        .collect();
    let got = m.score(&rows, bounds).unwrap();
    // Each row on its own, as [BOS] text [EOS] S.
    for (i, r) in rows.iter().enumerate() {
        let mut seq = Sequence::text(m.tokenizer(), r.text).unwrap();
        seq.push_spatial(
            m.tokenizer(),
            SpatialToken {
                embedding: r.embedding.to_vec(),
                position: r.position,
            },
        );
        let out = m.forward(&[seq.clone()], bounds).unwrap();
        let want = out.score_at(0, seq.ids.len() - 1);
        assert!(
            (got[i] - want).abs() < 1e-5,
            "row {i}: {} vs {want}",
            got[i]
        );
    }
    // All the rows of one text after it in one sequence: spatial tokens do not see each
    // other, so each scores as if alone.
    let mut seq = Sequence::text(m.tokenizer(), "cube").unwrap();
    let first = seq.ids.len();
    for i in [0, 2, 3] {
        seq.push_spatial(
            m.tokenizer(),
            SpatialToken {
                embedding: embs[i].clone(),
                position: pos(i),
            },
        );
    }
    let out = m.forward(&[seq], bounds).unwrap();
    for (k, i) in [0, 2, 3].into_iter().enumerate() {
        assert!((out.score_at(0, first + k) - got[i]).abs() < 1e-5);
    }
    // Position matters, and is read relative to the map's bounds.
    let moved = ScoreInput {
        position: [0.0, 0.0, 0.0],
        ..rows[0]
    };
    assert_ne!(m.score(&[moved], bounds).unwrap()[0], got[0]);
    let scaled = ScoreInput {
        position: pos(0).map(|x| x * 2.0),
        ..rows[0]
    };
    let s2 = m.score(&[scaled], 2.0 * bounds).unwrap()[0];
    assert!(
        (s2 - got[0]).abs() < 1e-5,
        "the same place in a map twice as big"
    );
}

#[test]
fn many_rows_score_in_chunks_like_few() {
    let m = model();
    let embs: Vec<Vec<f32>> = (0..5000).map(emb).collect();
    let rows: Vec<ScoreInput> = (0..5000)
        .map(|i| ScoreInput {
            text: if i % 3 == 0 { "cube" } else { "sphere" },
            embedding: &embs[i],
            position: pos(i),
        })
        .collect();
    let all = m.score(&rows, 500.0).unwrap();
    for i in [0, 1, 2047, 2048, 4999] {
        let one = m.score(&rows[i..i + 1], 500.0).unwrap()[0];
        assert!((one - all[i]).abs() < 1e-5, "row {i}");
    }
}

#[test]
fn generation_is_seeded_and_its_cache_agrees_with_recomputation() {
    let m = model();
    let greedy = m
        .generate_tokens("the cu", 12, &Sampling::greedy())
        .unwrap();
    // Recompute: each greedy step from a full forward pass of the sequence so far.
    let tok = m.tokenizer();
    let mut seq = Sequence::text(tok, "the cu").unwrap();
    seq.ids.pop();
    let mut want = Vec::new();
    // The chosen tokens' probabilities (softmax over the tokens that may be picked) and
    // their sequence indices, for `generate_detailed`.
    let mut probs = Vec::new();
    let mut indices = Vec::new();
    while want.len() < 12 {
        let out = m.forward(&[seq.clone()], 500.0).unwrap();
        let logits = out.logits_at(0, seq.ids.len() - 1);
        let allowed = |id: usize| {
            let id = id as u32;
            id != tok.pad() && id != tok.bos() && id != tok.spatial()
        };
        let next = (0..logits.len() as u32)
            .filter(|&id| id != tok.pad() && id != tok.bos() && id != tok.spatial())
            .max_by(|&a, &b| {
                logits[a as usize]
                    .total_cmp(&logits[b as usize])
                    .then(b.cmp(&a))
            })
            .unwrap();
        if next == tok.eos() {
            break;
        }
        let max = (0..logits.len())
            .filter(|&i| allowed(i))
            .map(|i| logits[i] as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = (0..logits.len())
            .filter(|&i| allowed(i))
            .map(|i| (logits[i] as f64 - max).exp())
            .sum();
        probs.push((logits[next as usize] as f64 - max).exp() / total);
        indices.push(seq.ids.len());
        want.push(next);
        seq.ids.push(next);
    }
    assert_eq!(greedy, want);
    let d = m
        .generate_detailed("the cu", 12, &Sampling::greedy())
        .unwrap();
    assert_eq!(d.tokens, want);
    assert_eq!(
        d.text,
        m.generate("the cu", 12, &Sampling::greedy()).unwrap()
    );
    let mean = probs.iter().sum::<f64>() / probs.len() as f64;
    assert!(
        (d.confidence as f64 - mean).abs() < 1e-4,
        "{} vs {mean}",
        d.confidence
    );
    // The text schedule: index i at (10 i − 250, 100 sin 0.1 i, 100 cos 0.1 i).
    assert_eq!(d.positions.len(), want.len());
    for (p, &i) in d.positions.iter().zip(&indices) {
        let i = i as f64;
        let want = [
            10.0 * i - 250.0,
            100.0 * (0.1 * i).sin(),
            100.0 * (0.1 * i).cos(),
        ];
        for (a, b) in p.iter().zip(want) {
            assert!((*a as f64 - b).abs() < 1e-3, "{p:?} vs {want:?}");
        }
    }

    let s = |seed| Sampling {
        temperature: 1.0,
        top_k: 20,
        seed,
    };
    let a = m.generate("red", 20, &s(1)).unwrap();
    assert_eq!(a, m.generate("red", 20, &s(1)).unwrap());
    assert_ne!(
        m.generate_tokens("red", 20, &s(1)).unwrap(),
        m.generate_tokens("red", 20, &s(2)).unwrap()
    );
    assert!(m.generate_tokens("red", 3, &s(1)).unwrap().len() <= 3);
    assert!(m.generate_tokens("red", 0, &s(1)).unwrap().is_empty());
    // The context (40) bounds the sequence: BOS + 3 prompt bytes + at most 36 new tokens.
    assert!(m.generate_tokens("red", 1000, &s(5)).unwrap().len() <= 36);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let m = model();
    let long = "x".repeat(100);
    let e = m.embed(&["ok", &long]).unwrap_err();
    assert!(e.to_string().contains("context of 40"), "{e}");
    let row = |e: &'static [f32]| ScoreInput {
        text: "cube",
        embedding: e,
        position: [0.0; 3],
    };
    let e = m
        .score(&[row(&[0.0; 6]), row(&[1.0; 5])], 500.0)
        .unwrap_err();
    assert!(
        e.to_string().contains("row 1") && e.to_string().contains("6 channels"),
        "{e}"
    );
    let e = m.score(&[row(&[f32::NAN; 6])], 500.0).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    let e = m.score(&[row(&[0.0; 6])], 0.0).unwrap_err();
    assert!(e.to_string().contains("bounds"), "{e}");
    let nan_pos = ScoreInput {
        position: [0.0, f32::INFINITY, 0.0],
        ..row(&[0.0; 6])
    };
    assert!(m.score(&[nan_pos], 500.0).is_err());
    assert!(m.score(&[], 500.0).unwrap().is_empty());
    let bad_t = Sampling {
        temperature: -1.0,
        ..Sampling::default()
    };
    assert!(matches!(
        m.generate("a", 4, &bad_t),
        Err(Error::Argument(_))
    ));
    let bad_id = Sequence {
        ids: vec![9999],
        spatial: vec![],
    };
    assert!(m
        .forward(&[bad_id], 500.0)
        .unwrap_err()
        .to_string()
        .contains("vocabulary"));
    let missing = Sequence {
        ids: vec![m.tokenizer().spatial()],
        spatial: vec![],
    };
    assert!(m.forward(&[missing], 500.0).is_err());
}

#[test]
fn threads_share_one_model() {
    let m = Arc::new(model());
    let texts = ["cube", "sphere", "red cube", "torus"];
    let want = m.embed(&texts).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || (0..5).map(|_| m.embed(&texts).unwrap()).collect::<Vec<_>>())
        })
        .collect();
    for h in handles {
        for got in h.join().unwrap() {
            assert_eq!(got, want);
        }
    }
}
