//! Where tokens are, and the 3-D sinusoidal positional encoding.
//!
//! Units: the network works in *model units*, a cube of half-width `max_position` (500 by
//! default, the default map `bounds`). A spatial token's world position `p` in a map of
//! half-width `bounds` is at `p · max_position / bounds`. Text tokens are placed on a fixed
//! schedule, index `i` counted from `BOS = 0`:
//! `(10 i − 250, 100 sin(0.1 i), 100 cos(0.1 i))` model units, the same for every text, so
//! the 3-D encoding also tells the network the order of the text.
//!
//! Everything here is computed in f64 on the host and rounded once to the model's dtype, so
//! the encoding does not depend on the dtype's precision of `sin` of large arguments.

/// Position of the text token at index `i` (BOS is index 0), in model units.
pub fn text_position(i: usize) -> [f64; 3] {
    let i = i as f64;
    [
        10.0 * i - 250.0,
        100.0 * (0.1 * i).sin(),
        100.0 * (0.1 * i).cos(),
    ]
}

/// A world position in a map of half-width `bounds`, in model units.
pub fn world_to_model(p: [f32; 3], bounds: f32, max_position: f32) -> [f64; 3] {
    let s = max_position as f64 / bounds as f64;
    [p[0] as f64 * s, p[1] as f64 * s, p[2] as f64 * s]
}

/// Euclidean distance between two positions in model units, in units of `max_position`
/// (the unit of the attention's distance bias and of the spatial loss).
pub fn normalized_distance(a: [f64; 3], b: [f64; 3], max_position: f32) -> f64 {
    let d2: f64 = (0..3).map(|k| (a[k] - b[k]) * (a[k] - b[k])).sum();
    d2.sqrt() / max_position as f64
}

/// Appends the encoding of `pos` (model units) to `out`: `dim` values.
///
/// With `A = ⌊dim/6⌋` frequencies `ω_j = 10000^(−j/A)`, axis `a ∈ {x, y, z}` owns the band
/// `[2A·a, 2A·(a+1))` where channel `2A·a + 2j` is `sin(pos_a · ω_j)` and `2A·a + 2j + 1` is
/// `cos(pos_a · ω_j)`; the last `dim − 6A` channels are 0. Each axis has a band of its own,
/// so that no axis overwrites another and no channel lies past `dim`.
pub fn encode_into(pos: [f64; 3], dim: usize, out: &mut Vec<f32>) {
    let a = dim / 6;
    let start = out.len();
    for axis in pos {
        for j in 0..a {
            let omega = (-(j as f64) * 10000f64.ln() / a as f64).exp();
            let angle = axis * omega;
            out.push(angle.sin() as f32);
            out.push(angle.cos() as f32);
        }
    }
    out.resize(start + dim, 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_fills_exactly_dim_channels() {
        for dim in [6, 7, 32, 64, 128, 768] {
            let mut v = Vec::new();
            encode_into([1.0, -2.0, 3.0], dim, &mut v);
            assert_eq!(v.len(), dim);
            let a = dim / 6;
            // Every (sin, cos) pair has norm 1; the tail is zero.
            for pair in v[..6 * a].chunks(2) {
                assert!((pair[0].powi(2) + pair[1].powi(2) - 1.0).abs() < 1e-6);
            }
            assert!(v[6 * a..].iter().all(|&x| x == 0.0));
        }
        let mut v = Vec::new();
        encode_into([0.5, 0.0, 0.0], 12, &mut v);
        // x band: ω_0 = 1, ω_1 = 0.01.
        assert!((v[0] - 0.5f32.sin()).abs() < 1e-7 && (v[2] - 0.005f32.sin()).abs() < 1e-7);
        // y band starts at 2A = 4 with sin(0) = 0, cos(0) = 1.
        assert_eq!((v[4], v[5]), (0.0, 1.0));
    }

    #[test]
    fn world_positions_scale_to_the_model_cube() {
        assert_eq!(
            world_to_model([100.0, -50.0, 0.0], 100.0, 500.0),
            [500.0, -250.0, 0.0]
        );
        let d = normalized_distance([0.0; 3], [300.0, 400.0, 0.0], 500.0);
        assert!((d - 1.0).abs() < 1e-12);
        assert_eq!(text_position(0), [-250.0, 0.0, 100.0]);
    }
}
