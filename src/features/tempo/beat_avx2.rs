//! The beat network's layers in AVX2 with FMA, written with the vector operations themselves.
//!
//! The compiler's own vectorization of the portable loops (`super::beat_kernels`) was tried
//! first, built for AVX2 and for AVX-512: each layer's sums then ran one after another, every
//! multiply-add waiting on the one before, and the arrays of sums were stored and reloaded a
//! value at a time. Here the sums of several bands or frames are kept side by side in registers
//! (six to twelve of the sixteen), so that the multiply-adds do not wait on one another.
//!
//! Every function needs AVX2 and FMA (`is_available`). AVX-512 machines run `super::beat_avx512`
//! instead, the same sums in wider vectors, but for `first_layer`.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_storeu_ps,
};

use super::activation::{BANDS2, BANDS3, CHANNELS, CHANNELS1, CHANNELS2, PADDED2, TAPS};
use super::beat_kernels::{elu, Front, ResidualBlock, WIDTH};

/// Whether this CPU has AVX2 and FMA.
pub(super) fn is_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Eight lanes from `values[at..at + 8]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn load(values: &[f32], at: usize) -> __m256 {
    let lanes = &values[at..at + 8];
    // SAFETY: `lanes` holds 8 values; the load needs no alignment.
    unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn store(values: &mut [f32], at: usize, v: __m256) {
    let lanes = &mut values[at..at + 8];
    // SAFETY: `lanes` holds 8 values; the store needs no alignment.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) }
}

/// A row of [`WIDTH`] lanes from `values[at..]`, as three vectors.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn row(values: &[f32], at: usize) -> [__m256; 3] {
    [
        load(values, at),
        load(values, at + 8),
        load(values, at + 16),
    ]
}

/// `sums[f] += Σ_i inputs[f][i] · matrix[i]` over the `ROWS` rows of `matrix` ([`WIDTH`] lanes
/// each): a product by a layer's weights for `N` frames, their sums side by side. `inputs` are
/// arrays so that reading them needs no bounds checks.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn multiply_add_rows<const N: usize, const ROWS: usize>(
    sums: &mut [[__m256; 3]; N],
    inputs: [&[f32; ROWS]; N],
    matrix: &[f32],
) {
    for i in 0..ROWS {
        let w = row(matrix, i * WIDTH);
        for (sums, input) in sums.iter_mut().zip(inputs) {
            let x = _mm256_set1_ps(input[i]);
            for (s, w) in sums.iter_mut().zip(w) {
                *s = _mm256_fmadd_ps(x, w, *s);
            }
        }
    }
}

/// `N` frames' sums, three vectors each, as arrays of [`WIDTH`] lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn frames_of<const N: usize>(sums: [[__m256; 3]; N]) -> [[f32; WIDTH]; N] {
    let mut frames = [[0.0f32; WIDTH]; N];
    for (frame, sums) in frames.iter_mut().zip(sums) {
        for (v, s) in sums.into_iter().enumerate() {
            store(frame, 8 * v, s);
        }
    }
    frames
}

/// ELU over `values`: [`elu`] in a loop the compiler vectorizes for AVX2 (the same bits).
#[target_feature(enable = "avx2,fma")]
pub(super) fn elu_in_place(values: &mut [f32]) {
    for v in values {
        *v = elu(*v);
    }
}

/// The front's first pooled layer for one frame, as the plain loops (`Front::first_layer`)
/// compute it: six bands' sums at a time, one vector of 8 channels each.
#[target_feature(enable = "avx2,fma")]
pub(super) fn first_layer(front: &Front, rows: [&[f32]; 3], frame: &mut [f32]) {
    const BANDS_AT_ONCE: usize = 6;
    let bias = load(&front.bias1, 0);
    for g in 0..BANDS2 / 2 {
        let first_band = BANDS_AT_ONCE * g;
        let mut acc = [_mm256_setzero_ps(); BANDS_AT_ONCE];
        for (row, kernel) in rows.iter().zip(&front.conv1) {
            let window: &[f32; BANDS_AT_ONCE + 2] = row[first_band..first_band + BANDS_AT_ONCE + 2]
                .try_into()
                .expect("the bands the six read");
            for band_tap in 0..3 {
                let w = load(kernel, band_tap * CHANNELS1);
                for (q, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(_mm256_set1_ps(window[q + band_tap]), w, *acc);
                }
            }
        }
        for pooled in 0..2 {
            let [a, b, c] = [acc[3 * pooled], acc[3 * pooled + 1], acc[3 * pooled + 2]];
            let max = _mm256_max_ps(_mm256_max_ps(a, b), c);
            store(
                frame,
                (1 + 2 * g + pooled) * CHANNELS1,
                _mm256_add_ps(max, bias),
            );
        }
    }
    elu_in_place(&mut frame[CHANNELS1..(BANDS2 + 1) * CHANNELS1]);
}

/// `N` frames of the front's output from the first pooled layer, as the plain loops
/// (`Front::later_layers`) compute it: the three bands of a pooling of the `N` frames summed
/// side by side, 16 channels in two vectors each.
#[target_feature(enable = "avx2,fma")]
pub(super) fn later_layers<const N: usize>(
    front: &Front,
    pooled: &[f32],
    j: usize,
    out: &mut [f32],
) {
    let frame1 = PADDED2 * CHANNELS1;
    let mut second = [[0.0f32; BANDS3 * CHANNELS2]; N];
    let bias2 = [load(&front.bias2, 0), load(&front.bias2, 8)];
    for p in 0..BANDS3 {
        let mut acc = [[[_mm256_setzero_ps(); 2]; 3]; N];
        for (dt, kernel) in front.conv2.iter().enumerate() {
            // Bands 3p ..= 3p + 4 of frame j + f + dt − 1: what bands 3p ..= 3p + 2 read.
            // Arrays, not slices: their length known, the reads below need no bounds checks.
            let windows: [&[f32; 5 * CHANNELS1]; N] = std::array::from_fn(|f| {
                let at = (j + f + dt) * frame1 + 3 * p * CHANNELS1;
                pooled[at..at + 5 * CHANNELS1]
                    .try_into()
                    .expect("five bands")
            });
            for i in 0..3 * CHANNELS1 {
                let w = [load(kernel, i * CHANNELS2), load(kernel, i * CHANNELS2 + 8)];
                for (acc, window) in acc.iter_mut().zip(&windows) {
                    for (q, acc) in acc.iter_mut().enumerate() {
                        let x = _mm256_set1_ps(window[q * CHANNELS1 + i]);
                        acc[0] = _mm256_fmadd_ps(x, w[0], acc[0]);
                        acc[1] = _mm256_fmadd_ps(x, w[1], acc[1]);
                    }
                }
            }
        }
        for (second, [a, b, c]) in second.iter_mut().zip(acc) {
            for half in 0..2 {
                let max = _mm256_max_ps(_mm256_max_ps(a[half], b[half]), c[half]);
                let at = p * CHANNELS2 + 8 * half;
                store(second, at, _mm256_add_ps(max, bias2[half]));
            }
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

/// `N` output frames of a residual block, as the plain loops (`ResidualBlock::frame`) compute
/// them: `sources[k][f]` is the input frame tap `k` reads for frame `f` (zeros outside the
/// track), `inputs[f]` frame `f`'s own input. Each frame's 24 lanes are three vectors; the `N`
/// frames' sums side by side (with 4 frames, the twelve sums, three weights and a broadcast did
/// not fit in the sixteen registers).
#[target_feature(enable = "avx2,fma")]
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
        std::array::from_fn(|v| _mm256_add_ps(x[v], mix_bias[v]))
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
