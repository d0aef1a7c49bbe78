//! A safe face on the `gemm` crate's `f32` product for the strided views the network uses.
//!
//! `gemm` picks its kernel at run time (AVX-512, AVX2 + FMA, or portable code) and packs strided
//! operands itself. It replaced `matrixmultiply` (whose default build also has an AVX-512
//! kernel). On an AVX-512 core (Xeon, Emerald Rapids), the mid end's shape, 187 × 3 927 by 64
//! with rows 561 floats apart, ran at 123–159 GFLOP/s against 64–118, and the dense layer
//! (1 × 1 506 by 200) at 17–20 against 4–5; with both crates built for AVX2 only, on the same
//! core, 68–80 against 53–62 and 15–21 against 5–6 (BENCHMARKS.md, session 10). The
//! convolutions' own kernels (`super::conv`) stay faster than either on their shapes.

/// A read-only matrix view: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
///
/// Strides may overlap (a Toeplitz view of a signal is a matrix with both strides 1), which
/// lets the convolutions read their input in place instead of copying it into im2col form.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A dense row-major `rows × cols` matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn last_index(&self) -> usize {
        (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
    }
}

/// `out = a · b` (or `out += a · b` when `accumulate`), `out` dense row-major `a.rows × b.cols`.
///
/// Panics if the shapes disagree or a view reaches past its slice.
pub fn matmul(a: View<'_>, b: View<'_>, out: &mut [f32], accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert!(a.rows > 0 && a.cols > 0 && b.cols > 0, "empty product");
    assert!(
        a.last_index() < a.data.len(),
        "view of a reaches past its data"
    );
    assert!(
        b.last_index() < b.data.len(),
        "view of b reaches past its data"
    );
    assert!(out.len() >= a.rows * b.cols, "output too small");
    // SAFETY: every index the kernel reads is within `a.data` / `b.data` (checked above), it
    // writes only `out[..a.rows * b.cols]` (row-major, rows `b.cols` apart), and `out` cannot
    // alias the shared slices. `gemm` computes `dst = alpha·dst + beta·lhs·rhs`, reading `dst`
    // only when asked to.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            out.as_mut_ptr(),
            1,
            b.cols as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `out = a · b` for dense row-major `a` (`m × k`) and `b` (`k × n`): the plain GEMM that
/// `sonovec bench` times as this CPU's reference rate.
pub fn dense_product(a: &[f32], b: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    matmul(View::dense(a, m, k), View::dense(b, k, n), out, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toeplitz_view_is_a_correlation() {
        // Rows of the view are windows of the signal: a · [1, 10] is x[t] + 10·x[t+1].
        let signal = [1.0, 2.0, 3.0, 4.0];
        let a = View {
            data: &signal,
            rows: 3,
            cols: 2,
            row_stride: 1,
            col_stride: 1,
        };
        let kernel = [1.0, 10.0];
        let mut out = [0.0; 3];
        matmul(a, View::dense(&kernel, 2, 1), &mut out, false);
        assert_eq!(out, [21.0, 32.0, 43.0]);
        matmul(a, View::dense(&kernel, 2, 1), &mut out, true);
        assert_eq!(out, [42.0, 64.0, 86.0]);
    }
}
