//! Fused spatial attention for inference on the CPU in f32.
//!
//! The composed form (network.rs) runs `Q Kᵀ` and `softmax(·) V` as candle batched
//! products over `b · H` tiny matrices (`s × hd` by `hd × s`, s ≈ 10–20 for short texts):
//! candle calls gemm once per matrix, one after another, so a batch of 600 texts spends
//! most of its attention time in call overhead, plus a copy per head split and merge and a
//! pass per elementwise op. Here one loop computes, per sequence `r`, head `h` and query
//! row `i`,
//! ```text
//! score_j = (q_i · k_j) · scale − β_h · dist[r, i, j] + mask[r, i, j]
//! out_i   = Σ_j softmax(score)_j · v_j
//! ```
//! reading `q`, `k`, `v` straight from the linear layers' rows (`(rows, D)`, head `h` at
//! columns `h·hd .. (h+1)·hd`) and writing the merged heads' rows. Keys whose mask is
//! [`MASKED`] are skipped: their `exp` underflows to exactly 0 in the composed form, so the
//! result is the same function; it agrees with the composed form to float rounding (test
//! below). Query rows are split between candle's worker count of threads.

use candle_core::{CpuStorage, DType, Device, Layout, Storage, Tensor};

use crate::batch::MASKED;
use crate::error::{Error, Result};

/// The shapes of one fused attention call.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// Sequences.
    pub b: usize,
    /// Query rows per sequence.
    pub sq: usize,
    /// Key rows per sequence.
    pub s: usize,
    /// Heads.
    pub heads: usize,
    /// Width per head.
    pub hd: usize,
}

/// Whether [`attend`] can run on these tensors: f32 on the CPU.
pub fn supported(x: &Tensor) -> bool {
    x.dtype() == DType::F32 && x.device().is_cpu()
}

/// The attention output rows, `(b·sq, H·hd)`, from query rows `q` `(b·sq, H·hd)`, key and
/// value rows `k`, `v` `(b·s, H·hd)`, `dist` and `mask` `(b, 1, sq, s)` and per-head
/// penalties `beta` (`H` values); module docs.
pub fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    dist: &Tensor,
    mask: &Tensor,
    beta: &Tensor,
    dims: Dims,
) -> Result<Tensor> {
    let Dims {
        b,
        sq,
        s,
        heads,
        hd,
    } = dims;
    let d = heads * hd;
    let beta: Vec<f32> = beta.flatten_all()?.to_vec1()?;
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let (dist, mask) = (dist.contiguous()?, mask.contiguous()?);
    let (qs, ks, vs) = (
        q.storage_and_layout(),
        k.storage_and_layout(),
        v.storage_and_layout(),
    );
    let (ds, ms) = (dist.storage_and_layout(), mask.storage_and_layout());
    let q = cpu_f32(&qs.0, qs.1, b * sq * d)?;
    let k = cpu_f32(&ks.0, ks.1, b * s * d)?;
    let v = cpu_f32(&vs.0, vs.1, b * s * d)?;
    let dist = cpu_f32(&ds.0, ds.1, b * sq * s)?;
    let mask = cpu_f32(&ms.0, ms.1, b * sq * s)?;
    if beta.len() != heads {
        return Err(Error::arg(format!(
            "{} head penalties for {heads} heads",
            beta.len()
        )));
    }
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; b * sq * d];
    // Query rows (all heads of one row are contiguous in `out`) split between threads.
    // Below ~1M multiply-adds a thread costs more to start than it saves.
    let rows = b * sq;
    let threads = if rows * s * d < 1 << 20 {
        1
    } else {
        candle_core::utils::get_num_threads().clamp(1, rows.max(1))
    };
    let per = rows.div_ceil(threads).max(1);
    let work = |t: usize, out: &mut [f32]| {
        let mut p = vec![0f32; s];
        for (n, out) in out.chunks_mut(d).enumerate() {
            // Query row `i` of sequence `r`.
            let qrow = t * per + n;
            let r = qrow / sq;
            let bias = qrow * s;
            for (h, &beta) in beta.iter().enumerate() {
                let qi = &q[qrow * d + h * hd..][..hd];
                let mut max = f32::NEG_INFINITY;
                for j in 0..s {
                    let m = mask[bias + j];
                    p[j] = if m <= MASKED {
                        f32::NEG_INFINITY
                    } else {
                        let kj = &k[(r * s + j) * d + h * hd..][..hd];
                        dot(qi, kj) * scale - beta * dist[bias + j] + m
                    };
                    max = max.max(p[j]);
                }
                let mut sum = 0f32;
                for x in p.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                let o = &mut out[h * hd..][..hd];
                for (j, &w) in p.iter().enumerate() {
                    if w != 0.0 {
                        let vj = &v[(r * s + j) * d + h * hd..][..hd];
                        let w = w / sum;
                        for (o, x) in o.iter_mut().zip(vj) {
                            *o += w * x;
                        }
                    }
                }
            }
        }
    };
    crate::par::for_chunks(&mut out, per * d, work);
    Ok(Tensor::from_vec(out, (b * sq, d), &Device::Cpu)?)
}

/// `a · b` with eight partial sums, so that it vectorizes.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, ar) = (a.chunks_exact(8), a.chunks_exact(8).remainder());
    let (bc, br) = (b.chunks_exact(8), b.chunks_exact(8).remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// The values of a contiguous f32 CPU tensor, which must be `len` of them.
fn cpu_f32<'a>(storage: &'a Storage, layout: &Layout, len: usize) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) if end - start == len => data
            .get(start..end)
            .ok_or_else(|| Error::arg("fused attention: a tensor outside its storage")),
        _ => Err(Error::arg(format!(
            "fused attention: expected a contiguous f32 CPU tensor of {len} values, got {:?}",
            layout.shape()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    /// The composed form of network.rs, written out in candle ops.
    fn composed(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        dist: &Tensor,
        mask: &Tensor,
        beta: &Tensor,
        dims: Dims,
    ) -> Tensor {
        let Dims {
            b,
            sq,
            s,
            heads,
            hd,
        } = dims;
        let split = |t: &Tensor, len: usize| {
            t.reshape((b, len, heads, hd))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (q, k, v) = (split(q, sq), split(k, s), split(v, s));
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * (1.0 / (hd as f64).sqrt())).unwrap();
        let scores = scores
            .sub(&dist.broadcast_mul(beta).unwrap())
            .unwrap()
            .broadcast_add(mask)
            .unwrap();
        let attn = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        attn.matmul(&v)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b * sq, heads * hd))
            .unwrap()
    }

    #[test]
    fn equals_the_composed_form() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dev = Device::Cpu;
        // Causal masks with some hidden keys, query rows = key rows and one query a sequence;
        // head widths that are and are not a multiple of 8.
        for (b, sq, s, heads, hd) in [(5, 7, 7, 4, 32), (3, 1, 9, 2, 12), (1, 4, 4, 3, 8)] {
            let d = heads * hd;
            let t = |v: Vec<f32>, shape: &[usize]| Tensor::from_vec(v, shape, &dev).unwrap();
            let q = t(random(&mut rng, b * sq * d), &[b * sq, d]);
            let k = t(random(&mut rng, b * s * d), &[b * s, d]);
            let v = t(random(&mut rng, b * s * d), &[b * s, d]);
            let dist = t(
                (0..b * sq * s)
                    .map(|_| rng.random_range(0.0..1.0))
                    .collect(),
                &[b, 1, sq, s],
            );
            let mut mask = vec![0f32; b * sq * s];
            for r in 0..b {
                for i in 0..sq {
                    let qi = s - sq + i;
                    for j in 0..s {
                        if j > qi || (j != qi && rng.random_bool(0.2)) {
                            mask[(r * sq + i) * s + j] = MASKED;
                        }
                    }
                }
            }
            let mask = t(mask, &[b, 1, sq, s]);
            let beta = t(random(&mut rng, heads), &[1, heads, 1, 1]);
            let dims = Dims {
                b,
                sq,
                s,
                heads,
                hd,
            };
            let fused = attend(&q, &k, &v, &dist, &mask, &beta, dims).unwrap();
            let want = composed(&q, &k, &v, &dist, &mask, &beta, dims);
            let diff = (fused - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "{b}×{sq}×{s}, {heads} heads of {hd}: {diff}");
        }
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let dev = Device::Cpu;
        let z = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &dev).unwrap();
        let dims = Dims {
            b: 2,
            sq: 3,
            s: 3,
            heads: 2,
            hd: 4,
        };
        let r = attend(
            &z(&[6, 8]),
            &z(&[6, 8]),
            &z(&[5, 8]),
            &z(&[2, 1, 3, 3]),
            &z(&[2, 1, 3, 3]),
            &z(&[1, 2, 1, 1]),
            dims,
        );
        assert!(r.is_err());
    }
}
