//! The beat network's arithmetic: its front, its residual blocks and their ELU.
//!
//! The network is small (20 channels, 27,289 weights) and runs on every frame of every track, so
//! what cost was not its multiply-adds but everything around them. Through the `gemm` crate, a
//! residual block was six calls a run of 64 frames, each packing operands of 20 × 20; through
//! `wide`, whose vectors are fixed when the crate is compiled (two SSE halves in a baseline
//! x86-64 build), its ELU took about 3 ns a value (its perf share over the values it took).
//! Together with the pooling loops they were about 13 % of a `--model none` run (perf, 20 real
//! tracks). Here each layer is one function per frame or few frames: in AVX-512 or AVX2 with FMA
//! where the CPU has them (`super::beat_avx512`, `super::beat_avx2`, chosen at run time; the
//! two give the same bits), else the plain loops below, which the tests hold the vector code to.

use super::activation::{
    BANDS2, BANDS3, CHANNELS, CHANNELS1, CHANNELS2, CONTEXT, PADDED, PADDED2, TAPS,
};
#[cfg(target_arch = "x86_64")]
use super::{beat_avx2, beat_avx512};

/// The [`CHANNELS`] outputs of a layer held as this many lanes, the last ones zero: three AVX2
/// vectors, or an AVX-512 vector and an AVX2 one.
pub(super) const WIDTH: usize = 24;

/// Output frames of a residual block computed together, and frames of the front's output: their
/// sums side by side in registers (16 in AVX2, 32 in AVX-512).
const BLOCK_FRAMES: usize = 3;
const FRONT_FRAMES: usize = 2;
const BLOCK_FRAMES_512: usize = 8;
const FRONT_FRAMES_512: usize = 8;

#[cfg(test)]
thread_local! {
    /// Set by the tests to run the plain loops on this thread.
    static FORCE_PLAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set by the tests to run the AVX2 code on this thread where the CPU has AVX-512.
    static FORCE_AVX2: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
/// Whether a test asked for the plain loops on this thread.
fn forced_plain() -> bool {
    #[cfg(test)]
    return FORCE_PLAIN.get();
    #[cfg(not(test))]
    false
}
/// Whether a test asked for the AVX2 code on this thread.
#[cfg(target_arch = "x86_64")]
fn forced_avx2() -> bool {
    #[cfg(test)]
    return FORCE_AVX2.get();
    #[cfg(not(test))]
    false
}

/// The code the layers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernels {
    Plain,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// AVX-512 where the CPU has it (with AVX2 and FMA), else AVX2 with FMA, else the plain loops.
fn kernels() -> Kernels {
    if forced_plain() {
        return Kernels::Plain;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if !forced_avx2() && beat_avx512::is_available() {
            return Kernels::Avx512;
        }
        if beat_avx2::is_available() {
            return Kernels::Avx2;
        }
    }
    Kernels::Plain
}

/// The frames `start..stop` as the vector code takes them: the first frame of each whole group
/// of `size`, then each frame left over, with whether it starts a whole group.
#[cfg(target_arch = "x86_64")]
fn groups(start: usize, stop: usize, size: usize) -> impl Iterator<Item = (usize, bool)> {
    let whole = (stop.saturating_sub(start)) / size;
    let rest = start + whole * size;
    (0..whole)
        .map(move |g| (start + g * size, true))
        .chain((rest..stop).map(|t| (t, false)))
}

/// A row-major `rows × CHANNELS` matrix with each row widened to [`WIDTH`] by zeros.
pub(super) fn widened<const N: usize>(matrix: &[f32]) -> [f32; N] {
    let mut wide = [0.0; N];
    for (to, from) in wide
        .chunks_exact_mut(WIDTH)
        .zip(matrix.chunks_exact(CHANNELS))
    {
        to[..CHANNELS].copy_from_slice(from);
    }
    wide
}

/// The network's front, laid out for [`Front::run`]: per time tap, row-major `(band tap, in) ×
/// out` matrices.
#[derive(Clone, Debug)]
pub(super) struct Front {
    pub conv1: [[f32; 3 * CHANNELS1]; 3],
    pub bias1: [f32; CHANNELS1],
    pub conv2: [[f32; 3 * CHANNELS1 * CHANNELS2]; 3],
    pub bias2: [f32; CHANNELS2],
    /// Rows [`WIDTH`] wide.
    pub conv3: [f32; BANDS3 * CHANNELS2 * WIDTH],
    pub bias3: [f32; WIDTH],
}

impl Front {
    /// The front's output for `count` frames from `first` on, [`CHANNELS`] values each, into
    /// `out`. `pending` holds frames `first − CONTEXT` to `first + count + CONTEXT`, [`PADDED`]
    /// values each (a zero band at each edge); given the track's `total`, frames past it are
    /// outside the track, as are those before frame 0. `pooled` is scratch.
    pub fn run(
        &self,
        pending: &[f32],
        first: usize,
        count: usize,
        total: Option<usize>,
        pooled: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        assert!(pending.len() >= (count + 2 * CONTEXT) * PADDED);
        assert!(out.len() >= count * CHANNELS);
        let kernels = kernels();
        // The first pooled layer for frames first − 1 ..= first + count, each with a zero band at
        // either edge; frames outside the track are zeros (the second convolution's padding).
        let frame1 = PADDED2 * CHANNELS1;
        pooled.clear();
        pooled.resize((count + 2) * frame1, 0.0);
        for (j, frame) in pooled.chunks_exact_mut(frame1).enumerate() {
            let index = (first + j).checked_sub(1);
            if index.is_none_or(|i| total.is_some_and(|t| i >= t)) {
                continue;
            }
            let rows: [&[f32]; 3] = std::array::from_fn(|dt| &pending[(j + dt) * PADDED..]);
            #[cfg(target_arch = "x86_64")]
            if kernels != Kernels::Plain {
                // SAFETY: the CPU has AVX2 and FMA, checked by `kernels` (with AVX-512 too).
                unsafe { beat_avx2::first_layer(self, rows, frame) };
                continue;
            }
            self.first_layer(rows, frame);
        }
        match kernels {
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512 => {
                for (j, whole) in groups(0, count, FRONT_FRAMES_512) {
                    let y = &mut out[j * CHANNELS..];
                    // SAFETY: the CPU has AVX-512F and VL, AVX2 and FMA, checked by `kernels`.
                    unsafe {
                        if whole {
                            beat_avx512::later_layers::<FRONT_FRAMES_512>(self, pooled, j, y)
                        } else {
                            beat_avx512::later_layers::<1>(self, pooled, j, y)
                        }
                    }
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2 => {
                for (j, whole) in groups(0, count, FRONT_FRAMES) {
                    let y = &mut out[j * CHANNELS..];
                    // SAFETY: the CPU has AVX2 and FMA, checked by `kernels`.
                    unsafe {
                        if whole {
                            beat_avx2::later_layers::<FRONT_FRAMES>(self, pooled, j, y)
                        } else {
                            beat_avx2::later_layers::<1>(self, pooled, j, y)
                        }
                    }
                }
            }
            Kernels::Plain => {
                for j in 0..count {
                    self.later_layers(pooled, j, &mut out[j * CHANNELS..(j + 1) * CHANNELS]);
                }
            }
        }
    }

    /// One frame of the first pooled layer: the 3×3 convolution over (band, frame), the maximum
    /// of each 3 bands, the bias and ELU (pooling before the bias and ELU, which are monotone,
    /// gives the same values for a third of the exponentials), into bands `1..=BANDS2` of
    /// `frame`. `rows[dt]` is frame `dt − 1`'s input.
    fn first_layer(&self, rows: [&[f32]; 3], frame: &mut [f32]) {
        for (p, pooled) in frame[CHANNELS1..]
            .chunks_exact_mut(CHANNELS1)
            .take(BANDS2)
            .enumerate()
        {
            let mut max = [f32::NEG_INFINITY; CHANNELS1];
            for band in 3 * p..3 * p + 3 {
                let mut acc = [0.0f32; CHANNELS1];
                for (row, kernel) in rows.iter().zip(&self.conv1) {
                    for (&x, w) in row[band..band + 3]
                        .iter()
                        .zip(kernel.chunks_exact(CHANNELS1))
                    {
                        for (a, &w) in acc.iter_mut().zip(w) {
                            *a += x * w;
                        }
                    }
                }
                for (m, a) in max.iter_mut().zip(acc) {
                    *m = m.max(a);
                }
            }
            for ((v, m), b) in pooled.iter_mut().zip(max).zip(self.bias1) {
                *v = elu(m + b);
            }
        }
    }

    /// Frame `j` of the front's output, from frames `j ..= j + 2` of the first pooled layer (its
    /// frames `j − 1 ..= j + 1`): the second 3×3 convolution, the maximum of each 3 bands (the
    /// last band dropped), the bias and ELU, then the convolution over the 5 bands to
    /// [`CHANNELS`], its bias and ELU.
    fn later_layers(&self, pooled: &[f32], j: usize, y: &mut [f32]) {
        let frame1 = PADDED2 * CHANNELS1;
        let rows: [&[f32]; 3] = std::array::from_fn(|dt| &pooled[(j + dt) * frame1..]);
        let mut second = [0.0f32; BANDS3 * CHANNELS2];
        for (p, second) in second.chunks_exact_mut(CHANNELS2).enumerate() {
            let mut max = [f32::NEG_INFINITY; CHANNELS2];
            for band in 3 * p..3 * p + 3 {
                let mut acc = [0.0f32; CHANNELS2];
                for (row, kernel) in rows.iter().zip(&self.conv2) {
                    let window = &row[band * CHANNELS1..(band + 3) * CHANNELS1];
                    for (&x, w) in window.iter().zip(kernel.chunks_exact(CHANNELS2)) {
                        for (a, &w) in acc.iter_mut().zip(w) {
                            *a += x * w;
                        }
                    }
                }
                for (m, a) in max.iter_mut().zip(acc) {
                    *m = m.max(a);
                }
            }
            for ((v, m), b) in second.iter_mut().zip(max).zip(self.bias2) {
                *v = elu(m + b);
            }
        }
        let mut acc = self.bias3;
        for (&x, w) in second.iter().zip(self.conv3.chunks_exact(WIDTH)) {
            for (a, &w) in acc.iter_mut().zip(w) {
                *a += x * w;
            }
        }
        for (v, a) in y.iter_mut().zip(acc) {
            *v = elu(a);
        }
    }
}

/// One residual block's parameters, laid out for [`ResidualBlock::run`]: per time tap a row-major
/// `in × out` matrix, each row [`WIDTH`] wide.
#[derive(Clone, Debug)]
pub(super) struct ResidualBlock {
    pub conv: [[f32; CHANNELS * WIDTH]; TAPS],
    pub bias: [f32; WIDTH],
    pub mix: [f32; CHANNELS * WIDTH],
    pub mix_bias: [f32; WIDTH],
}

/// A block's input as it streams: frames `first..received` of the block's input, [`CHANNELS`]
/// values each, in `frames`; the block reads zeros outside the track (before frame 0, and past
/// `received` when that is the track's end).
pub(super) struct BlockInput<'a> {
    pub frames: &'a [f32],
    pub first: usize,
    pub received: usize,
    pub dilation: usize,
}

impl BlockInput<'_> {
    fn frame(&self, t: usize) -> &[f32; CHANNELS] {
        let at = (t - self.first) * CHANNELS;
        self.frames[at..at + CHANNELS]
            .try_into()
            .expect("a whole frame")
    }

    /// The input frame tap `k` reads for output frame `t`: `t + (k − 2)·dilation`, or zeros
    /// outside the track.
    fn tap(&self, t: usize, k: usize) -> &[f32; CHANNELS] {
        static OUTSIDE: [f32; CHANNELS] = [0.0; CHANNELS];
        match (t + k * self.dilation).checked_sub(2 * self.dilation) {
            Some(source) if source < self.received => self.frame(source),
            _ => &OUTSIDE,
        }
    }

    /// For output frames `t..t + N`: per tap, the frames it reads ([`BlockInput::tap`]), and
    /// the frames themselves.
    #[cfg(target_arch = "x86_64")]
    fn frames_from<const N: usize>(
        &self,
        t: usize,
    ) -> ([[&[f32; CHANNELS]; N]; TAPS], [&[f32; CHANNELS]; N]) {
        (
            std::array::from_fn(|k| std::array::from_fn(|f| self.tap(t + f, k))),
            std::array::from_fn(|f| self.frame(t + f)),
        )
    }
}

impl ResidualBlock {
    /// A block from its convolution, per time tap a row-major `in × out` matrix, its 1×1
    /// convolution `mix` likewise, and their biases ([`CHANNELS`] × [`CHANNELS`] and
    /// [`CHANNELS`] values: panics otherwise).
    pub fn new(conv: &[Vec<f32>; TAPS], bias: &[f32], mix: &[f32], mix_bias: &[f32]) -> Self {
        assert!(conv
            .iter()
            .map(Vec::as_slice)
            .chain([mix])
            .all(|m| m.len() == CHANNELS * CHANNELS));
        assert!(bias.len() == CHANNELS && mix_bias.len() == CHANNELS);
        ResidualBlock {
            conv: std::array::from_fn(|k| widened(&conv[k])),
            bias: widened(bias),
            mix: widened(mix),
            mix_bias: widened(mix_bias),
        }
    }

    /// Output frames `start..stop`, [`CHANNELS`] values each, into `out`:
    /// `x[t] + mix_bias + mix · elu(bias + Σ_k conv_k · x[t + (k − 2)·dilation])`.
    ///
    /// Panics unless the input holds every frame from `start − 2·dilation` (or 0) to
    /// `stop + 2·dilation` (or `received`), and `out` has room for the frames.
    pub fn run(&self, input: &BlockInput<'_>, start: usize, stop: usize, out: &mut [f32]) {
        assert!(out.len() >= (stop - start) * CHANNELS);
        match kernels() {
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx512 => {
                for (t, whole) in groups(start, stop, BLOCK_FRAMES_512) {
                    let y = &mut out[(t - start) * CHANNELS..];
                    // SAFETY: the CPU has AVX-512F and VL, AVX2 and FMA, checked by `kernels`.
                    unsafe {
                        if whole {
                            let (sources, inputs) = input.frames_from::<BLOCK_FRAMES_512>(t);
                            beat_avx512::residual_frames(self, &sources, inputs, y)
                        } else {
                            let (sources, inputs) = input.frames_from::<1>(t);
                            beat_avx512::residual_frames(self, &sources, inputs, y)
                        }
                    }
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2 => {
                for (t, whole) in groups(start, stop, BLOCK_FRAMES) {
                    let y = &mut out[(t - start) * CHANNELS..];
                    // SAFETY: the CPU has AVX2 and FMA, checked by `kernels`.
                    unsafe {
                        if whole {
                            let (sources, inputs) = input.frames_from::<BLOCK_FRAMES>(t);
                            beat_avx2::residual_frames(self, &sources, inputs, y)
                        } else {
                            let (sources, inputs) = input.frames_from::<1>(t);
                            beat_avx2::residual_frames(self, &sources, inputs, y)
                        }
                    }
                }
            }
            Kernels::Plain => {
                for (t, y) in (start..stop).zip(out.chunks_exact_mut(CHANNELS)) {
                    self.frame(input, t, y);
                }
            }
        }
    }

    /// Output frame `t`, in plain loops.
    fn frame(&self, input: &BlockInput<'_>, t: usize, y: &mut [f32]) {
        let mut hidden = self.bias;
        for (k, kernel) in self.conv.iter().enumerate() {
            for (&x, row) in input.tap(t, k).iter().zip(kernel.chunks_exact(WIDTH)) {
                for (h, &w) in hidden.iter_mut().zip(row) {
                    *h += x * w;
                }
            }
        }
        for h in &mut hidden {
            *h = elu(*h);
        }
        let mut mixed = self.mix_bias;
        for (m, &x) in mixed.iter_mut().zip(input.frame(t)) {
            *m += x;
        }
        for (&h, row) in hidden[..CHANNELS].iter().zip(self.mix.chunks_exact(WIDTH)) {
            for (m, &w) in mixed.iter_mut().zip(row) {
                *m += h * w;
            }
        }
        y.copy_from_slice(&mixed[..CHANNELS]);
    }
}

/// ELU: `x` for `x > 0`, else `exp(x) − 1`, computed as `2^n·expm1(r) + (2^n − 1)`, with
/// `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, and `expm1(r)` by its Taylor series to `r⁷/7!`
/// (truncation below 0.2 ulp): near zero the result is `expm1(r)` itself, without the
/// cancellation of `exp(x) − 1`.
///
/// The same bits on every CPU: only additions, multiplications and bit operations, which the
/// vectorized loops round as the scalar one does (no fused multiply-adds). Within 2 ulp of
/// `f32::exp_m1` (checked in the tests), and exact at and above zero.
#[inline(always)]
pub(super) fn elu(x: f32) -> f32 {
    // Below −88, exp(x) − 1 is −1 in f32; the clamp keeps 2^n a normal number or zero.
    let clamped = x.clamp(-88.0, 0.0);
    // Adding 1.5·2^23 rounds to the nearest integer in every lane without a rounding instruction
    // (which the baseline lacks), and leaves that integer in the low bits of the sum.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = clamped * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    // ln 2 in two parts, the first with few enough bits that n·LN2_HIGH is exact.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let r = (clamped - n * LN2_HIGH) - n * LN2_LOW;
    let p = r + r
        * r
        * (1.0 / 2.0
            + r * (1.0 / 6.0
                + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0))))));
    // 2^n from n's bits: n is in −127..=0, so the biased exponent is in 0..=127 (0: 2^n = 0).
    let biased = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32) + 127;
    let scale = f32::from_bits((biased as u32) << 23);
    let negative = scale * p + (scale - 1.0);
    if x > 0.0 {
        x
    } else {
        negative
    }
}

#[cfg(test)]
mod tests;
