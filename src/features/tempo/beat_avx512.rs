//! The beat network's layers in AVX-512: the AVX2 code (`super::beat_avx2`) with wider vectors,
//! each lane's sum taken in the same order, so that the outputs are the same bits.
//!
//! A frame's 24 lanes ([`WIDTH`]) take three AVX2 vectors, so three multiply-adds a row of
//! weights; here they are one 16-lane vector and one of 8, two multiply-adds. With 32 registers
//! instead of 16, more frames' sums fit side by side: the AVX2 residual block stops at three
//! frames (nine sums), this one takes eight (sixteen; six were slower). The front's second
//! convolution has 16 channels, one vector instead of two, and takes eight frames too (24 sums;
//! four were a few per cent slower). The first convolution (8 channels, one AVX2 vector) stays
//! AVX2's: the same code with its ELU 16 lanes at a time was no faster.
//!
//! Every function needs AVX-512F and VL (8-lane operations in the upper 16 registers), AVX2 and
//! FMA (`is_available`).

use std::arch::x86_64::{
    __m256, __m512, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps,
    _mm256_storeu_ps, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_max_ps,
    _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::activation::{BANDS3, CHANNELS, CHANNELS1, CHANNELS2, PADDED2, TAPS};
use super::beat_kernels::{elu, Front, ResidualBlock, WIDTH};

/// Whether this CPU has AVX-512F and VL, AVX2 and FMA.
pub(super) fn is_available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
}

/// Sixteen lanes from `values[at..at + 16]`.
#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn load16(values: &[f32], at: usize) -> __m512 {
    let lanes = &values[at..at + 16];
    // SAFETY: `lanes` holds 16 values; the load needs no alignment.
    unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn store16(values: &mut [f32], at: usize, v: __m512) {
    let lanes = &mut values[at..at + 16];
    // SAFETY: `lanes` holds 16 values; the store needs no alignment.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) }
}

/// Eight lanes from `values[at..at + 8]`.
#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn load8(values: &[f32], at: usize) -> __m256 {
    let lanes = &values[at..at + 8];
    // SAFETY: `lanes` holds 8 values; the load needs no alignment.
    unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn store8(values: &mut [f32], at: usize, v: __m256) {
    let lanes = &mut values[at..at + 8];
    // SAFETY: `lanes` holds 8 values; the store needs no alignment.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) }
}

/// [`WIDTH`] lanes: 0..16 and 16..24.
#[derive(Clone, Copy)]
struct Lanes {
    low: __m512,
    high: __m256,
}

/// A row of [`WIDTH`] lanes from `values[at..]`.
#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn row(values: &[f32], at: usize) -> Lanes {
    Lanes {
        low: load16(values, at),
        high: load8(values, at + 16),
    }
}

/// `sums[f] += Σ_i inputs[f][i] · matrix[i]` over the `ROWS` rows of `matrix` ([`WIDTH`] lanes
/// each), as `beat_avx2`'s: every lane's multiply-adds in the order of the rows.
#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn multiply_add_rows<const N: usize, const ROWS: usize>(
    sums: &mut [Lanes; N],
    inputs: [&[f32; ROWS]; N],
    matrix: &[f32],
) {
    for i in 0..ROWS {
        let w = row(matrix, i * WIDTH);
        for (s, input) in sums.iter_mut().zip(inputs) {
            // Two broadcasts, not the wide one's lower half: from that the compiler broadcast
            // to 8 lanes from memory and then to 16 from the register, a shuffle on a port that
            // also takes half the multiply-adds: three uops on those ports a frame and row, as
            // many as AVX2's three multiply-adds. Written twice, the value is broadcast once, to
            // 16 lanes, by the load alone.
            s.low = _mm512_fmadd_ps(_mm512_set1_ps(input[i]), w.low, s.low);
            s.high = _mm256_fmadd_ps(_mm256_set1_ps(input[i]), w.high, s.high);
        }
    }
}

/// `N` frames' sums as arrays of [`WIDTH`] lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn frames_of<const N: usize>(sums: [Lanes; N]) -> [[f32; WIDTH]; N] {
    let mut frames = [[0.0f32; WIDTH]; N];
    for (frame, sums) in frames.iter_mut().zip(sums) {
        store16(frame, 0, sums.low);
        store8(frame, 16, sums.high);
    }
    frames
}

/// ELU over `values`: [`elu`] in a loop the compiler vectorizes for AVX-512 (the same bits).
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) fn elu_in_place(values: &mut [f32]) {
    for v in values {
        *v = elu(*v);
    }
}

/// `N` frames of the front's output from the first pooled layer, as `beat_avx2::later_layers`
/// computes them, 16 channels in one vector.
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) fn later_layers<const N: usize>(
    front: &Front,
    pooled: &[f32],
    j: usize,
    out: &mut [f32],
) {
    let frame1 = PADDED2 * CHANNELS1;
    let mut second = [[0.0f32; BANDS3 * CHANNELS2]; N];
    let bias2 = load16(&front.bias2, 0);
    for p in 0..BANDS3 {
        let mut acc = [[_mm512_setzero_ps(); 3]; N];
        for (dt, kernel) in front.conv2.iter().enumerate() {
            // Bands 3p ..= 3p + 4 of frame j + f + dt − 1: what bands 3p ..= 3p + 2 read.
            let windows: [&[f32; 5 * CHANNELS1]; N] = std::array::from_fn(|f| {
                let at = (j + f + dt) * frame1 + 3 * p * CHANNELS1;
                pooled[at..at + 5 * CHANNELS1]
                    .try_into()
                    .expect("five bands")
            });
            for i in 0..3 * CHANNELS1 {
                let w = load16(kernel, i * CHANNELS2);
                for (acc, window) in acc.iter_mut().zip(&windows) {
                    for (q, acc) in acc.iter_mut().enumerate() {
                        let x = _mm512_set1_ps(window[q * CHANNELS1 + i]);
                        *acc = _mm512_fmadd_ps(x, w, *acc);
                    }
                }
            }
        }
        for (second, [a, b, c]) in second.iter_mut().zip(acc) {
            let max = _mm512_max_ps(_mm512_max_ps(a, b), c);
            store16(second, p * CHANNELS2, _mm512_add_ps(max, bias2));
        }
    }
    elu_in_place(second.as_flattened_mut());
    let mut third = [row(&front.bias3, 0); N];
    multiply_add_rows(&mut third, second.each_ref(), &front.conv3);
    let mut frames = frames_of(third);
    elu_in_place(frames.as_flattened_mut());
    for (y, frame) in out.chunks_exact_mut(CHANNELS).zip(&frames) {
        y.copy_from_slice(&frame[..CHANNELS]);
    }
}

/// `N` output frames of a residual block, as `beat_avx2::residual_frames` computes them (the
/// same arguments).
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) fn residual_frames<const N: usize>(
    block: &ResidualBlock,
    sources: &[[&[f32; CHANNELS]; N]; TAPS],
    inputs: [&[f32; CHANNELS]; N],
    out: &mut [f32],
) {
    let mut hidden = [row(&block.bias, 0); N];
    for (kernel, sources) in block.conv.iter().zip(sources) {
        multiply_add_rows(&mut hidden, *sources, kernel);
    }
    let mut activated = frames_of(hidden);
    elu_in_place(activated.as_flattened_mut());
    let mix_bias = row(&block.mix_bias, 0);
    let mut mixed = inputs.map(|input| {
        let mut frame = [0.0f32; WIDTH];
        frame[..CHANNELS].copy_from_slice(input);
        let x = row(&frame, 0);
        Lanes {
            low: _mm512_add_ps(x.low, mix_bias.low),
            high: _mm256_add_ps(x.high, mix_bias.high),
        }
    });
    let activated: [&[f32; CHANNELS]; N] = std::array::from_fn(|f| {
        activated[f][..CHANNELS]
            .try_into()
            .expect("a frame's channels")
    });
    multiply_add_rows(&mut mixed, activated, &block.mix);
    for (y, frame) in out.chunks_exact_mut(CHANNELS).zip(frames_of(mixed)) {
        y.copy_from_slice(&frame[..CHANNELS]);
    }
}
