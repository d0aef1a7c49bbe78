//! Measurements `sonovec bench` needs besides the instrumented pipeline: process CPU time and
//! peak RSS, the decode-only floor, and the plain-sgemm rate the embedding is compared with.

use std::fs::File;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::audio::AudioStream;
use crate::error::{AnalysisError, Result};

fn rusage() -> libc::rusage {
    // SAFETY: getrusage only writes into the struct we hand it.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

/// CPU time (user + system, all threads) of this process so far.
pub fn cpu_time() -> Duration {
    let usage = rusage();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The largest resident set size this process has had so far, in bytes (`ru_maxrss`).
pub fn peak_rss_bytes() -> u64 {
    // Linux reports kibibytes, macOS bytes.
    let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
    rusage().ru_maxrss.max(0) as u64 * scale
}

/// Decodes the file at `path` to planar `f32` with the pipeline's decoder and throws the samples
/// away: the floor under every stage that follows. Returns the seconds of audio decoded.
pub fn decode_only(path: &Path) -> Result<f64> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let file = File::open(path).map_err(|e| AnalysisError::from_io(&e))?;
    let mut stream = AudioStream::open(Box::new(file), ext.as_deref())?;
    let mut rate = 0;
    while let Some(chunk) = stream.next_chunk()? {
        rate = chunk.sample_rate;
        black_box(chunk.planar);
    }
    Ok(stream.frames_decoded() as f64 / rate.max(1) as f64)
}

/// GFLOP/s of plain `matrixmultiply::sgemm` (the crate the embedding uses) on this thread, for
/// dense row-major `m × k` by `k × n`, repeated for at least `min_time` after one warm-up call.
pub fn sgemm_gflops(m: usize, k: usize, n: usize, min_time: Duration) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.125 - 0.25).collect();
    let mut c = vec![0.0f32; m * n];
    let once = |c: &mut [f32]| {
        // SAFETY: a, b and c are dense row-major buffers of exactly the sizes passed.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        black_box(&c[0]);
    };
    once(&mut c);
    let started = Instant::now();
    let mut calls = 0u64;
    while calls == 0 || started.elapsed() < min_time {
        once(&mut c);
        calls += 1;
    }
    2.0 * (m * k * n) as f64 * calls as f64 / started.elapsed().as_secs_f64() / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgemm_rate_is_positive_and_finite() {
        let rate = sgemm_gflops(8, 8, 8, Duration::from_millis(1));
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }

    #[test]
    fn peak_rss_and_cpu_time_are_read() {
        assert!(
            peak_rss_bytes() > 1 << 20,
            "a running test uses more than 1 MiB"
        );
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {
            black_box(0);
        }
        assert!(cpu_time() > Duration::ZERO);
    }
}
