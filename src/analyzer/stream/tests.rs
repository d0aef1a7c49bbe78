//! The pipelined stream against the stream on one thread, on real audio.

use std::path::Path;

use super::*;
use crate::analyzer::{Analyzer, Config};

fn record_json(analyzer: &Analyzer, path: &Path) -> String {
    let record = analyzer.analyze_path(path).record;
    assert!(
        record.error.is_none(),
        "{}: {:?}",
        path.display(),
        record.error
    );
    serde_json::to_string(&record).unwrap()
}

fn analyzers(config: Config) -> (Analyzer, Analyzer) {
    let with = |stream_threads| {
        Analyzer::new(Config {
            stream_threads,
            ..config.clone()
        })
    };
    (with(StreamThreads::One), with(StreamThreads::Pipeline))
}

/// The pipelined stream gives the single-threaded record byte for byte: the real clips of
/// `samples/` (Opus, FLAC, MP3, Vorbis) and formats with other rates and channel counts.
#[test]
fn two_threads_give_exactly_the_record_of_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (one, two) = analyzers(Config {
        embedding: None,
        beats: true,
        ..Config::default()
    });
    let mut files: Vec<_> = ["dnb_174.opus", "fourfloor_120.flac", "hiphop_92.mp3"]
        .iter()
        .map(|f| root.join("samples").join(f))
        .collect();
    for f in [
        "flac_s16_192000_1ch.flac",
        "vorbis_q4_48000_6ch.ogg",
        "wav_u8_8000_1ch.wav",
        "opus_48k_in16000_1ch.opus",
    ] {
        files.push(root.join("tests/fixtures/formats").join(f));
    }
    for path in &files {
        assert_eq!(
            record_json(&one, path),
            record_json(&two, path),
            "{}",
            path.display()
        );
    }
    // With the embedding, whose patches also go to the pool while the front decodes.
    let (one, two) = analyzers(Config::default());
    let path = root.join("samples/house_128.ogg");
    assert_eq!(record_json(&one, &path), record_json(&two, &path));
}

/// A long stream fills the channel (the front waits for the back) and recycles its buffers;
/// the record is still the single-threaded one.
#[test]
fn a_stream_longer_than_the_channel_gives_the_same_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A real clip played over and over in one WAV: more than twice DEPTH batches.
    let mut stream = AudioStream::open(
        Box::new(std::fs::File::open(root.join("samples/fourfloor_120.flac")).unwrap()),
        Some("flac"),
    )
    .unwrap();
    let mut planar: Vec<Vec<f32>> = Vec::new();
    let mut rate = 0;
    while let Some(chunk) = stream.next_chunk().unwrap() {
        rate = chunk.sample_rate;
        planar.resize(chunk.planar.len(), Vec::new());
        for (all, c) in planar.iter_mut().zip(chunk.planar) {
            all.extend_from_slice(c);
        }
    }
    let spec = hound::WavSpec {
        channels: planar.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut wav = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut wav, spec).unwrap();
    let repeats = 3 * DEPTH * MONO_BATCH_FRAMES / planar[0].len() + 1;
    for _ in 0..repeats {
        for i in 0..planar[0].len() {
            for c in &planar {
                writer.write_sample(c[i]).unwrap();
            }
        }
    }
    writer.finalize().unwrap();
    let bytes = wav.into_inner();
    let seconds = repeats as f64 * planar[0].len() as f64 / rate as f64;
    assert!(
        seconds * rate as f64 > (2 * DEPTH * MONO_BATCH_FRAMES) as f64,
        "{seconds} s"
    );
    let (one, two) = analyzers(Config {
        embedding: None,
        ..Config::default()
    });
    let a = one.analyze_bytes(bytes.clone(), "long.wav").record;
    let b = two.analyze_bytes(bytes, "long.wav").record;
    assert!(a.error.is_none(), "{:?}", a.error);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

/// An error of the front's thread ends the analysis with that error, as on one thread.
#[test]
fn the_front_threads_errors_reach_the_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("samples/fourfloor_120.flac");
    let (one, two) = analyzers(Config {
        embedding: None,
        max_duration_s: 5.0,
        ..Config::default()
    });
    let a = one.analyze_path(&path).record.error.expect("too long");
    let b = two.analyze_path(&path).record.error.expect("too long");
    assert_eq!(a.kind, ErrorKind::TooLong);
    assert_eq!((a.kind, a.message), (b.kind, b.message));
}
