//! The resampler's memory is bounded by `MAX_STATE_BYTES` at every input rate of the accepted
//! range (1 kHz – 768 kHz), primes and rates coprime to 16 kHz included, and does not grow with
//! the stream: measured with a counting allocator around `new`, many `push`es and `finish`.
//! (One test in this binary: the counter is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sonovec::audio::resample::MAX_STATE_BYTES;
use sonovec::audio::MonoResampler;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn state_is_bounded_at_every_rate_and_independent_of_length() {
    let chunk: Vec<f32> = (0..4096)
        .map(|i| ((i * 7919) % 2001) as f32 / 2000.0 - 0.5)
        .collect();
    let mut output: Vec<f32> = Vec::with_capacity(2_000_000);
    let mut worst = (0, 0);
    let named = [
        1_000u32, 1_009, 7_919, 8_000, 11_003, 22_050, 22_051, 44_100, 44_101, 48_000, 48_017,
        96_001, 176_400, 192_007, 352_800, 384_001, 767_957, 768_000,
    ];
    // Plus a sweep of the range with a prime stride (FFT and polyphase paths, all ratios kinds).
    let sweep = (1_000u32..=768_000).step_by(7_793);
    for (rate, lengths) in named
        .iter()
        .map(|&r| (r, &[1usize, 8][..]))
        .chain(sweep.map(|r| (r, &[1usize][..])))
    {
        for &seconds in lengths {
            output.clear();
            let base = LIVE.load(Ordering::SeqCst);
            PEAK.store(base, Ordering::SeqCst);
            let mut r = MonoResampler::new(rate, 16_000).unwrap();
            for _ in 0..(seconds * rate as usize).div_ceil(chunk.len()) {
                r.push(&chunk, &mut output);
            }
            r.finish(&mut output);
            drop(r);
            let peak = PEAK.load(Ordering::SeqCst) - base;
            assert_eq!(output.capacity(), 2_000_000, "output grew: not measured");
            eprintln!(
                "{rate:>6} Hz, {seconds} s: peak {:.0} KiB",
                peak as f64 / 1024.0
            );
            assert!(
                peak <= MAX_STATE_BYTES,
                "{rate} Hz: {peak} bytes > {MAX_STATE_BYTES}"
            );
            if peak > worst.0 {
                worst = (peak, rate);
            }
        }
    }
    eprintln!("worst: {} KiB at {} Hz", worst.0 / 1024, worst.1);
}
