//! Mel filterbank with librosa's defaults: Slaney mel scale and Slaney area normalisation.
//!
//! `MelFilterbank::new(16000, 512, 96, 0.0, 8000.0)` reproduces
//! `librosa.filters.mel(sr=16000, n_fft=512, n_mels=96, fmin=0, fmax=8000)` (htk=False,
//! norm='slaney'): triangles whose corners are equally spaced on the Slaney scale (linear below
//! 1 kHz, logarithmic above), each scaled by `2 / (f_upper - f_lower)` so its area is constant.

/// Slaney scale: 3 mels per 200 Hz below 1 kHz, then 27 mels per factor 6.4 in frequency.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hertz to Slaney mels, as `librosa.hz_to_mel(f, htk=False)`.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Slaney mels to Hertz, as `librosa.mel_to_hz(m, htk=False)`.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// One triangular filter, stored as its non-zero span of FFT bins.
#[derive(Clone, Debug)]
struct Band {
    first_bin: usize,
    weights: Vec<f32>,
}

/// A bank of `n_mels` triangular filters over the `n_fft / 2 + 1` bins of a power spectrum.
#[derive(Clone, Debug)]
pub struct MelFilterbank {
    bands: Vec<Band>,
    n_bins: usize,
}

impl MelFilterbank {
    pub fn new(sample_rate: u32, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let nyquist = sample_rate as f64 / 2.0;
        let bin_hz = |k: usize| nyquist * k as f64 / (n_bins - 1) as f64;
        let (mel_lo, mel_hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let corners: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let bands = (0..n_mels)
            .map(|m| {
                let (lo, centre, hi) = (corners[m], corners[m + 1], corners[m + 2]);
                let area_norm = 2.0 / (hi - lo);
                let dense: Vec<f32> = (0..n_bins)
                    .map(|k| {
                        let f = bin_hz(k);
                        let rising = (f - lo) / (centre - lo);
                        let falling = (hi - f) / (hi - centre);
                        (rising.min(falling).max(0.0) * area_norm) as f32
                    })
                    .collect();
                let first_bin = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
                let end = dense
                    .iter()
                    .rposition(|&w| w > 0.0)
                    .map_or(first_bin, |k| k + 1);
                Band {
                    first_bin,
                    weights: dense[first_bin..end].to_vec(),
                }
            })
            .collect();
        MelFilterbank { bands, n_bins }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Writes the mel energies of one power spectrum (`n_bins` values) into `mel` (`n_mels`).
    pub fn apply(&self, power: &[f32], mel: &mut [f32]) {
        debug_assert_eq!(power.len(), self.n_bins);
        for (out, band) in mel.iter_mut().zip(&self.bands) {
            let span = &power[band.first_bin..band.first_bin + band.weights.len()];
            *out = span.iter().zip(&band.weights).map(|(p, w)| p * w).sum();
        }
    }

    /// The filter matrix as `n_mels` dense rows of `n_bins`, for tests and export.
    pub fn to_dense(&self) -> Vec<Vec<f32>> {
        self.bands
            .iter()
            .map(|band| {
                let mut row = vec![0.0; self.n_bins];
                row[band.first_bin..band.first_bin + band.weights.len()]
                    .copy_from_slice(&band.weights);
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_linear_then_logarithmic_and_invertible() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
        for hz in [0.0, 123.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn every_band_is_a_triangle_of_equal_area() {
        let bank = MelFilterbank::new(16_000, 512, 96, 0.0, 8000.0);
        assert_eq!(bank.n_mels(), 96);
        assert_eq!(bank.n_bins(), 257);
        for band in &bank.bands[8..] {
            // Slaney norm: weight * bin width summed over a triangle is 1 (up to sampling).
            let area: f32 = band.weights.iter().sum::<f32>() * 16_000.0 / 512.0;
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
    }
}
