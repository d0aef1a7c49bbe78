//! The analysis workers: a fixed set of OS threads fed by a bounded queue.
//!
//! Analysis is CPU-bound and may take seconds, so it never runs on the async threads (they would
//! stall every other connection). Each job carries the spooled file and a one-shot channel for its
//! answer; the worker analyses it, stores it in the catalog and answers. A job whose request gave
//! up (timeout) is stored as a failure instead, so the catalog agrees with what the client heard.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tempfile::TempPath;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::catalog::Catalog;
use crate::error::{AnalysisError, ErrorKind};
use crate::isolate::Engine;
use crate::record::Record;

use super::metrics::Metrics;

/// Where a job stands; decided once by a compare-and-swap between the worker and the request.
const PENDING: u8 = 0;
/// The worker took the result and will answer.
const CLAIMED: u8 = 1;
/// The request timed out first: the worker stores a failure.
const ABANDONED: u8 = 2;

/// Shared fate of one job.
#[derive(Default)]
pub struct Ticket(AtomicU8);

impl Ticket {
    /// Called by the request on timeout. False if the worker already claimed the result (the
    /// answer is then imminent and the request should keep waiting for it).
    pub fn abandon(&self) -> bool {
        self.0
            .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn claim(&self) -> bool {
        self.0
            .compare_exchange(PENDING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// One upload to analyse.
pub struct Job {
    /// The spooled upload; deleted when the job is dropped.
    pub file: TempPath,
    /// Content id computed while spooling.
    pub id: String,
    /// What the record's `path` says: the client's external id, or `upload:<content id>`.
    pub label: String,
    pub ticket: Arc<Ticket>,
    /// The upload's place in the server's admission, given back when its analysis is stored,
    /// even if the request gave up first, so that no more uploads are admitted than the
    /// workers and the queue hold. Before `reply`, so that a job dropped unanswered (a panic
    /// while storing) gives it back before the request sees the channel close.
    pub admission: Option<OwnedSemaphorePermit>,
    pub reply: oneshot::Sender<Outcome>,
    /// Per-request analysis limit, for the message of an abandoned job.
    pub timeout_s: f64,
}

/// What the worker did with a job.
pub enum Outcome {
    /// Analysed and stored; `created` is false when the content was already in the catalog.
    Stored { record: Box<Record>, created: bool },
    /// Analysed as bad input (or failed); the failure was recorded in the catalog.
    Failed(Box<Record>),
    /// The catalog could not be written: the server's fault.
    StoreError(String),
}

/// The workers and the sending end of their queue.
pub struct Pool {
    sender: Mutex<Option<SyncSender<Job>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// Catalog writes go through one connection so "did this content exist before" and the write are
/// one atomic step for this process (the same upload posted twice at once gets one 201).
pub type SharedCatalog = Arc<Mutex<Catalog>>;

impl Pool {
    /// Starts `workers` threads sharing `engine`, fed by a queue with room for `capacity` jobs.
    ///
    /// The server passes what its admission lets in at once (`workers + queue`), so a job that
    /// was admitted is never refused here. A queue sized `--queue` alone made `--queue 0` a
    /// rendezvous channel, which hands a job over only to a worker already waiting in `recv`: an
    /// upload that came while the one worker was between two jobs (or not yet started) was
    /// answered 503 on an idle server.
    pub fn start(
        workers: usize,
        capacity: usize,
        engine: Arc<Engine>,
        catalog: SharedCatalog,
        metrics: Arc<Metrics>,
    ) -> Pool {
        let (sender, receiver) = sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..workers.max(1))
            .map(|n| {
                let receiver = Arc::clone(&receiver);
                let engine = Arc::clone(&engine);
                let catalog = Arc::clone(&catalog);
                let metrics = Arc::clone(&metrics);
                std::thread::Builder::new()
                    .name(format!("sonovec-analysis-{n}"))
                    .spawn(move || loop {
                        let job = match receiver.lock().map(|r| r.recv()) {
                            Ok(Ok(job)) => job,
                            _ => return, // queue closed: shutting down
                        };
                        metrics.queue_depth.dec();
                        // The analysis catches its own panics; this guards the rest (storing),
                        // so one bad job can never take a worker away from the pool. The job's
                        // reply channel is dropped and its request answered 500.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_job(job, &engine, &catalog, &metrics)
                        }));
                    })
                    .expect("spawn an analysis thread")
            })
            .collect();
        Pool {
            sender: Mutex::new(Some(sender)),
            workers: Mutex::new(workers),
        }
    }

    /// Queues `job`, or hands it back when the queue is full (the caller answers 503).
    pub fn submit(&self, job: Job, metrics: &Metrics) -> Result<(), Job> {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(sender) = sender else {
            return Err(job); // shutting down
        };
        metrics.queue_depth.inc();
        match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                metrics.queue_depth.dec();
                Err(job)
            }
        }
    }

    /// Closes the queue and waits until every queued job has been analysed and stored.
    pub fn finish(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn run_job(job: Job, engine: &Engine, catalog: &SharedCatalog, metrics: &Metrics) {
    let started = Instant::now();
    let mut track = engine.analyze_file_with_id(&job.file, job.id.clone());
    metrics
        .analysis_seconds
        .observe(started.elapsed().as_secs_f64());
    drop(job.file);
    track.record.path = job.label;
    let mut record = track.record;
    if !job.ticket.claim() {
        record.fail(AnalysisError::new(
            ErrorKind::TooLong,
            format!(
                "the analysis took longer than the server's limit of {} s",
                job.timeout_s
            ),
        ));
    }
    let outcome = store(catalog, record);
    // Given back before the answer, so that a client that sends its next upload as soon as it
    // has this one's answer finds room.
    drop(job.admission);
    // The request may have gone (timeout, client hung up): nobody to tell.
    let _ = job.reply.send(outcome);
}

fn store(catalog: &SharedCatalog, record: Record) -> Outcome {
    let mut catalog = match catalog.lock() {
        Ok(catalog) => catalog,
        Err(poisoned) => poisoned.into_inner(),
    };
    // Created means new for this vector version: the same content stored with another model
    // gets a row of its own.
    let existed = match record.id.as_deref().filter(|_| record.is_ok()) {
        Some(id) => {
            match catalog.has_track_with(id, record.vector_version.as_deref().unwrap_or("")) {
                Ok(found) => found,
                Err(e) => return Outcome::StoreError(e.to_string()),
            }
        }
        None => false,
    };
    if let Err(e) = catalog.store(&record) {
        return Outcome::StoreError(e.to_string());
    }
    if record.is_ok() {
        Outcome::Stored {
            record: Box::new(record),
            created: !existed,
        }
    } else {
        Outcome::Failed(Box::new(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzer::{Analyzer, Config};
    use crate::serve::ServeConfig;

    /// A copy of a WAV fixture, deleted with its `TempPath`, as the spool leaves an upload.
    fn spooled_copy(dir: &std::path::Path) -> TempPath {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats/wav_s16_11025_2ch.wav");
        let path = tempfile::Builder::new()
            .suffix(".wav")
            .tempfile_in(dir)
            .unwrap()
            .into_temp_path();
        std::fs::copy(fixture, &path).unwrap();
        path
    }

    /// A folder for the catalog and spooled files, an in-process engine without the embedding,
    /// the catalog, and metrics.
    fn setup() -> (tempfile::TempDir, Engine, SharedCatalog, Arc<Metrics>) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::in_process(Analyzer::new(Config {
            embedding: None,
            ..Config::default()
        }));
        let catalog = Arc::new(Mutex::new(Catalog::open(&dir.path().join("c.db")).unwrap()));
        (dir, engine, catalog, Arc::new(Metrics::new()))
    }

    #[test]
    fn with_one_worker_and_no_queue_an_admitted_job_is_never_refused() {
        let (dir, engine, catalog, metrics) = setup();
        // Written before the start, so that nothing slow comes between two submissions.
        let files: Vec<TempPath> = (0..3).map(|_| spooled_copy(dir.path())).collect();
        let config = ServeConfig {
            catalog: dir.path().join("c.db"),
            addr: ([127, 0, 0, 1], 0).into(),
            workers: 1,
            queue: 0,
            max_upload_bytes: 1 << 20,
            analysis_timeout: std::time::Duration::from_secs(60),
            spool_dir: dir.path().to_path_buf(),
            token: None,
        };
        let pool = Pool::start(
            config.workers,
            config.admitted(),
            Arc::new(engine),
            catalog,
            Arc::clone(&metrics),
        );
        // Admitted one at a time, as the server's single permit admits them: the first right
        // after the start (the worker may not be waiting yet), the next right after the answer
        // (the worker may not be waiting again yet). None may be refused.
        for (n, file) in files.into_iter().enumerate() {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                file,
                id: format!("id{n}"),
                label: format!("upload:{n}"),
                ticket: Arc::new(Ticket::default()),
                admission: None,
                reply,
                timeout_s: 60.0,
            };
            assert!(pool.submit(job, &metrics).is_ok(), "job {n} refused");
            match answer.blocking_recv() {
                Ok(Outcome::Stored { created, .. }) => assert!(created),
                Ok(Outcome::Failed(record)) => panic!("failed: {:?}", record.error),
                Ok(Outcome::StoreError(e)) => panic!("not stored: {e}"),
                Err(_) => panic!("no answer"),
            }
        }
        pool.finish();
    }

    /// A job whose request timed out keeps its upload's admission until its analysis is
    /// stored: the server admits no more uploads than its workers and queue hold.
    #[test]
    fn an_abandoned_job_keeps_its_admission_until_it_is_stored() {
        let (dir, engine, catalog, metrics) = setup();
        let admission = Arc::new(tokio::sync::Semaphore::new(1));
        let pool = Pool::start(
            1,
            1,
            Arc::new(engine),
            Arc::clone(&catalog),
            Arc::clone(&metrics),
        );
        let (reply, answer) = oneshot::channel();
        let ticket = Arc::new(Ticket::default());
        // The request gave up before the worker took the job.
        assert!(ticket.abandon());
        let file = spooled_copy(dir.path());
        let spooled = file.to_path_buf();
        let job = Job {
            file,
            id: "id".into(),
            label: "upload:id".into(),
            ticket,
            admission: Some(Arc::clone(&admission).try_acquire_owned().unwrap()),
            reply,
            timeout_s: 0.001,
        };
        // Storing waits for the catalog, held here. The worker deletes the spooled file once
        // it has analysed it: from then on it is storing, or waiting to.
        let held = catalog.lock().unwrap();
        assert!(pool.submit(job, &metrics).is_ok());
        while spooled.exists() {
            std::thread::yield_now();
        }
        assert_eq!(admission.available_permits(), 0, "analysed, not stored");
        drop(held);
        match answer.blocking_recv() {
            Ok(Outcome::Failed(record)) => {
                assert_eq!(record.error.map(|e| e.kind), Some(ErrorKind::TooLong));
            }
            _ => panic!("not stored as too long"),
        }
        assert_eq!(admission.available_permits(), 1, "once stored");
        pool.finish();
    }
}
