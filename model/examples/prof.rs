// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tensormap_model::*;
fn main() {
    let m = Model::new(ModelConfig::small(4, 128, 4, 32), 1).unwrap();
    let words = [
        "red", "blue", "green", "small", "large", "cube", "sphere", "torus", "cone",
    ];
    let texts: Vec<String> = (0..1000)
        .map(|i| format!("{} {} {i}", words[i % 5], words[5 + i % 4]))
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let what = std::env::args().nth(1).unwrap_or_default();
    let e: Vec<f32> = vec![0.1; 32];
    let rows: Vec<ScoreInput> = (0..10000)
        .map(|i| ScoreInput {
            text: "red cube",
            embedding: &e,
            position: [i as f32 % 500.0, 1.0, 2.0],
        })
        .collect();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        if what == "train" {
            let mut mm = m.clone();
            let samples: Vec<TrainSample> = (0..10000)
                .map(|i| TrainSample {
                    text: ["cube", "sphere", "cone", "torus", "box"][i % 5],
                    position: [i as f32 % 500.0, 1.0, 2.0],
                    embedding: &e,
                })
                .collect();
            let mut n = 0;
            mm.train(
                &samples,
                &TrainOptions {
                    epochs: 1,
                    ..TrainOptions::default()
                },
                |_| {
                    n += 1;
                    std::ops::ControlFlow::Continue(())
                },
            )
            .unwrap();
        } else if what == "score" {
            m.score(&rows, 500.0).unwrap();
        } else {
            m.embed(&refs).unwrap();
        }
        eprintln!("{what} {:?}", t.elapsed());
    }
}
