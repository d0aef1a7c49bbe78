//! The panic hook of the targets that decode by hand: libFuzzer's hook aborts on every panic, but
//! a decoder panic is caught in production (the analyzer records `corrupt`; the segments' helper
//! thread raises it again on the calling thread), so only the rest is a finding.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook, once per process.
pub fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The helper thread marks itself as one whose panics are caught.
            let caught = DECODING.with(Cell::get) || sonovec::analyzer::panic_is_caught_here();
            if !caught {
                fuzzer_hook(info);
            }
        }));
    });
}

/// Runs `decode` as production does, its panics caught: `None` if it panicked.
pub fn decoding<T>(decode: impl FnOnce() -> T) -> Option<T> {
    DECODING.with(|d| d.set(true));
    let out = catch_unwind(AssertUnwindSafe(decode)).ok();
    DECODING.with(|d| d.set(false));
    out
}
