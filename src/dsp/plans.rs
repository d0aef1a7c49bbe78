//! Real FFT plans in double precision, shared by every track of the process.
//!
//! Planning a transform can cost more than running it: for the 2^17 points of the tempo's
//! autocorrelation on 954 s of audio, planning took 6–12 ms and the two transforms 2–8 ms. The
//! planner caches each length's plan, so the track's second autocorrelation (the low band's, of
//! the same length), and later tracks of a folder with the same lengths (powers of two for the
//! tempo, one per source rate for the resampler) reuse it. A cached plan is the object a fresh
//! planner would make, so the results are the same bit for bit.

use std::sync::{Arc, Mutex, OnceLock};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

fn planner() -> &'static Mutex<RealFftPlanner<f64>> {
    static PLANNER: OnceLock<Mutex<RealFftPlanner<f64>>> = OnceLock::new();
    PLANNER.get_or_init(|| Mutex::new(RealFftPlanner::new()))
}

/// The forward real FFT of `len` points.
pub fn forward(len: usize) -> Arc<dyn RealToComplex<f64>> {
    // A panic while planning leaves nothing half-made in the cache: take the planner anyway.
    let mut planner = planner().lock().unwrap_or_else(|e| e.into_inner());
    planner.plan_fft_forward(len)
}

/// The inverse real FFT of `len` points.
pub fn inverse(len: usize) -> Arc<dyn ComplexToReal<f64>> {
    let mut planner = planner().lock().unwrap_or_else(|e| e.into_inner());
    planner.plan_fft_inverse(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_is_planned_once_and_matches_a_fresh_plan() {
        let first = forward(4096);
        let again = forward(4096);
        assert!(Arc::ptr_eq(&first, &again));
        let fresh = RealFftPlanner::<f64>::new().plan_fft_forward(4096);
        let signal: Vec<f64> = (0..4096)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
            .collect();
        let (mut a, mut b) = (signal.clone(), signal);
        let (mut sa, mut sb) = (first.make_output_vec(), fresh.make_output_vec());
        first.process(&mut a, &mut sa).unwrap();
        fresh.process(&mut b, &mut sb).unwrap();
        assert_eq!(sa, sb);
    }
}
