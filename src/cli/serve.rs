//! `sonovec serve --catalog DB [--addr 127.0.0.1:7878]`: the upload service (see
//! `sonovec::serve` and README, "sonovec serve").

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sonovec::isolate::DEFAULT_CPU_BUDGET_S;
use sonovec::serve::ServeConfig;
use sonovec::Config;

use super::{count_up_to, Isolation, Outcome, MAX_WORKERS};

/// The most uploads that may wait for a worker: each holds a spooled file and a slot of the
/// analysis queue, which is allocated whole when the server starts.
const MAX_QUEUE: u64 = 100_000;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalog the uploads are stored in (SQLite; created if missing).
    #[arg(long, value_name = "DB")]
    catalog: PathBuf,

    /// Address to listen on. Loopback by default; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Analysis threads (default: one per core, or -j; at most 1024).
    #[arg(long, value_name = "N", value_parser = count_up_to(MAX_WORKERS))]
    workers: Option<usize>,

    /// Uploads that may wait for a free worker before new ones are answered 503 (default:
    /// 4 per worker; at most 100000).
    #[arg(long, value_name = "N", value_parser = count_up_to(MAX_QUEUE))]
    queue: Option<usize>,

    /// Largest accepted upload in bytes (larger ones are answered 413).
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    max_upload_bytes: u64,

    /// Seconds one analysis may take before its request is answered 422 (the upload is then
    /// recorded as a failure).
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS", value_parser = super::parse_seconds)]
    timeout: f64,

    /// Folder for upload spool files (default: the system temporary folder).
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Require `Authorization: Bearer TOKEN` on uploads, TOKEN being this file's first line.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

/// Runs the server until SIGTERM or SIGINT; returns success once every accepted upload is stored.
pub fn run(
    args: Args,
    config: Config,
    jobs: Option<usize>,
    isolation: &Isolation,
) -> io::Result<Outcome> {
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            let token = text.lines().next().unwrap_or("").trim().to_string();
            if token.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: the token file is empty", path.display()),
                ));
            }
            Some(token)
        }
        None => None,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.workers.or(jobs).unwrap_or(cores).max(1);
    // The request is answered at --timeout; the worker is killed a moment later, so the answer
    // and the recorded failure agree.
    let wall_timeout = Duration::from_secs_f64(args.timeout) + Duration::from_secs(2);
    let engine = isolation.engine(config, Some(DEFAULT_CPU_BUDGET_S), Some(wall_timeout))?;
    let serve_config = ServeConfig {
        catalog: args.catalog,
        addr: args.addr,
        workers,
        queue: args.queue.unwrap_or(4 * workers),
        max_upload_bytes: args.max_upload_bytes,
        analysis_timeout: Duration::from_secs_f64(args.timeout),
        spool_dir: args.spool_dir.unwrap_or_else(std::env::temp_dir),
        token,
    };
    sonovec::serve::run(serve_config, engine)?;
    Ok(Outcome::Success)
}
