//! The probe and demux of each container, then the decode of every packet: the first byte picks
//! the extension hint (wav, aiff, caf, flac, mp3, ogg, mp4, mkv, webm, opus, aac), the rest is
//! the file. A panic is caught (the analyzer catches it too and records `corrupt`); what this
//! target finds is what `catch_unwind` cannot catch: aborts, stack overflows, allocations over
//! the limit, hangs.
#![no_main]

use std::cell::Cell;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use sonovec::audio::AudioStream;

const HINTS: [&str; 11] = [
    "wav", "aiff", "caf", "flac", "mp3", "ogg", "mp4", "mkv", "webm", "opus", "aac",
];

thread_local! {
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// libFuzzer's hook aborts on every panic; a decoder panic is caught in production, so only
/// the rest is a finding.
fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let hint = HINTS[pick as usize % HINTS.len()];
    let file = file.to_vec();
    DECODING.with(|d| d.set(true));
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Ok(mut stream) = AudioStream::open(Box::new(Cursor::new(file)), Some(hint)) else {
            return;
        };
        while let Ok(Some(_)) = stream.next_chunk() {}
    }));
    DECODING.with(|d| d.set(false));
});
