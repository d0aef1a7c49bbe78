//! A lower scheduling priority for the pipeline's thread that can afford to wait.
//!
//! On one long track the decoding thread bounds the pipeline (`sonovec -j 2 bench` on 954 s:
//! 0.79 of 1.61 CPU-s on FLAC, 0.98 of 1.76 on MP3 on an AVX-512 machine; 1.48 of 2.79 and 1.77
//! of 3.47 on an AVX2-only one), and with two cores its two followers sometimes both have work:
//! the scheduler then shares the two cores among three threads and the decoder loses a third of
//! its core for that while. The meter has the most slack (under a fifth of the decoder's work),
//! so it gives way: with a higher nice value the decoder and the back keep their cores and the
//! meter catches up from the batches that queue for it. The total work is the same and the
//! record is the same bit for bit; only who waits changes.

/// How far the meter thread's nice value is raised: weight 110 against 1024 for nice 0, so the
/// scheduler gives the other two threads nine tenths of a contended core.
pub const METER_NICE_INCREMENT: i32 = 10;

/// Raises the calling thread's nice value by `increment` (up to the maximum, 19). Best effort:
/// a failure leaves the priority as it was. Linux only, where the nice value belongs to a
/// thread; elsewhere it is a per-process setting and this does nothing.
pub fn lower_this_thread(increment: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on this thread's id; no memory is handed over.
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            if *libc::__errno_location() == 0 {
                libc::setpriority(libc::PRIO_PROCESS, tid, (now + increment).min(19));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = increment;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        // SAFETY: as above.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    /// Run at a nice value below 19, as CI does: a thread already at 19 cannot give way further,
    /// and the test could not tell.
    #[test]
    fn only_the_calling_thread_gives_way() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            let before = nice_of_this_thread();
            lower_this_thread(METER_NICE_INCREMENT);
            (before, nice_of_this_thread())
        })
        .join()
        .unwrap();
        assert_eq!(lowered.1, (lowered.0 + METER_NICE_INCREMENT).min(19));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the spawning thread keeps its priority"
        );
    }
}
