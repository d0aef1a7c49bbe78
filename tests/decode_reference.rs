//! sonovec's decoder against each codec's reference decoder, on short excerpts of real music.
//!
//! `tests/fixtures/decode/reference.json` (made by `scripts/make_decode_fixtures.py`) holds, per
//! fixture, the reference decoder's length in frames and, per block of frames and channel, the
//! mean and RMS of its samples. The decode must have exactly that length, and every block's mean
//! and RMS must be within the fixture's tolerance (1e-4 for the lossy codecs, 0 for FLAC): a
//! decode whose samples are all within 1e-4 of the reference passes, one that drops or shifts
//! samples anywhere does not.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sonovec::audio::AudioStream;

#[derive(Deserialize)]
struct References {
    fixtures: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    file: String,
    /// For a chained stream: the fixtures concatenated, in order (`file` names them all).
    #[serde(default)]
    links: Vec<String>,
    reference: String,
    frames: usize,
    channels: usize,
    block: usize,
    tolerance: f64,
    /// Per block, per channel: [mean, rms].
    blocks: Vec<Vec<[f64; 2]>>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decode")
}

fn references() -> References {
    let text = std::fs::read_to_string(fixture_dir().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Decoded planar samples and the decoder's warnings.
fn decode(path: &Path) -> (Vec<Vec<f32>>, Vec<String>) {
    decode_chain(&[path])
}

/// The files of `links` concatenated (one file when there is one link), decoded: planar samples
/// and the decoder's warnings.
fn decode_chain(links: &[&Path]) -> (Vec<Vec<f32>>, Vec<String>) {
    let ext = links[0].extension().and_then(|e| e.to_str());
    let bytes: Vec<u8> = links
        .iter()
        .flat_map(|l| std::fs::read(l).unwrap())
        .collect();
    let mut stream = AudioStream::open(Box::new(std::io::Cursor::new(bytes)), ext).unwrap();
    let mut planar: Vec<Vec<f32>> = Vec::new();
    while let Some(chunk) = stream.next_chunk().unwrap() {
        planar.resize_with(chunk.planar.len(), Vec::new);
        for (all, part) in planar.iter_mut().zip(chunk.planar) {
            all.extend_from_slice(part);
        }
    }
    (planar, stream.warnings())
}

/// Asserts that `warnings` is one warning, which says every one of `says`.
fn assert_one_warning(warnings: &[String], says: &[&str]) {
    assert!(
        warnings.len() == 1 && says.iter().all(|s| warnings[0].contains(s)),
        "{warnings:?}"
    );
}

fn check(name: &str) {
    let refs = references();
    let fixture = refs
        .fixtures
        .iter()
        .find(|f| f.file == name)
        .unwrap_or_else(|| panic!("{name} is not in reference.json"));
    let paths: Vec<PathBuf> = if fixture.links.is_empty() {
        vec![fixture_dir().join(&fixture.file)]
    } else {
        fixture
            .links
            .iter()
            .map(|l| fixture_dir().join(l))
            .collect()
    };
    let (planar, warnings) = decode_chain(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert_eq!(planar.len(), fixture.channels, "{name}: channels");
    let frames = planar[0].len();
    assert_eq!(
        frames,
        fixture.frames,
        "{name}: sonovec decodes {frames} frames, {} gives {} ({:+})",
        fixture.reference,
        fixture.frames,
        frames as i64 - fixture.frames as i64
    );
    assert!(
        warnings.is_empty(),
        "{name}: unexpected warnings {warnings:?}"
    );
    let mut worst = 0.0f64;
    for (b, expected) in fixture.blocks.iter().enumerate() {
        let start = b * fixture.block;
        let end = (start + fixture.block).min(frames);
        for (channel, &[mean, rms]) in planar.iter().zip(expected) {
            let block = &channel[start..end];
            let n = block.len() as f64;
            let our_mean = block.iter().map(|&s| s as f64).sum::<f64>() / n;
            let our_rms = (block.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / n).sqrt();
            let diff = (our_mean - mean).abs().max((our_rms - rms).abs());
            worst = worst.max(diff);
            assert!(
                diff <= fixture.tolerance + 1e-9,
                "{name}: block {b} (frames {start}..{end}) differs from {} by {diff:.2e} \
                 (mean {our_mean:.6} vs {mean:.6}, rms {our_rms:.6} vs {rms:.6})",
                fixture.reference
            );
        }
    }
    eprintln!("{name}: {frames} frames, largest block difference {worst:.2e}");
}

/// ffmpeg's libvorbis excerpt whose page granules run ahead of its packets mid-stream: the
/// demuxer used to trim 448 samples there (libvorbis does not).
#[test]
fn vorbis_excerpt_with_midstream_granule_matches_libvorbis() {
    check("vorbis_midstream_granule.ogg");
}

/// The start of wesnoth's battle-epic.ogg, its pages copied: its first audio packet is on the
/// page that ends the setup header, which libvorbis (and libsndfile) never decodes when it can
/// seek; symphonia and ffmpeg gave 128 samples more at the start.
#[test]
fn vorbis_audio_on_the_setup_headers_page_is_left_out_as_libvorbis_does() {
    check("vorbis_header_page_audio.ogg");
}

/// Ogg files concatenated (a chained stream, as radio recordings and `cat` make them): libvorbis
/// plays every link, each from its own headers, and so does sonovec. It used to stop after the
/// first link with a warning. The later link is the excerpt above, whose first audio packet
/// vorbisfile does decode when it reaches it inside a chain: 128 samples more than alone.
#[test]
fn a_chained_vorbis_stream_decodes_every_link_as_libvorbis_does() {
    check("silence.ogg+vorbis_header_page_audio.ogg");
}

/// A link at another rate cannot go on through one analysis: the rest is left out with a
/// warning that says where and why (libvorbis's oggdec stops there too).
#[test]
fn a_chained_link_at_another_rate_ends_the_stream_with_a_warning() {
    let refs = references();
    let first = refs
        .fixtures
        .iter()
        .find(|f| f.file == "vorbis_midstream_granule.ogg")
        .unwrap();
    let dir = fixture_dir();
    let (planar, warnings) = decode_chain(&[
        &dir.join("vorbis_midstream_granule.ogg"),
        &dir.join("vorbis_header_page_audio.ogg"),
    ]);
    assert_eq!(planar[0].len(), first.frames);
    assert_one_warning(&warnings, &["link 2 (after 6.0 s)", "44100 Hz"]);
}

/// A chain of more links than the limit (4,096; each costs a new decoder) decodes the first
/// 4,096, each as it decodes alone, and says where it stopped, and nothing else. The link is one
/// 20 ms packet, so the 4,100 links take well under a second.
#[test]
fn a_chain_past_the_limit_of_links_stops_with_a_warning() {
    let tiny = fixture_dir().join("tiny_link.opus");
    let (alone, none) = decode_chain(&[&tiny]);
    assert!(none.is_empty() && !alone[0].is_empty(), "{none:?}");
    let links: Vec<&Path> = vec![&tiny; 4100];
    let (planar, warnings) = decode_chain(&links);
    assert_eq!(planar[0].len(), 4096 * alone[0].len());
    // One warning: each link's own pre-skip is not audio lost in decoding.
    assert_one_warning(&warnings, &["link 4097", "past the limit of 4096 links"]);
}

/// The same on an Opus page, against libopus (opusdec).
#[test]
fn opus_excerpt_with_midstream_granule_matches_libopus() {
    check("opus_midstream_granule.opus");
}

/// LAME encoder delay and padding removed as mpg123 removes them.
#[test]
fn mp3_gapless_matches_mpg123() {
    check("mp3_gapless.mp3");
}

/// FLAC is lossless: every sample equal to libFLAC's.
#[test]
fn flac_is_bit_exact_with_libflac() {
    check("flac_exact.flac");
}

/// AAC in MP4 from ffmpeg's encoder: the edit list says the first 1024 samples are encoder
/// priming; ffmpeg drops them (symphonia's MP4 reader does not, which put every sample 1024 late).
#[test]
fn aac_in_mp4_drops_the_priming_its_edit_list_declares_as_ffmpeg_does() {
    check("aac_edit_list.m4a");
}

/// The numbers in a warning, in order.
fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse().ok())
        .collect()
}

/// A stream that decodes to nothing but zeros while its packets keep coming says so.
#[test]
fn digital_silence_is_reported_with_the_numbers() {
    let (planar, warnings) = decode(&fixture_dir().join("silence.ogg"));
    assert_eq!(planar[0].len(), 3 * 44100);
    let silence: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("digital silence"))
        .collect();
    assert_eq!(silence.len(), 1, "{warnings:?}");
    let n = numbers(silence[0]);
    assert_eq!(n[0], (3 * 44100) as f64, "{}", silence[0]);
    assert!(n[1] > 100.0, "packet count in {}", silence[0]);
}

/// Real audio is not called silent, and an intact file gets no warning at all (the reference
/// tests above assert no warnings on five codecs).
#[test]
fn music_is_not_reported_as_silence() {
    let (_, warnings) = decode(&fixture_dir().join("vorbis_midstream_granule.ogg"));
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// A FLAC cut to 40 % of its bytes: its header still declares 3 s, the decode gives far less,
/// and the warning gives both lengths in samples.
#[test]
fn decode_short_of_the_declared_length_is_reported_with_the_numbers() {
    let (planar, warnings) = decode(&fixture_dir().join("flac_truncated.flac"));
    let decoded = planar[0].len();
    assert!(decoded < 144_000 / 2, "{decoded}");
    let short: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("the header declares"))
        .collect();
    assert_eq!(short.len(), 1, "{warnings:?}");
    let n = numbers(short[0]);
    assert!(n.contains(&(decoded as f64)), "{}", short[0]);
    assert!(n.contains(&144_000.0), "{}", short[0]);
}
