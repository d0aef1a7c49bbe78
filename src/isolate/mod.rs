//! Isolation of untrusted input: each track analysed in a worker process with kernel limits.
//!
//! `catch_unwind` turns a panic into an error record, but an abort, a stack overflow or memory
//! exhaustion ends the whole process, and with it a server and every upload it holds. So
//! `serve`, `watch` and `extract` hand each file to a worker process, the same binary run as the
//! hidden `sonovec worker` subcommand, as browsers and media services decode untrusted media:
//!
//! - the worker limits itself before its first job: address space (`RLIMIT_AS`,
//!   [`Limits::memory_bytes`]) and no core files; before each job it moves its CPU-time limit
//!   (`RLIMIT_CPU`) to the seconds used so far plus [`Limits::cpu_budget_s`];
//! - the parent kills a worker still busy after [`Limits::wall_timeout`];
//! - the parent and a worker speak length-prefixed JSON frames over the worker's stdin and stdout
//!   ([`protocol`]); the worker opens the file itself, so no audio crosses the pipe;
//! - a worker that dies is reaped and its job gets an error record: `over_budget` for the CPU
//!   limit (`SIGXCPU`), `too_long` for the wall-clock limit, `worker_crashed` for anything else
//!   (the message names the signal, and says when it ran out of memory or stack); the next job
//!   starts a new worker.
//!
//! A worker analyses one track at a time and lives for many, so the cost of isolation is one
//! process start and model load per concurrent caller, plus a few KB of JSON per track.

pub mod pool;
pub mod protocol;
pub mod worker;

use std::path::Path;
use std::time::Duration;

pub use pool::{WorkerCommand, WorkerPool};

use crate::analyzer::{Analyzer, Occupancy, Track};

/// What one track may cost a worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Address-space limit of each worker process, in bytes (`RLIMIT_AS`).
    pub memory_bytes: Option<u64>,
    /// CPU seconds (user + system, all threads) one analysis may use (`RLIMIT_CPU`, rounded up
    /// to whole seconds by the kernel).
    pub cpu_budget_s: Option<f64>,
    /// Wall-clock seconds after which a busy worker is killed.
    pub wall_timeout: Option<Duration>,
}

/// Default address-space limit of a worker: 4 GiB. Virtual, not resident: it counts the mapped
/// binary and model (about 0.1 GB), a reserved arena per thread and every stack, so it sits well
/// above the resident peak of a six-hour track (under 0.5 GB) while stopping a runaway
/// allocation long before it could hurt the machine.
pub const DEFAULT_WORKER_MEMORY_BYTES: u64 = 4 << 30;

/// Default CPU-time budget of one track in `serve` and `watch`: 300 s, about three times what
/// a six-hour track of real music costs with the embedding on.
pub const DEFAULT_CPU_BUDGET_S: f64 = 300.0;

/// Where tracks are analysed: in this process, or each in a worker process.
pub struct Engine {
    analyzer: Analyzer,
    workers: Option<WorkerPool>,
}

impl Engine {
    /// Analysis in the calling process (a crash ends the process).
    pub fn in_process(analyzer: Analyzer) -> Engine {
        Engine {
            analyzer,
            workers: None,
        }
    }

    /// Analysis in worker processes; `analyzer` (with the same configuration as the workers')
    /// stays available for what needs no input (the vector layout).
    pub fn isolated(analyzer: Analyzer, workers: WorkerPool) -> Engine {
        Engine {
            analyzer,
            workers: Some(workers),
        }
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The analyses running and those the caller said are to come (see [`Occupancy::expect`]),
    /// in the pool of workers or in the analyzer, whichever analyses.
    pub fn occupancy(&self) -> &Occupancy {
        match &self.workers {
            Some(workers) => workers.occupancy(),
            None => self.analyzer.occupancy(),
        }
    }

    pub fn is_isolated(&self) -> bool {
        self.workers.is_some()
    }

    /// Analyses the file at `path` whose content id the caller computed. Never panics.
    pub fn analyze_file_with_id(&self, path: &Path, id: String) -> Track {
        self.analyze_file(path, Some(id))
    }

    /// Analyses the file at `path`, reading it once: its content id (the record's `id`) is
    /// hashed from the bytes the decoder reads, as [`Analyzer::analyze_path`] does. The id is
    /// `None` only if the file cannot be read. Never panics.
    pub fn analyze_path(&self, path: &Path) -> Track {
        self.analyze_file(path, None)
    }

    fn analyze_file(&self, path: &Path, id: Option<String>) -> Track {
        match (&self.workers, id) {
            (Some(workers), id) => workers.analyze_file(path, id),
            (None, Some(id)) => self.analyzer.analyze_file_with_id(path, id),
            (None, None) => self.analyzer.analyze_path(path),
        }
    }
}
