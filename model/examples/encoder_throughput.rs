//! Embeds `ROUNDS` × 1k short sentences (of the encoder bench's kind) with all-MiniLM-L6-v2
//! and prints the wall time. Run under `time` to get the CPU time as well — on a shared
//! machine, sentences per CPU-second is the figure that does not depend on the neighbours:
//!
//! `time cargo run --release -p tensormap-model --example encoder_throughput -- 3`
//! (and with `-- 0` for the load alone; `-- one 200` embeds one sentence alone 200 times).

use std::time::Instant;

use tensormap_model::SentenceEncoder;

const WORDS: [&str; 12] = [
    "red", "cube", "crimson", "box", "a", "the", "map", "near", "blue", "sphere", "tall", "tree",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/test-models/all-MiniLM-L6-v2"
    );
    let enc = SentenceEncoder::load(dir)?;
    if args.first().map(String::as_str) == Some("one") {
        let n: usize = args.get(1).map_or(Ok(200), |a| a.parse())?;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(enc.embed(&["a red cube near the tall tree"])?);
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!("one sentence alone, {n} times: {ms:.2} ms wall each");
        return Ok(());
    }
    let rounds: usize = args.first().map_or(Ok(3), |a| a.parse())?;
    // 3-to-8-word sentences of the 12 words benches/encoder.rs uses (a simple LCG here).
    let mut seed = 1u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let texts: Vec<String> = (0..1000)
        .map(|_| {
            let len = 3 + next(6);
            (0..len)
                .map(|_| WORDS[next(WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(enc.embed(&refs)?);
    }
    let s = t.elapsed().as_secs_f64();
    if rounds > 0 {
        println!(
            "{rounds} × 1000 sentences in {s:.2} s wall: {:.0} sentences/s",
            rounds as f64 * 1000.0 / s
        );
    }
    Ok(())
}
