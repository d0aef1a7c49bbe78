//! A stream decoded in segments shared with the helper thread, against the same stream
//! decoded by one decoder (`src/audio/segments.rs`). The first byte picks the extension hint
//! (opus, ogg, webm, mkv, mp3, flac: the containers of the codecs that may be cut), the second
//! the segments' length (20 to 640 ms, so that a short input is cut many times and a pre-roll
//! reaches back over several segments), the third how many samples the helper may hold before
//! it hands the rest of a segment back (0: each segment whole, once the helper's decoder has
//! decoded its pre-roll; 1 000, to reach that path often; up to no limit); the rest is the file.
//! Whatever the limit, the calling thread also takes back what the helper has not decoded when
//! it reaches the segment.
//!
//! A finding is an abort, a hang, an allocation over the limit, a panic that escapes the
//! segments to the calling thread as anything but the decoder panic it was, or an Opus stream
//! of CELT packets whose samples, frame count or end differ from one decoder's: what `-j 2`
//! would record differently from `-j 1`. Streams of the other codecs are cut only here
//! (`Preroll::cut_by_default` keeps Opus), so for them only the first kinds are findings.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sonovec::audio::AudioStream;

#[path = "caught.rs"]
mod caught;

const HINTS: [&str; 6] = ["opus", "ogg", "webm", "mkv", "mp3", "flac"];

/// What a decode gave: every sample's bits, frames decoded, and how it ended (`None` for the
/// demuxer's end, else the error or panic).
struct Decoded {
    bits: Vec<Vec<u32>>,
    frames: u64,
    end: Option<String>,
    opus: bool,
}

fn decode(file: &[u8], hint: &str, segments: Option<(f64, usize)>) -> Option<Decoded> {
    let source = Box::new(Cursor::new(file.to_vec()));
    let mut stream = caught::decoding(|| AudioStream::open(source, Some(hint)).ok()).flatten()?;
    let opus = stream.info().codec.eq_ignore_ascii_case("opus");
    if let Some((seconds, max_samples)) = segments {
        if !caught::decoding(|| stream.cut_into_segments(seconds)).unwrap_or(false) {
            return None;
        }
        stream.share_segments(max_samples);
    }
    let mut bits = Vec::<Vec<u32>>::new();
    let end = caught::decoding(|| loop {
        match stream.next_chunk() {
            Ok(Some(chunk)) => {
                bits.resize(bits.len().max(chunk.planar.len()), Vec::new());
                for (all, channel) in bits.iter_mut().zip(chunk.planar) {
                    all.extend(channel.iter().map(|s| s.to_bits()));
                }
            }
            Ok(None) => return None,
            Err(error) => return Some(error.to_string()),
        }
    })
    .unwrap_or_else(|| Some("panic".to_string()));
    Some(Decoded {
        bits,
        frames: stream.frames_decoded(),
        end,
        opus,
    })
}

fuzz_target!(|data: &[u8]| {
    caught::quiet_caught_panics();
    let [pick, length, limit, file @ ..] = data else {
        return;
    };
    let hint = HINTS[*pick as usize % HINTS.len()];
    let seconds = 0.02 * (1 + *length as usize % 32) as f64;
    let max_samples = match limit % 5 {
        0 => 1_000,
        1 => 20_000,
        2 => 200_000,
        3 => usize::MAX,
        _ => 0,
    };
    let one = decode(file, hint, None);
    let cut = decode(file, hint, Some((seconds, max_samples)));
    let (Some(one), Some(cut)) = (one, cut) else {
        return;
    };
    if !one.opus {
        return;
    }
    assert_eq!(one.end, cut.end, "how the stream ended");
    assert_eq!(one.frames, cut.frames, "frames decoded");
    assert_eq!(one.bits.len(), cut.bits.len(), "channels");
    for (channel, (a, b)) in one.bits.iter().zip(&cut.bits).enumerate() {
        let first = a.iter().zip(b).position(|(x, y)| x != y);
        assert_eq!(first, None, "channel {channel}: first sample that differs");
        assert_eq!(a.len(), b.len(), "channel {channel}: samples");
    }
});
