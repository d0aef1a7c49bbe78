//! Mel filterbank with librosa's defaults: Slaney mel scale and Slaney area normalisation.
//!
//! `MelFilterbank::new(16000, 512, 96, 0.0, 8000.0)` reproduces
//! `librosa.filters.mel(sr=16000, n_fft=512, n_mels=96, fmin=0, fmax=8000)` (htk=False,
//! norm='slaney'): triangles whose corners are equally spaced on the Slaney scale (linear below
//! 1 kHz, logarithmic above), each scaled by `2 / (f_upper - f_lower)` so its area is constant.

use wide::f32x8;

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

impl Band {
    /// `Σ power[k] · weight[k]` over the band's bins, in bin order from −0.0 (as `f32`'s `sum`).
    fn sum(&self, power: &[f32]) -> f32 {
        let span = &power[self.first_bin..self.first_bin + self.weights.len()];
        span.iter().zip(&self.weights).map(|(p, w)| p * w).sum()
    }
}

/// Bands whose sums are taken together, one band in each lane.
const LANES: usize = 8;

/// [`LANES`] consecutive bands over every bin any of them reaches: one row of weights per bin,
/// zero in the lanes of the bands that do not reach it.
#[derive(Clone, Debug)]
struct BandGroup {
    first_bin: usize,
    rows: Vec<f32x8>,
}

impl BandGroup {
    fn new(bands: &[Band]) -> Self {
        let first_bin = bands.iter().map(|b| b.first_bin).min().unwrap_or(0);
        let end = bands
            .iter()
            .map(|b| b.first_bin + b.weights.len())
            .max()
            .unwrap_or(first_bin);
        let rows = (first_bin..end)
            .map(|k| {
                f32x8::new(std::array::from_fn(|lane| {
                    let band = &bands[lane];
                    k.checked_sub(band.first_bin)
                        .and_then(|i| band.weights.get(i))
                        .copied()
                        .unwrap_or(0.0)
                }))
            })
            .collect();
        BandGroup { first_bin, rows }
    }
}

/// A bank of `n_mels` triangular filters over the `n_fft / 2 + 1` bins of a power spectrum.
#[derive(Clone, Debug)]
pub struct MelFilterbank {
    bands: Vec<Band>,
    /// The bands in groups of [`LANES`], the last few (`n_mels mod LANES`) left out.
    groups: Vec<BandGroup>,
    /// Bands that reach no bin (a bank finer than the spectrum's bins at its low end).
    empty_bands: Vec<usize>,
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
        let bands: Vec<Band> = (0..n_mels)
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
        let groups = bands.chunks_exact(LANES).map(BandGroup::new).collect();
        let empty_bands = (0..bands.len())
            .filter(|&m| bands[m].weights.is_empty())
            .collect();
        MelFilterbank {
            bands,
            groups,
            empty_bands,
            n_bins,
        }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Writes the mel energies of one power spectrum (`n_bins` finite values, none negative)
    /// into `mel` (`n_mels`): each band's `Σ power[k] · weight[k]` over its bins in order.
    ///
    /// Each band's sum is one chain of dependent additions, which left alone runs at the
    /// adder's latency; here eight bands at a time share each vector instruction, one per
    /// lane, so the chains advance together. A lane adds the products of the bins its band
    /// does not reach too: `p · 0 = +0`, and adding `+0` changes no sum of non-negative products
    /// (from `−0.0`, the first one turns it into `+0` or the first product, as the band's own
    /// first product would), so every band gets the bits of its own scalar sum. Bands that
    /// reach no bin keep the scalar sum's `−0.0`.
    pub fn apply(&self, power: &[f32], mel: &mut [f32]) {
        debug_assert_eq!(power.len(), self.n_bins);
        debug_assert!(power.iter().all(|p| p.is_finite() && *p >= 0.0));
        let grouped = self.groups.len() * LANES;
        let (in_groups, rest) = mel.split_at_mut(grouped);
        for (out, group) in in_groups.chunks_exact_mut(LANES).zip(&self.groups) {
            let span = &power[group.first_bin..group.first_bin + group.rows.len()];
            let mut sums = f32x8::splat(-0.0);
            for (&p, &weights) in span.iter().zip(&group.rows) {
                sums += f32x8::splat(p) * weights;
            }
            out.copy_from_slice(&sums.to_array());
        }
        for (out, band) in rest.iter_mut().zip(&self.bands[grouped..]) {
            *out = band.sum(power);
        }
        for &m in &self.empty_bands {
            mel[m] = self.bands[m].sum(power);
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

    /// The grouped sums are each band's own scalar sum, bit for bit, on banks with and without
    /// left-over and empty bands, for spectra with zeros, tiny and huge values.
    #[test]
    fn grouped_sums_are_each_bands_own_sum_bit_for_bit() {
        let banks = [
            MelFilterbank::new(16_000, 512, 96, 0.0, 8000.0),
            MelFilterbank::new(22_050, 2048, 128, 0.0, 11_025.0),
            MelFilterbank::new(44_100, 1024, 45, 30.0, 16_000.0),
            MelFilterbank::new(16_000, 256, 128, 0.0, 8000.0),
        ];
        assert!(
            !banks[3].empty_bands.is_empty(),
            "a bank with empty bands is tested"
        );
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for bank in &banks {
            for trial in 0..50 {
                let power: Vec<f32> = (0..bank.n_bins())
                    .map(|_| match next() % 8 {
                        0 => 0.0,
                        1 => f32::from_bits(next() % 0x0080_0000), // subnormal
                        2 => (next() % 1000) as f32 * 1e9,
                        _ => (next() >> 8) as f32 / (1u32 << 24) as f32,
                    })
                    .collect();
                let mut mel = vec![f32::NAN; bank.n_mels()];
                bank.apply(&power, &mut mel);
                for (m, (got, band)) in mel.iter().zip(&bank.bands).enumerate() {
                    let want = band.sum(&power);
                    assert_eq!(got.to_bits(), want.to_bits(), "band {m}, trial {trial}");
                }
            }
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
