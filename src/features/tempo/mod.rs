//! Tempo, beats and tempo stability from the shared spectrogram: its onset-strength envelope
//! and a learned beat activation.
//!
//! [`TempoTracker`] is a [`FrameSink`]: while the track streams through it keeps one onset value
//! per frame ([`onset`]) and runs a small learned network over the frames ([`activation`]); at
//! the end [`TempoTracker::finish`] finds the global tempo from the onsets ([`periodicity`],
//! [`level`]), tracks the beats at that tempo on the network's beat activation ([`beats`]) and
//! measures how steady the tempo is.

pub mod activation;
#[cfg(target_arch = "x86_64")]
mod beat_avx2;
#[cfg(target_arch = "x86_64")]
mod beat_avx512;
mod beat_kernels;
pub mod beats;
pub mod level;
pub mod metre;
pub mod onset;
pub mod periodicity;
pub mod range;
pub mod swing;

use serde::{Deserialize, Serialize};

use crate::dsp::lanes::log_mel_into;
use crate::dsp::{FrameSink, SpectrogramBlock};
use crate::record::TagScore;
pub use activation::BeatActivation;
pub use onset::OnsetEnvelope;
pub use range::BpmRange;

/// Below this pulse salience a track has no pulse to report (`tempo: null`, reason `no_pulse`).
pub const MIN_CONFIDENCE: f64 = 0.10;
/// Shortest input with a tempo, seconds: at least two periods of the slowest tempo plus margin.
pub const MIN_DURATION_S: f64 = 4.0;
/// Beats per window when measuring local tempo for [`Tempo::stability`].
const STABILITY_WINDOW_BEATS: usize = 8;
/// Spread of local tempo (standard deviation of its log) that scores stability `1/e`.
const STABILITY_SCALE: f64 = 0.05;

/// The `tempo` object of a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tempo {
    /// Global tempo at the beat level, beats per minute, 40–260; within the [`BpmRange`] the
    /// analysis was given, if any.
    pub bpm: f64,
    /// Pulse salience of `bpm`, 0–1: the mean autocorrelation of the onset envelope (detrended,
    /// normalised so lag 0 is 1) at 1, 2, 3 and 4 beat periods. About 0.5 and more for a steady
    /// drum groove, 0.2–0.4 for soft or syncopated pulses; under 0.1 the record gives no tempo.
    pub confidence: f64,
    /// The three most probable metrical levels, best first; see [`TempoCandidate`]. The first
    /// is `bpm`: the most probable level whose salience reaches [`MIN_CONFIDENCE`] (nearly
    /// always the most probable level; when that one has no pulse, the chosen level leads).
    /// With a [`BpmRange`], `bpm` is that level moved by octaves into the range (its salience
    /// may then be under [`MIN_CONFIDENCE`]); the others may lie outside.
    pub candidates: Vec<TempoCandidate>,
    /// Number of beats tracked.
    pub beat_count: usize,
    /// Median interval between consecutive beats, seconds (`null` with fewer than 2 beats).
    pub median_ibi_s: Option<f64>,
    /// Tempo steadiness, 0–1: `exp(−σ / 0.05)` where σ is the standard deviation of
    /// `ln(local tempo)` over sliding windows of 8 beat intervals. 1 = metronomic; 0.8 ≈ 1 %
    /// drift; below 0.4 ≈ 5 % drift or more (live playing with tempo changes, rubato). `null`
    /// with fewer than 9 beats.
    pub stability: Option<f64>,
    /// Beat times in seconds from the start of the track (only with `--beats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beats_s: Option<Vec<f64>>,
    /// How the metrical level was chosen: every hypothesis with its features (for fitting and
    /// `eval-tempo --level-features`); not part of the record.
    #[serde(skip)]
    pub decision: Option<level::Decision>,
}

/// One tempo hypothesis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TempoCandidate {
    pub bpm: f64,
    /// Probability, 0–1, that this is the level a listener taps, under the fitted
    /// metrical-level model ([`level`]); the probabilities of all hypotheses sum to 1.
    pub strength: f64,
}

/// Why a record has `tempo: null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoTempo {
    /// Shorter than [`MIN_DURATION_S`].
    TooShort,
    /// The onset envelope is flat: silence or a steady sound without onsets.
    NoOnsets,
    /// Onsets without a periodicity (speech, ambient textures, a lone click).
    NoPulse,
}

/// Collects the onset envelope and computes [`Tempo`] at the end of the track.
#[derive(Clone, Debug)]
pub struct TempoTracker {
    onsets: OnsetEnvelope,
    /// The frame being read, log-compressed once for both of its readers.
    log_mel: Vec<f32>,
    /// The beat tracker's input, where the spectrogram is the one its network was fitted on.
    activation: Option<Activation>,
    frame_rate: f64,
    range: Option<BpmRange>,
}

impl TempoTracker {
    /// A tracker for spectrogram frames of `n_mels` bands at `frame_rate` frames per second,
    /// whose tempo lies within `range` when one is given.
    pub fn new(n_mels: usize, frame_rate: f64, range: Option<BpmRange>) -> Self {
        TempoTracker {
            onsets: OnsetEnvelope::new(n_mels),
            log_mel: vec![0.0; n_mels],
            activation: BeatActivation::new(n_mels, frame_rate)
                .map(|a| Activation::Streaming(Box::new(a))),
            frame_rate,
            range,
        }
    }

    /// Onsets per second of the envelope so far (see [`onset_rate`]).
    pub fn onset_rate(&self) -> f64 {
        onset_rate(self.onsets.strength(), self.frame_rate)
    }

    /// Ends the beat activation's stream: its last frames are computed and its network's
    /// buffers freed. For a caller about to need memory for other work at the end of a track;
    /// [`finish`](Self::finish) does it otherwise. Frames pushed after it reach the onset
    /// envelope but not the activation.
    pub fn end_stream(&mut self) {
        self.activation = self
            .activation
            .take()
            .map(|a| Activation::Finished(a.into_values()));
    }

    /// The tempo of the whole track, or why there is none. With `keep_beats`, the beat times are
    /// included. `tags` are the embedding model's tags when it ran: the metrical-level decision
    /// uses them when they include the tags its model names ([`level`]), and decides without
    /// them otherwise. Deterministic: depends only on the frames, in order, and the tags.
    pub fn finish(self, keep_beats: bool, tags: Option<&[TagScore]>) -> Result<Tempo, NoTempo> {
        tempo_of_envelopes(
            &self.onsets,
            self.activation,
            self.frame_rate,
            keep_beats,
            tags,
            self.range,
        )
    }
}

impl FrameSink for TempoTracker {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for frame in block.mel_frames() {
            self.log_mel.resize(frame.len(), 0.0);
            log_mel_into(frame, &mut self.log_mel);
            self.onsets.push_log_mel(&self.log_mel);
            if let Some(Activation::Streaming(network)) = &mut self.activation {
                network.push_log_mel(&self.log_mel);
            }
        }
    }
}

/// The beat activation while frames arrive, then its values once the stream has ended.
#[derive(Clone, Debug)]
enum Activation {
    Streaming(Box<BeatActivation>),
    Finished(Vec<f32>),
}

impl Activation {
    fn into_values(self) -> Vec<f32> {
        match self {
            Activation::Streaming(network) => network.finish(),
            Activation::Finished(values) => values,
        }
    }
}

/// [`TempoTracker::finish`] on the onset envelopes already in hand. The beats follow the
/// `activation` when there is one ([`activation`]), the onset envelope otherwise.
fn tempo_of_envelopes(
    onsets: &OnsetEnvelope,
    activation: Option<Activation>,
    frame_rate: f64,
    keep_beats: bool,
    tags: Option<&[TagScore]>,
    range: Option<BpmRange>,
) -> Result<Tempo, NoTempo> {
    let envelope = onsets.strength();
    if (envelope.len() as f64) < MIN_DURATION_S * frame_rate {
        return Err(NoTempo::TooShort);
    }
    // The two autocorrelations are independent: on a long track each is worth a core.
    let (analysis, low) = rayon::join(
        || periodicity::analyse(envelope, frame_rate),
        || periodicity::analyse(onsets.low(), frame_rate),
    );
    let Some(analysis) = analysis else {
        return Err(NoTempo::NoOnsets);
    };
    let low_acf = low.map(|p| p.acf);
    let describer = level::Describer::new(onsets, frame_rate, &analysis, low_acf.as_deref());
    let Some(mut decision) = level::decide(describer.all(), tags) else {
        return Err(NoTempo::NoPulse);
    };
    // Whether a track has a pulse must not depend on the level model (the fit reads the
    // hypotheses of every track with one): no pulse when no hypothesis reaches MIN_CONFIDENCE;
    // otherwise the most probable hypothesis that does.
    let pulsed = (0..decision.hypotheses.len())
        .filter(|&i| decision.hypotheses[i].salience >= MIN_CONFIDENCE)
        .max_by(|&a, &b| decision.probabilities[a].total_cmp(&decision.probabilities[b]));
    let Some(mut chosen) = pulsed else {
        return Err(NoTempo::NoPulse);
    };
    // A range moves that level by octaves, as DJ software does: onto the nearest hypothesis
    // there, or onto a new one (and the decision is made again, to give it a probability).
    let free = decision.hypotheses[chosen].bpm;
    if let Some((range, target)) = range
        .filter(|r| !r.contains(free))
        .and_then(|r| r.fold(free).map(|target| (r, target)))
    {
        let nearest = (decision.hypotheses.iter().enumerate())
            .filter(|(_, h)| range.contains(h.bpm))
            .map(|(i, h)| (i, (h.bpm / target - 1.0).abs()))
            .filter(|&(_, off)| off < level::SAME_TEMPO)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((i, _)) => chosen = i,
            None => {
                let mut hypotheses = std::mem::take(&mut decision.hypotheses);
                hypotheses.push(describer.in_range(target, range));
                chosen = hypotheses.len() - 1;
                decision = level::decide(hypotheses, tags).expect("it has a hypothesis");
            }
        }
    }
    decision.chosen = chosen;
    let best = &decision.hypotheses[chosen];
    let period = 60.0 * frame_rate / best.bpm;
    // The swing rule reads the onset envelope even when the beats follow the activation: it
    // weighs the onsets on and off the beat, which the activation has already judged (on the
    // openmsx songs, reading the activation instead cost 0.03 of beat F).
    // Only now, with a tempo to track, unless the caller ended the stream already: the
    // activation's last few thousand frames, still in its blocks.
    let activation = activation.map(Activation::into_values);
    let beat_input = activation.as_deref().unwrap_or(envelope);
    let mut beat_frames = beats::track_beats(beat_input, period, frame_rate);
    swing::move_off_the_late_off_beat(&mut beat_frames, envelope, period);
    let beat_times: Vec<f64> = beat_frames.iter().map(|&f| f as f64 / frame_rate).collect();
    let intervals: Vec<f64> = beat_times.windows(2).map(|w| w[1] - w[0]).collect();
    let mut ranked: Vec<usize> = (0..decision.hypotheses.len()).collect();
    ranked.sort_by(|&a, &b| decision.probabilities[b].total_cmp(&decision.probabilities[a]));
    // The chosen level first, even when a more probable one has no pulse.
    ranked.retain(|&i| i != chosen);
    ranked.insert(0, chosen);
    Ok(Tempo {
        bpm: round_to(best.bpm, 2),
        confidence: round_to(best.salience, 4),
        candidates: ranked
            .iter()
            .take(3)
            .map(|&i| TempoCandidate {
                bpm: round_to(decision.hypotheses[i].bpm, 2),
                strength: round_to(decision.probabilities[i], 4),
            })
            .collect(),
        beat_count: beat_times.len(),
        median_ibi_s: median(&intervals).map(|m| round_to(m, 4)),
        stability: stability(&intervals).map(|s| round_to(s, 4)),
        beats_s: keep_beats.then(|| beat_times.iter().map(|&t| round_to(t, 3)).collect()),
        decision: Some(decision),
    })
}

/// Onsets per second: local maxima of the envelope above its mean plus one standard deviation,
/// at least 50 ms apart.
pub fn onset_rate(envelope: &[f32], frame_rate: f64) -> f64 {
    let n = envelope.len();
    if n < 3 {
        return 0.0;
    }
    let (mean, sd) = mean_and_sd(envelope);
    let threshold = mean + sd;
    let gap = (0.05 * frame_rate).ceil() as usize;
    let mut count = 0usize;
    let mut last: Option<usize> = None;
    for t in 1..n - 1 {
        let x = envelope[t];
        if (x as f64) > threshold
            && x >= envelope[t - 1]
            && x > envelope[t + 1]
            && last.is_none_or(|l| t - l >= gap)
        {
            count += 1;
            last = Some(t);
        }
    }
    count as f64 * frame_rate / n as f64
}

/// `exp(−σ / STABILITY_SCALE)`, σ the standard deviation of the log local tempo, where the local
/// tempo of each window of [`STABILITY_WINDOW_BEATS`] intervals is its median interval.
fn stability(intervals: &[f64]) -> Option<f64> {
    if intervals.len() < STABILITY_WINDOW_BEATS {
        return None;
    }
    let local: Vec<f64> = intervals
        .windows(STABILITY_WINDOW_BEATS)
        .filter_map(median)
        .map(f64::ln)
        .collect();
    let mean = local.iter().sum::<f64>() / local.len() as f64;
    let var = local.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / local.len() as f64;
    let s = (-var.sqrt() / STABILITY_SCALE).exp();
    s.is_finite().then_some(s.clamp(0.0, 1.0))
}

/// The mean and population standard deviation of an envelope (two passes, in `f64`).
pub(super) fn mean_and_sd(envelope: &[f32]) -> (f64, f64) {
    let n = envelope.len() as f64;
    let mean = envelope.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = envelope
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// The median of `values`, the mean of the middle two for an even count; `None` when empty.
pub(super) fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::SpectrogramBlock;

    const BANDS: usize = 96;
    const FRAME_RATE: f64 = 62.5;

    /// Mel power frames of `seconds` of a click every 0.5 s (120 BPM) over quiet noise.
    fn clicks(seconds: f64) -> Vec<f32> {
        let frames = (seconds * FRAME_RATE) as usize;
        let mut state = 12345u32;
        let mut noise = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32
        };
        let mut mel = Vec::with_capacity(frames * BANDS);
        for frame in 0..frames {
            let beats = frame as f64 * 2.0 / FRAME_RATE;
            // The first frame of each beat.
            let on_beat = beats.fract() < 2.0 / FRAME_RATE;
            for _ in 0..BANDS {
                mel.push(if on_beat { 1.0 } else { 1e-4 * noise() });
            }
        }
        mel
    }

    fn fed(mel: &[f32]) -> TempoTracker {
        let mut tracker = TempoTracker::new(BANDS, FRAME_RATE, None);
        tracker.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: mel.len() / BANDS,
            n_bins: 0,
            n_mels: BANDS,
            power: &[],
            mel,
        });
        tracker
    }

    /// Ending the activation's stream before the tempo is asked for (as the analysis does, to
    /// free its buffers) gives the activation and the tempo that asking at once gives.
    #[test]
    fn ending_the_stream_early_changes_nothing() {
        let mel = clicks(30.0);
        let at_once = fed(&mel);
        let mut ended = fed(&mel);
        ended.end_stream();
        ended.end_stream();
        let Some(Activation::Streaming(network)) = at_once.activation.clone() else {
            panic!("the shipped network reads this spectrogram");
        };
        let Some(Activation::Finished(values)) = &ended.activation else {
            panic!("end_stream finishes the activation");
        };
        assert_eq!(values, &network.finish());
        let expected = at_once.finish(true, None).expect("a tempo");
        assert!((expected.bpm - 120.0).abs() < 1.0, "{}", expected.bpm);
        assert_eq!(ended.finish(true, None).expect("a tempo"), expected);
    }
}
