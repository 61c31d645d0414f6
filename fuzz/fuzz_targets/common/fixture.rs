//! The small database the `tql_exec` and `server_body` targets run against, the same in
//! every process: map `m` (4 channels, bounds 100), map `n` (2 channels, bounds 50), both at
//! a coarse resolution so the database is quick to make again, and a tiny V-LLM `mm` (so
//! `m_embed`, `m_score` and `m_generate` exist).

use tensormap::{Database, Object};

const TYPES: [&str; 5] = ["cube", "sphere", "chair", "table", "lamp"];

/// A small deterministic generator: the next value in [0, 1).
fn next(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 40) as f32 / (1u64 << 24) as f32
}

/// `n` objects inside a map of `bounds`, confidences in [0.5, 1).
fn objects(prefix: &str, n: usize, channels: usize, bounds: f32, seed: u64) -> Vec<Object> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            let position = [
                (next(&mut s) - 0.5) * 1.8 * bounds,
                (next(&mut s) - 0.5) * 1.8 * bounds,
                (next(&mut s) - 0.5) * 1.8 * bounds,
            ];
            let embedding = (0..channels).map(|_| next(&mut s) * 2.0 - 1.0).collect();
            Object::new(
                format!("{prefix}{i}"),
                TYPES[i % TYPES.len()],
                position,
                embedding,
            )
            .with_confidence(0.5 + next(&mut s) / 2.0)
        })
        .collect()
}

/// The fixture: `in_m` objects in map `m`, `in_n` in map `n`, and the model `mm`.
pub fn database(in_m: usize, in_n: usize) -> Database {
    let db = Database::open_in_memory().expect("in-memory database");
    db.execute(
        "CREATE MAP m WITH (channels = 4, bounds = 100, resolution = 16, splat_radius = 1);
         CREATE MAP n WITH (channels = 2, bounds = 50, resolution = 8, splat_radius = 1);
         CREATE MODEL mm WITH (layers = 1, dim = 6, heads = 1, hidden = 8, channels = 4, context = 32)",
    )
    .expect("the fixture's statements");
    db.write(|t| {
        t.insert_many("m", objects("o", in_m, 4, 100.0, 1))?;
        t.insert_many("n", objects("p", in_n, 2, 50.0, 2))
    })
    .expect("the fixture's objects");
    db
}
