//! Segmented decoding against one decoder, on real audio.

use std::path::{Path, PathBuf};

use super::MAX_HELPER_SAMPLES;
use crate::audio::AudioStream;

/// Samples, rate, frames, warnings and segments read.
type Decoded = (Vec<Vec<f32>>, u32, u64, Vec<String>, usize);

/// Every sample of `path` with its rate, the frames decoded and the warnings, decoded by one
/// decoder or in segments of `segment_seconds`, shared with a helper thread if
/// `helper`, which holds at most that many samples.
fn decode(path: &Path, segment_seconds: Option<f64>, helper: Option<usize>) -> Decoded {
    decode_bytes(std::fs::read(path).unwrap(), path, segment_seconds, helper)
}

/// [`decode`] of `bytes`, a file like `path`.
fn decode_bytes(
    bytes: Vec<u8>,
    path: &Path,
    segment_seconds: Option<f64>,
    helper: Option<usize>,
) -> Decoded {
    let ext = path.extension().and_then(|e| e.to_str());
    let mut stream = AudioStream::open(Box::new(std::io::Cursor::new(bytes)), ext).unwrap();
    assert_eq!(
        segment_seconds.is_some_and(|seconds| stream.cut_into_segments(seconds)),
        segment_seconds.is_some(),
        "{}",
        path.display()
    );
    if let Some(max_samples) = helper {
        stream.share_segments(max_samples);
    }
    let (mut all, mut rate) = (Vec::<Vec<f32>>::new(), 0);
    while let Some(chunk) = stream.next_chunk().unwrap() {
        rate = chunk.sample_rate;
        all.resize(chunk.planar.len(), Vec::new());
        for (all, channel) in all.iter_mut().zip(chunk.planar) {
            all.extend_from_slice(channel);
        }
    }
    let segments = stream.segments_read();
    (
        all,
        rate,
        stream.frames_decoded(),
        stream.warnings(),
        segments,
    )
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that `cut` has the channels, lengths and samples of `one`, to the bit; a failure
/// names the case (`what`) and the first sample that differs.
fn assert_same_samples(one: &[Vec<f32>], cut: &[Vec<f32>], what: &str) {
    assert_eq!(one.len(), cut.len(), "{what}: channels");
    for (channel, (a, b)) in one.iter().zip(cut).enumerate() {
        assert_eq!(a.len(), b.len(), "{what}: channel {channel}'s length");
        let first = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        assert_eq!(
            first,
            None,
            "{what}: channel {channel} differs from sample {first:?} ({} frames)",
            a.len()
        );
    }
}

/// Files whose codec is cut into segments: the real clips of `samples/` and the fixtures, and
/// any listed in `SONOVEC_SEGMENT_FILES` (colon-separated: long real files, by hand).
fn files() -> Vec<PathBuf> {
    let root = root();
    let mut files: Vec<PathBuf> = [
        "samples/dnb_174.opus",
        "samples/fourfloor_120.flac",
        "samples/hiphop_92.mp3",
        "samples/house_128.ogg",
        "tests/fixtures/formats/opus_96k_48000_2ch.webm",
        "tests/fixtures/formats/opus_48k_in16000_1ch.opus",
        "tests/fixtures/formats/vorbis_q4_48000_6ch.ogg",
        "tests/fixtures/formats/vorbis_q4_22050_2ch.webm",
        "tests/fixtures/formats/mp3_cbr128_44100_2ch.mp3",
        "tests/fixtures/formats/flac_s24_16000_1ch.flac",
        "tests/fixtures/formats/flac_s16_8000_6ch.mkv",
        "tests/fixtures/segments/opus_celt_then_hybrid_1ch.opus",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    if let Ok(more) = std::env::var("SONOVEC_SEGMENT_FILES") {
        files.extend(more.split(':').filter(|f| !f.is_empty()).map(PathBuf::from));
    }
    files
}

/// Segments far shorter than the codec's own (so that even a one-second fixture is cut,
/// and a pre-roll reaches back over several segments) give every sample of one decoder, to
/// the bit, and the same warnings, whichever thread decodes them. A stream of hybrid packets
/// (real music at 16 kb/s for speech, whose SILK state a pre-roll does not rebuild) is not cut.
#[test]
fn segments_give_the_samples_of_one_decoder() {
    let hybrid = root().join("tests/fixtures/segments/opus_hybrid_16k_1ch.opus");
    for path in files().into_iter().chain([hybrid.clone()]) {
        let hybrid = path == hybrid;
        let one = decode(&path, None, None);
        assert!(one.2 > 0, "{}", path.display());
        // On the helper, or on the helper that hands most of each segment back (it holds at
        // most 3000 samples), or hands back each segment whole once its decoder has decoded the
        // pre-roll, or all on the calling thread.
        let helper = Some(MAX_HELPER_SAMPLES);
        for (seconds, helper) in [
            (0.25, helper),
            (0.7, helper),
            (0.7, Some(3000)),
            (0.7, Some(0)),
            (0.7, None),
        ] {
            let cut = decode(&path, Some(seconds), helper);
            let by_hand = !path.starts_with(root());
            assert!(
                cut.4 >= 2 || hybrid || by_hand,
                "{}: {} segment(s)",
                path.display(),
                cut.4
            );
            // Hybrid from the first packet on: never cut.
            assert!(
                cut.4 == 1 || !hybrid,
                "{}: {} segment(s)",
                path.display(),
                cut.4
            );
            assert_eq!(one.1, cut.1, "{}", path.display());
            assert_eq!(one.2, cut.2, "{}: frames", path.display());
            assert_eq!(one.3, cut.3, "{}: warnings", path.display());
            let what = format!("{} in {seconds} s segments", path.display());
            assert_same_samples(&one.0, &cut.0, &what);
        }
    }
}

/// Codecs whose state was not measured, or never settles, are decoded by one decoder.
#[test]
fn aac_and_pcm_are_not_cut() {
    let root = root().join("tests/fixtures/formats");
    for f in [
        "aac_lc_96000_2ch.m4a",
        "wav_s16_11025_2ch.wav",
        "alac_s16_44100_1ch.m4a",
    ] {
        let file = std::fs::File::open(root.join(f)).unwrap();
        let ext = Path::new(f).extension().and_then(|e| e.to_str());
        let mut stream = AudioStream::open(Box::new(file), ext).unwrap();
        assert!(!stream.cut_into_segments(1.0), "{f}");
    }
}

/// A stream cut while its packets are CELT is cut no further from its first hybrid packet on:
/// the fixture is 3 s of CELT packets then 3 s of hybrid ones (two encodings of one piece of
/// music joined by ffmpeg's concat, see its README). In 0.25 s segments it is 12: the twelfth,
/// from 2.75 s, meets the first hybrid packet and runs to the end. Its samples are those of one
/// decoder (the test above).
#[test]
fn a_stream_is_cut_until_its_first_hybrid_packet() {
    let path = root().join("tests/fixtures/segments/opus_celt_then_hybrid_1ch.opus");
    for helper in [Some(MAX_HELPER_SAMPLES), None] {
        let cut = decode(&path, Some(0.25), helper);
        assert_eq!(cut.4, 12, "segments, helper {helper:?}");
    }
}

/// A damaged Ogg page (one byte changed in an Opus packet, so its checksum fails) is dropped by
/// the demuxer, and the timestamps jump by the second of audio it held. The pre-roll is measured
/// by the packets' own lengths, not their timestamps, so it still holds a second of packets and
/// the samples are one decoder's. Found by the `segments` fuzz target: measured by timestamps,
/// the pre-roll after the gap was a few packets, and samples differed from 5.01 s on.
#[test]
fn a_dropped_page_does_not_shorten_the_preroll() {
    let path = root().join("samples/dnb_174.opus");
    let mut bytes = std::fs::read(&path).unwrap();
    // In the 14th packet of the seventh page (granule 240000), CELT.
    assert_eq!(bytes[53_041] >> 3, 31);
    bytes[53_122] ^= 0xd7;
    let one = decode_bytes(bytes.clone(), &path, None, None);
    let cut = decode_bytes(bytes, &path, Some(0.02), Some(MAX_HELPER_SAMPLES));
    assert!(cut.4 > 100, "{} segments", cut.4);
    assert_eq!(one.2, cut.2, "frames");
    assert_same_samples(&one.0, &cut.0, "a dropped page");
}

/// An Opus packet's length is its TOC's frame size times its frame count (RFC 6716, 3.1).
#[test]
fn opus_packets_are_measured_by_their_own_framing() {
    use symphonia::core::packet::Packet;
    let micros = |data: &[u8]| {
        let packet = Packet::new(0, 0i64.into(), 0u64.into(), data);
        super::preroll::opus_micros(&packet)
    };
    // CELT full band 20 ms, one frame; hybrid 10 ms, two frames; SILK 60 ms, two frames.
    assert_eq!(micros(&[31 << 3, 0, 0]), 20_000);
    assert_eq!(micros(&[14 << 3 | 1, 0, 0]), 20_000);
    assert_eq!(micros(&[3 << 3 | 2, 1, 0, 0]), 120_000);
    // CELT 2.5 ms, code 3: 48 frames (the most, 120 ms), then 49 (too many) and none.
    assert_eq!(micros(&[16 << 3 | 3, 48]), 120_000);
    assert_eq!(micros(&[16 << 3 | 3, 49]), 0);
    assert_eq!(micros(&[16 << 3 | 3]), 0);
    assert_eq!(micros(&[]), 0);
}

/// A chained Opus stream (the same file twice, as `cat` makes it) decoded in short segments on
/// two threads, every link cut as the first is, gives what one decoder gives, and that is the
/// file's own samples twice: each link is decoded from its own headers (its pre-skip), the first
/// link's end trim applied.
#[test]
fn a_chained_stream_in_segments_gives_each_link_as_alone() {
    let path = root().join("tests/fixtures/decode/opus_midstream_granule.opus");
    let alone = decode(&path, None, None);
    let bytes = std::fs::read(&path).unwrap();
    let chained = [bytes.clone(), bytes].concat();
    let one = decode_bytes(chained.clone(), &path, None, None);
    let cut = decode_bytes(chained, &path, Some(1.0), Some(MAX_HELPER_SAMPLES));
    let twice: Vec<Vec<f32>> = alone.0.iter().map(|c| [&c[..], &c[..]].concat()).collect();
    assert_same_samples(&twice, &one.0, "one decoder against the file alone, twice");
    assert_same_samples(
        &one.0,
        &cut.0,
        "segments on two threads against one decoder",
    );
    assert!(
        one.3.is_empty() && cut.3.is_empty(),
        "{:?} {:?}",
        one.3,
        cut.3
    );
    // The second link (6 s) is cut too, not decoded by one decoder after the first.
    assert!(cut.4 >= 6, "segments read in the second link: {}", cut.4);
}

/// A link cut until its first hybrid packet does not stop the next link from being cut: each
/// link of a chained stream starts settled, from a fresh decoder. The samples are still one
/// decoder's, to the bit.
#[test]
fn each_link_is_cut_until_its_own_first_hybrid_packet() {
    let path = root().join("tests/fixtures/segments/opus_celt_then_hybrid_1ch.opus");
    let bytes = std::fs::read(&path).unwrap();
    let chained = [bytes.clone(), bytes].concat();
    let one = decode_bytes(chained.clone(), &path, None, None);
    for helper in [Some(MAX_HELPER_SAMPLES), None] {
        let cut = decode_bytes(chained.clone(), &path, Some(0.25), helper);
        assert_same_samples(&one.0, &cut.0, "a chain of two hybrid-ending links");
        // The second link's own segments, as the file alone gives (the test above).
        assert_eq!(cut.4, 12, "segments of the second link, helper {helper:?}");
    }
}

/// A helper whose segment the calling thread awaits stops at the next packet and hands back its
/// decoder and the packets left, which that decoder then decodes to the samples the helper would
/// have given; a helper that is not awaited decodes the whole segment.
#[test]
fn an_awaited_helper_hands_back_its_decoder_and_the_rest() {
    use std::sync::atomic::AtomicBool;

    use super::helper::decode_segment;
    use super::{decode_one, next_packet, Outcome, Packets, Segment};
    use crate::audio::test_tracks::open_default_track;

    let (mut format, track_id, params) = open_default_track(root().join("samples/dnb_174.opus"));
    let mut packets = Packets::new();
    while let Some(packet) = next_packet(format.as_mut(), track_id).unwrap() {
        packets.push_back(packet);
    }
    // The whole stream as one segment from its first packet, so without a pre-roll.
    let segment = || Segment {
        preroll: Vec::new(),
        packets: packets.clone(),
    };
    let (no, yes) = (AtomicBool::new(false), AtomicBool::new(true));

    let whole = decode_segment(&params, segment(), MAX_HELPER_SAMPLES, &no, &no);
    assert!(whole.rest.is_none());
    assert_eq!(whole.decoded.len(), packets.len());

    let awaited = decode_segment(&params, segment(), MAX_HELPER_SAMPLES, &no, &yes);
    assert!(awaited.decoded.is_empty());
    let (mut decoder, rest) = awaited.rest.expect("handed back");
    assert_eq!(rest.len(), packets.len());
    let mut audio = 0;
    for ((packet, _), by_helper) in rest.iter().zip(&whole.decoded) {
        let mut planar = Vec::new();
        let outcome = decode_one(decoder.as_mut(), packet, &mut planar).unwrap();
        let helper_outcome = by_helper.outcome.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(
            matches!(outcome, Outcome::Audio { .. }),
            matches!(helper_outcome, Outcome::Audio { .. })
        );
        if matches!(outcome, Outcome::Audio { .. }) {
            audio += 1;
            assert_same_samples(
                &by_helper.planar,
                &planar,
                "a packet decoded after the hand-back",
            );
        }
    }
    assert!(audio > 100, "{audio} packets of audio");
}
