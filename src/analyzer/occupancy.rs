//! How many analyses run and how many a caller said are still to come: whether a core is free
//! for a second decoding thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Occupancy {
    running: AtomicUsize,
    to_come: AtomicUsize,
    /// The answer, when the caller knows it better ([`Self::tell`]).
    told: Mutex<Option<bool>>,
}

impl Occupancy {
    /// Says that `tracks` more analyses are to come (a folder's files, a batch), so that none
    /// takes a second decoding thread while others are still to start: it would only take a
    /// core from the next one. Each is marked by [`Self::started_one`]. Batches from callers on
    /// several threads add up.
    pub fn expect(&self, tracks: usize) {
        self.to_come.fetch_add(tracks, Ordering::Relaxed);
    }

    /// One of the tracks expected is starting (or was skipped).
    pub fn started_one(&self) {
        let _ = self
            .to_come
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Runs `analysis`, counted as running.
    pub fn run<T>(&self, analysis: impl FnOnce() -> T) -> T {
        self.running.fetch_add(1, Ordering::Relaxed);
        let out = analysis();
        self.running.fetch_sub(1, Ordering::Relaxed);
        out
    }

    /// Makes [`Self::core_to_spare`] answer `spare` from now on (`None`: judge again): a worker
    /// process, which runs one analysis at a time, is told by its parent.
    pub fn tell(&self, spare: Option<bool>) {
        *self.told.lock().unwrap_or_else(|e| e.into_inner()) = spare;
    }

    /// Whether the analyses running and to come leave a thread of the calling pool free, unless
    /// told otherwise.
    pub fn core_to_spare(&self) -> bool {
        let told = *self.told.lock().unwrap_or_else(|e| e.into_inner());
        told.unwrap_or_else(|| {
            let busy = self.running.load(Ordering::Relaxed) + self.to_come.load(Ordering::Relaxed);
            busy < rayon::current_num_threads()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core is spare for one track in a pool of two, not while a folder's other tracks are
    /// still to start, nor while two run.
    #[test]
    fn a_core_is_spare_only_when_no_other_track_waits_for_it() {
        let occupancy = Occupancy::default();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // Whether a track starting now may take a second decoding thread.
        let spare = || occupancy.run(|| occupancy.core_to_spare());
        pool.install(|| {
            assert!(spare(), "one track");
            occupancy.expect(3);
            occupancy.started_one();
            assert!(!spare(), "two still to start");
            occupancy.started_one();
            assert!(!spare(), "one still to start");
            occupancy.started_one();
            occupancy.started_one();
            assert!(spare(), "the last track");
            let two_running = occupancy.run(spare);
            assert!(!two_running, "two running");
            // Two callers' batches of one each: the first to start leaves the other to come.
            occupancy.expect(1);
            occupancy.expect(1);
            occupancy.started_one();
            assert!(!spare(), "another caller's track still to start");
            occupancy.started_one();
            assert!(spare(), "both started");
            occupancy.tell(Some(false));
            assert!(!spare(), "told none");
        });
    }
}
