//! The shared spectrogram: a streaming, block-parallel STFT with its mel projection.
//!
//! Frames follow `librosa.stft(center=True, pad_mode='constant')`: the signal is padded with
//! `n_fft / 2` zeros on each side and frame `t` covers padded samples `[t·hop, t·hop + n_fft)`, so a
//! signal of `n` samples gives `1 + n / hop` frames and frame `t` is centred on sample `t·hop`.
//! Samples arrive in pieces of any size; whenever a block of frames is complete it is computed with
//! rayon, or on the calling thread alone (frames are independent, so the result is the same bit
//! for bit either way) and handed to the [`FrameSink`]. Only one block of signal and spectra is
//! held at a time.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::RealToComplex;

use super::mel::MelFilterbank;
use super::window::periodic_hann;
use super::{FrameSink, SpectrogramBlock};

/// Frames handed to the sinks at once: about 4 s at 16 kHz with hop 256. The block's signal,
/// power and mel spectra are most of a worker's memory that does not depend on the model
/// (0.6 MB here, 2.5 MB at 1024 frames), and blocks this long still give every core of the
/// pool several tasks.
const BLOCK_FRAMES: usize = 256;
/// Frames one rayon task computes; large enough to amortise scratch set-up.
const FRAMES_PER_TASK: usize = 32;

/// The fixed parameters of the shared spectrogram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrogramConfig {
    /// Rate of the analysis signal in Hz.
    pub sample_rate: u32,
    /// FFT and window length in samples.
    pub n_fft: usize,
    /// Hop between frames in samples.
    pub hop: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Lowest and highest mel filter corners in Hz.
    pub fmin: f64,
    pub fmax: f64,
}

impl Default for SpectrogramConfig {
    /// 16 kHz, periodic Hann 512, hop 256 (62.5 frames/s), 96 Slaney mel bands over 0–8 kHz.
    fn default() -> Self {
        SpectrogramConfig {
            sample_rate: 16_000,
            n_fft: 512,
            hop: 256,
            n_mels: 96,
            fmin: 0.0,
            fmax: 8000.0,
        }
    }
}

impl SpectrogramConfig {
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames per second of the spectrogram.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate as f64 / self.hop as f64
    }

    /// Frames a centred STFT gives for `samples` samples.
    pub fn frames_for(&self, samples: u64) -> usize {
        1 + (samples / self.hop as u64) as usize
    }
}

/// What every spectrogram needs and nothing per file: window, FFT plan and mel filters.
pub struct SpectrogramPlan {
    config: SpectrogramConfig,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    mel: MelFilterbank,
}

impl SpectrogramPlan {
    pub fn new(config: SpectrogramConfig) -> Self {
        let fft = super::real_fft::forward::<f32>(config.n_fft);
        let mel = MelFilterbank::new(
            config.sample_rate,
            config.n_fft,
            config.n_mels,
            config.fmin,
            config.fmax,
        );
        SpectrogramPlan {
            config,
            window: periodic_hann(config.n_fft),
            fft,
            mel,
        }
    }

    pub fn config(&self) -> &SpectrogramConfig {
        &self.config
    }

    pub fn mel_filterbank(&self) -> &MelFilterbank {
        &self.mel
    }

    /// Power spectrum `|X|²` and mel energies of one frame of `n_fft` samples.
    fn frame(
        &self,
        samples: &[f32],
        scratch: &mut FrameScratch,
        power: &mut [f32],
        mel: &mut [f32],
    ) {
        if samples.iter().all(|&s| s == 0.0) {
            // What the transform gives digital silence, exactly, without computing it.
            power.fill(0.0);
            self.mel.apply(power, mel);
            return;
        }
        for ((x, &s), &w) in scratch.windowed.iter_mut().zip(samples).zip(&self.window) {
            *x = s * w;
        }
        self.fft
            .process_with_scratch(
                &mut scratch.windowed,
                &mut scratch.spectrum,
                &mut scratch.fft,
            )
            .expect("buffers come from the same plan");
        for (p, c) in power.iter_mut().zip(&scratch.spectrum) {
            *p = c.norm_sqr();
        }
        self.mel.apply(power, mel);
    }
}

struct FrameScratch {
    windowed: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
}

impl FrameScratch {
    fn new(plan: &SpectrogramPlan) -> Self {
        FrameScratch {
            windowed: plan.fft.make_input_vec(),
            spectrum: plan.fft.make_output_vec(),
            fft: plan.fft.make_scratch_vec(),
        }
    }
}

/// A spectrogram computed as the signal streams in.
pub struct StreamingSpectrogram<'p> {
    plan: &'p SpectrogramPlan,
    /// Signal not yet fully consumed by frames, starting at the first sample of the next frame.
    signal: Vec<f32>,
    samples_in: u64,
    frames_done: usize,
    power: Vec<f32>,
    mel: Vec<f32>,
    /// Frames of a block are spread over the rayon pool.
    parallel: bool,
}

impl<'p> StreamingSpectrogram<'p> {
    /// A spectrogram whose blocks are spread over the rayon pool the caller runs in.
    pub fn new(plan: &'p SpectrogramPlan) -> Self {
        let mut signal = Vec::with_capacity(BLOCK_FRAMES * plan.config.hop + plan.config.n_fft);
        signal.resize(plan.config.n_fft / 2, 0.0);
        StreamingSpectrogram {
            plan,
            signal,
            samples_in: 0,
            frames_done: 0,
            power: Vec::new(),
            mel: Vec::new(),
            parallel: true,
        }
    }

    /// With `false`, computes every block on the calling thread instead, for a caller that
    /// already keeps the other cores busy: a task stolen by another pool thread would only
    /// compete with the threads the caller waits for.
    pub fn parallel_frames(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// Adds analysis-rate samples; hands every completed block of frames to `sink`.
    pub fn push(&mut self, samples: &[f32], sink: &mut dyn FrameSink) {
        let SpectrogramConfig { n_fft, hop, .. } = self.plan.config;
        self.samples_in += samples.len() as u64;
        let block_span = (BLOCK_FRAMES - 1) * hop + n_fft;
        // Filled a block at a time, so that the signal never outgrows one block's span (a
        // caller's batch may be longer than a block).
        let mut rest = samples;
        while !rest.is_empty() {
            let take = rest
                .len()
                .min(block_span.saturating_sub(self.signal.len()).max(1));
            self.signal.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.signal.len() >= block_span {
                self.compute_block(BLOCK_FRAMES, sink);
            }
        }
    }

    /// Pads the end and hands the remaining frames to `sink`. Returns the total frame count.
    pub fn finish(&mut self, sink: &mut dyn FrameSink) -> usize {
        let SpectrogramConfig { n_fft, hop, .. } = self.plan.config;
        let total = self.plan.config.frames_for(self.samples_in);
        let remaining = total - self.frames_done;
        let needed = if remaining == 0 {
            0
        } else {
            (remaining - 1) * hop + n_fft
        };
        if self.signal.len() < needed {
            self.signal.resize(needed, 0.0);
        }
        while self.frames_done < total {
            let n = (total - self.frames_done).min(BLOCK_FRAMES);
            self.compute_block(n, sink);
        }
        total
    }

    fn compute_block(&mut self, n_frames: usize, sink: &mut dyn FrameSink) {
        let config = self.plan.config;
        let (n_bins, n_mels, hop, n_fft) =
            (config.n_bins(), config.n_mels, config.hop, config.n_fft);
        self.power.resize(n_frames * n_bins, 0.0);
        self.mel.resize(n_frames * n_mels, 0.0);
        let plan = self.plan;
        let signal = &self.signal;
        let compute_task =
            |scratch: &mut FrameScratch,
             (task, (power, mel)): (usize, (&mut [f32], &mut [f32]))| {
                let frames = power
                    .chunks_exact_mut(n_bins)
                    .zip(mel.chunks_exact_mut(n_mels));
                for (i, (p, m)) in frames.enumerate() {
                    let start = (task * FRAMES_PER_TASK + i) * hop;
                    plan.frame(&signal[start..start + n_fft], scratch, p, m);
                }
            };
        if self.parallel {
            self.power
                .par_chunks_mut(FRAMES_PER_TASK * n_bins)
                .zip(self.mel.par_chunks_mut(FRAMES_PER_TASK * n_mels))
                .enumerate()
                .for_each_init(|| FrameScratch::new(plan), compute_task);
        } else {
            let mut scratch = FrameScratch::new(plan);
            self.power
                .chunks_mut(FRAMES_PER_TASK * n_bins)
                .zip(self.mel.chunks_mut(FRAMES_PER_TASK * n_mels))
                .enumerate()
                .for_each(|task| compute_task(&mut scratch, task));
        }
        sink.accept(&SpectrogramBlock {
            first_frame: self.frames_done,
            n_frames,
            n_bins,
            n_mels,
            power: &self.power,
            mel: &self.mel,
        });
        self.frames_done += n_frames;
        let consumed = (n_frames * hop).min(self.signal.len());
        self.signal.drain(..consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects every block's mel frames in order.
    #[derive(Default)]
    struct Collect {
        mel: Vec<f32>,
        frames: usize,
    }

    impl FrameSink for Collect {
        fn accept(&mut self, block: &SpectrogramBlock<'_>) {
            assert_eq!(block.first_frame, self.frames);
            self.frames += block.n_frames;
            self.mel.extend_from_slice(block.mel);
        }
    }

    fn run(signal: &[f32], piece: usize) -> Collect {
        run_with(signal, piece, true)
    }

    fn run_with(signal: &[f32], piece: usize, parallel: bool) -> Collect {
        let plan = SpectrogramPlan::new(SpectrogramConfig::default());
        let mut stft = StreamingSpectrogram::new(&plan).parallel_frames(parallel);
        let mut sink = Collect::default();
        for chunk in signal.chunks(piece.max(1)) {
            stft.push(chunk, &mut sink);
        }
        assert_eq!(stft.finish(&mut sink), sink.frames);
        sink
    }

    #[test]
    fn frame_count_matches_a_centred_stft() {
        for n in [0usize, 1, 255, 256, 257, 16_000, 300_000] {
            let signal = vec![0.1f32; n];
            assert_eq!(run(&signal, 1000).frames, 1 + n / 256, "n = {n}");
        }
    }

    #[test]
    fn chunking_and_threads_do_not_change_the_result() {
        let signal: Vec<f32> = (0..400_000)
            .map(|i| ((i as f32) * 0.013).sin() * (i % 7) as f32)
            .collect();
        let a = run(&signal, 333);
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(&signal, 65_536));
        assert_eq!(a.mel, b.mel);
        let c = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| run_with(&signal, 4096, false));
        assert_eq!(a.mel, c.mel);
    }

    #[test]
    fn a_sine_lands_in_the_band_that_contains_its_frequency() {
        let f = 1000.0;
        let signal: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0).sin())
            .collect();
        let out = run(&signal, 4096);
        let frame = &out.mel[30 * 96..31 * 96];
        let peak = frame
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let centre = |m: usize| {
            super::super::mel::mel_to_hz(
                super::super::mel::hz_to_mel(8000.0) * (m + 1) as f64 / 97.0,
            )
        };
        assert!(
            (centre(peak) - f as f64).abs() < 60.0,
            "peak band {peak} centred at {} Hz",
            centre(peak)
        );
    }
}
