//! The metrical-level decision: which of the tempo hypotheses is the beat a listener taps.
//!
//! A periodic onset envelope repeats at the beat, at its multiples and (weaker) at its
//! subdivisions, so the tempogram alone cannot tell drum and bass at 174 from its half-time
//! reading at 87, or a ballad at 66 from its eighth notes at 132. The decision looks at a small
//! set of hypotheses (the tempogram's peaks and the 2:1, 1:2, 3:2, 2:3, 3:1 and 1:3 relatives of
//! the best one; under a user's [`BpmRange`], also the chosen level moved into it when none lies
//! there, [`Describer::in_range`]) and scores each with a linear model of features sonovec
//! already has:
//!
//! - the tempo itself (`log2(bpm/120)` and its square: the listener's prior, learned),
//! - the strength of the pulse at that level (autocorrelation at one period, salience over 1–4
//!   periods, the same for the low-band envelope that follows kick and bass),
//! - how strongly the midpoints and the thirds between its beats are accented (a level whose
//!   halves are as strong as its beats is too slow),
//! - onset density and spectral character as interactions with the tempo (busy, bright music is
//!   counted faster),
//! - the backbeat at that level: the low register on one beat and the middle register on the
//!   next (kick on 1 and 3, snare on 2 and 4: what makes drum and bass 174 rather than 87),
//! - optionally the embedding model's genre/mood tags, also as interactions with the tempo
//!   (drum and bass is tapped at ~174, a ballad at ~66): genre is the cue a listener uses.
//!
//! [`Describer`] computes every feature of [`FEATURE_NAMES`] (the dumps carry them all, for
//! fitting); a model reads those its `features` list names. The shipped model reads all twelve.
//! `backbeat` ([`metre::backbeat`]) joined the others when the fit took in a third generator,
//! whose two-step drum and bass barely repeats at the beat; with the first two generators alone
//! it had lowered both cross-validations. The fit keeps the tags only when they improve its
//! leave-one-generator-out accuracy; the shipped model carries them at weight 0 (they did not).
//!
//! The weights are fitted by `scripts/fit_tempo_level.py` (a conditional logistic regression: a
//! softmax over each clip's hypotheses, the correct one within 4 % of the label) and stored in
//! `models/tempo_level.json`, compiled in. The model with tags is used when the record has the
//! tags it names (musicnn MSD); without them (`--model none`, another model) the model without
//! tags decides.

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::metre;
use super::periodicity::{self, Candidate, Periodicity};
use super::range::BpmRange;
use super::{onset_rate, OnsetEnvelope};
use crate::record::TagScore;

/// Ratios to the best tempogram peak whose tempi are also considered.
const RELATIVES: [f64; 6] = [2.0, 0.5, 1.5, 2.0 / 3.0, 3.0, 1.0 / 3.0];
/// Hypotheses closer than this (relative) are one.
pub const SAME_TEMPO: f64 = 0.04;
/// A relative is refined to the strongest salience within this relative distance.
const REFINE: f64 = 0.03;
/// Tempo range of the hypotheses, BPM (and so of a user's [`BpmRange`]).
pub const LOWEST_BPM: f64 = 40.0;
pub const HIGHEST_BPM: f64 = 260.0;

/// Names of the per-hypothesis features, in the order of [`Hypothesis::features`]. A model uses
/// those it names (`features` in `models/tempo_level.json`), in its own order.
pub const FEATURE_NAMES: [&str; 12] = [
    "log2_bpm_120",
    "log2_bpm_120_sq",
    "acf_1",
    "salience",
    "low_salience",
    "offbeat_ratio",
    "third_ratio",
    "log2_bpm_x_onset_rate",
    "log2_bpm_x_low_share",
    "log2_bpm_x_offbeat_slow",
    "tempogram_score",
    "backbeat",
];

/// One tempo hypothesis and its features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub bpm: f64,
    /// Pulse salience (see [`Candidate::salience`]).
    pub salience: f64,
    pub features: Vec<f64>,
}

/// The decision of one track: its hypotheses with their features, the tags it used, and the
/// probabilities of each hypothesis under the model used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub hypotheses: Vec<Hypothesis>,
    /// Tag probabilities by name, as the record carries them (empty without an embedding).
    pub tags: Vec<(String, f32)>,
    /// `true` when the model with tags decided.
    pub used_tags: bool,
    /// Softmax probability of each hypothesis, in the order of `hypotheses`.
    pub probabilities: Vec<f64>,
    /// Index of the chosen hypothesis.
    pub chosen: usize,
}

/// A fitted linear scorer: features standardised by `mean`/`scale`, then dotted with `weights`.
#[derive(Clone, Debug, Deserialize)]
struct Scorer {
    /// Tag names whose probability multiplies `log2(bpm/120)` as extra features (after the
    /// base features, in this order).
    #[serde(default)]
    tags: Vec<String>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    weights: Vec<f64>,
}

#[derive(Clone, Debug, Deserialize)]
struct LevelModel {
    /// The features the scorers read, by name (a subset of [`FEATURE_NAMES`]).
    features: Vec<String>,
    /// Index into [`FEATURE_NAMES`] of each of `features` (filled in after parsing).
    #[serde(skip)]
    columns: Vec<usize>,
    without_tags: Scorer,
    with_tags: Scorer,
}

fn model() -> &'static LevelModel {
    static MODEL: OnceLock<LevelModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut model: LevelModel =
            serde_json::from_str(include_str!("../../../models/tempo_level.json"))
                .expect("models/tempo_level.json parses");
        model.columns = model
            .features
            .iter()
            .map(|name| {
                FEATURE_NAMES
                    .iter()
                    .position(|n| n == name)
                    .unwrap_or_else(|| panic!("tempo_level.json names an unknown feature {name}"))
            })
            .collect();
        for s in [&model.without_tags, &model.with_tags] {
            let n = model.features.len() + s.tags.len();
            assert!(s.mean.len() == n && s.scale.len() == n && s.weights.len() == n);
        }
        model
    })
}

/// The hypotheses of a track: the tempogram's peaks and the relatives of the best, refined to
/// the local salience maximum, deduplicated, within 40–260 BPM.
fn hypotheses(analysis: &Periodicity, frame_rate: f64) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |c: Candidate| {
        if (LOWEST_BPM..=HIGHEST_BPM).contains(&c.bpm)
            && !out.iter().any(|o| (o.bpm / c.bpm - 1.0).abs() < SAME_TEMPO)
        {
            out.push(c);
        }
    };
    for c in &analysis.candidates {
        push(*c);
    }
    if let Some(best) = analysis.candidates.first() {
        for r in RELATIVES {
            push(periodicity::refine(
                &analysis.acf,
                frame_rate,
                best.bpm * r,
                REFINE,
            ));
        }
    }
    out
}

/// The candidate at `bpm` (within `range`), refined as the relatives are but kept inside the
/// range: refining may step across its edge, where `bpm` itself stays.
fn candidate_in_range(
    analysis: &Periodicity,
    frame_rate: f64,
    bpm: f64,
    range: BpmRange,
) -> Candidate {
    let refined = periodicity::refine(&analysis.acf, frame_rate, bpm, REFINE);
    if range.contains(refined.bpm) {
        return refined;
    }
    Candidate::at(&analysis.acf, frame_rate, bpm)
}

/// What the features of a track's hypotheses are computed from: its onset envelopes' peaks and
/// rates, the periodicity analysis of the whole envelope and the autocorrelation of the
/// low-register one (`None`: too short or flat). Made once per track; each hypothesis then
/// reads it.
pub struct Describer<'a> {
    analysis: &'a Periodicity,
    low_acf: Option<&'a [f64]>,
    frame_rate: f64,
    onset: f64,
    low_share: f64,
    peaks: metre::Peaks,
    low_peaks: metre::Peaks,
    mid_peaks: metre::Peaks,
}

impl<'a> Describer<'a> {
    pub fn new(
        onsets: &OnsetEnvelope,
        frame_rate: f64,
        analysis: &'a Periodicity,
        low_acf: Option<&'a [f64]>,
    ) -> Self {
        let envelope = onsets.strength();
        Describer {
            analysis,
            low_acf,
            frame_rate,
            onset: (onset_rate(envelope, frame_rate).max(0.05) / 4.0).log2(),
            low_share: onsets.low_share() - 0.5,
            peaks: metre::Peaks::of(envelope),
            low_peaks: metre::Peaks::of(onsets.low()),
            mid_peaks: metre::Peaks::of(onsets.mid()),
        }
    }

    /// Every hypothesis of the track with its features, in the order of [`FEATURE_NAMES`].
    pub fn all(&self) -> Vec<Hypothesis> {
        // Each hypothesis reads the whole envelope a few times; they are independent, and the
        // order of the result is theirs whatever the threads.
        hypotheses(self.analysis, self.frame_rate)
            .into_par_iter()
            .map(|c| self.describe(c))
            .collect()
    }

    /// The hypothesis at `bpm`, inside `range`: refined as the relatives are, but where refining
    /// would step across the range's edge, at `bpm` itself.
    pub fn in_range(&self, bpm: f64, range: BpmRange) -> Hypothesis {
        self.describe(candidate_in_range(
            self.analysis,
            self.frame_rate,
            bpm,
            range,
        ))
    }

    fn describe(&self, c: Candidate) -> Hypothesis {
        let period = 60.0 * self.frame_rate / c.bpm;
        let x = (c.bpm / 120.0).log2();
        let accents = metre::accents(&self.peaks, period);
        let offbeat = accents.offbeat;
        let features = vec![
            x,
            x * x,
            periodicity::acf_at(&self.analysis.acf, period),
            c.salience,
            self.low_acf
                .map(|a| periodicity::salience(a, period))
                .unwrap_or(0.0),
            offbeat,
            accents.third,
            x * self.onset,
            x * self.low_share,
            x.min(0.0) * offbeat,
            c.score,
            metre::backbeat(&self.low_peaks, &self.mid_peaks, period),
        ];
        Hypothesis {
            bpm: c.bpm,
            salience: c.salience,
            features,
        }
    }
}

/// Chooses among `hypotheses` with the fitted model: with tags when `tags` holds every tag the
/// tag model names, without otherwise. `None` without hypotheses.
pub fn decide(hypotheses: Vec<Hypothesis>, tags: Option<&[TagScore]>) -> Option<Decision> {
    if hypotheses.is_empty() {
        return None;
    }
    let model = model();
    let tag_values: Option<Vec<f64>> = tags.and_then(|tags| {
        model
            .with_tags
            .tags
            .iter()
            .map(|name| tags.iter().find(|t| &t.tag == name).map(|t| t.p as f64))
            .collect()
    });
    let (scorer, extra) = match &tag_values {
        Some(values) => (&model.with_tags, values.as_slice()),
        None => (&model.without_tags, &[][..]),
    };
    let scores: Vec<f64> = hypotheses
        .iter()
        .map(|h| {
            let x = h.features[0];
            model
                .columns
                .iter()
                .map(|&i| h.features[i])
                .chain(extra.iter().map(|p| x * p))
                .zip(scorer.mean.iter().zip(&scorer.scale))
                .zip(&scorer.weights)
                .map(|((f, (m, s)), w)| w * (f - m) / s)
                .sum()
        })
        .collect();
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
    let total: f64 = exp.iter().sum();
    let probabilities: Vec<f64> = exp.iter().map(|e| e / total).collect();
    let chosen =
        probabilities.iter().enumerate().fold(
            0,
            |best, (i, &p)| if p > probabilities[best] { i } else { best },
        );
    Some(Decision {
        hypotheses,
        tags: tags
            .unwrap_or_default()
            .iter()
            .map(|t| (t.tag.clone(), t.p))
            .collect(),
        used_tags: tag_values.is_some(),
        probabilities,
        chosen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_model_matches_the_feature_list() {
        // model() itself panics on a name FEATURE_NAMES lacks and on mismatched lengths; a
        // feature named twice would be read twice.
        let m = model();
        let mut columns = m.columns.clone();
        columns.sort_unstable();
        columns.dedup();
        assert_eq!(columns.len(), m.features.len(), "{:?}", m.features);
        assert!(m
            .without_tags
            .weights
            .iter()
            .chain(&m.with_tags.weights)
            .all(|w| w.is_finite()));
    }

    #[test]
    fn a_tempo_asked_for_in_a_range_is_refined_and_stays_in_it() {
        // A click every 15 frames: the autocorrelation peaks at 250 BPM and its divisions.
        let frame_rate = 62.5;
        let acf: Vec<f64> = (0..400)
            .map(|lag| if lag % 15 == 0 { 1.0 } else { 0.0 })
            .collect();
        let best = Candidate {
            bpm: 250.0,
            salience: 1.0,
            score: 1.0,
        };
        let analysis = Periodicity {
            acf,
            candidates: vec![best],
        };
        let free = hypotheses(&analysis, frame_rate);
        let range: BpmRange = "40-80".parse().unwrap();
        assert!(free.iter().all(|h| !range.contains(h.bpm)), "{free:?}");
        // 62.5 BPM, a click every 60 frames, is refined onto itself.
        let asked = candidate_in_range(&analysis, frame_rate, 63.0, range);
        assert!(
            (asked.bpm / 62.5 - 1.0).abs() < 0.005 && asked.salience > 0.8,
            "{asked:?}"
        );
        // At the range's edge, refining towards the peak would leave it: the tempo stays.
        let edge: BpmRange = "64-128".parse().unwrap();
        assert_eq!(
            candidate_in_range(&analysis, frame_rate, 64.0, edge).bpm,
            64.0
        );
    }

    #[test]
    fn without_the_named_tags_the_model_without_tags_decides() {
        let h = Hypothesis {
            bpm: 120.0,
            salience: 0.5,
            features: vec![0.0; FEATURE_NAMES.len()],
        };
        let d = decide(vec![h.clone(), Hypothesis { bpm: 60.0, ..h }], Some(&[])).unwrap();
        assert!(!d.used_tags);
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
