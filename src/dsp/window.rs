//! Analysis windows.

/// The periodic Hann window of length `n` (`scipy.signal.get_window('hann', n, fftbins=True)`),
/// the one librosa's STFT uses: `0.5 - 0.5 cos(2πk/n)` for `k = 0 … n-1`.
pub fn periodic_hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|k| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) as f32)
        .collect()
}
