//! The shared spectrogram against librosa 0.11 on the same 16 kHz signal.
//!
//! Fixtures from `scripts/reference_mel.py` (see `tests/fixtures/mel/librosa_versions.json`).
//! Tolerances: the filterbank to 1e-6 relative to its largest weight; power and mel spectra to
//! 1e-5 of each frame's peak plus 1e-5 relative (they agree to 1e-6 on this machine), which covers
//! float32 summation order and
//! librosa's float64 FFT, far below any difference a feature could see.

mod common;

use std::fs::File;

use sonovec::audio::{downmix_into, AudioStream};
use sonovec::dsp::{
    FrameSink, MelFilterbank, SpectrogramBlock, SpectrogramConfig, SpectrogramPlan,
    StreamingSpectrogram,
};

#[derive(Default)]
struct Collect {
    power: Vec<f32>,
    mel: Vec<f32>,
}

impl FrameSink for Collect {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        self.power.extend_from_slice(block.power);
        self.mel.extend_from_slice(block.mel);
    }
}

fn sonovec_spectrogram() -> Collect {
    let path = common::repo_path("tests/fixtures/mel/tone_noise_16k.wav");
    let mut stream = AudioStream::open(Box::new(File::open(path).unwrap()), Some("wav")).unwrap();
    let plan = SpectrogramPlan::new(SpectrogramConfig::default());
    let mut stft = StreamingSpectrogram::new(&plan);
    let mut sink = Collect::default();
    let mut mono = Vec::new();
    while let Some(chunk) = stream.next_chunk().unwrap() {
        assert_eq!(chunk.sample_rate, 16_000);
        downmix_into(chunk.planar, &mut mono);
        stft.push(&mono, &mut sink);
    }
    stft.finish(&mut sink);
    sink
}

fn assert_frames_close(name: &str, ours: &[f32], theirs: &[f32], width: usize) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{name}: different number of values"
    );
    for (t, (a, b)) in ours.chunks(width).zip(theirs.chunks(width)).enumerate() {
        let peak = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            let tolerance = 1e-5 * peak + 1e-5 * y.abs() + 1e-12;
            assert!(
                (x - y).abs() <= tolerance,
                "{name} frame {t} bin {k}: sonovec {x} librosa {y}"
            );
        }
    }
}

#[test]
fn mel_filterbank_equals_librosa_filters_mel() {
    let (shape, theirs) = common::read_npy_f32(&common::repo_path(
        "tests/fixtures/mel/librosa_mel_filters.npy",
    ));
    assert_eq!(shape, [96, 257]);
    let ours: Vec<f32> = MelFilterbank::new(16_000, 512, 96, 0.0, 8000.0)
        .to_dense()
        .concat();
    let peak = theirs.iter().fold(0.0f32, |m, v| m.max(*v));
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * peak,
            "weight {} of band {}: {a} vs {b}",
            i % 257,
            i / 257
        );
    }
}

#[test]
fn power_and_mel_spectrograms_equal_librosa() {
    let ours = sonovec_spectrogram();
    let (shape, power) =
        common::read_npy_f32(&common::repo_path("tests/fixtures/mel/librosa_power.npy"));
    assert_eq!(shape, [126, 257]);
    assert_frames_close("power", &ours.power, &power, 257);
    let (shape, mel) =
        common::read_npy_f32(&common::repo_path("tests/fixtures/mel/librosa_mel.npy"));
    assert_eq!(shape, [126, 96]);
    assert_frames_close("mel", &ours.mel, &mel, 96);
}
