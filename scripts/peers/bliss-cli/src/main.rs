//! bliss-cli: analyse audio files with bliss-audio (FFmpeg decoder) and print one JSON line
//! per file: {"path":..., "analysis":[23 floats], "seconds": wall seconds of decode+analysis}.
//! A file that fails prints {"path":..., "error":"..."} and the run goes on.
//!
//! Usage: bliss-cli [--jobs N] FILE...   (N files analysed at once; default 1)

use bliss_audio::decoder::{Decoder as DecoderTrait, DefaultDecoder as Decoder};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

fn main() {
    let mut jobs = 1usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" | "-j" => {
                jobs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage("--jobs needs a positive integer"));
            }
            "-h" | "--help" => usage(""),
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        usage("no files");
    }
    let next = AtomicUsize::new(0);
    let out = Mutex::new(std::io::stdout());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(files.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let started = Instant::now();
                let line = match Decoder::song_from_path(path) {
                    // Written by hand to keep the key order path, analysis, seconds.
                    Ok(song) => format!(
                        "{{\"path\":{},\"analysis\":{},\"seconds\":{}}}",
                        serde_json::json!(path),
                        serde_json::json!(song.analysis.as_vec()),
                        started.elapsed().as_secs_f64(),
                    ),
                    Err(e) => format!(
                        "{{\"path\":{},\"error\":{}}}",
                        serde_json::json!(path),
                        serde_json::json!(e.to_string())
                    ),
                };
                let mut out = out.lock().unwrap();
                writeln!(out, "{line}").unwrap();
                out.flush().unwrap();
            });
        }
    });
}

fn usage(why: &str) -> ! {
    if !why.is_empty() {
        eprintln!("bliss-cli: {why}");
    }
    eprintln!("usage: bliss-cli [--jobs N] FILE...");
    std::process::exit(2)
}
