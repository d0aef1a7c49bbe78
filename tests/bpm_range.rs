//! `--bpm-range`: the tempo reported within a range the user states, end to end.

mod common;

use std::time::Duration;

use common::{records, repo_path, sonovec};
use sonovec::eval::acc1;
use sonovec::features::tempo::{BpmRange, Tempo};
use sonovec::{Analyzer, Config};

/// The bundled loops and their tempi (samples/tempo.csv).
const SAMPLES: [(&str, f64); 4] = [
    ("samples/dnb_174.opus", 174.0),
    ("samples/fourfloor_120.flac", 120.0),
    ("samples/hiphop_92.mp3", 92.0),
    ("samples/house_128.ogg", 128.0),
];

fn tempo_of(path: &str, range: Option<BpmRange>) -> Tempo {
    Analyzer::new(Config {
        beats: true,
        embedding: None,
        bpm_range: range,
        ..Config::default()
    })
    .analyze_path(&repo_path(path))
    .record
    .tempo
    .flatten()
    .unwrap_or_else(|| panic!("{path}: a tempo"))
}

#[test]
fn the_tempo_lies_in_the_range_and_the_beats_follow_it() {
    for (path, _) in SAMPLES {
        let free = tempo_of(path, None);
        for low in [
            40.0, 50.0, 60.0, 70.0, 80.0, 88.0, 100.0, 110.0, 120.0, 130.0,
        ] {
            let range = BpmRange::new(low, 2.0 * low).unwrap();
            let tempo = tempo_of(path, Some(range));
            assert!(range.contains(tempo.bpm), "{path} in {range}: {tempo:?}");
            if range.contains(free.bpm) {
                // A range that holds the free reading changes nothing, beats included.
                assert_eq!(tempo, free, "{path} in {range}");
            } else {
                // Moved by octaves, as DJ software does, not to another relative.
                let octaves = (tempo.bpm / free.bpm).log2();
                assert!(
                    (octaves.round().exp2() * free.bpm / tempo.bpm - 1.0).abs() < 0.04,
                    "{path} in {range}: {} BPM from {}",
                    tempo.bpm,
                    free.bpm
                );
                let ibi = tempo.median_ibi_s.unwrap();
                assert!(
                    (ibi * tempo.bpm / 60.0 - 1.0).abs() < 0.05,
                    "{path} in {range}: {} BPM, beats {ibi} s apart",
                    tempo.bpm
                );
            }
        }
    }
}

#[test]
fn a_range_around_the_labels_reads_every_loop_at_its_label() {
    let range = Some("88-176".parse().unwrap());
    for (path, label) in SAMPLES {
        let tempo = tempo_of(path, range);
        assert!(acc1(tempo.bpm, label), "{path}: {} BPM", tempo.bpm);
    }
    // Counted in half time, the drum and bass loop reads half its label.
    let tempo = tempo_of("samples/dnb_174.opus", Some("60-120".parse().unwrap()));
    assert!(acc1(tempo.bpm, 87.0), "{} BPM", tempo.bpm);
}

#[test]
fn the_command_line_takes_a_range_into_the_workers_and_the_vector_version() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let dnb = repo_path("samples/dnb_174.opus");
    // extract analyses in worker processes: they must get the range too.
    let output = sonovec(
        &[
            "--model",
            "none",
            "--bpm-range",
            "60-120",
            "extract",
            "--quiet",
            dnb.to_str().unwrap(),
            "-o",
            out,
        ],
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "{output:?}");
    let record = &records(&out_dir.path().join("tracks.jsonl"))[0];
    let bpm = record["tempo"]["bpm"].as_f64().unwrap();
    assert!(acc1(bpm, 87.0), "{bpm} BPM");
    assert!(
        record["vector_version"]
            .as_str()
            .unwrap()
            .ends_with("-descriptors+bpm60-120"),
        "{record}"
    );

    // A range narrower than an octave is a usage error, said before any track is read.
    let output = sonovec(
        &["--bpm-range", "150-200", "analyze", dnb.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least an octave"), "{stderr}");
}
