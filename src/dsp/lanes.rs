//! Reductions and logarithms over a frame's values, several at a time.
//!
//! The per-frame descriptors reduce a few hundred values per frame, tens of thousands of frames
//! per track. Written as one running sum, each pass waits on the adder's latency value after
//! value; written with one libm call per value, the logarithms alone were about 5 % of a
//! `--model none` run on MP3 (perf). Here sums run in four interleaved partial sums and
//! logarithms four or eight at a time (`wide`'s vector versions of VCL's, within an ulp or two of
//! libm's), so the results differ from a plain loop's in their last bits only.

use wide::{f32x8, f64x4};

/// `Σ_k f(k, x_k)` for each of the `N` terms `f` returns (`k` as `f64`), in four partial sums
/// per term.
#[inline(always)]
pub fn lane_sums<T: Copy, const N: usize>(x: &[T], f: impl Fn(f64, T) -> [f64; N]) -> [f64; N] {
    four_lane_sums(x, x, |k, v, _| f(k, v))
}

/// `Σ_k f(a_k, b_k)` for each of the `N` terms `f` returns, in four partial sums per term, over
/// the shorter slice's length.
#[inline(always)]
pub fn pair_sums<A: Copy, B: Copy, const N: usize>(
    a: &[A],
    b: &[B],
    f: impl Fn(A, B) -> [f64; N],
) -> [f64; N] {
    four_lane_sums(a, b, |_, x, y| f(x, y))
}

/// The loop of both reductions: `term(k, a_k, b_k)` added into lane `k mod 4` over whole
/// groups of four, the lanes combined as `(l0 + l1) + (l2 + l3)`, then the last `n mod 4` terms
/// added in order.
///
/// The index reaches `term` as an `f64` counted in `f64` (exact far beyond any slice length):
/// converted from `usize` in each term, it took several scalar instructions per value without
/// AVX-512 and kept the loop from vectorising, a third of the instructions of the spectral
/// shape (callgrind).
#[inline(always)]
fn four_lane_sums<A: Copy, B: Copy, const N: usize>(
    a: &[A],
    b: &[B],
    term: impl Fn(f64, A, B) -> [f64; N],
) -> [f64; N] {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [[0.0f64; N]; 4];
    let mut k = 0.0;
    for (x, y) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for (j, lane) in lanes.iter_mut().enumerate() {
            for (acc, t) in lane.iter_mut().zip(term(k + j as f64, x[j], y[j])) {
                *acc += t;
            }
        }
        k += 4.0;
    }
    let mut sums = [0.0; N];
    for (i, sum) in sums.iter_mut().enumerate() {
        *sum = (lanes[0][i] + lanes[1][i]) + (lanes[2][i] + lanes[3][i]);
    }
    let done = n - n % 4;
    for (&x, &y) in a[done..].iter().zip(&b[done..]) {
        for (sum, t) in sums.iter_mut().zip(term(k, x, y)) {
            *sum += t;
        }
        k += 1.0;
    }
    sums
}

/// `Σ a_k · b_k` in four partial sums, as [`pair_sums`] takes them, bit for bit.
///
/// Written with `f64x4` rather than through [`pair_sums`], which the compiler left scalar here:
/// the MFCCs' DCT is 13 of these per frame, and took two thirds of their instructions.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let tail = a.remainder().iter().zip(b.remainder());
    let mut lanes = f64x4::ZERO;
    for (x, y) in a.zip(b) {
        lanes += f64x4::new(x.try_into().expect("four")) * f64x4::new(y.try_into().expect("four"));
    }
    let l = lanes.to_array();
    let mut sum = (l[0] + l[1]) + (l[2] + l[3]);
    for (x, y) in tail {
        sum += x * y;
    }
    sum
}

/// `out[k] = ln(max(floor, values[k]))`, four values per vector logarithm (`floor` > 0).
pub fn ln_floored(values: &[f32], floor: f64, out: &mut [f64]) {
    let n = values.len().min(out.len());
    let (values, out) = (&values[..n], &mut out[..n]);
    let floor4 = f64x4::splat(floor);
    let mut chunks = out.chunks_exact_mut(4);
    for (o, v) in (&mut chunks).zip(values.chunks_exact(4)) {
        let x = f64x4::new([v[0] as f64, v[1] as f64, v[2] as f64, v[3] as f64]);
        o.copy_from_slice(&x.max(floor4).ln().to_array());
    }
    let done = n - chunks.into_remainder().len();
    for (o, &v) in out[done..].iter_mut().zip(&values[done..]) {
        *o = (v as f64).max(floor).ln();
    }
}

/// `out[k] = log10(1 + 10000 · power[k])` ([`super::log_mel`]), eight values per vector
/// logarithm.
pub fn log_mel_into(power: &[f32], out: &mut [f32]) {
    let n = power.len().min(out.len());
    let (power, out) = (&power[..n], &mut out[..n]);
    let mut chunks = out.chunks_exact_mut(8);
    for (o, p) in (&mut chunks).zip(power.chunks_exact(8)) {
        let p = f32x8::new(p.try_into().expect("eight values"));
        let y = (p * f32x8::splat(10_000.0) + f32x8::ONE).ln()
            * f32x8::splat(std::f32::consts::LOG10_E);
        o.copy_from_slice(&y.to_array());
    }
    let done = n - chunks.into_remainder().len();
    for (o, &p) in out[done..].iter_mut().zip(&power[done..]) {
        *o = super::log_mel(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_a_plain_loop() {
        let x: Vec<f64> = (0..257).map(|k| ((k * 37 % 101) as f64).sqrt()).collect();
        let [total, moment] = lane_sums(&x, |k, v| [v, k * v]);
        let plain: f64 = x.iter().sum();
        let plain_moment: f64 = x.iter().enumerate().map(|(k, v)| k as f64 * v).sum();
        assert!((total - plain).abs() <= 1e-12 * plain);
        assert!((moment - plain_moment).abs() <= 1e-12 * plain_moment);
        assert!((dot(&x, &x) - x.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-9);
        for n in [0, 1, 4, 7, 96, 256] {
            let [pairs] = pair_sums(&x[..n], &x[1..n + 1], |a, b| [a * b]);
            assert_eq!(dot(&x[..n], &x[1..n + 1]), pairs, "n = {n}");
        }
    }

    #[test]
    fn logarithms_match_libm() {
        let values: Vec<f32> = (0..203)
            .map(|k| {
                if k % 17 == 0 {
                    0.0
                } else {
                    1e-12 * 1.37f32.powi(k)
                }
            })
            .collect();
        let mut ln = vec![0.0; values.len()];
        ln_floored(&values, 1e-10, &mut ln);
        let mut mel = vec![0.0; values.len()];
        log_mel_into(&values, &mut mel);
        for ((&v, &l), &m) in values.iter().zip(&ln).zip(&mel) {
            let exact = (v as f64).max(1e-10).ln();
            assert!(
                (l - exact).abs() <= 4.0 * f64::EPSILON * exact.abs().max(1.0),
                "{v}: {l} {exact}"
            );
            let expected = crate::dsp::log_mel(v);
            assert!(
                (m - expected).abs() <= 4.0 * f32::EPSILON * expected.max(1.0),
                "{v}: {m} {expected}"
            );
        }
    }
}
