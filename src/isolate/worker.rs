//! The worker side: `sonovec worker` reads [`Request`]s on stdin, analyses each with its own
//! [`Analyzer`] and answers a [`Reply`] on stdout, until stdin closes.
//!
//! Limits are the kernel's, so they hold whatever the analysis does: `RLIMIT_AS` caps the
//! address space (an allocation over it fails and the process aborts), `RLIMIT_CPU` is moved to
//! "CPU used so far + budget" before each job (over it the kernel sends `SIGXCPU`, which ends
//! the process), and `RLIMIT_CORE` is 0 so a crash leaves no core file behind.

use std::io::{self, BufReader, BufWriter};
use std::time::Instant;

use super::protocol::{read_frame, write_frame, Reply, Request};
use crate::analyzer::release_freed_memory;
use crate::Analyzer;

/// Serves jobs until the parent closes stdin. `memory_limit` is the address-space limit in bytes.
pub fn run(analyzer: &Analyzer, memory_limit: Option<u64>) -> io::Result<()> {
    // A worker outlives no parent: without this, a spinning one would run on after a SIGKILL.
    // SAFETY: prctl with an integer argument only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    set_limit(libc::RLIMIT_CORE, 0)?;
    if let Some(bytes) = memory_limit {
        set_limit(libc::RLIMIT_AS, bytes)?;
    }
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = BufWriter::new(io::stdout().lock());
    while let Some(request) = read_frame::<Request>(&mut input)? {
        set_cpu_budget(request.cpu_budget_s)?;
        test_hooks::run(&request.path);
        // One analysis at a time here: the parent knows how many run at once.
        analyzer.occupancy().tell(request.core_to_spare);
        let started = Instant::now();
        let track = match request.id {
            Some(id) => analyzer.analyze_file_with_id(&request.path, id),
            None => analyzer.analyze_path(&request.path),
        };
        let reply = Reply {
            record: track.record,
            total_s: started.elapsed().as_secs_f64(),
        };
        write_frame(&mut output, &reply)?;
        release_freed_memory();
    }
    Ok(())
}

/// Sets the soft and hard limit of `resource` to `value` (never above the current hard limit).
fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let mut limit = current_limit(resource)?;
    let value = value.min(limit.rlim_max as u64) as libc::rlim_t;
    limit.rlim_cur = value;
    limit.rlim_max = value;
    // SAFETY: a plain system call on a valid, initialised struct.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn current_limit(resource: libc::__rlimit_resource_t) -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

/// CPU seconds (user + system, every thread) this process has used so far.
pub fn cpu_seconds_used() -> f64 {
    // SAFETY: getrusage fills the struct we own; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Moves the soft CPU limit to what this job may reach: the seconds used so far plus `budget`
/// (the kernel counts whole seconds, so the budget is rounded up), or no limit.
fn set_cpu_budget(budget: Option<f64>) -> io::Result<()> {
    let mut limit = current_limit(libc::RLIMIT_CPU)?;
    limit.rlim_cur = match budget {
        Some(budget) => ((cpu_seconds_used() + budget).ceil() as libc::rlim_t).min(limit.rlim_max),
        None => limit.rlim_max,
    };
    // SAFETY: as in `set_limit`; the soft limit stays at or below the hard one.
    if unsafe { libc::setrlimit(libc::RLIMIT_CPU, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Real crashes on demand, for the isolation tests only: compiled in only with the `test-hooks`
/// feature (which `cargo test` turns on through the crate's dev-dependency on itself, and a
/// release build never has), and even then only when `SONOVEC_TEST_HOOKS=1` is set. The file's
/// first bytes say what to do: `SONOVEC-TEST-ABORT`, `-OVERFLOW` (recursion until the stack
/// guard page), `-ALLOCATE` (touch memory until the address-space limit), `-SPIN` (burn CPU).
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use std::io::Read;
    use std::path::Path;

    pub fn run(path: &Path) {
        if std::env::var_os("SONOVEC_TEST_HOOKS").is_none_or(|v| v != "1") {
            return;
        }
        let mut head = [0u8; 24];
        let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
            return;
        };
        let head = &head[..n];
        if head.starts_with(b"SONOVEC-TEST-ABORT") {
            std::process::abort();
        } else if head.starts_with(b"SONOVEC-TEST-OVERFLOW") {
            std::hint::black_box(recurse(0));
        } else if head.starts_with(b"SONOVEC-TEST-ALLOCATE") {
            // Zeroed allocations are fresh mappings the hook never touches: the address-space
            // limit stops it as soon as with written pages, without the CPU time of faulting
            // 1 GiB in, which on a loaded machine could reach the CPU budget first.
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0u8; 64 << 20]);
                std::hint::black_box(&hoard);
            }
        } else if head.starts_with(b"SONOVEC-TEST-SPIN") {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }

    #[allow(unconditional_recursion)]
    fn recurse(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth; 512]);
        recurse(depth + 1).wrapping_add(frame[(depth % 512) as usize])
    }
}

#[cfg(not(feature = "test-hooks"))]
mod test_hooks {
    pub fn run(_: &std::path::Path) {}
}
