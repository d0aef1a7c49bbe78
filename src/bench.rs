//! Measurements `sonovec bench` needs besides the instrumented pipeline: process CPU time and
//! peak RSS, the decode-only floor, the plain-sgemm rate, and this core's fp32 arithmetic peak
//! ([`fp32_peak`]), the two rates the embedding is compared with.

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

/// GFLOP/s of a plain `f32` GEMM of the crate the embedding uses (`gemm`) on this thread, for
/// dense row-major `m × k` by `k × n`, repeated for at least `min_time` after one warm-up call.
pub fn sgemm_gflops(m: usize, k: usize, n: usize, min_time: Duration) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.125 - 0.25).collect();
    let mut c = vec![0.0f32; m * n];
    let once = |c: &mut [f32]| {
        crate::embed::dense_product(&a, &b, c, m, k, n);
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

/// CPU time this thread has run so far (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time, other
/// processes on the machine do not stretch it, so rates measured with it compare across a run.
pub fn thread_cpu_time() -> Duration {
    // SAFETY: clock_gettime only writes into the struct we hand it.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The single-precision arithmetic peak of one core, as measured by [`fp32_peak`].
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// The widest vector instruction set found at run time: `avx512f`, `avx2+fma` or `scalar`.
    pub isa: &'static str,
    /// Floating-point operations per second (an FMA counts 2), in units of 10⁹, per thread CPU
    /// second.
    pub gflops: f64,
}

/// Measures this core's fp32 peak: independent FMA chains on the widest vector ISA the CPU
/// has (detected at run time; `SONOVEC_EMBED_ISA=avx2` narrows it, as it does the
/// embedding's kernels), enough of them to cover the FMA latency on every pipe (16 on
/// AVX-512, 12 on AVX2, 8 scalar multiply-adds otherwise), repeated for at least `min_time` of
/// this thread's CPU time. The figure the embedding's rate is a fraction of.
pub fn fp32_peak(min_time: Duration) -> Peak {
    measure_peak(peak::detect(), min_time)
}

/// This core's peak in bfloat16 dot products (`vdpbf16ps`, each pair of products counted as 4
/// operations), measured as [`fp32_peak`] is, wherever the CPU has them, whether or not the
/// embedding's front end runs on them (it does where its kernels are `avx512f+bf16`); `None`
/// on a CPU without them.
pub fn bf16_peak(min_time: Duration) -> Option<Peak> {
    use crate::embed::simd::Isa as Kernels;
    Kernels::vector_sets()
        .contains(&Kernels::Avx512Bf16)
        .then(|| measure_peak(peak::Isa::Avx512Bf16, min_time))
}

/// This core's peak in AMX tiles (`tdpbf16ps` from registers, each multiply-add counted as 2
/// operations), measured as [`fp32_peak`] is, wherever the CPU has them and the process may use
/// them; `None` elsewhere.
pub fn amx_peak(min_time: Duration) -> Option<Peak> {
    use crate::embed::simd::Isa as Kernels;
    Kernels::vector_sets()
        .contains(&Kernels::Amx)
        .then(|| measure_peak(peak::Isa::Amx, min_time))
}

fn measure_peak(isa: peak::Isa, min_time: Duration) -> Peak {
    let round = |iters: u64| peak::run(isa, iters);
    black_box(round(1 << 16));
    let (mut flop, mut spent, mut iters) = (0.0, Duration::ZERO, 1u64 << 20);
    while spent < min_time || flop == 0.0 {
        let started = thread_cpu_time();
        let (sum, per_iter) = round(iters);
        black_box(sum);
        spent += thread_cpu_time() - started;
        flop += per_iter * iters as f64;
        iters = (iters * 2).min(1 << 26);
    }
    Peak {
        isa: isa.name(),
        gflops: flop / spent.as_secs_f64() / 1e9,
    }
}

mod peak {
    //! The FMA chains of [`super::fp32_peak`], one function per instruction set.

    use std::hint::black_box;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Isa {
        Amx,
        Avx512Bf16,
        Avx512,
        Avx2,
        Scalar,
    }

    impl Isa {
        pub fn name(self) -> &'static str {
            match self {
                Isa::Amx => "amx-bf16",
                Isa::Avx512Bf16 => "avx512bf16",
                Isa::Avx512 => "avx512f",
                Isa::Avx2 => "avx2+fma",
                Isa::Scalar => "scalar",
            }
        }
    }

    /// The instruction set the embedding's kernels run on ([`crate::embed::simd::Isa::detect`],
    /// so `SONOVEC_EMBED_ISA=avx2` narrows both): the peak is that of the vectors the embedding
    /// uses. The embedding's `fallback` path is the `gemm` crate, which picks its own widest
    /// kernel, so there the peak is the widest this CPU has.
    pub fn detect() -> Isa {
        use crate::embed::simd::Isa as Kernels;
        let of = |isa| match isa {
            Kernels::Amx | Kernels::Avx512 | Kernels::Avx512Bf16 => Isa::Avx512,
            Kernels::Avx2 => Isa::Avx2,
            Kernels::Fallback => Isa::Scalar,
        };
        match Kernels::detect() {
            Kernels::Fallback => of(Kernels::preferred()),
            isa => of(isa),
        }
    }

    /// Runs `iters` rounds of the chains; returns their sum (so nothing is optimised away) and
    /// the floating-point operations of one round.
    pub fn run(isa: Isa, iters: u64) -> (f32, f64) {
        match isa {
            // SAFETY: `detect` found the instruction set the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => (unsafe { x86::avx512(iters) }, 16.0 * 16.0 * 2.0),
            // SAFETY: only `amx_peak` asks for it, after finding the process may use tiles.
            #[cfg(target_arch = "x86_64")]
            Isa::Amx => (
                unsafe { crate::embed::amx::peak_rounds(iters) },
                4.0 * 16.0 * 16.0 * 32.0 * 2.0,
            ),
            // SAFETY: only `bf16_peak` asks for it, after finding the CPU has it.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16 => (unsafe { x86::avx512_bf16(iters) }, 16.0 * 16.0 * 4.0),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => (unsafe { x86::avx2(iters) }, 12.0 * 8.0 * 2.0),
            _ => (scalar(iters), 8.0 * 2.0),
        }
    }

    fn scalar(iters: u64) -> f32 {
        let (a, b) = (black_box(0.999f32), black_box(1e-6f32));
        let mut acc = [0.0f32; 8];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = *x * a + b;
            }
        }
        acc.iter().sum()
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;
        use std::hint::black_box;

        /// 16 chains of 16-lane FMAs: 2 pipes × latency 4 needs 8; 16 leave room for slower
        /// FMAs and still fit the 32 registers.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn avx512(iters: u64) -> f32 {
            let a = _mm512_set1_ps(black_box(0.999));
            let b = _mm512_set1_ps(black_box(1e-6));
            let mut acc = [_mm512_setzero_ps(); 16];
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = _mm512_fmadd_ps(*x, a, b);
                }
            }
            let mut sum = _mm512_setzero_ps();
            for x in acc {
                sum = _mm512_add_ps(sum, x);
            }
            _mm512_reduce_add_ps(sum)
        }

        /// 16 chains of 16-lane bf16 pair dot products (two multiply-adds a lane each).
        #[target_feature(enable = "avx512f,avx512bf16")]
        pub unsafe fn avx512_bf16(iters: u64) -> f32 {
            let a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(black_box(0.999)), _mm512_set1_ps(0.5));
            let b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(black_box(1e-6)), _mm512_set1_ps(0.5));
            let mut acc = [_mm512_setzero_ps(); 16];
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = _mm512_dpbf16_ps(*x, a, b);
                }
            }
            let mut sum = _mm512_setzero_ps();
            for x in acc {
                sum = _mm512_add_ps(sum, x);
            }
            _mm512_reduce_add_ps(sum)
        }

        /// 12 chains of 8-lane FMAs (of the 16 registers, 2 hold the operands).
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn avx2(iters: u64) -> f32 {
            let a = _mm256_set1_ps(black_box(0.999));
            let b = _mm256_set1_ps(black_box(1e-6));
            let mut acc = [_mm256_setzero_ps(); 12];
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = _mm256_fmadd_ps(*x, a, b);
                }
            }
            let mut sum = _mm256_setzero_ps();
            for x in acc {
                sum = _mm256_add_ps(sum, x);
            }
            let mut lanes = [0.0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
            lanes.iter().sum()
        }
    }
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
    fn fp32_peak_is_measured_on_the_widest_isa() {
        let peak = fp32_peak(Duration::from_millis(5));
        assert!(peak.gflops.is_finite() && peak.gflops > 0.0, "{peak:?}");
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            assert_eq!(peak.isa, "avx512f");
        }
        // The scalar chains, run on any CPU, count what they compute: 8 chains × 2 flop.
        let (sum, flop) = peak::run(peak::Isa::Scalar, 3);
        assert_eq!(flop, 16.0);
        assert!(sum > 0.0);
    }

    /// Where the process may use AMX tiles, the peak's loop computes what it counts: each of
    /// the 4 × 16 × 16 sums gains 32 products a round.
    #[test]
    fn amx_peak_rounds_do_the_products_they_count() {
        use crate::embed::simd::Isa as Kernels;
        if !Kernels::vector_sets().contains(&Kernels::Amx) {
            return;
        }
        let (sum, flop) = peak::run(peak::Isa::Amx, 3);
        assert_eq!(flop, 4.0 * 16.0 * 16.0 * 32.0 * 2.0);
        // 1e-3 rounded to bf16 (to nearest, ties to even), as the loop's tiles hold it.
        let bits = 1e-3f32.to_bits();
        let v = f32::from_bits((bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff_0000) as f64;
        let want = 4.0 * 256.0 * 3.0 * 32.0 * v * v;
        assert!(
            (sum as f64 - want).abs() <= 1e-4 * want,
            "{sum} against {want}"
        );
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
