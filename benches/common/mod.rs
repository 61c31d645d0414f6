//! The seeded data every benchmark uses: objects uniformly in `[-500, 500]³` with
//! 32-channel embeddings in [-1, 1], and query centers in `[-450, 450]³`.

#![allow(dead_code)] // each bench uses a part of it

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap::Object;

pub mod sqlite;

pub const MILLION: usize = 1_000_000;

/// The side of the cube the objects fill, in world units.
pub const EXTENT: f32 = 1000.0;

/// In a 1000³ cube holding 1M objects, a ball of this radius holds ~100 of them.
pub const RADIUS_100_HITS: f32 = 28.8;

pub fn random_object(rng: &mut ChaCha8Rng, id: usize, channels: usize) -> Object {
    let p = [0; 3].map(|_| rng.random_range(-500.0f32..500.0));
    let e = (0..channels)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    Object::new(format!("obj{id:07}"), "cube", p, e)
}

/// `n` objects with ids `obj0000000`, `obj0000001`, … drawn from `seed`.
pub fn objects(n: usize, seed: u64) -> Vec<Object> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|i| random_object(&mut rng, i, 32)).collect()
}

/// `n` query centers drawn from `seed`, 50 units inside the objects' cube.
pub fn centers(n: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| [0; 3].map(|_| rng.random_range(-450.0f32..450.0)))
        .collect()
}

/// The attention query every benchmark uses.
pub fn query_vector() -> Vec<f32> {
    (0..32).map(|i| (i as f32 * 0.7).cos()).collect()
}

/// Reads every value of `runs` once on `threads` threads (runs split between them by
/// length), summing: the memory-bandwidth bound of any scan over the same bytes. The sum
/// keeps the reads from being optimized out.
pub fn sum_on_threads(runs: &[&[f32]], threads: usize) -> f32 {
    let total: usize = runs.iter().map(|r| r.len()).sum();
    let per = total.div_ceil(threads.max(1)).max(1);
    // Each thread's share: pieces of runs adding up to `per` values.
    let mut shares: Vec<Vec<&[f32]>> = vec![Vec::new()];
    let mut room = per;
    for run in runs {
        let mut run: &[f32] = run;
        while !run.is_empty() {
            let take = room.min(run.len());
            shares.last_mut().unwrap().push(&run[..take]);
            run = &run[take..];
            room -= take;
            if room == 0 {
                shares.push(Vec::new());
                room = per;
            }
        }
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = shares
            .iter()
            .map(|share| {
                s.spawn(move || {
                    let mut lanes = [0f32; 16];
                    for piece in share {
                        for c in piece.chunks_exact(16) {
                            for (a, v) in lanes.iter_mut().zip(c) {
                                *a += v;
                            }
                        }
                    }
                    lanes.iter().sum::<f32>()
                })
            })
            .collect();
        parts.into_iter().map(|p| p.join().unwrap()).sum()
    })
}
