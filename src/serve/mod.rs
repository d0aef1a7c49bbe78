//! `sonovec serve`: an HTTP service that analyses uploads into the catalog.
//!
//! The async threads (tokio) only move bytes: each upload is spooled to a temporary file, queued
//! for a fixed pool of analysis threads (see `pool`) and answered when its record is stored.
//! Admission is bounded twice: a request that finds every worker busy and the queue full is
//! answered `503` with `Retry-After` before its body is read, so memory and disk stay bounded
//! under any load.

mod metrics;
mod pool;
mod routes;
mod spool;
mod upload;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::catalog::Catalog;
use crate::isolate::Engine;

pub use metrics::Metrics;

/// Settings of the server.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub catalog: PathBuf,
    pub addr: SocketAddr,
    /// Analysis threads (one per core by default), each handing its uploads to a worker
    /// process when the engine is isolated (see [`crate::isolate`]).
    pub workers: usize,
    /// Uploads that may wait for a worker; one more is answered 503.
    pub queue: usize,
    /// Largest upload in bytes; a larger one is answered 413.
    pub max_upload_bytes: u64,
    /// Longest wait for one analysis before the request is answered 422 (and the upload is
    /// recorded as a failure).
    pub analysis_timeout: Duration,
    /// Folder for the spool files.
    pub spool_dir: PathBuf,
    /// Bearer token required on writes, if any.
    pub token: Option<String>,
}

impl ServeConfig {
    /// Uploads admitted at once (spooling, waiting or analysing): one per worker plus the queue.
    /// Both the admission and the analysis queue are this size, so an admitted upload always
    /// finds room in the queue.
    fn admitted(&self) -> usize {
        self.workers.max(1).saturating_add(self.queue)
    }
}

/// What every handler shares.
pub(crate) struct App {
    pub config: ServeConfig,
    pub pool: pool::Pool,
    /// Writes (workers) and reads (GET handlers) of the catalog share one connection; reads are
    /// short (one row, or one scan for `similar`).
    pub catalog: pool::SharedCatalog,
    pub metrics: Arc<Metrics>,
    /// One permit per upload admitted (spooling, waiting or analysing): workers + queue.
    pub admission: Arc<Semaphore>,
    /// The analyzer's `vector_version`: a catalogued track of another version is analysed again.
    pub vector_version: String,
}

/// Binds `config.addr`, prints `listening on http://ADDR` on standard output (tests and scripts
/// read the port from it), serves until SIGTERM or SIGINT, then stops accepting, lets every
/// admitted upload finish and be stored, and returns.
pub fn run(config: ServeConfig, engine: Engine) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The async side only moves bytes; the analysis threads are separate.
        .worker_threads(2)
        .thread_name("sonovec-http")
        .build()?;
    runtime.block_on(serve(config, engine))
}

async fn serve(config: ServeConfig, engine: Engine) -> io::Result<()> {
    std::fs::create_dir_all(&config.spool_dir)?;
    let catalog = Arc::new(Mutex::new(Catalog::open(&config.catalog)?));
    let metrics = Arc::new(Metrics::new());
    let vector_version = engine.analyzer().vector_version();
    let pool = pool::Pool::start(
        config.workers,
        config.admitted(),
        Arc::new(engine),
        Arc::clone(&catalog),
        Arc::clone(&metrics),
    );
    let listener = TcpListener::bind(config.addr).await?;
    let local = listener.local_addr()?;
    let shutdown = shutdown_signal()?;
    println!("listening on http://{local}");
    if !local.ip().is_loopback() && config.token.is_none() {
        eprintln!("sonovec: warning: listening on {local} without --token-file: anyone who can reach it may upload");
    }
    let admission = Arc::new(Semaphore::new(config.admitted()));
    let app = Arc::new(App {
        config,
        pool,
        catalog,
        metrics,
        admission,
        vector_version,
    });
    let router = routes::router(Arc::clone(&app));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    // Every connection has been answered, so every admitted job is done; close the queue and
    // join the workers so nothing is cut off mid-write.
    eprintln!("sonovec: shutting down");
    let finish = Arc::clone(&app);
    tokio::task::spawn_blocking(move || finish.pool.finish())
        .await
        .map_err(io::Error::other)?;
    Ok(())
}

/// Installs the SIGTERM and SIGINT handlers now and returns what resolves at the first of them.
///
/// Installed before the server says it is listening: a signal that comes any time after that
/// line (a supervisor stopping a server it just started) must stop it gracefully, where the
/// default action would kill it.
fn shutdown_signal() -> io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        eprintln!("sonovec: signal received: finishing the accepted uploads");
    })
}
