//! `energy` and `danceability` end to end: monotone where they must be, and danceability against
//! Essentia's `Danceability` on the bundled clips (fixture made by
//! `scripts/reference_danceability.py --fixture`).

mod common;

use std::path::Path;

use common::repo_path;
use sonovec::{Analyzer, Config, Record};

const RATE: u32 = 44_100;

fn write_wav(path: &Path, samples: &[f32]) {
    common::write_wav_16bit_mono(path, RATE, samples);
}

fn analyze(samples: &[f32]) -> Record {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.wav");
    write_wav(&path, samples);
    let analyzer = Analyzer::new(Config {
        embedding: None,
        ..Config::default()
    });
    analyzer.analyze_path(&path).record
}

const SECONDS: f64 = 20.0;

/// Sustained chords (three detuned sines, changing every 2 s) at amplitude `gain`.
fn pad(gain: f32) -> Vec<f32> {
    let n = (SECONDS * RATE as f64) as usize;
    let roots = [220.0f32, 174.6, 261.6, 196.0];
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let root = roots[(t / 2.0) as usize % roots.len()];
            [1.0f32, 1.26, 1.5]
                .iter()
                .map(|r| (std::f32::consts::TAU * root * r * t).sin())
                .sum::<f32>()
                * gain
                / 3.0
        })
        .collect()
}

/// A kick on every beat and a noise snare on 2 and 4 at 120 BPM, amplitude `gain`.
fn drums(gain: f32) -> Vec<f32> {
    let n = (SECONDS * RATE as f64) as usize;
    let mut out = vec![0.0f32; n];
    let mut state = 0x2545_f491u32;
    let beat = RATE as usize / 2;
    for (k, start) in (0..n).step_by(beat).enumerate() {
        for i in 0..RATE as usize / 8 {
            let Some(s) = out.get_mut(start + i) else {
                break;
            };
            let t = i as f32 / RATE as f32;
            *s += gain * (std::f32::consts::TAU * 60.0 * t).sin() * (-t * 30.0).exp();
            if k % 2 == 1 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = state as f32 / u32::MAX as f32 * 2.0 - 1.0;
                *s += 0.6 * gain * noise * (-t * 40.0).exp();
            }
        }
    }
    out
}

fn energy(r: &Record) -> f64 {
    r.energy.expect("an energy score").score
}

/// The score's log-odds (the linear sum inside its logistic), so the comparison does not depend
/// on where the test material sits on the logistic.
fn logit(e: f64) -> f64 {
    (e / (1.0 - e)).ln()
}

#[test]
fn the_same_music_10_db_louder_has_more_energy() {
    let quiet: Vec<f32> = pad(0.05)
        .iter()
        .zip(drums(0.08))
        .map(|(a, b)| a + b)
        .collect();
    let louder: Vec<f32> = quiet.iter().map(|x| x * 10f32.powf(0.5)).collect();
    let (q, l) = (analyze(&quiet), analyze(&louder));
    let (eq, el) = (energy(&q), energy(&l));
    // 10 dB is 4 spreads of the loudness term: 2 · 0.35 · 4 = 2.8 in log-odds from it alone.
    assert!(logit(el) > logit(eq) + 2.0, "quiet {eq}, 10 dB louder {el}");
    assert!((0.0..=1.0).contains(&eq) && (0.0..=1.0).contains(&el));
}

#[test]
fn adding_drums_raises_energy() {
    let alone = pad(0.2);
    let with_drums: Vec<f32> = alone.iter().zip(drums(0.3)).map(|(a, b)| a + b).collect();
    let (a, d) = (analyze(&alone), analyze(&with_drums));
    assert!(
        logit(energy(&d)) > logit(energy(&a)) + 1.0,
        "pad {} with drums {}",
        energy(&a),
        energy(&d)
    );
    // A steady drum pattern is more danceable than sustained chords alone.
    let (da, dd) = (a.danceability.unwrap(), d.danceability.unwrap());
    assert!(dd.raw > da.raw, "pad {da:?} with drums {dd:?}");
}

/// Relative tolerance against Essentia on the 16 kHz signal (what sonovec analyses; our
/// resampler is not soxr, so the 10 ms deviations differ slightly).
const DANCEABILITY_TOLERANCE: f64 = 0.03;

#[test]
fn danceability_matches_essentia_on_the_bundled_clips() {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/fixtures/danceability.json")).unwrap(),
    )
    .unwrap();
    let analyzer = Analyzer::new(Config {
        embedding: None,
        ..Config::default()
    });
    let clips = fixture["clips"].as_array().unwrap();
    assert!(clips.len() >= 4);
    for clip in clips {
        let file = clip["file"].as_str().unwrap();
        let reference = clip["essentia_16k"].as_f64().unwrap();
        let record = analyzer.analyze_path(&repo_path(file)).record;
        let ours = record.danceability.expect("danceability").raw;
        let rel = (ours - reference).abs() / reference;
        assert!(
            rel < DANCEABILITY_TOLERANCE,
            "{file}: sonovec {ours}, Essentia {reference} ({:.2} %)",
            100.0 * rel
        );
    }
}
