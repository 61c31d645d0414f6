//! A seeded random scene for the HTML view's tests, examples and benchmarks: objects in
//! Gaussian clusters, and a field whose norm is the sum of a Gaussian bump per cluster
//! (smooth, so its gradient is known in closed form).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensormap_render::html::{
    ColumnValues, FieldBrick, ViewColumn, ViewField, ViewObjects, ViewScene, BRICK_CELLS,
};

/// Half the world cube's edge.
pub const BOUNDS: f64 = 500.0;
/// The field's cells per axis.
pub const RESOLUTION: u32 = 64;
/// Each cluster's spread (standard deviation), world units.
pub const SPREAD: f64 = 60.0;

/// The types drawn, in turn.
pub const KINDS: [&str; 5] = ["cube", "sphere", "pyramid", "torus", "point"];

/// Cluster centres and amplitudes for `seed`.
pub fn clusters(seed: u64) -> Vec<([f64; 3], f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    (0..6)
        .map(|_| {
            let c = [0; 3].map(|_| rng.random_range(-300.0..300.0));
            (c, rng.random_range(0.5..2.0))
        })
        .collect()
}

/// The field's norm at world point `p`: `Σ a · exp(-|p - c|² / (2 · (2·SPREAD)²))`.
pub fn norm_at(clusters: &[([f64; 3], f64)], p: [f64; 3]) -> f64 {
    let s2 = 2.0 * (2.0 * SPREAD) * (2.0 * SPREAD);
    clusters
        .iter()
        .map(|(c, a)| {
            let d2: f64 = (0..3).map(|k| (p[k] - c[k]).powi(2)).sum();
            a * (-d2 / s2).exp()
        })
        .sum()
}

/// `n` objects and the field, reproducible from `seed`.
pub fn random_scene(n: usize, seed: u64) -> ViewScene {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cl = clusters(seed);
    let mut objects = ViewObjects::default();
    let mut score = Vec::with_capacity(n);
    let mut label = Vec::with_capacity(n);
    for i in 0..n {
        let (c, _) = cl[i % cl.len()];
        // Box–Muller normals around the cluster's centre, kept inside the world.
        let p = c.map(|v| {
            let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (v + g * SPREAD).clamp(-BOUNDS + 1.0, BOUNDS - 1.0) as f32
        });
        objects.push(
            format!("obj-{i}"),
            KINDS[(i / cl.len() + i) % KINDS.len()],
            p,
            rng.random_range(0.0..1.0f32),
        );
        score.push(norm_at(&cl, p.map(|v| v as f64)) * 100.0);
        label.push((i % 7 != 0).then(|| format!("cluster {}", i % cl.len())));
    }
    objects.columns.push(ViewColumn {
        name: "score".into(),
        values: ColumnValues::Number(score),
    });
    objects.columns.push(ViewColumn {
        name: "label".into(),
        values: ColumnValues::Text(label),
    });
    ViewScene {
        map: "demo".into(),
        objects,
        field: Some(field(&cl)),
    }
}

/// The field sampled at cell centres; bricks whose norm stays below 1e-3 are left out.
pub fn field(cl: &[([f64; 3], f64)]) -> ViewField {
    let per_axis = RESOLUTION / 8;
    let cell = 2.0 * BOUNDS / RESOLUTION as f64;
    let mut bricks = Vec::new();
    for bz in 0..per_axis {
        for by in 0..per_axis {
            for bx in 0..per_axis {
                let mut norms = vec![0.0f32; BRICK_CELLS];
                for z in 0..8 {
                    for y in 0..8 {
                        for x in 0..8 {
                            let g = [bx * 8 + x, by * 8 + y, bz * 8 + z];
                            let p = g.map(|i| -BOUNDS + (i as f64 + 0.5) * cell);
                            norms[(x + 8 * y + 64 * z) as usize] = norm_at(cl, p) as f32;
                        }
                    }
                }
                if norms.iter().any(|v| *v > 1e-3) {
                    bricks.push(FieldBrick {
                        coords: [bx, by, bz],
                        norms,
                    });
                }
            }
        }
    }
    ViewField {
        resolution: RESOLUTION,
        bounds: BOUNDS,
        bricks,
    }
}
