//! The hand-crafted descriptors of a track — loudness, spectral shape, tonality — and the record
//! groups they fill. [`Descriptors`] takes the analysis signal and the shared spectrogram and owns
//! one extractor per idea; the native-rate loudness meter ([`R128Meter`]) is fed apart, on the
//! stream's decoding side, and handed to [`Descriptors::finish`]. Each value reaches the record
//! finite, or `null` with its reason in `null_reasons`.

use serde::{Deserialize, Serialize};

use crate::dsp::{lanes, FrameSink, SpectrogramBlock, SpectrogramConfig};

use super::chroma::{ChromaPlan, StreamingChroma};
use super::energy::EntropyMeter;
use super::frame_levels::FrameLevels;
use super::key::estimate_key;
use super::loudness::R128Meter;
use super::mfcc::MfccStats;
use super::spectral_shape::SpectralShape;
use super::stats::{finite_or_null, finite_vec_or_null, MeanStd, NullReasons};

/// FFT size and hop of the chroma STFT at 16 kHz (256 ms window, 128 ms hop).
pub const CHROMA_N_FFT: usize = 4096;
pub const CHROMA_HOP: usize = 2048;
/// Below this duration the key is not estimated (`null`) rather than guessed.
pub const MIN_KEY_SECONDS: f64 = 2.0;
/// Below this chroma contrast (std / mean of the mean chroma) there is no tonality to name a key
/// from. Measured with librosa's identical chroma: white, pink and brown noise 0.014–0.080, the
/// chord fixtures 0.80–0.98, the clips of samples/ 0.35–0.82, 12 real tracks 0.19–0.53. Key
/// strength alone cannot tell them apart: pink noise reached 0.50, real house and hip-hop 0.47.
pub const MIN_CHROMA_CONTRAST: f64 = 0.12;

/// `loudness` in the record: level and dynamics of the source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// EBU R128 integrated loudness of the native-rate channels, LUFS.
    pub integrated_lufs: Option<f64>,
    /// EBU R128 loudness range (Tech 3342), LU.
    pub range_lu: Option<f64>,
    /// Highest true peak over the channels (4× oversampled below 96 kHz), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Mean of the frame RMS level of the 16 kHz mono signal, dBFS (floor −100).
    pub rms_dbfs_mean: Option<f64>,
    /// Standard deviation of the frame RMS level, dB.
    pub rms_dbfs_std: Option<f64>,
    /// Mean absolute deviation of the 3 s short-term loudness (every 100 ms, gated at −70 LUFS), LU.
    pub dynamic_complexity_lu: Option<f64>,
    /// Fraction of frames whose RMS level is below −60 dBFS, 0–1.
    pub silent_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "NullReasons::is_empty")]
    pub null_reasons: NullReasons,
}

/// `spectral` in the record: mean and standard deviation over the frames of the shared
/// spectrogram (512-point Hann, hop 256 at 16 kHz, 62.5 frames/s).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spectral {
    pub centroid_hz_mean: Option<f64>,
    pub centroid_hz_std: Option<f64>,
    pub bandwidth_hz_mean: Option<f64>,
    pub bandwidth_hz_std: Option<f64>,
    pub rolloff_hz_mean: Option<f64>,
    pub rolloff_hz_std: Option<f64>,
    pub flatness_mean: Option<f64>,
    pub flatness_std: Option<f64>,
    pub flux_mean: Option<f64>,
    pub flux_std: Option<f64>,
    pub zcr_mean: Option<f64>,
    pub zcr_std: Option<f64>,
    /// 13 MFCCs (orthonormal DCT-II of the log-mel in dB), mean per coefficient.
    pub mfcc_mean: Option<Vec<f64>>,
    pub mfcc_std: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "NullReasons::is_empty")]
    pub null_reasons: NullReasons,
}

/// `tonal` in the record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tonal {
    /// Mean of the peak-normalised chroma frames, C … B, each 0–1.
    pub chroma_mean: Option<Vec<f64>>,
    /// Tonic: `C`, `C#`, `D`, `Eb`, `E`, `F`, `F#`, `G`, `Ab`, `A`, `Bb` or `B`.
    pub key: Option<String>,
    /// `major` or `minor`.
    pub mode: Option<String>,
    /// Correlation of the mean chroma with the Krumhansl–Kessler profile of the key, −1 … 1.
    pub key_strength: Option<f64>,
    /// Standard deviation over mean of the 12 values of `chroma_mean`, ≥ 0 (0: flat chroma).
    #[serde(default)]
    pub chroma_contrast: Option<f64>,
    #[serde(default, skip_serializing_if = "NullReasons::is_empty")]
    pub null_reasons: NullReasons,
}

/// The descriptor extractors of one track fed by the analysis signal and the spectrogram.
pub struct Descriptors {
    levels: FrameLevels,
    shape: SpectralShape,
    mfcc: MfccStats,
    entropy: EntropyMeter,
    /// The mel frame's `ln(max(f64::MIN_POSITIVE, mel))`, for the MFCCs and the entropy.
    ln_mel: Vec<f64>,
    chroma: StreamingChroma,
    signal_samples: u64,
    sample_rate: u32,
}

impl Descriptors {
    pub fn new(spectrogram: &SpectrogramConfig) -> Self {
        Descriptors {
            levels: FrameLevels::new(),
            shape: SpectralShape::new(spectrogram.sample_rate, spectrogram.n_fft),
            mfcc: MfccStats::new(spectrogram.n_mels),
            entropy: EntropyMeter::new(),
            ln_mel: vec![0.0; spectrogram.n_mels],
            chroma: StreamingChroma::new(ChromaPlan::new(
                spectrogram.sample_rate,
                CHROMA_N_FFT,
                CHROMA_HOP,
            )),
            signal_samples: 0,
            sample_rate: spectrogram.sample_rate,
        }
    }

    /// The 16 kHz mono analysis signal, in order.
    pub fn accept_signal(&mut self, samples: &[f32]) {
        self.signal_samples += samples.len() as u64;
        self.levels.accept(samples);
        self.chroma.accept(samples);
    }

    /// The mean normalised entropy of the mel spectrum (`energy.spectral_entropy`), `None`
    /// without a frame that has power.
    pub fn spectral_entropy(&self) -> Option<f64> {
        self.entropy.finish()
    }

    /// The three record groups; `loudness` has measured the native-rate channels of the same
    /// track.
    pub fn finish(self, loudness: R128Meter) -> (Loudness, Spectral, Tonal) {
        let levels = self.levels.finish();
        let mut reasons = NullReasons::new();
        let r128 = loudness.finish(&mut reasons);
        let no_frames = "no frames";
        let loudness = Loudness {
            integrated_lufs: r128.integrated_lufs,
            range_lu: r128.range_lu,
            true_peak_dbtp: r128.true_peak_dbtp,
            rms_dbfs_mean: finite_or_null(
                levels.rms_dbfs.mean(),
                "rms_dbfs_mean",
                no_frames,
                &mut reasons,
            ),
            rms_dbfs_std: finite_or_null(
                levels.rms_dbfs.std(),
                "rms_dbfs_std",
                no_frames,
                &mut reasons,
            ),
            dynamic_complexity_lu: r128.dynamic_complexity_lu,
            silent_fraction: finite_or_null(
                Some(levels.silent_fraction),
                "silent_fraction",
                no_frames,
                &mut reasons,
            ),
            null_reasons: reasons,
        };

        let mut reasons = NullReasons::new();
        let mut pair = |stats: &MeanStd, name: &str, reason: &str| {
            (
                finite_or_null(stats.mean(), &format!("{name}_mean"), reason, &mut reasons),
                finite_or_null(stats.std(), &format!("{name}_std"), reason, &mut reasons),
            )
        };
        let shape = &self.shape;
        let (centroid_hz_mean, centroid_hz_std) =
            pair(&shape.centroid_hz, "centroid_hz", no_frames);
        let (bandwidth_hz_mean, bandwidth_hz_std) =
            pair(&shape.bandwidth_hz, "bandwidth_hz", no_frames);
        let (rolloff_hz_mean, rolloff_hz_std) = pair(&shape.rolloff_hz, "rolloff_hz", no_frames);
        let (flatness_mean, flatness_std) = pair(&shape.flatness, "flatness", no_frames);
        let (flux_mean, flux_std) = pair(
            &shape.flux,
            "flux",
            "fewer than two frames: flux needs a previous frame",
        );
        let (zcr_mean, zcr_std) = pair(&levels.zcr, "zcr", no_frames);
        let mfcc = self.mfcc.mean_std();
        let spectral = Spectral {
            centroid_hz_mean,
            centroid_hz_std,
            bandwidth_hz_mean,
            bandwidth_hz_std,
            rolloff_hz_mean,
            rolloff_hz_std,
            flatness_mean,
            flatness_std,
            flux_mean,
            flux_std,
            zcr_mean,
            zcr_std,
            mfcc_mean: finite_vec_or_null(
                mfcc.as_ref().map(|m| m.0.clone()),
                "mfcc_mean",
                no_frames,
                &mut reasons,
            ),
            mfcc_std: finite_vec_or_null(mfcc.map(|m| m.1), "mfcc_std", no_frames, &mut reasons),
            null_reasons: reasons,
        };

        let seconds = self.signal_samples as f64 / self.sample_rate as f64;
        let tonal = tonal(self.chroma.finish(), seconds);
        (loudness, spectral, tonal)
    }
}

fn tonal(chroma: Option<[f64; 12]>, seconds: f64) -> Tonal {
    let mut reasons = NullReasons::new();
    let chroma_mean = finite_vec_or_null(
        chroma.map(|c| c.to_vec()),
        "chroma_mean",
        "no audio",
        &mut reasons,
    );
    let contrast = chroma.and_then(|c| contrast(&c));
    let chroma_contrast = finite_or_null(
        contrast,
        "chroma_contrast",
        "no pitch content: the chroma is all zero (silence)",
        &mut reasons,
    );
    let key = if seconds < MIN_KEY_SECONDS {
        Err(format!(
            "shorter than {MIN_KEY_SECONDS} s: too little music to tell a key"
        ))
    } else if contrast.is_none_or(|c| c < MIN_CHROMA_CONTRAST) {
        Err(format!(
            "no tonality: the chroma is nearly flat (contrast {} < {MIN_CHROMA_CONTRAST}; \
             silence, noise or unpitched sound)",
            contrast.map_or("undefined".to_string(), |c| format!("{c:.3}"))
        ))
    } else {
        chroma
            .and_then(|c| estimate_key(&c))
            .filter(|k| k.strength.is_finite())
            .ok_or_else(|| "no pitch content: the chroma is flat (silence or noise)".to_string())
    };
    match key {
        Ok(k) => Tonal {
            chroma_mean,
            key: Some(k.tonic.to_string()),
            mode: Some(k.mode.to_string()),
            key_strength: Some(k.strength),
            chroma_contrast,
            null_reasons: reasons,
        },
        Err(reason) => {
            for field in ["key", "mode", "key_strength"] {
                reasons.insert(field.into(), reason.clone());
            }
            Tonal {
                chroma_mean,
                chroma_contrast,
                null_reasons: reasons,
                ..Tonal::default()
            }
        }
    }
}

/// Coefficient of variation of the mean chroma; `None` when it is all zero.
fn contrast(chroma: &[f64; 12]) -> Option<f64> {
    let mean = chroma.iter().sum::<f64>() / 12.0;
    let var = chroma.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / 12.0;
    (mean > 0.0).then(|| var.sqrt() / mean)
}

impl FrameSink for Descriptors {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        self.shape.accept(block);
        // One logarithm per mel value for both the MFCCs and the entropy (each took its own).
        for frame in block.mel_frames() {
            lanes::ln_floored(frame, f64::MIN_POSITIVE, &mut self.ln_mel);
            self.mfcc.frame(frame, &self.ln_mel);
            self.entropy.frame(frame, &self.ln_mel);
        }
    }
}
