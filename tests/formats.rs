//! Every container and codec we promise decodes to the right rate, channels and duration.

mod common;

use sonovec::{Analyzer, Config};

#[test]
fn every_format_fixture_decodes_with_the_declared_facts() {
    let dir = common::repo_path("tests/fixtures/formats");
    let manifest = common::read_csv(&dir.join("manifest.csv"));
    assert!(manifest.len() >= 19, "the manifest lost rows");
    let analyzer = Analyzer::new(Config::default());
    let mut failures = Vec::new();
    for row in &manifest {
        let record = analyzer.analyze_path(&dir.join(&row["file"])).record;
        let name = &row["file"];
        if let Some(error) = &record.error {
            failures.push(format!("{name}: {error}"));
            continue;
        }
        let codec = record.codec.clone().unwrap_or_default();
        let expected_codec = &row["codec"];
        let codec_ok = if expected_codec == "pcm" {
            codec.starts_with("pcm_")
        } else {
            &codec == expected_codec
        };
        let duration = record.duration_s.unwrap();
        let nominal: f64 = row["duration_s"].parse().unwrap();
        let tolerance: f64 = row["duration_tolerance_s"].parse().unwrap();
        let checks = [
            (codec_ok, format!("codec {codec} != {expected_codec}")),
            (
                record.container.as_deref() == Some(row["container"].as_str()),
                format!("container {:?}", record.container),
            ),
            (
                record.sample_rate == Some(row["sample_rate"].parse().unwrap()),
                format!("rate {:?}", record.sample_rate),
            ),
            (
                record.channels == Some(row["channels"].parse().unwrap()),
                format!("channels {:?}", record.channels),
            ),
            (
                (duration - nominal).abs() <= tolerance,
                format!("duration {duration}"),
            ),
        ];
        for (ok, what) in checks {
            if !ok {
                failures.push(format!("{name}: {what}"));
            }
        }
        let vector = record.vector.unwrap();
        assert_eq!(
            vector.len(),
            sonovec::vector::VectorSpec::default().dim(),
            "{name}"
        );
        assert!(vector.iter().all(|v| v.is_finite()), "{name}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_same_tone_gives_similar_vectors_across_codecs() {
    // Lossless copies of the same signal at different rates must land close together: the
    // analysis signal is always 16 kHz mono, whatever the source.
    let dir = common::repo_path("tests/fixtures/formats");
    let analyzer = Analyzer::new(Config::default());
    let vector = |name: &str| {
        analyzer
            .analyze_path(&dir.join(name))
            .record
            .vector
            .unwrap()
    };
    let a = vector("flac_s24_16000_1ch.flac");
    let b = vector("alac_s16_44100_1ch.m4a");
    let c = vector("wav_s24_16000_1ch.wav");
    let mean_gap = |x: &[f32], y: &[f32]| {
        x[..96]
            .iter()
            .zip(&y[..96])
            .map(|(p, q)| (p - q).abs())
            .sum::<f32>()
            / 96.0
    };
    assert!(
        mean_gap(&a, &c) < 1e-3,
        "same PCM in FLAC and WAV differ: {}",
        mean_gap(&a, &c)
    );
    assert!(
        mean_gap(&a, &b) < 0.1,
        "16 kHz FLAC vs 44.1 kHz ALAC differ: {}",
        mean_gap(&a, &b)
    );
}

#[test]
fn bytes_and_path_give_the_same_record() {
    let path = common::repo_path("samples/house_128.ogg");
    let analyzer = Analyzer::new(Config::default());
    let from_path = analyzer.analyze_path(&path).record;
    let from_bytes = analyzer
        .analyze_bytes(std::fs::read(&path).unwrap(), "house_128.ogg")
        .record;
    assert_eq!(from_path.id, from_bytes.id);
    assert_eq!(from_path.vector, from_bytes.vector);
    assert_eq!(from_path.duration_s, from_bytes.duration_s);
}
