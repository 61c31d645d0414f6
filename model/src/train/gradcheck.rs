//! Candle's gradients of the training loss against central finite differences, in f64, on
//! the committed tiny model (real distance bias, BPE merges) and a batch with two spatial
//! tokens per sequence, padding and a repeated type.

use candle_core::{DType, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::loss::{batch_loss, LossWeights, TrainSample};
use crate::model::Model;
use crate::network::Mode;
use crate::weights::Weights;

fn tiny() -> Model {
    Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.vllm")).unwrap()
}

fn f64_weights(m: &Model) -> Weights {
    m.weights
        .map(&m.config, |_, t| Ok(t.to_dtype(DType::F64)?))
        .unwrap()
}

const TEXTS: [&str; 4] = ["cube", "red cube", "cube", "a sphere"];
const EMB: [[f32; 4]; 4] = [
    [0.5, -1.0, 0.25, 2.0],
    [-0.3, 0.8, 1.1, -0.6],
    [1.5, 0.1, -0.9, 0.4],
    [0.0, -0.7, 0.3, 0.9],
];
const POS: [[f32; 3]; 4] = [
    [10.0, -20.0, 30.0],
    [-150.0, 80.0, 5.0],
    [200.0, 200.0, -100.0],
    [0.0, 0.0, 0.0],
];

fn loss_of(m: &Model, w: &Weights) -> Tensor {
    let samples: Vec<TrainSample> = (0..4)
        .map(|i| TrainSample {
            text: TEXTS[i],
            position: POS[i],
            embedding: &EMB[i],
        })
        .collect();
    let tokens: Vec<Vec<u32>> = TEXTS
        .iter()
        .map(|t| m.tokenizer.encode(t).unwrap())
        .collect();
    let toks: Vec<&[u32]> = tokens.iter().map(|t| &t[..]).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    batch_loss(
        w,
        &m.config,
        &m.tokenizer,
        &m.text_pe,
        &samples,
        &toks,
        250.0,
        LossWeights {
            spatial: 0.1,
            alignment: 1.0,
        },
        &mut Mode::Train {
            dropout: 0.0,
            rng: &mut rng,
        },
    )
    .unwrap()
    .total
}

fn scalar(t: &Tensor) -> f64 {
    t.to_scalar::<f64>().unwrap()
}

/// `w` with element `k` of tensor `name` moved by `delta`.
fn nudged(m: &Model, w: &Weights, name: &str, k: usize, delta: f64) -> Weights {
    w.map(&m.config, |n, t| {
        if n != name {
            return Ok(t.clone());
        }
        let mut v = t.flatten_all()?.to_vec1::<f64>()?;
        v[k] += delta;
        Ok(Tensor::from_vec(v, t.shape(), t.device())?)
    })
    .unwrap()
}

#[test]
fn gradients_match_finite_differences() {
    let m = tiny();
    let w64 = f64_weights(&m);
    let mut vars = Vec::new();
    let wv = w64
        .map(&m.config, |_, t| {
            let v = Var::from_tensor(t)?;
            let t = v.as_tensor().clone();
            vars.push(v);
            Ok(t)
        })
        .unwrap();
    let grads = loss_of(&m, &wv).backward().unwrap();
    let names = m.parameter_names();
    let bos = m.tokenizer.bos() as usize * m.config.dim;
    let cube = m.tokenizer.encode("cube").unwrap()[0] as usize * m.config.dim;
    let checks: [(&str, usize); 14] = [
        ("token_embedding.weight", bos + 3),
        ("token_embedding.weight", cube + 1),
        ("object_projection.weight", 7),
        ("object_projection.bias", 2),
        ("layers.0.attention.q_proj.weight", 17),
        ("layers.0.attention.spatial_bias", 1),
        ("layers.1.attention.spatial_bias", 0),
        ("layers.0.norm1.bias", 4),
        ("layers.1.ffn.0.weight", 33),
        ("layers.1.ffn.3.bias", 5),
        ("norm.weight", 2),
        ("tensor_projection.weight", 11),
        ("output_head.bias", 101),
        ("score_head.weight", 5),
    ];
    let h = 1e-5;
    for (name, k) in checks {
        let i = names.iter().position(|n| n == name).unwrap();
        let g = grads
            .get(vars[i].as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()[k];
        let up = scalar(&loss_of(&m, &nudged(&m, &w64, name, k, h)));
        let down = scalar(&loss_of(&m, &nudged(&m, &w64, name, k, -h)));
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - g).abs() <= 1e-7 + 1e-6 * g.abs(),
            "{name}[{k}]: candle {g:e}, finite difference {fd:e}"
        );
        assert!(
            g.abs() > 1e-9,
            "{name}[{k}]: a zero gradient proves nothing"
        );
    }
}

#[test]
fn f64_forward_agrees_with_f32_forward() {
    // The f32 model's distance to the f64 one bounds its rounding error: what parity with
    // the (f64) NumPy reference can expect.
    let m = tiny();
    let mut m64 = m.clone();
    m64.weights = f64_weights(&m);
    let seq = crate::Sequence::text(&m.tokenizer, "a small red sphere").unwrap();
    let a = m.forward(std::slice::from_ref(&seq), 500.0).unwrap();
    let b = m64.forward(&[seq], 500.0).unwrap();
    let d = a
        .logits
        .iter()
        .zip(&b.logits)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    eprintln!("f32 vs f64 logits: {d:e}");
    assert!(d < 5e-5, "{d}");
}
