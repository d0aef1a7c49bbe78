//! Real FFT plans, in single and double precision, shared by every track of the process.
//!
//! Planning a transform can cost more than running it: for the 2^17 points a whole-track
//! autocorrelation of 954 s of audio once took, planning took 6–12 ms and the two transforms
//! 2–8 ms. So the last few lengths planned are kept, and every track of a folder reuses them:
//! the tempo's autocorrelation, computed in blocks, always uses the same 8192 points, and the
//! resampler one set of lengths per source rate. A kept plan is the object a fresh planner would
//! make, so the results are the same bit for bit.
//!
//! The cache is bounded, because a server lives long and its uploads choose the lengths (every
//! odd source rate has its own resampler sizes): at most [`KEPT`] lengths per direction and
//! precision, none over [`MAX_KEPT_LEN`] points (a plan holds tables of about its length).

use std::sync::{Arc, Mutex};

use realfft::{ComplexToReal, RealToComplex};

use super::real_fft::PairKernels;

/// Lengths kept per direction; planning one more forgets the oldest.
pub const KEPT: usize = 6;
/// Longer transforms are planned each time.
pub const MAX_KEPT_LEN: usize = 1 << 17;

/// The last lengths planned and their plans, oldest first.
pub struct Kept<P: ?Sized> {
    plans: Mutex<Vec<(usize, Arc<P>)>>,
}

impl<P: ?Sized> Kept<P> {
    const fn new() -> Self {
        Kept {
            plans: Mutex::new(Vec::new()),
        }
    }

    fn get(&self, len: usize, plan: impl FnOnce() -> Arc<P>) -> Arc<P> {
        if len > MAX_KEPT_LEN {
            return plan();
        }
        // A panic while planning leaves nothing half-made in the list: take it anyway.
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, kept)) = plans.iter().find(|(n, _)| *n == len) {
            return Arc::clone(kept);
        }
        let made = plan();
        if plans.len() == KEPT {
            plans.remove(0);
        }
        plans.push((len, Arc::clone(&made)));
        made
    }
}

/// The element types whose plans are kept: each has its own two lists.
pub trait Planned: PairKernels {
    fn kept_forward() -> &'static Kept<dyn RealToComplex<Self>>;
    fn kept_inverse() -> &'static Kept<dyn ComplexToReal<Self>>;
}

macro_rules! kept_plans_for {
    ($t:ty) => {
        impl Planned for $t {
            fn kept_forward() -> &'static Kept<dyn RealToComplex<$t>> {
                static FORWARD: Kept<dyn RealToComplex<$t>> = Kept::new();
                &FORWARD
            }
            fn kept_inverse() -> &'static Kept<dyn ComplexToReal<$t>> {
                static INVERSE: Kept<dyn ComplexToReal<$t>> = Kept::new();
                &INVERSE
            }
        }
    };
}

kept_plans_for!(f32);
kept_plans_for!(f64);

/// The forward real FFT of `len` points.
pub fn forward<T: Planned>(len: usize) -> Arc<dyn RealToComplex<T>> {
    T::kept_forward().get(len, || super::real_fft::forward(len))
}

/// The inverse real FFT of `len` points.
pub fn inverse<T: Planned>(len: usize) -> Arc<dyn ComplexToReal<T>> {
    T::kept_inverse().get(len, || super::real_fft::inverse(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    #[test]
    fn a_length_is_planned_once_and_matches_a_fresh_plan() {
        // Its own cache: tests running beside it plan other lengths in the shared one, and six
        // of them between the two calls would evict the plan.
        let kept = Kept::<dyn RealToComplex<f64>>::new();
        let plan = || kept.get(4096, || RealFftPlanner::new().plan_fft_forward(4096));
        assert!(Arc::ptr_eq(&plan(), &plan()));
        let first = forward(4096);
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

    #[test]
    fn the_cache_keeps_a_bounded_number_of_short_lengths() {
        let kept = Kept::<dyn ComplexToReal<f64>>::new();
        let plan = |n: usize| kept.get(n, || RealFftPlanner::new().plan_fft_inverse(n));
        let first = plan(6);
        for n in 1..=KEPT {
            plan(6 + 4 * n);
        }
        assert_eq!(kept.plans.lock().unwrap().len(), KEPT);
        assert!(
            !Arc::ptr_eq(&first, &plan(6)),
            "the oldest length was forgotten"
        );
        let long = 2 * MAX_KEPT_LEN;
        assert!(
            !Arc::ptr_eq(&plan(long), &plan(long)),
            "long lengths are not kept"
        );
    }
}
