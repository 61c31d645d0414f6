//! Seeded scenes for the snapshot tests and benchmarks: random objects, and the field they
//! splat (the formula of docs/LANGUAGE.md, "Objects", computed naively: `field[c + d] += exp(-|d|²/(2σ²)) · e`
//! for `|d_a| ≤ r`, with each cell counting the splats covering it).

#![allow(dead_code)] // each test binary uses a part of it

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_storage::snapshot::{
    morton, unmorton, BrickEntry, Compression, Format, ObjectChunk, ObjectEntry, Snapshot,
};
use tensormap_storage::{Dtype, MapConfig};

/// `n` random objects for a map of `config`, drawn from `seed`.
pub fn objects(config: &MapConfig, n: usize, seed: u64) -> ObjectChunk {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ch = config.channels as usize;
    let b = config.bounds as f32;
    let kinds = ["cube", "sphere", "pyramid", "torus", "point"];
    let mut chunk = ObjectChunk::new(ch);
    for i in 0..n {
        let id = format!("obj{i:07}");
        let position = [0; 3].map(|_| rng.random_range(-b..=b));
        let embedding: Vec<f32> = (0..ch).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        chunk.push(&ObjectEntry {
            id: &id,
            kind: kinds[i % kinds.len()],
            position,
            embedding: &embedding,
            confidence: rng.random_range(0.0f32..=1.0),
        });
    }
    chunk
}

/// The field `objects` splat into a map of `config`, as bricks in Morton order.
pub fn splat(config: &MapConfig, objects: &ObjectChunk) -> Vec<BrickEntry> {
    let ch = config.channels as usize;
    let r = config.splat_radius as i64;
    let last = config.resolution as i64 - 1;
    let mut bricks: BTreeMap<u64, (Vec<f32>, Vec<u32>)> = BTreeMap::new();
    for o in objects.iter() {
        let c = o.position.map(|p| config.cell_of(p) as i64);
        for z in (c[2] - r).max(0)..=(c[2] + r).min(last) {
            for y in (c[1] - r).max(0)..=(c[1] + r).min(last) {
                for x in (c[0] - r).max(0)..=(c[0] + r).min(last) {
                    let d2 = ((x - c[0]).pow(2) + (y - c[1]).pow(2) + (z - c[2]).pow(2)) as f64;
                    let w = (-d2 / (2.0 * config.sigma * config.sigma)).exp() as f32;
                    let m = morton([x as u32 / 8, y as u32 / 8, z as u32 / 8]);
                    let (values, counts) = bricks
                        .entry(m)
                        .or_insert_with(|| (vec![0.0; 512 * ch], vec![0; 512]));
                    let cell = (x % 8 + 8 * (y % 8) + 64 * (z % 8)) as usize;
                    counts[cell] += 1;
                    for (v, e) in values[cell * ch..(cell + 1) * ch]
                        .iter_mut()
                        .zip(o.embedding)
                    {
                        *v += w * e;
                    }
                }
            }
        }
    }
    bricks
        .into_iter()
        .map(|(m, (values, counts))| BrickEntry {
            coords: unmorton(m),
            values,
            counts,
        })
        .collect()
}

/// A scene of `n` objects and their field.
pub fn scene(config: &MapConfig, n: usize, seed: u64) -> Snapshot {
    let objects = objects(config, n, seed);
    let bricks = splat(config, &objects);
    Snapshot {
        config: config.clone(),
        dtype: Dtype::F32,
        compression: Compression::Zstd,
        format: Format::Binary,
        objects,
        bricks,
    }
}
