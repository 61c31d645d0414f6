//! Dense f32 products on row-major slices, through faer's matrix product (its SIMD kernels
//! are chosen at run time: AVX-512 where the CPU has it), on the calling thread.
//!
//! The fused generation step (`decode.rs`) and the fused trainer (`train/fused/`) work on
//! plain `Vec<f32>` buffers instead of candle tensors: at their sizes (one token, or a
//! training batch of a few hundred rows of width 64) candle's cost per op — a fresh buffer,
//! a dispatch to its thread pool and the wait at its barrier — was most of the time, not
//! the arithmetic. Every matrix here is row-major; a linear layer's weight is `[out, in]`
//! (`y = x Wᵀ + b`), as in `weights.rs`.
//!
//! Shapes are the caller's invariant (they come from a validated configuration and buffers
//! sized from it): a slice too short for the shape it is given is a bug, and faer panics.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Whether a product replaces or adds to what the output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `c = a · b`.
    Set,
    /// `c += a · b`.
    Add,
}

impl Write {
    fn accum(self) -> Accum {
        match self {
            Write::Set => Accum::Replace,
            Write::Add => Accum::Add,
        }
    }
}

/// A row-major `rows × cols` view whose rows start `stride` values apart.
pub fn view(data: &[f32], rows: usize, cols: usize, stride: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice_with_stride(data, rows, cols, stride.max(cols))
}

/// The mutable form of [`view`].
pub fn view_mut(data: &mut [f32], rows: usize, cols: usize, stride: usize) -> MatMut<'_, f32> {
    // The transpose of a column-major view: faer 0.24.4's
    // `from_row_major_slice_with_stride_mut` lays its matrix out column-major (row stride
    // 1, column stride `row_stride`) while checking the slice's length for row-major, so it
    // writes out of bounds; the column-major constructor is right.
    MatMut::from_column_major_slice_with_stride_mut(data, cols, rows, stride.max(cols))
        .transpose_mut()
}

/// `c (=|+=) alpha · a · b` on views.
pub fn product(
    c: MatMut<'_, f32>,
    write: Write,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    alpha: f32,
) {
    matmul(c, write.accum(), a, b, alpha, Par::Seq);
}

/// `c (m×n) (=|+=) a (m×k) · bᵀ` with `b` `n×k`: the rows of a linear layer (`x Wᵀ`).
pub fn a_bt(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, write: Write) {
    product(
        view_mut(c, m, n, n),
        write,
        view(a, m, k, k),
        view(b, n, k, k).transpose(),
        1.0,
    );
}

/// `c (m×n) (=|+=) a (m×k) · b (k×n)`: back through a linear layer (`dx = dy W`).
pub fn a_b(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, write: Write) {
    product(
        view_mut(c, m, n, n),
        write,
        view(a, m, k, k),
        view(b, k, n, n),
        1.0,
    );
}

/// `c (m×n) (=|+=) aᵀ · b` with `a` `k×m` and `b` `k×n`: a weight's gradient
/// (`dW += dyᵀ x` over `k` rows).
pub fn at_b(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, write: Write) {
    product(
        view_mut(c, m, n, n),
        write,
        view(a, k, m, m).transpose(),
        view(b, k, n, n),
        1.0,
    );
}

/// `y = x Wᵀ + b` for `rows` rows of `x` (`rows × inp`), `w` `[out, inp]`, `b` `[out]`.
pub fn linear(y: &mut [f32], x: &[f32], w: &[f32], b: &[f32], rows: usize, inp: usize) {
    let out = b.len();
    a_bt(y, x, w, rows, inp, out, Write::Set);
    for row in y[..rows * out].chunks_exact_mut(out) {
        for (v, b) in row.iter_mut().zip(b) {
            *v += b;
        }
    }
}

/// `a · b` with eight partial sums, so that it vectorizes.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
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

/// `acc[i] += Σ_rows m[row, i]` for a row-major `m` of `acc.len()` columns: a bias's
/// gradient.
pub fn add_column_sums(acc: &mut [f32], m: &[f32]) {
    let width = acc.len();
    if width == 0 {
        return;
    }
    for row in m.chunks_exact(width) {
        for (a, x) in acc.iter_mut().zip(row) {
            *a += x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0f32; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn products_equal_the_textbook_loops() {
        let (m, k, n) = (7, 19, 5);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5) % 13) as f32 * 0.25 - 1.0)
            .collect();
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![1f32; m * n];
        a_b(&mut c, &a, &b, m, k, n, Write::Set);
        close(&c, &want);
        a_bt(&mut c, &a, &transpose(&b, k, n), m, k, n, Write::Add);
        close(&c, &want.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
        at_b(&mut c, &transpose(&a, m, k), &b, m, k, n, Write::Set);
        close(&c, &want);
        let bias: Vec<f32> = (0..n).map(|i| i as f32).collect();
        linear(&mut c, &a, &transpose(&b, k, n), &bias, m, k);
        let with_bias: Vec<f32> = want
            .iter()
            .enumerate()
            .map(|(i, x)| x + (i % n) as f32)
            .collect();
        close(&c, &with_bias);
        let mut sums = vec![0f32; n];
        add_column_sums(&mut sums, &want);
        let col = |j: usize| (0..m).map(|i| want[i * n + j]).sum::<f32>();
        close(&sums, &(0..n).map(col).collect::<Vec<_>>());
        assert_eq!(
            dot(&a[..k], &a[..k]),
            a[..k].iter().map(|x| x * x).sum::<f32>()
        );
    }
}
