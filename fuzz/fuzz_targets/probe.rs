//! The probe and demux of each container, then the decode of every packet: the first byte picks
//! the extension hint (wav, aiff, caf, flac, mp3, ogg, mp4, mkv, webm, opus, aac), the rest is
//! the file. A panic is caught (the analyzer catches it too and records `corrupt`); what this
//! target finds is what `catch_unwind` cannot catch: aborts, stack overflows, allocations over
//! the limit, hangs.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sonovec::audio::AudioStream;

#[path = "caught.rs"]
mod caught;

const HINTS: [&str; 11] = [
    "wav", "aiff", "caf", "flac", "mp3", "ogg", "mp4", "mkv", "webm", "opus", "aac",
];

fuzz_target!(|data: &[u8]| {
    caught::quiet_caught_panics();
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let hint = HINTS[pick as usize % HINTS.len()];
    let file = file.to_vec();
    caught::decoding(|| {
        let Ok(mut stream) = AudioStream::open(Box::new(Cursor::new(file)), Some(hint)) else {
            return;
        };
        while let Ok(Some(_)) = stream.next_chunk() {}
    });
});
