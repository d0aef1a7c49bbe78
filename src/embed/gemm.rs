//! A safe face on `matrixmultiply::sgemm` for the strided views the network uses.

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
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: every index the kernel reads is within `a.data` / `b.data` (checked above), it
    // writes only `out[..a.rows * b.cols]`, and `out` cannot alias the shared slices.
    unsafe {
        matrixmultiply::sgemm(
            a.rows,
            a.cols,
            b.cols,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            out.as_mut_ptr(),
            b.cols as isize,
            1,
        );
    }
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
