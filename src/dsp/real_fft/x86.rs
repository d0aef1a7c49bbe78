//! The pair loop in AVX and AVX-512 registers: several bin pairs per instruction, the values
//! interleaved (`re, im, re, im, …`) as they lie in memory.
//!
//! For pairs `a = left[k]`, `b = right[n − 1 − k]` and twiddle `t`, each kernel computes in its
//! lanes what `super::pair_step` computes for one pair, with the same roundings:
//!
//! - `sum = a + b`, `diff = a − b`;
//! - `p = sum.im · t` gives `sum.im·t.re | sum.im·t.im`, and `q = diff.re · t`, its halves
//!   swapped, `diff.re·t.im | diff.re·t.re`;
//! - `twiddled` is `p + q` in the even lane and `p − q` in the odd one:
//!   `sum.im·t.re + diff.re·t.im` and `sum.im·t.im − diff.re·t.re` (AVX has no masked
//!   subtraction, so there the odd lane adds `q` negated: the same rounding);
//! - `g = sum.re | diff.im`;
//! - forward, with `h = ½ · g`: `a' = h + twiddled`, and `b'` takes `h − twiddled` in its even
//!   lane and `twiddled − h` in its odd one;
//! - inverse: `a' = g − twiddled`, and `b'` takes `g + twiddled` in its even lane and
//!   `−twiddled − g` in its odd one;
//! - each lane's operands in the scalar code's order, so that even a zero has the same sign.
//!
//! `right` is read and written highest pair first, so each of its vectors is reversed (by whole
//! complex values) on the way in and out.

use std::arch::x86_64::*;

use realfft::num_complex::Complex;

/// Pairs per vector: complex `f32`s in 256 and 512 bits, complex `f64`s likewise.
const F32_AVX: usize = 4;
const F32_AVX512: usize = 8;
const F64_AVX: usize = 2;
const F64_AVX512: usize = 4;

/// Pointers to the vectors of pair `k`'s group of `width`: its `left` values, its `right`
/// values (reversed: they end at pair `k`'s partner), its twiddles.
fn group<T>(
    left: &mut [Complex<T>],
    right: &mut [Complex<T>],
    twiddles: &[Complex<T>],
    k: usize,
    width: usize,
) -> (*mut T, *mut T, *const T) {
    let n = left.len();
    let upper = n - k - width;
    (
        left[k..k + width].as_mut_ptr().cast(),
        right[upper..upper + width].as_mut_ptr().cast(),
        twiddles[k..k + width].as_ptr().cast(),
    )
}

/// Four pairs at a time in AVX registers.
#[target_feature(enable = "avx")]
pub unsafe fn f32_avx<const INVERSE: bool>(
    left: &mut [Complex<f32>],
    right: &mut [Complex<f32>],
    twiddles: &[Complex<f32>],
) -> usize {
    let half = _mm256_set1_ps(0.5);
    let odd_sign = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    // Whole complex values in reverse order: the 128-bit halves swapped, then the two values
    // within each.
    let reverse = |v: __m256| _mm256_permute_ps(_mm256_permute2f128_ps(v, v, 1), 0b01_00_11_10);
    let groups = left.len() / F32_AVX;
    for g in 0..groups {
        let (l, r, t) = group(left, right, twiddles, g * F32_AVX, F32_AVX);
        // SAFETY: `group` took each pointer from a slice of `F32_AVX` complex values: eight
        // floats, read and written unaligned.
        unsafe {
            let (a, b, t) = (
                _mm256_loadu_ps(l),
                reverse(_mm256_loadu_ps(r)),
                _mm256_loadu_ps(t),
            );
            let (sum, diff) = (_mm256_add_ps(a, b), _mm256_sub_ps(a, b));
            let p = _mm256_mul_ps(_mm256_movehdup_ps(sum), t);
            let q = _mm256_permute_ps(_mm256_mul_ps(_mm256_moveldup_ps(diff), t), 0b10_11_00_01);
            let twiddled = _mm256_add_ps(p, _mm256_xor_ps(q, odd_sign));
            let g = _mm256_blend_ps(sum, diff, 0b1010_1010);
            let (a, even, odd) = if INVERSE {
                let negated = _mm256_xor_ps(twiddled, _mm256_set1_ps(-0.0));
                let even = _mm256_add_ps(g, twiddled);
                (_mm256_sub_ps(g, twiddled), even, _mm256_sub_ps(negated, g))
            } else {
                let h = _mm256_mul_ps(half, g);
                let even = _mm256_sub_ps(h, twiddled);
                (_mm256_add_ps(h, twiddled), even, _mm256_sub_ps(twiddled, h))
            };
            _mm256_storeu_ps(l, a);
            _mm256_storeu_ps(r, reverse(_mm256_blend_ps(even, odd, 0b1010_1010)));
        }
    }
    groups * F32_AVX
}

/// Two pairs at a time in AVX registers.
#[target_feature(enable = "avx")]
pub unsafe fn f64_avx<const INVERSE: bool>(
    left: &mut [Complex<f64>],
    right: &mut [Complex<f64>],
    twiddles: &[Complex<f64>],
) -> usize {
    let half = _mm256_set1_pd(0.5);
    let odd_sign = _mm256_setr_pd(0.0, -0.0, 0.0, -0.0);
    let reverse = |v: __m256d| _mm256_permute2f128_pd(v, v, 1);
    let groups = left.len() / F64_AVX;
    for g in 0..groups {
        let (l, r, t) = group(left, right, twiddles, g * F64_AVX, F64_AVX);
        // SAFETY: `group` took each pointer from a slice of `F64_AVX` complex values: four
        // doubles, read and written unaligned.
        unsafe {
            let (a, b, t) = (
                _mm256_loadu_pd(l),
                reverse(_mm256_loadu_pd(r)),
                _mm256_loadu_pd(t),
            );
            let (sum, diff) = (_mm256_add_pd(a, b), _mm256_sub_pd(a, b));
            let p = _mm256_mul_pd(_mm256_permute_pd(sum, 0b1111), t);
            let q = _mm256_permute_pd(_mm256_mul_pd(_mm256_movedup_pd(diff), t), 0b0101);
            let twiddled = _mm256_add_pd(p, _mm256_xor_pd(q, odd_sign));
            let g = _mm256_blend_pd(sum, diff, 0b1010);
            let (a, even, odd) = if INVERSE {
                let negated = _mm256_xor_pd(twiddled, _mm256_set1_pd(-0.0));
                let even = _mm256_add_pd(g, twiddled);
                (_mm256_sub_pd(g, twiddled), even, _mm256_sub_pd(negated, g))
            } else {
                let h = _mm256_mul_pd(half, g);
                let even = _mm256_sub_pd(h, twiddled);
                (_mm256_add_pd(h, twiddled), even, _mm256_sub_pd(twiddled, h))
            };
            _mm256_storeu_pd(l, a);
            _mm256_storeu_pd(r, reverse(_mm256_blend_pd(even, odd, 0b1010)));
        }
    }
    groups * F64_AVX
}

/// Eight pairs at a time in AVX-512 registers.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_avx512<const INVERSE: bool>(
    left: &mut [Complex<f32>],
    right: &mut [Complex<f32>],
    twiddles: &[Complex<f32>],
) -> usize {
    const ODD: __mmask16 = 0b1010_1010_1010_1010;
    let half = _mm512_set1_ps(0.5);
    let reversed = _mm512_setr_epi32(14, 15, 12, 13, 10, 11, 8, 9, 6, 7, 4, 5, 2, 3, 0, 1);
    let reverse = |v: __m512| _mm512_permutexvar_ps(reversed, v);
    let groups = left.len() / F32_AVX512;
    for g in 0..groups {
        let (l, r, t) = group(left, right, twiddles, g * F32_AVX512, F32_AVX512);
        // SAFETY: `group` took each pointer from a slice of `F32_AVX512` complex values:
        // sixteen floats, read and written unaligned.
        unsafe {
            let (a, b, t) = (
                _mm512_loadu_ps(l),
                reverse(_mm512_loadu_ps(r)),
                _mm512_loadu_ps(t),
            );
            let (sum, diff) = (_mm512_add_ps(a, b), _mm512_sub_ps(a, b));
            let p = _mm512_mul_ps(_mm512_movehdup_ps(sum), t);
            let q = _mm512_permute_ps(_mm512_mul_ps(_mm512_moveldup_ps(diff), t), 0b10_11_00_01);
            let twiddled = _mm512_mask_sub_ps(_mm512_add_ps(p, q), ODD, p, q);
            let g = _mm512_mask_blend_ps(ODD, sum, diff);
            let (a, b) = if INVERSE {
                let negated = negate_ps(twiddled);
                let b = _mm512_mask_sub_ps(_mm512_add_ps(g, twiddled), ODD, negated, g);
                (_mm512_sub_ps(g, twiddled), b)
            } else {
                let h = _mm512_mul_ps(half, g);
                let b = _mm512_mask_sub_ps(_mm512_sub_ps(h, twiddled), ODD, twiddled, h);
                (_mm512_add_ps(h, twiddled), b)
            };
            _mm512_storeu_ps(l, a);
            _mm512_storeu_ps(r, reverse(b));
        }
    }
    groups * F32_AVX512
}

/// Four pairs at a time in AVX-512 registers.
#[target_feature(enable = "avx512f")]
pub unsafe fn f64_avx512<const INVERSE: bool>(
    left: &mut [Complex<f64>],
    right: &mut [Complex<f64>],
    twiddles: &[Complex<f64>],
) -> usize {
    const ODD: __mmask8 = 0b1010_1010;
    let half = _mm512_set1_pd(0.5);
    let reversed = _mm512_setr_epi64(6, 7, 4, 5, 2, 3, 0, 1);
    let reverse = |v: __m512d| _mm512_permutexvar_pd(reversed, v);
    let groups = left.len() / F64_AVX512;
    for g in 0..groups {
        let (l, r, t) = group(left, right, twiddles, g * F64_AVX512, F64_AVX512);
        // SAFETY: `group` took each pointer from a slice of `F64_AVX512` complex values:
        // eight doubles, read and written unaligned.
        unsafe {
            let (a, b, t) = (
                _mm512_loadu_pd(l),
                reverse(_mm512_loadu_pd(r)),
                _mm512_loadu_pd(t),
            );
            let (sum, diff) = (_mm512_add_pd(a, b), _mm512_sub_pd(a, b));
            let p = _mm512_mul_pd(_mm512_permute_pd(sum, 0xff), t);
            let q = _mm512_permute_pd(_mm512_mul_pd(_mm512_movedup_pd(diff), t), 0x55);
            let twiddled = _mm512_mask_sub_pd(_mm512_add_pd(p, q), ODD, p, q);
            let g = _mm512_mask_blend_pd(ODD, sum, diff);
            let (a, b) = if INVERSE {
                let negated = negate_pd(twiddled);
                let b = _mm512_mask_sub_pd(_mm512_add_pd(g, twiddled), ODD, negated, g);
                (_mm512_sub_pd(g, twiddled), b)
            } else {
                let h = _mm512_mul_pd(half, g);
                let b = _mm512_mask_sub_pd(_mm512_sub_pd(h, twiddled), ODD, twiddled, h);
                (_mm512_add_pd(h, twiddled), b)
            };
            _mm512_storeu_pd(l, a);
            _mm512_storeu_pd(r, reverse(b));
        }
    }
    groups * F64_AVX512
}

/// `−v`, its sign bits flipped (subtracting from zero would give +0 for +0). AVX-512F has no
/// floating-point XOR (that is AVX-512DQ), so it is done on the bits.
#[inline]
#[target_feature(enable = "avx512f")]
fn negate_ps(v: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(v),
        _mm512_set1_epi32(i32::MIN),
    ))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn negate_pd(v: __m512d) -> __m512d {
    _mm512_castsi512_pd(_mm512_xor_si512(
        _mm512_castpd_si512(v),
        _mm512_set1_epi64(i64::MIN),
    ))
}
