//! The parent side: a set of worker processes, each analysing one track at a time.
//!
//! A caller takes an idle worker (or starts one), sends it the job and blocks on the answer. A
//! worker that answers goes back to the idle set; one that dies is reaped, its death becomes the
//! job's error record, and the next job simply starts a new worker. A worker found dead before
//! it was given a job (it died idle) is replaced and the job sent again, once.

use std::ffi::OsString;
use std::io::{self, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::protocol::{read_frame, write_frame, Reply, Request};
use super::Limits;
use crate::analyzer::{content_id_of_file, Occupancy, StageTimings, Track};
use crate::error::{AnalysisError, ErrorKind};
use crate::record::Record;

/// How to start a worker: the program (this binary) and its arguments (global options, then the
/// hidden `worker` subcommand).
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// Bytes of a worker's standard error kept to explain its death.
const STDERR_TAIL: usize = 4096;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Worker {
    fn start(command: &WorkerCommand) -> io::Result<Worker> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            // Its own process group: a Ctrl-C at the terminal reaches the parent, which lets the
            // accepted work finish, and not the workers doing it.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err(io::Error::other("worker pipes missing")),
            };
        let stderr = std::thread::Builder::new()
            .name("sonovec-worker-stderr".into())
            .spawn(move || tail_of(stderr))?;
        Ok(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: Some(stderr),
        })
    }

    /// Kills the worker if it still runs, reaps it, and returns how it ended and the end of
    /// what it wrote on standard error.
    fn reap(mut self) -> (io::Result<ExitStatus>, String) {
        let _ = self.child.kill();
        let status = self.child.wait();
        let tail = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&tail).into_owned())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Idle workers end when their stdin closes; a stuck one is killed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe to its end, keeping the last [`STDERR_TAIL`] bytes.
fn tail_of(mut pipe: impl Read) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = pipe.read(&mut buf) {
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    tail
}

/// Kills a worker that is still busy when its wall-clock limit passes.
struct Watchdog {
    done: Option<Sender<()>>,
    fired: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    fn start(pid: u32, limit: Duration) -> Watchdog {
        let (done, wait) = channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        let thread = std::thread::Builder::new()
            .name("sonovec-watchdog".into())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                    flag.store(true, Ordering::SeqCst);
                    // SAFETY: a signal to our own child, not yet reaped (the pool reaps only
                    // after `stop`), so the pid cannot name another process.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
            })
            .ok();
        Watchdog {
            done: Some(done),
            fired,
            thread,
        }
    }

    /// Stops watching; true if the limit had passed and the worker was killed.
    fn stop(mut self) -> bool {
        self.done.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.fired.load(Ordering::SeqCst)
    }
}

/// Worker processes shared by any number of threads, each job in its own process.
pub struct WorkerPool {
    command: WorkerCommand,
    limits: Limits,
    idle: Mutex<Vec<Worker>>,
    /// Analyses running and to come.
    occupancy: Occupancy,
}

impl WorkerPool {
    /// A pool that starts workers with `command` on demand (one per concurrent caller).
    pub fn new(command: WorkerCommand, limits: Limits) -> WorkerPool {
        WorkerPool {
            command,
            limits,
            idle: Mutex::new(Vec::new()),
            occupancy: Occupancy::default(),
        }
    }

    /// The analyses running in this pool's workers and those its caller said are to come.
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Analyses the file at `path` in a worker: with its content id `id`, or, if `None`, with
    /// the id the worker hashes as it decodes. Never panics: a worker's death is this track's
    /// error record (its id then hashed here), and the pool carries on.
    pub fn analyze_file(&self, path: &Path, id: Option<String>) -> Track {
        self.occupancy
            .run(|| self.analyze_file_in_a_worker(path, id))
    }

    fn analyze_file_in_a_worker(&self, path: &Path, id: Option<String>) -> Track {
        let started = Instant::now();
        let request = Request {
            path: path.to_path_buf(),
            id: id.clone(),
            cpu_budget_s: self.limits.cpu_budget_s,
            // The threads of the pool that calls: `-j`.
            core_to_spare: Some(self.occupancy.core_to_spare()),
        };
        let fail = |error: AnalysisError| {
            let id = id.clone().or_else(|| content_id_of_file(path).ok());
            let mut record = Record::new(path.display().to_string(), id);
            record.fail(error);
            Track {
                record,
                timings: StageTimings {
                    total: started.elapsed(),
                    ..Default::default()
                },
            }
        };
        for _attempt in 0..2 {
            let mut worker = match self.take() {
                Ok(worker) => worker,
                Err(e) => {
                    return fail(AnalysisError::new(
                        ErrorKind::Internal,
                        format!("cannot start an analysis worker process: {e}"),
                    ))
                }
            };
            if write_frame(&mut worker.stdin, &request).is_err() {
                // It died while idle: not this track's doing. Try a fresh worker.
                drop(worker.reap());
                continue;
            }
            let watchdog = self
                .limits
                .wall_timeout
                .map(|limit| Watchdog::start(worker.child.id(), limit));
            let reply = read_frame::<Reply>(&mut worker.stdout);
            let timed_out = watchdog.is_some_and(Watchdog::stop);
            return match reply {
                Ok(Some(reply)) if !timed_out => {
                    self.give_back(worker);
                    Track {
                        record: reply.record,
                        timings: StageTimings {
                            total: Duration::from_secs_f64(reply.total_s.max(0.0)),
                            ..Default::default()
                        },
                    }
                }
                _ => {
                    let (status, stderr) = worker.reap();
                    fail(self.cause_of_death(status, &stderr, timed_out))
                }
            };
        }
        fail(AnalysisError::new(
            ErrorKind::Internal,
            "analysis worker processes die before taking a job",
        ))
    }

    fn take(&self) -> io::Result<Worker> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(worker) => Ok(worker),
            None => Worker::start(&self.command),
        }
    }

    fn give_back(&self, worker: Worker) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(worker);
    }

    /// The error record of a job whose worker died (or was killed) before answering.
    fn cause_of_death(
        &self,
        status: io::Result<ExitStatus>,
        stderr: &str,
        timed_out: bool,
    ) -> AnalysisError {
        if timed_out {
            let limit = self.limits.wall_timeout.unwrap_or_default().as_secs_f64();
            return AnalysisError::new(
                ErrorKind::TooLong,
                format!("the analysis took longer than the limit of {limit} s and was stopped"),
            );
        }
        let signal = status.as_ref().ok().and_then(|s| s.signal());
        if signal == Some(libc::SIGXCPU) {
            let budget = self.limits.cpu_budget_s.unwrap_or_default();
            return AnalysisError::new(
                ErrorKind::OverBudget,
                format!(
                    "the analysis used more than the CPU-time budget of {budget} s \
                     (--cpu-budget) and was stopped"
                ),
            );
        }
        let how = match (&status, signal) {
            (Err(e), _) => format!("could not be waited for ({e})"),
            (_, Some(sig)) => format!("was killed by signal {sig} ({})", signal_name(sig)),
            (Ok(status), None) => format!("exited with {status} without answering"),
        };
        let why = if stderr.contains("memory allocation of") {
            let limit = self
                .limits
                .memory_bytes
                .map_or("the machine's".to_string(), |b| format!("{} MiB", b >> 20));
            format!(": it needed more memory than the worker limit ({limit}, --worker-memory)")
        } else if stderr.contains("overflowed its stack") {
            ": stack overflow".to_string()
        } else if signal == Some(libc::SIGKILL) {
            ": killed from outside (the system's out-of-memory killer?)".to_string()
        } else {
            String::new()
        };
        let last_line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(" [{}]", l.trim()))
            .unwrap_or_default();
        AnalysisError::new(
            ErrorKind::WorkerCrashed,
            format!("the analysis process {how}{why}{last_line}"),
        )
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}
