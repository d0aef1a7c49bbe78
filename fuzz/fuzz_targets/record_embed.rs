//! Bytes → record with the musicnn embedding on (the default configuration of `serve`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sonovec::{Analyzer, Config, ErrorKind};

fn analyzer() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(|| {
        quiet_caught_panics();
        Analyzer::new(Config::default())
    })
}

/// libFuzzer's hook aborts on every panic, even one the analyzer catches and records; only a
/// panic that escapes the analysis is a finding.
fn quiet_caught_panics() {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sonovec::analyzer::panic_is_caught_here() {
            fuzzer_hook(info);
        }
    }));
}

fuzz_target!(|data: &[u8]| {
    let track = analyzer().analyze_bytes(data.to_vec(), "fuzz");
    if let Some(error) = &track.record.error {
        assert_ne!(error.kind, ErrorKind::Internal, "{}", error.message);
    }
});
