//! EBU R128 (ITU-R BS.1770-4, EBU Tech 3341/3342) integrated loudness and loudness range in one
//! pass over the native-rate channels, as the `ebur128` crate (a port of libebur128) computes
//! them, at a fraction of its cost.
//!
//! Why not the crate itself: in its `I` and `LRA` modes it stores the K-weighted signal and, every
//! 100 ms, sums the squares of the last 400 ms again (and of the last 3 s every second), and it
//! filters one channel at a time with the recursion's longest dependency chain first. On real
//! music that was 30 % of the whole `--model none` analysis (callgrind). The same numbers come
//! from one running sum per 100 ms step: a 400 ms gating block is the sum of its four steps, a
//! 3 s short-term block the sum of its thirty. Everything else is the crate's definition, kept to
//! the letter so that the two agree to rounding (tests below hold them within 1e-9 LU):
//!
//! * the K-weighting filter: libebur128's fourth-order filter (pre-filter × RLB high-pass, its
//!   coefficients for the rate), in `f64`;
//! * 100 ms is `(rate + 5) / 10` frames; gating blocks of 4 steps end at every step from the
//!   fourth on; short-term blocks of 30 steps end every 10 steps from the thirtieth on;
//! * a block's energy is `Σ_c w_c · Σ y_c² / frames`, with libebur128's default channel map
//!   (`w` = 1 for L, R, C; 1.41 for the surrounds; the LFE and channels past the sixth unused;
//!   4 channels are L R Ls Rs, 5 are L R C Ls Rs);
//! * blocks below the absolute gate (−70 LUFS) are dropped; integrated loudness is the mean of
//!   the blocks at or above a relative gate 10 LU under the mean of those; the loudness range is
//!   the spread from the 10th to the 95th percentile (libebur128's rounding of the ranks) of the
//!   short-term blocks at or above a relative gate 20 LU under their mean.

/// `10^((−70 + 0.691) / 10)`: the energy of −70 LUFS, the absolute gate, exactly as the crate
/// writes it (`histogram_bins::BOUNDARIES[0]`).
pub const ABSOLUTE_GATE_ENERGY: f64 = 0.000_000_117_246_530_458_229_809_506_033_624_374;

/// Steps of 100 ms in a gating block (400 ms) and in a short-term block (3 s).
const GATING_STEPS: usize = 4;
pub const SHORT_TERM_STEPS: usize = 30;
/// A short-term block for the loudness range ends every this many steps (1 s).
const SHORT_TERM_EVERY: u64 = 10;

/// BS.1770 loudness of a mean-square energy: `−0.691 + 10·log10(E)`; −∞ for zero energy.
pub fn energy_to_loudness(energy: f64) -> f64 {
    10.0 * energy.log10() - 0.691
}

/// libebur128's K-weighting filter at `rate` Hz: numerator `b` and denominator `a` (a₀ = 1) of
/// the product of its high-shelf pre-filter and its RLB high-pass.
#[allow(non_snake_case)]
fn k_weighting(rate: f64) -> ([f64; 5], [f64; 5]) {
    let (f0, G, Q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let Vh = 10f64.powf(G / 20.0);
    let Vb = Vh.powf(0.4996667741545416);
    let a0 = 1.0 + K / Q + K * K;
    let pb = [
        (Vh + Vb * K / Q + K * K) / a0,
        2.0 * (K * K - Vh) / a0,
        (Vh - Vb * K / Q + K * K) / a0,
    ];
    let pa = [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0];
    let (f0, Q) = (38.13547087602444, 0.5003270373238773);
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let rb = [1.0, -2.0, 1.0];
    let ra = [
        1.0,
        2.0 * (K * K - 1.0) / (1.0 + K / Q + K * K),
        (1.0 - K / Q + K * K) / (1.0 + K / Q + K * K),
    ];
    let product = |p: [f64; 3], r: [f64; 3]| {
        [
            p[0] * r[0],
            p[0] * r[1] + p[1] * r[0],
            p[0] * r[2] + p[1] * r[1] + p[2] * r[0],
            p[1] * r[2] + p[2] * r[1],
            p[2] * r[2],
        ]
    };
    (product(pb, rb), product(pa, ra))
}

/// libebur128's default weight of each channel of a `channels`-channel stream (0: unused).
pub fn channel_weights(channels: usize) -> Vec<f64> {
    const SURROUND: f64 = 1.41;
    match channels {
        4 => vec![1.0, 1.0, SURROUND, SURROUND],
        5 => vec![1.0, 1.0, 1.0, SURROUND, SURROUND],
        _ => (0..channels)
            .map(|c| match c {
                0..=2 => 1.0,
                4 | 5 => SURROUND,
                _ => 0.0,
            })
            .collect(),
    }
}

/// K-weights planar audio and sums its channel-weighted energy over steps of 100 ms.
pub struct KWeightedSteps {
    b: [f64; 5],
    a: [f64; 5],
    /// Direct-form-II state `s[n−1] … s[n−4]` of each used channel's filter.
    state: Vec<[f64; 4]>,
    /// Indices and weights of the channels that count.
    used: Vec<(usize, f64)>,
    step_frames: usize,
    until_step: usize,
    /// `Σ y²` of each used channel over the current step so far. Kept per channel and added to
    /// sample by sample, so that how the stream is cut into pieces changes no rounding.
    sums: Vec<f64>,
}

impl KWeightedSteps {
    /// For `channels` channels at `rate` Hz (both at least 1).
    pub fn new(channels: usize, rate: u32) -> Self {
        let (b, a) = k_weighting(rate as f64);
        let used: Vec<(usize, f64)> = channel_weights(channels)
            .into_iter()
            .enumerate()
            .filter(|&(_, w)| w > 0.0)
            .collect();
        let step_frames = (rate as usize + 5) / 10;
        KWeightedSteps {
            b,
            a,
            state: vec![[0.0; 4]; used.len()],
            sums: vec![0.0; used.len()],
            used,
            step_frames,
            until_step: step_frames,
        }
    }

    /// Frames in a step of 100 ms.
    pub fn step_frames(&self) -> usize {
        self.step_frames
    }

    /// Filters the next frames (`planar[channel][frame]`, all channels as long) and calls
    /// `on_step` with `Σ_c w_c Σ y²` of every step of 100 ms completed, in order.
    pub fn accept(&mut self, planar: &[&[f32]], mut on_step: impl FnMut(f64)) {
        let len = planar.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut start = 0;
        while start < len {
            let end = len.min(start + self.until_step);
            self.filter(planar, start, end);
            self.until_step -= end - start;
            start = end;
            if self.until_step == 0 {
                let step: f64 = self
                    .used
                    .iter()
                    .zip(&self.sums)
                    .map(|(&(_, w), s)| w * s)
                    .sum();
                self.sums.iter_mut().for_each(|s| *s = 0.0);
                on_step(step);
                self.until_step = self.step_frames;
            }
        }
        // As the crate does without a flush-to-zero mode: no subnormal state after long silence.
        for s in self.state.iter_mut().flatten() {
            if s.abs() < f64::MIN_POSITIVE {
                *s = 0.0;
            }
        }
    }

    /// Adds `Σ y²` of frames `start..end` to each used channel's sum, advancing the filters.
    fn filter(&mut self, planar: &[&[f32]], start: usize, end: usize) {
        let mut pairs = self.used.chunks_exact(2);
        let mut states = self.state.chunks_exact_mut(2);
        let mut sums = self.sums.chunks_exact_mut(2);
        for ((pair, state), sum) in (&mut pairs).zip(&mut states).zip(&mut sums) {
            let (s0, s1) = state.split_at_mut(1);
            let (e0, e1) = sum.split_at_mut(1);
            filter_two(
                &self.b,
                &self.a,
                (&planar[pair[0].0][start..end], &mut s0[0], &mut e0[0]),
                (&planar[pair[1].0][start..end], &mut s1[0], &mut e1[0]),
            );
        }
        let rest = pairs.remainder().iter().zip(states.into_remainder());
        for ((&(c, _), state), sum) in rest.zip(sums.into_remainder()) {
            filter_one(&self.b, &self.a, &planar[c][start..end], state, sum);
        }
    }
}

/// One filter step: the new state value and the output. The oldest states are subtracted first
/// so that the chain from one sample to the next is one multiply and one subtraction.
#[inline(always)]
fn step(b: &[f64; 5], a: &[f64; 5], x: f32, s: &mut [f64; 4]) -> f64 {
    let s0 = x as f64 - a[4] * s[3] - a[3] * s[2] - a[2] * s[1] - a[1] * s[0];
    let y = b[0] * s0 + b[1] * s[0] + b[2] * s[1] + b[3] * s[2] + b[4] * s[3];
    *s = [s0, s[0], s[1], s[2]];
    y
}

fn filter_one(b: &[f64; 5], a: &[f64; 5], x: &[f32], s: &mut [f64; 4], sum: &mut f64) {
    let mut acc = *sum;
    for &v in x {
        let y = step(b, a, v, s);
        acc += y * y;
    }
    *sum = acc;
}

type Channel<'c> = (&'c [f32], &'c mut [f64; 4], &'c mut f64);

/// Two channels' filters and sums advanced together: with fused multiply-adds where the CPU
/// has them ([`filter_two_fma`]), otherwise with SSE2 alone ([`filter_two_sse2`]).
#[cfg(target_arch = "x86_64")]
fn filter_two(b: &[f64; 5], a: &[f64; 5], c0: Channel, c1: Channel) {
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA, checked just above.
        unsafe { filter_two_fma(b, a, c0, c1) }
    } else {
        filter_two_sse2(b, a, c0, c1)
    }
}

/// [`filter_two_sse2`] with fused multiply-adds: the recursion's chain from one sample to the
/// next is one fused operation instead of a multiply and a subtraction, and there are about half
/// as many instructions, so the filter runs in about half the time. Each fused step rounds once
/// where [`step`] rounds twice; the same bits as `filter_two_scalar_fused` (in the tests).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn filter_two_fma(b: &[f64; 5], a: &[f64; 5], c0: Channel, c1: Channel) {
    use std::arch::x86_64::{__m128d, _mm_fmadd_pd, _mm_fnmadd_pd, _mm_mul_pd, _mm_set1_pd};
    let bc: [__m128d; 5] = b.map(|v| _mm_set1_pd(v));
    let ac: [__m128d; 5] = a.map(|v| _mm_set1_pd(v));
    // The newest state enters each chain last, so the chain from sample to sample is one
    // `fnmadd` and the output waits on one `fmadd`.
    let advance = |x: __m128d, [s0, s1, s2, s3]: [__m128d; 4], sum: __m128d| {
        let mut n = _mm_fnmadd_pd(ac[4], s3, x);
        n = _mm_fnmadd_pd(ac[3], s2, n);
        n = _mm_fnmadd_pd(ac[2], s1, n);
        n = _mm_fnmadd_pd(ac[1], s0, n);
        let mut y = _mm_mul_pd(bc[4], s3);
        y = _mm_fmadd_pd(bc[3], s2, y);
        y = _mm_fmadd_pd(bc[2], s1, y);
        y = _mm_fmadd_pd(bc[1], s0, y);
        y = _mm_fmadd_pd(bc[0], n, y);
        (n, _mm_fmadd_pd(y, y, sum))
    };
    two_lanes(c0, c1, advance);
}

/// Two channels' filters and sums advanced together, each lane of an SSE2 register one channel:
/// the same operations in the same order as [`step`] (separate multiplies and adds, no fused
/// multiply-add; the `f32` → `f64` conversions are exact), so the same bits as
/// [`filter_two_scalar`] for about half the instructions. SSE2 is part of every x86-64 CPU, so
/// nothing is assumed beyond the target.
#[cfg(target_arch = "x86_64")]
fn filter_two_sse2(b: &[f64; 5], a: &[f64; 5], c0: Channel, c1: Channel) {
    use std::arch::x86_64::{__m128d, _mm_add_pd, _mm_mul_pd, _mm_set1_pd, _mm_sub_pd};
    // SAFETY: SSE2 intrinsics on registers; SSE2 is baseline on x86-64.
    unsafe {
        let bc: [__m128d; 5] = b.map(|v| _mm_set1_pd(v));
        let ac: [__m128d; 5] = a.map(|v| _mm_set1_pd(v));
        let advance = |x: __m128d, [s0, s1, s2, s3]: [__m128d; 4], sum: __m128d| {
            let mut n = _mm_sub_pd(x, _mm_mul_pd(ac[4], s3));
            n = _mm_sub_pd(n, _mm_mul_pd(ac[3], s2));
            n = _mm_sub_pd(n, _mm_mul_pd(ac[2], s1));
            n = _mm_sub_pd(n, _mm_mul_pd(ac[1], s0));
            let mut y = _mm_mul_pd(bc[0], n);
            y = _mm_add_pd(y, _mm_mul_pd(bc[1], s0));
            y = _mm_add_pd(y, _mm_mul_pd(bc[2], s1));
            y = _mm_add_pd(y, _mm_mul_pd(bc[3], s2));
            y = _mm_add_pd(y, _mm_mul_pd(bc[4], s3));
            (n, _mm_add_pd(sum, _mm_mul_pd(y, y)))
        };
        two_lanes(c0, c1, advance);
    }
}

/// The loop of both two-lane filters: lane 0 channel 0, lane 1 channel 1, two frames per turn
/// (the state is renamed, not shifted). `advance(x, [s0, s1, s2, s3], sum)` is one step of the
/// filter on both lanes: the new state from the input `x` and the state `s[n−1] … s[n−4]`, and
/// the sum with the output's square added.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn two_lanes(
    (x0, s0, e0): Channel,
    (x1, s1, e1): Channel,
    advance: impl Fn(
        std::arch::x86_64::__m128d,
        [std::arch::x86_64::__m128d; 4],
        std::arch::x86_64::__m128d,
    ) -> (std::arch::x86_64::__m128d, std::arch::x86_64::__m128d),
) {
    use std::arch::x86_64::{
        __m128d, __m128i, _mm_castsi128_ps, _mm_cvtps_pd, _mm_loadl_epi64, _mm_movehl_ps,
        _mm_set_pd, _mm_storeh_pd, _mm_storel_pd, _mm_unpacklo_ps,
    };
    let n = x0.len().min(x1.len());
    let (pairs0, pairs1) = (x0[..n].chunks_exact(2), x1[..n].chunks_exact(2));
    let (last0, last1) = (pairs0.remainder(), pairs1.remainder());
    // SAFETY: SSE2 intrinsics (baseline on x86-64) on registers, 8-byte unaligned loads of two
    // f32 each from pairs of the slices, and stores to the f64 fields of the state and sums.
    unsafe {
        let [mut t0, mut t1, mut t2, mut t3]: [__m128d; 4] =
            std::array::from_fn(|k| _mm_set_pd(s1[k], s0[k]));
        let mut sum = _mm_set_pd(*e1, *e0);
        for (p0, p1) in pairs0.zip(pairs1) {
            let v0 = _mm_castsi128_ps(_mm_loadl_epi64(p0.as_ptr() as *const __m128i));
            let v1 = _mm_castsi128_ps(_mm_loadl_epi64(p1.as_ptr() as *const __m128i));
            // [x0[i], x1[i], x0[i + 1], x1[i + 1]]
            let both = _mm_unpacklo_ps(v0, v1);
            let first = _mm_cvtps_pd(both);
            let second = _mm_cvtps_pd(_mm_movehl_ps(both, both));
            let (n0, s) = advance(first, [t0, t1, t2, t3], sum);
            let (n1, s) = advance(second, [n0, t0, t1, t2], s);
            (t0, t1, t2, t3, sum) = (n1, n0, t0, t1, s);
        }
        if let (Some(&v0), Some(&v1)) = (last0.first(), last1.first()) {
            let (n0, s) = advance(_mm_set_pd(v1 as f64, v0 as f64), [t0, t1, t2, t3], sum);
            (t0, t1, t2, t3, sum) = (n0, t0, t1, t2, s);
        }
        for (k, t) in [t0, t1, t2, t3].into_iter().enumerate() {
            _mm_storel_pd(&mut s0[k], t);
            _mm_storeh_pd(&mut s1[k], t);
        }
        _mm_storel_pd(e0, sum);
        _mm_storeh_pd(e1, sum);
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn filter_two(b: &[f64; 5], a: &[f64; 5], c0: Channel, c1: Channel) {
    filter_two_scalar(b, a, c0, c1)
}

/// Two channels in one loop: their recursions are independent, so their latencies overlap.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn filter_two_scalar(b: &[f64; 5], a: &[f64; 5], (x0, s0, e0): Channel, (x1, s1, e1): Channel) {
    let (mut sum0, mut sum1) = (*e0, *e1);
    let (mut t0, mut t1) = (*s0, *s1);
    for (&v0, &v1) in x0.iter().zip(x1) {
        let y0 = step(b, a, v0, &mut t0);
        let y1 = step(b, a, v1, &mut t1);
        sum0 += y0 * y0;
        sum1 += y1 * y1;
    }
    (*s0, *s1, *e0, *e1) = (t0, t1, sum0, sum1);
}

/// [`filter_two_scalar`] in the fused operations and order of [`filter_two_fma`], for its test.
#[cfg(test)]
fn filter_two_scalar_fused(
    b: &[f64; 5],
    a: &[f64; 5],
    (x0, s0, e0): Channel,
    (x1, s1, e1): Channel,
) {
    let step = |x: f32, s: &mut [f64; 4], sum: &mut f64| {
        let mut n = (-a[4]).mul_add(s[3], x as f64);
        n = (-a[3]).mul_add(s[2], n);
        n = (-a[2]).mul_add(s[1], n);
        n = (-a[1]).mul_add(s[0], n);
        let mut y = b[4] * s[3];
        y = b[3].mul_add(s[2], y);
        y = b[2].mul_add(s[1], y);
        y = b[1].mul_add(s[0], y);
        y = b[0].mul_add(n, y);
        *sum = y.mul_add(y, *sum);
        *s = [n, s[0], s[1], s[2]];
    };
    for (&v0, &v1) in x0.iter().zip(x1) {
        step(v0, s0, e0);
        step(v1, s1, e1);
    }
}

/// Integrated loudness and loudness range from the 100 ms step energies of [`KWeightedSteps`].
#[derive(Clone, Debug, Default)]
pub struct Gating {
    step_frames: usize,
    steps: u64,
    /// Sums of the last [`SHORT_TERM_STEPS`] steps, oldest first.
    recent: std::collections::VecDeque<f64>,
    /// Energies of the 400 ms gating blocks at or above the absolute gate.
    blocks: Vec<f64>,
    /// Energies of the 3 s short-term blocks (every second) at or above the absolute gate.
    short_terms: Vec<f64>,
}

impl Gating {
    pub fn new(step_frames: usize) -> Self {
        Gating {
            step_frames,
            ..Gating::default()
        }
    }

    /// Adds one step's `Σ_c w_c Σ y²`; returns the mean-square energy of the 3 s ending with it
    /// once 30 steps have been seen.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must pass the gates, as in the crate
    pub fn push(&mut self, step_sum: f64) -> Option<f64> {
        if self.recent.len() == SHORT_TERM_STEPS {
            self.recent.pop_front();
        }
        self.recent.push_back(step_sum);
        self.steps += 1;
        let n = self.recent.len();
        if n >= GATING_STEPS {
            let sum: f64 = self.recent.range(n - GATING_STEPS..).sum();
            let energy = sum / (GATING_STEPS * self.step_frames) as f64;
            // Written as the crate writes it, so that a NaN (from NaN input) is kept, as there.
            if !(energy < ABSOLUTE_GATE_ENERGY) {
                self.blocks.push(energy);
            }
        }
        if n < SHORT_TERM_STEPS {
            return None;
        }
        let short_term = self.recent.iter().sum::<f64>() / (n * self.step_frames) as f64;
        if self.steps.is_multiple_of(SHORT_TERM_EVERY) && !(short_term < ABSOLUTE_GATE_ENERGY) {
            self.short_terms.push(short_term);
        }
        Some(short_term)
    }

    /// Integrated loudness, LUFS; −∞ when no block reaches the absolute gate, NaN after NaN input.
    pub fn integrated(&self) -> f64 {
        if self.blocks.is_empty() {
            return f64::NEG_INFINITY;
        }
        let mean = self.blocks.iter().sum::<f64>() / self.blocks.len() as f64;
        let threshold = mean * 10f64.powf(-10.0 / 10.0);
        let (count, sum) = self
            .blocks
            .iter()
            .filter(|&&e| e >= threshold)
            .fold((0u64, 0.0), |(n, s), &e| (n + 1, s + e));
        energy_to_loudness(sum / count as f64)
    }

    /// Loudness range, LU; 0 when no short-term block reaches the gates, NaN after NaN input.
    pub fn range(&self) -> f64 {
        let mut q = self.short_terms.clone();
        if q.is_empty() {
            return 0.0;
        }
        if q.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        q.sort_unstable_by(f64::total_cmp);
        let power = q.iter().sum::<f64>() / q.len() as f64;
        let threshold = 10f64.powf(-20.0 / 10.0) * power;
        let gated = q.iter().take_while(|&&v| v < threshold).count();
        let Some(last) = (q.len() - gated).checked_sub(1) else {
            return 0.0;
        };
        let at = |p: f64| q[gated + (last as f64 * p + 0.5) as usize];
        energy_to_loudness(at(0.95)) - energy_to_loudness(at(0.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    /// A deterministic music-like test signal: noise and tones under a slow, deep envelope, with
    /// a stretch of digital silence and a quiet passage.
    fn signal(channels: usize, rate: u32, seconds: f64) -> Vec<Vec<f32>> {
        let n = (seconds * rate as f64) as usize;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..channels)
            .map(|c| {
                (0..n)
                    .map(|i| {
                        let t = i as f32 / rate as f32;
                        let env = 0.5 + 0.45 * (0.37 * t + c as f32).sin();
                        let quiet = if (4.0..5.5).contains(&t) { 0.001 } else { 1.0 };
                        let silent = (7.0..9.0).contains(&t);
                        let tone =
                            (2.0 * std::f32::consts::PI * (220.0 + 50.0 * c as f32) * t).sin();
                        if silent {
                            0.0
                        } else {
                            quiet * env * (0.3 * noise() + 0.4 * tone)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn crate_values(planar: &[Vec<f32>], rate: u32, piece: usize) -> (f64, f64) {
        let mut m = EbuR128::new(planar.len() as u32, rate, Mode::I | Mode::LRA).unwrap();
        for start in (0..planar[0].len()).step_by(piece) {
            let end = planar[0].len().min(start + piece);
            let s: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            m.add_frames_planar_f32(&s).unwrap();
        }
        (m.loudness_global().unwrap(), m.loudness_range().unwrap())
    }

    fn ours(planar: &[Vec<f32>], rate: u32, piece: usize) -> (f64, f64) {
        let mut k = KWeightedSteps::new(planar.len(), rate);
        let mut gating = Gating::new(k.step_frames());
        for start in (0..planar[0].len()).step_by(piece) {
            let end = planar[0].len().min(start + piece);
            let s: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            k.accept(&s, |e| {
                gating.push(e);
            });
        }
        (gating.integrated(), gating.range())
    }

    #[test]
    fn integrated_and_range_equal_the_crates_across_rates_and_layouts() {
        for (channels, rate, seconds) in [
            (2, 44_100, 40.0),
            (1, 48_000, 25.0),
            (6, 96_000, 12.0),
            (5, 22_050, 14.0),
            (4, 11_025, 13.0),
            (3, 8_000, 31.0),
        ] {
            let planar = signal(channels, rate, seconds);
            let (ci, cr) = crate_values(&planar, rate, 4096);
            let (oi, or) = ours(&planar, rate, 1000);
            assert!(
                (ci - oi).abs() < 1e-9 && (cr - or).abs() < 1e-9,
                "{channels} ch at {rate} Hz: crate {ci} LUFS {cr} LU, ours {oi} {or}"
            );
            assert!(cr > 1.0, "the test signal has dynamics: {cr}");
        }
    }

    #[test]
    fn silence_and_short_input_give_no_loudness() {
        let (i, r) = ours(&[vec![0.0; 48_000 * 5]], 48_000, 4096);
        assert_eq!((i, r), (f64::NEG_INFINITY, 0.0));
        let short = signal(2, 44_100, 0.35);
        assert_eq!(ours(&short, 44_100, 512).0, f64::NEG_INFINITY);
    }

    #[test]
    fn channel_weights_follow_libebur128s_default_map() {
        assert_eq!(channel_weights(1), [1.0]);
        assert_eq!(channel_weights(4), [1.0, 1.0, 1.41, 1.41]);
        assert_eq!(channel_weights(6), [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]);
        assert_eq!(channel_weights(8)[6..], [0.0, 0.0]);
    }

    type TwoChannels = fn(&[f64; 5], &[f64; 5], Channel, Channel);

    /// The two-lane filters give their scalar twins' bits: states and sums alike.
    #[test]
    fn both_filters_of_two_channels_agree_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        {
            agree_bit_for_bit(filter_two_sse2, filter_two_scalar);
            if std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has FMA.
                agree_bit_for_bit(
                    |b, a, c0, c1| unsafe { filter_two_fma(b, a, c0, c1) },
                    filter_two_scalar_fused,
                );
            }
        }
    }

    fn agree_bit_for_bit(filter_two: TwoChannels, filter_two_scalar: TwoChannels) {
        let x = signal(2, 44_100, 10.0);
        let (b, a) = k_weighting(44_100.0);
        let (mut s, mut e) = ([[0.0f64; 4]; 2], [0.0f64; 2]);
        let (mut t, mut f) = ([[0.0f64; 4]; 2], [0.0f64; 2]);
        for piece in (0..x[0].len()).step_by(4411) {
            let end = (piece + 4411).min(x[0].len());
            let ([s0, s1], [e0, e1]) = (&mut s, &mut e);
            filter_two(
                &b,
                &a,
                (&x[0][piece..end], s0, e0),
                (&x[1][piece..end], s1, e1),
            );
            let ([t0, t1], [f0, f1]) = (&mut t, &mut f);
            filter_two_scalar(
                &b,
                &a,
                (&x[0][piece..end], t0, f0),
                (&x[1][piece..end], t1, f1),
            );
            assert_eq!((s, e), (t, f), "after frame {end}");
        }
        assert!(e[0] > 0.0 && e[1] > 0.0);
    }
}
