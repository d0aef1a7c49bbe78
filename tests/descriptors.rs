//! Descriptors against librosa/Essentia (tests/fixtures/descriptors/reference.json, written by
//! scripts/reference_descriptors.py) and against signals with known answers.
//!
//! Tolerances on the 16 kHz fixtures (no resampler on either side): spectral means 1 % (std
//! 3 %), RMS level 0.05 dB, ZCR 1e-4, MFCC per coefficient (mean and std) 1e-3 (measured: 2e-5),
//! chroma 1e-4 per bin (measured: 5e-8), integrated loudness 0.1 LU of Essentia's
//! LoudnessEBUR128, key and mode equal to Essentia's KeyExtractor (Krumhansl) on the tonal files.
//!
//! The clips of samples/ ("samples/NAME" in the reference) are decoded by FFmpeg and resampled by
//! soxr in the reference, by symphonia and sonovec's soxr-HQ-equivalent resampler here; see
//! [`check_clip`] for what is compared. Real music in every codec: tests/fixtures/parity.

mod common;

use std::path::Path;

use serde_json::Value;
use sonovec::{Analyzer, Config, Record};

fn analyse(path: &Path) -> Record {
    let record = Analyzer::new(Config::default()).analyze_path(path).record;
    assert!(record.is_ok(), "{:?}", record.error);
    let json = serde_json::to_string(&record).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    record
}

fn close(name: &str, ours: f64, theirs: f64, abs: f64, rel: f64) {
    assert!(
        (ours - theirs).abs() <= abs + rel * theirs.abs(),
        "{name}: sonovec {ours} reference {theirs}"
    );
}

/// Each value of `ours` within `abs` of the reference array's, which has the same length.
fn close_each(name: &str, ours: &[f64], theirs: &Value, abs: f64) {
    let theirs = theirs.as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b.as_f64().unwrap()).abs())
        .fold(0.0, f64::max);
    eprintln!("{name}: max |Δ| {worst:.2e} (tolerance {abs:.0e})");
    for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
        close(&format!("{name}[{k}]"), *a, b.as_f64().unwrap(), abs, 0.0);
    }
}

fn pair(v: &Value) -> (f64, f64) {
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

#[test]
fn descriptors_match_librosa_and_essentia_on_the_fixtures() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_path(
            "tests/fixtures/descriptors/reference.json",
        ))
        .unwrap(),
    )
    .unwrap();
    for (file, r) in reference["files"].as_object().unwrap() {
        let clip = file.starts_with("samples/");
        let path = if clip {
            common::repo_path(file)
        } else {
            common::repo_path(&format!("tests/fixtures/descriptors/{file}"))
        };
        let record = analyse(&path);
        if clip {
            check_clip(file, r, record);
            continue;
        }
        let s = record.spectral.unwrap();
        let l = record.loudness.unwrap();
        let t = record.tonal.unwrap();
        let checks = [
            (
                "centroid",
                s.centroid_hz_mean,
                s.centroid_hz_std,
                &r["centroid_hz"],
                0.0,
                0.01,
            ),
            (
                "bandwidth",
                s.bandwidth_hz_mean,
                s.bandwidth_hz_std,
                &r["bandwidth_hz"],
                0.0,
                0.01,
            ),
            (
                "rolloff",
                s.rolloff_hz_mean,
                s.rolloff_hz_std,
                &r["rolloff_hz"],
                0.0,
                0.01,
            ),
            (
                "flatness",
                s.flatness_mean,
                s.flatness_std,
                &r["flatness"],
                1e-4,
                0.01,
            ),
            ("zcr", s.zcr_mean, s.zcr_std, &r["zcr"], 1e-4, 0.0),
            (
                "rms",
                l.rms_dbfs_mean,
                l.rms_dbfs_std,
                &r["rms_dbfs"],
                0.05,
                0.0,
            ),
        ];
        for (name, mean, std, theirs, abs, rel) in checks {
            let (m, sd) = pair(theirs);
            close(&format!("{file} {name} mean"), mean.unwrap(), m, abs, rel);
            close(
                &format!("{file} {name} std"),
                std.unwrap(),
                sd,
                abs,
                3.0 * rel,
            );
        }
        close_each(
            &format!("{file} mfcc_mean"),
            &s.mfcc_mean.unwrap(),
            &r["mfcc_mean"],
            1e-3,
        );
        close_each(
            &format!("{file} mfcc_std"),
            &s.mfcc_std.unwrap(),
            &r["mfcc_std"],
            1e-3,
        );
        close_each(
            &format!("{file} chroma"),
            &t.chroma_mean.unwrap(),
            &r["chroma_mean"],
            1e-4,
        );
        close(
            &format!("{file} integrated loudness"),
            l.integrated_lufs.unwrap(),
            r["essentia_integrated_lufs"].as_f64().unwrap(),
            0.1,
            0.0,
        );
        if file == "pink.flac" {
            // Essentia names a key for noise too (Eb minor, strength 0.60); we report none.
            assert_eq!(
                (&t.key, &t.mode, t.key_strength),
                (&None, &None, None),
                "{file}"
            );
            assert!(
                t.null_reasons["key"].contains("no tonality"),
                "{:?}",
                t.null_reasons
            );
            assert!(t.chroma_contrast.unwrap() < 0.12, "{:?}", t.chroma_contrast);
        } else {
            let key = &r["essentia_key"];
            assert_eq!(t.key.as_deref(), key[0].as_str(), "{file}");
            assert_eq!(t.mode.as_deref(), key[1].as_str(), "{file}");
            assert!(
                t.chroma_contrast.unwrap() > 0.2,
                "{file}: {:?}",
                t.chroma_contrast
            );
        }
    }
}

/// The clips of samples/, decoded by FFmpeg and resampled by soxr_hq in the reference, by
/// symphonia and sonovec's soxr-HQ-equivalent resampler here: spectral centroid, bandwidth and
/// rolloff means within 1 %, MFCC means within 0.5, ZCR mean within 2 % (the bars of #12;
/// rubato's resampler missed them by up to +19 % centroid and +58 % ZCR on these hat-heavy
/// clips); chroma within 1e-3 per bin; RMS level within 0.05 dB; integrated loudness within
/// 0.1 LU of FFmpeg's ebur128 filter (plus its 0.05 LU display rounding) on the native channels;
/// key and mode equal to Essentia's. Not fourfloor_120's ZCR: its hits are separated by digital
/// silence, and what crosses zero next to it is the last 1e-7 of each resampler's ringing, where
/// soxr's filter and sonovec's differ (−4.3 %; on the other clips 0.2 % or better). Essentia's LoudnessEBUR128 reads 0.02–0.34 LU below both
/// sonovec and FFmpeg on these clips; EBU Tech 3341 conformance (ebur128 crate, FFmpeg)
/// decides, as the issue asks, so Essentia is only held to 0.4 LU here.
fn check_clip(file: &str, r: &Value, record: Record) {
    let l = record.loudness.unwrap();
    let t = record.tonal.unwrap();
    let s = record.spectral.unwrap();
    for (name, ours, key) in [
        ("centroid", s.centroid_hz_mean, "centroid_hz"),
        ("bandwidth", s.bandwidth_hz_mean, "bandwidth_hz"),
        ("rolloff", s.rolloff_hz_mean, "rolloff_hz"),
        ("zcr", s.zcr_mean, "zcr"),
    ] {
        let rel = if name == "zcr" { 0.02 } else { 0.01 };
        let (m, _) = pair(&r[key]);
        eprintln!("{file} {name}: {:+.3}%", 100.0 * (ours.unwrap() / m - 1.0));
        if name == "zcr" && file.ends_with("fourfloor_120.flac") {
            continue;
        }
        close(&format!("{file} {name} mean"), ours.unwrap(), m, 0.0, rel);
    }
    close_each(
        &format!("{file} mfcc_mean"),
        &s.mfcc_mean.unwrap(),
        &r["mfcc_mean"],
        0.5,
    );
    let lufs = l.integrated_lufs.unwrap();
    close(
        &format!("{file} LUFS vs FFmpeg"),
        lufs,
        r["ffmpeg_integrated_lufs"].as_f64().unwrap(),
        0.15,
        0.0,
    );
    close(
        &format!("{file} LUFS vs Essentia"),
        lufs,
        r["essentia_integrated_lufs"].as_f64().unwrap(),
        0.4,
        0.0,
    );
    let key = &r["essentia_key"];
    assert_eq!(t.key.as_deref(), key[0].as_str(), "{file}");
    assert_eq!(t.mode.as_deref(), key[1].as_str(), "{file}");
    close_each(
        &format!("{file} chroma"),
        &t.chroma_mean.unwrap(),
        &r["chroma_mean"],
        1e-3,
    );
    let (m, _) = pair(&r["rms_dbfs"]);
    eprintln!("{file} rms: {:+.4} dB", l.rms_dbfs_mean.unwrap() - m);
    close(
        &format!("{file} rms mean"),
        l.rms_dbfs_mean.unwrap(),
        m,
        0.05,
        0.0,
    );
}

/// Real music (tests/fixtures/parity/, scripts/make_parity_fixtures.sh) against librosa 0.11
/// on `librosa.load(path, sr=16000)`, i.e. the reference decoders and soxr_hq
/// (scripts/reference_parity_descriptors.py): spectral centroid, bandwidth and rolloff means
/// within 1 %, MFCC means within 0.5, ZCR mean within 2 %. Every file is measured before any
/// assertion, so a failure shows the whole table.
#[test]
fn descriptors_match_librosa_on_real_music_in_vorbis_opus_mp3_flac() {
    real_music_descriptors(&[".ogg", ".opus", ".mp3", ".flac"]);
}

/// AAC too: the edit list's 1024 priming samples are dropped as FFmpeg drops them. Without that
/// the signal starts 23 ms late: centroid up to +1.4 %, MFCC means up to 1.5 off.
#[test]
fn descriptors_match_librosa_on_real_music_in_aac() {
    real_music_descriptors(&[".m4a"]);
}

fn real_music_descriptors(extensions: &[&str]) {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_path("tests/fixtures/parity/descriptors.json"))
            .unwrap(),
    )
    .unwrap();
    let files: Vec<_> = reference["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(file, _)| extensions.iter().any(|x| file.ends_with(x)))
        .collect();
    assert_eq!(files.len(), 3 * extensions.len(), "3 excerpts per codec");
    let mut failures = Vec::new();
    for (file, r) in files {
        let s = analyse(&common::repo_path(&format!("tests/fixtures/parity/{file}")))
            .spectral
            .unwrap();
        let rel = |ours: Option<f64>, key: &str| ours.unwrap() / pair(&r[key]).0 - 1.0;
        let shape = [
            ("centroid", rel(s.centroid_hz_mean, "centroid_hz")),
            ("bandwidth", rel(s.bandwidth_hz_mean, "bandwidth_hz")),
            ("rolloff", rel(s.rolloff_hz_mean, "rolloff_hz")),
        ];
        let zcr = rel(s.zcr_mean, "zcr");
        let mfcc = s
            .mfcc_mean
            .unwrap()
            .iter()
            .zip(r["mfcc_mean"].as_array().unwrap())
            .map(|(a, b)| (a - b.as_f64().unwrap()).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{file:28} centroid {:+.3}%  bandwidth {:+.3}%  rolloff {:+.3}%  zcr {:+.3}%  \
             mfcc max |Δ| {mfcc:.3}",
            100.0 * shape[0].1,
            100.0 * shape[1].1,
            100.0 * shape[2].1,
            100.0 * zcr
        );
        for (name, d) in shape {
            if d.abs() > 0.01 {
                failures.push(format!("{file} {name} {:+.3}%", 100.0 * d));
            }
        }
        if zcr.abs() > 0.02 {
            failures.push(format!("{file} zcr {:+.3}%", 100.0 * zcr));
        }
        if mfcc > 0.5 {
            failures.push(format!("{file} mfcc mean differs by {mfcc:.3}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_chord_progressions_are_in_their_keys() {
    for (file, key, mode) in [
        ("c_major.flac", "C", "major"),
        ("a_minor.flac", "A", "minor"),
    ] {
        let t = analyse(&common::repo_path(&format!(
            "tests/fixtures/descriptors/{file}"
        )))
        .tonal
        .unwrap();
        assert_eq!(
            (t.key.as_deref(), t.mode.as_deref()),
            (Some(key), Some(mode)),
            "{file}"
        );
        assert!(t.key_strength.unwrap() > 0.6, "{t:?}");
    }
}

/// Writes `channels` (planar, ±1) as 16-bit WAV.
fn write_wav(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample((c[i].clamp(-1.0, 1.0) * 32767.0).round() as i16)
                .unwrap();
        }
    }
    w.finalize().unwrap();
}

fn tone(rate: u32, seconds: f64, f: f64, amplitude: f64) -> Vec<f32> {
    (0..(seconds * rate as f64) as usize)
        .map(|i| {
            (amplitude * (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin()) as f32
        })
        .collect()
}

#[test]
fn a_1khz_sine_at_minus_20_dbfs_has_its_known_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let s = tone(48_000, 10.0, 1000.0, 0.1);
    // Stereo: EBU Tech 3341 case 1 scaled by +3 dB: -20 dBFS per channel reads -20.0 LUFS.
    let stereo = dir.path().join("stereo.wav");
    write_wav(&stereo, 48_000, &[s.clone(), s.clone()]);
    let l = analyse(&stereo).loudness.unwrap();
    close("stereo LUFS", l.integrated_lufs.unwrap(), -20.0, 0.1, 0.0);
    close("true peak", l.true_peak_dbtp.unwrap(), -20.0, 0.1, 0.0);
    close("rms", l.rms_dbfs_mean.unwrap(), -23.01, 0.1, 0.0);
    // Mono: one channel of weight 1 (BS.1770), 3.01 LU below the same tone in both channels.
    let mono = dir.path().join("mono.wav");
    write_wav(&mono, 48_000, &[s]);
    let m = analyse(&mono).loudness.unwrap();
    close("mono LUFS", m.integrated_lufs.unwrap(), -23.01, 0.1, 0.0);
}

#[test]
fn mono_and_the_same_audio_as_stereo_have_the_same_spectral_and_tonal_features() {
    let dir = tempfile::tempdir().unwrap();
    let signal: Vec<f32> = tone(16_000, 4.0, 440.0, 0.3)
        .iter()
        .zip(tone(16_000, 4.0, 660.0, 0.2))
        .map(|(a, b)| a + b)
        .collect();
    let (mono, stereo) = (dir.path().join("m.wav"), dir.path().join("s.wav"));
    write_wav(&mono, 16_000, std::slice::from_ref(&signal));
    write_wav(&stereo, 16_000, &[signal.clone(), signal]);
    let (m, s) = (analyse(&mono), analyse(&stereo));
    assert_eq!(m.spectral, s.spectral);
    assert_eq!(m.tonal, s.tonal);
    assert_eq!(
        m.loudness.as_ref().unwrap().rms_dbfs_mean,
        s.loudness.as_ref().unwrap().rms_dbfs_mean
    );
    let diff =
        s.loudness.unwrap().integrated_lufs.unwrap() - m.loudness.unwrap().integrated_lufs.unwrap();
    close("stereo - mono LU", diff, 3.01, 0.02, 0.0);
}

#[test]
fn edge_cases_are_finite_or_null_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);

    write_wav(
        &path("silence.wav"),
        44_100,
        &[vec![0.0; 44_100 * 4], vec![0.0; 44_100 * 4]],
    );
    let r = analyse(&path("silence.wav"));
    let l = r.loudness.unwrap();
    assert_eq!(l.integrated_lufs, None);
    assert!(l.null_reasons.contains_key("integrated_lufs"));
    assert_eq!(l.silent_fraction, Some(1.0));
    let t = r.tonal.unwrap();
    assert_eq!(t.key, None);
    assert!(t.null_reasons.contains_key("key"));

    let dc: Vec<f32> = tone(22_050, 3.0, 300.0, 0.2)
        .iter()
        .map(|x| x + 0.5)
        .collect();
    write_wav(&path("dc.wav"), 22_050, &[dc]);
    let r = analyse(&path("dc.wav"));
    assert!(r.loudness.unwrap().integrated_lufs.is_some());

    let square: Vec<f32> = tone(44_100, 3.0, 220.0, 4.0)
        .iter()
        .map(|x| x.clamp(-1.0, 1.0))
        .collect();
    write_wav(&path("square.wav"), 44_100, &[square]);
    let r = analyse(&path("square.wav"));
    assert!(r.loudness.unwrap().true_peak_dbtp.unwrap() > -0.5);
    assert_eq!(r.tonal.unwrap().key.as_deref(), Some("A"));

    let phone: Vec<f32> = tone(8_000, 3.0, 3000.0, 0.5)
        .iter()
        .zip(tone(8_000, 3.0, 3900.0, 0.5))
        .map(|(a, b)| a + b)
        .collect();
    write_wav(&path("phone.wav"), 8_000, &[phone]);
    let s = analyse(&path("phone.wav")).spectral.unwrap();
    assert!(s.rolloff_hz_mean.unwrap() <= 4000.0, "{s:?}");
    assert!(s.centroid_hz_mean.unwrap() <= 4000.0, "{s:?}");

    // White noise (xorshift, seeded): no tonality, so no key, whatever correlation wins.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<f32> = (0..44_100 * 5)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
        })
        .collect();
    write_wav(&path("noise.wav"), 44_100, &[noise.clone(), noise]);
    let t = analyse(&path("noise.wav")).tonal.unwrap();
    assert_eq!((t.key, t.mode), (None, None), "{:?}", t.null_reasons);
    assert!(t.null_reasons["key"].contains("no tonality"));

    write_wav(&path("short.wav"), 48_000, &[tone(48_000, 0.5, 440.0, 0.5)]);
    let t = analyse(&path("short.wav")).tonal.unwrap();
    assert_eq!((t.key, t.mode, t.key_strength), (None, None, None));
    assert!(
        t.null_reasons["key"].contains("shorter"),
        "{:?}",
        t.null_reasons
    );
    assert!(t.chroma_mean.is_some());
}
