//! Danceability by detrended fluctuation analysis (Streich & Herrera, AES 118th Convention, 2005),
//! computed as Essentia's `Danceability` computes it, on the 16 kHz analysis signal.
//!
//! The signal is cut into 10 ms frames; each frame's sample standard deviation (divisor n − 1)
//! forms a loudness-like series s, which is centred and integrated (cumulative sum). For each
//! window length τ (in frames) from 310 ms to 8800 ms, growing by ×1.1 (`int(ms / 10)` frames,
//! Essentia's grid), windows of τ frames start every `max(τ / 50, 1)` frames; the residual of a
//! least-squares line through each window, per point (mean squared residual), is summed over the
//! windows, and the fluctuation is `F(τ) = sqrt(Σ residual / ((N − τ) / jump))`. The DFA exponents are
//! `α_i = log10(F(τ_{i+1}) / F(τ_i)) / log10((τ_{i+1} + 3) / (τ_i + 3))` (the +3 is the
//! small-τ correction of the paper); the raw danceability is `1 / mean(α)`, about 0–3: music
//! with a steady pulse fluctuates little at long time scales (small α, high danceability).
//!
//! Memory: one `f32` per 10 ms of audio (1.4 MB an hour), as the analysis needs the whole series,
//! and at the end one `f64` per 10 ms more for the integrated series.

use serde::{Deserialize, Serialize};

/// Shortest and longest DFA window, milliseconds (Essentia's defaults, from the paper).
pub const MIN_TAU_MS: f64 = 310.0;
pub const MAX_TAU_MS: f64 = 8800.0;
/// Growth of the window length from one τ to the next.
pub const TAU_MULTIPLIER: f64 = 1.1;
/// Frame length, seconds.
const FRAME_S: f64 = 0.01;
/// The raw value that maps to danceability 1 (Essentia documents 0 to about 3).
pub const RAW_FULL_SCALE: f64 = 3.0;

/// The danceability of a record.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Danceability {
    /// `raw / 3` clipped to 0–1.
    pub score: f64,
    /// `1 / mean(α)` as Essentia's `Danceability` outputs it, about 0–3 (0 when it cannot be
    /// computed: a signal shorter than two window lengths, or silence).
    pub raw: f64,
}

/// Streams the analysis signal into 10 ms standard deviations.
#[derive(Clone, Debug)]
pub struct DanceabilityMeter {
    frame_len: usize,
    sum: f64,
    sum_sq: f64,
    count: usize,
    series: Vec<f32>,
}

impl DanceabilityMeter {
    /// A meter for a signal at `sample_rate` Hz (10 ms frames of `int(0.01 · rate)` samples).
    pub fn new(sample_rate: u32) -> Self {
        DanceabilityMeter {
            frame_len: ((FRAME_S * sample_rate as f64) as usize).max(2),
            sum: 0.0,
            sum_sq: 0.0,
            count: 0,
            series: Vec::new(),
        }
    }

    /// The next samples of the signal, in order.
    pub fn accept(&mut self, samples: &[f32]) {
        for &x in samples {
            let x = x as f64;
            self.sum += x;
            self.sum_sq += x * x;
            self.count += 1;
            if self.count == self.frame_len {
                let n = self.count as f64;
                let var = ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
                self.series.push(var.sqrt() as f32);
                self.sum = 0.0;
                self.sum_sq = 0.0;
                self.count = 0;
            }
        }
    }

    /// The danceability of the whole signal (an incomplete last frame is dropped, as Essentia's
    /// `numSamples / frameSize` does).
    pub fn finish(self) -> Danceability {
        let raw = dfa_danceability(&self.series);
        Danceability {
            score: (raw / RAW_FULL_SCALE).clamp(0.0, 1.0),
            raw,
        }
    }
}

/// The window lengths in frames: `int(τ_ms / 10)` for τ_ms = 310, 341, … ≤ 8800.
pub fn taus() -> Vec<usize> {
    let mut out = Vec::new();
    let mut tau = MIN_TAU_MS;
    while tau <= MAX_TAU_MS {
        out.push((tau / (FRAME_S * 1000.0)) as usize);
        tau *= TAU_MULTIPLIER;
    }
    out
}

/// `1 / mean(α)` of the series of 10 ms standard deviations; 0 when it cannot be computed.
pub fn dfa_danceability(series: &[f32]) -> f64 {
    let n = series.len();
    let integrated = integrate(series);
    let taus = taus();
    let mut fluctuation = Vec::new();
    for &tau in &taus {
        if n < tau {
            break;
        }
        if n == tau {
            fluctuation.push(0.0);
            continue;
        }
        let jump = (tau / 50).max(1);
        let total = summed_residuals(&integrated, tau, jump);
        fluctuation.push((total / ((n - tau) as f64 / jump as f64)).sqrt());
    }
    alpha_to_danceability(&taus, &fluctuation)
}

/// The centred, integrated series, less its own least-squares line: every window's residual is
/// unchanged by a line added to the whole series, and smaller values keep the window sums of
/// [`summed_residuals`] exact to about 1e-12 of a window's residual.
fn integrate(series: &[f32]) -> Vec<f64> {
    let n = series.len();
    let mean = series.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64;
    let mut integrated = Vec::with_capacity(n);
    let mut acc = 0.0f64;
    for &x in series {
        acc += x as f64 - mean;
        integrated.push(acc);
    }
    if n > 1 {
        let x_mean = (n - 1) as f64 / 2.0;
        let y_mean = integrated.iter().sum::<f64>() / n as f64;
        let sxy: f64 = integrated
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64 - x_mean) * (y - y_mean))
            .sum();
        let slope = sxy / (n as f64 * ((n as f64).powi(2) - 1.0) / 12.0);
        for (i, y) in integrated.iter_mut().enumerate() {
            *y -= y_mean + slope * (i as f64 - x_mean);
        }
    }
    integrated
}

/// The sum of the residuals of the windows of `len` points that start every `jump` points
/// while a point follows the window (`start < n − len`, Essentia's bound).
///
/// The window's sums of `y`, `y²` and `i·y` slide along instead of being read from running sums
/// of the whole series: the DFA visits every point about 50 times per τ, and sliding keeps that
/// at a few operations a point without three more arrays of the series' length (2.3 MB for an
/// hour), which were most of a long track's memory at its end.
fn summed_residuals(y: &[f64], len: usize, jump: usize) -> f64 {
    let mut total = 0.0;
    let mut sums = WindowSums::over(y, 0, len);
    let mut summed_at = 0;
    let mut start = 0;
    loop {
        total += sums.residual(start, len);
        let next = start + jump;
        if next + len >= y.len() {
            return total;
        }
        if next >= summed_at + len {
            // Summed afresh once the window has moved its own length, so that the rounding of
            // the updates does not build up over the series (without it, the result on the
            // test's six minutes moved by 8e-8 of itself).
            sums = WindowSums::over(y, next, len);
            summed_at = next;
        } else {
            for i in start..next {
                sums.remove(i, y[i]);
                sums.add(i + len, y[i + len]);
            }
        }
        start = next;
    }
}

/// Sums of `y`, `y²` and `i·y` over a window of the series.
#[derive(Default)]
struct WindowSums {
    y: f64,
    yy: f64,
    iy: f64,
}

impl WindowSums {
    fn over(y: &[f64], start: usize, len: usize) -> Self {
        let mut sums = WindowSums::default();
        for (i, &v) in y.iter().enumerate().skip(start).take(len) {
            sums.add(i, v);
        }
        sums
    }

    fn add(&mut self, i: usize, v: f64) {
        self.y += v;
        self.yy += v * v;
        self.iy += i as f64 * v;
    }

    fn remove(&mut self, i: usize, v: f64) {
        self.y -= v;
        self.yy -= v * v;
        self.iy -= i as f64 * v;
    }

    /// Mean squared residual of the least-squares line through the `len` points from `start`,
    /// per point as Essentia divides it.
    fn residual(&self, start: usize, len: usize) -> f64 {
        let n = len as f64;
        let (sy, syy) = (self.y, self.yy);
        // Σ x·y with x = i − start, then centred: Σ (x − x̄)(y − ȳ) = Σ x·y − x̄·Σ y.
        let sxy = self.iy - start as f64 * sy - (n - 1.0) / 2.0 * sy;
        let sxx = n * (n * n - 1.0) / 12.0;
        let explained = if sxx > 0.0 { sxy * sxy / sxx } else { 0.0 };
        (syy - sy * sy / n - explained).max(0.0) / n
    }
}

/// The DFA exponents between consecutive τ, averaged, as danceability `1 / mean(α)`; 0 when
/// they cannot be computed.
fn alpha_to_danceability(taus: &[usize], fluctuation: &[f64]) -> f64 {
    if fluctuation.len() < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..fluctuation.len() - 1 {
        if fluctuation[i + 1] == 0.0 || fluctuation[i] == 0.0 {
            return 0.0;
        }
        let ratio = (taus[i + 1] as f64 + 3.0) / (taus[i] as f64 + 3.0);
        sum += (fluctuation[i + 1] / fluctuation[i]).log10() / ratio.log10();
    }
    let alpha = sum / (fluctuation.len() - 1) as f64;
    if alpha > 0.0 && alpha.is_finite() {
        1.0 / alpha
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tau_grid_is_essentias() {
        let t = taus();
        assert_eq!(t[0], 31);
        assert_eq!(t[1], 34);
        assert!(*t.last().unwrap() <= 880);
        assert_eq!(t.len(), 36);
    }

    /// Mean squared residual of the least-squares line through `y` (x = 0, 1, …), per point as
    /// Essentia divides it.
    fn residual(y: &[f64]) -> f64 {
        let n = y.len() as f64;
        let x_mean = (n - 1.0) / 2.0;
        let y_mean = y.iter().sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, &v) in y.iter().enumerate() {
            let dx = i as f64 - x_mean;
            sxy += dx * (v - y_mean);
            sxx += dx * dx;
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        y.iter()
            .enumerate()
            .map(|(i, &v)| {
                let e = v - y_mean - slope * (i as f64 - x_mean);
                e * e
            })
            .sum::<f64>()
            / n
    }

    /// The DFA as it was computed before [`WindowSums`]: three passes over every window.
    fn reference_dfa(series: &[f32]) -> f64 {
        let n = series.len();
        let mean = series.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64;
        let mut integrated = Vec::with_capacity(n);
        let mut acc = 0.0f64;
        for &x in series {
            acc += x as f64 - mean;
            integrated.push(acc);
        }
        let taus = taus();
        let mut fluctuation = Vec::new();
        for &tau in &taus {
            if n < tau {
                break;
            }
            if n == tau {
                fluctuation.push(0.0);
                continue;
            }
            let jump = (tau / 50).max(1);
            let total: f64 = (0..n - tau)
                .step_by(jump)
                .map(|k| residual(&integrated[k..k + tau]))
                .sum();
            fluctuation.push((total / ((n - tau) as f64 / jump as f64)).sqrt());
        }
        alpha_to_danceability(&taus, &fluctuation)
    }

    #[test]
    fn window_sums_give_the_three_pass_result() {
        // A loudness-like series with sections, drift and noise, an hour of 10 ms frames.
        let mut state = 0x1234_5678u32;
        let series: Vec<f32> = (0..360_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = state as f32 / u32::MAX as f32;
                let section = if (i / 3000) % 3 == 0 { 0.02 } else { 0.2 };
                let pulse = if i % 50 < 8 { 0.1 } else { 0.0 };
                section + pulse + 0.05 * noise + i as f32 * 1e-6
            })
            .collect();
        // An hour asks more of the sums than the short series: the running sums of the whole
        // series that came before these windows missed by 2e-5 there.
        for (len, tolerance) in [(100, 1e-8), (2_000, 1e-8), (36_000, 1e-8), (360_000, 1e-7)] {
            let (ours, theirs) = (
                dfa_danceability(&series[..len]),
                reference_dfa(&series[..len]),
            );
            assert!(theirs > 0.0, "{len}: {theirs}");
            assert!(
                (ours - theirs).abs() <= tolerance * theirs,
                "{len}: {ours} vs {theirs}"
            );
        }
    }

    #[test]
    fn a_line_has_no_residual() {
        let y: Vec<f64> = (0..50).map(|i| 3.0 + 0.5 * i as f64).collect();
        assert!(residual(&y) < 1e-18);
        let sums = WindowSums::over(&y, 7, 31);
        assert!(sums.residual(7, 31) < 1e-12, "{}", sums.residual(7, 31));
    }

    #[test]
    fn a_steady_pulse_is_more_danceable_than_a_random_walk() {
        let rate = 16_000;
        let seconds = 40;
        let mut pulse = DanceabilityMeter::new(rate);
        let mut walk = DanceabilityMeter::new(rate);
        let mut state = 0x9e37_79b9u32;
        let mut level = 0.3f32;
        for i in 0..rate as usize * seconds {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = state as f32 / u32::MAX as f32 - 0.5;
            let t = i as f32 / rate as f32;
            let env = (-(t % 0.5) * 20.0).exp();
            pulse.accept(&[noise * env]);
            if i % 1600 == 0 {
                level = (level + 0.1 * (noise * 2.0)).clamp(0.01, 1.0);
            }
            walk.accept(&[noise * level]);
        }
        let (p, w) = (pulse.finish(), walk.finish());
        assert!(p.raw > w.raw, "pulse {p:?} walk {w:?}");
        assert!((0.0..=1.0).contains(&p.score));
    }
}
