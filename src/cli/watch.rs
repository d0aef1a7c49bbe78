//! `sonovec watch DIR --catalog DB`: analyse each audio file dropped into a folder, once.
//!
//! File-system events (notify, debounced) only say *which* files to look at; a file is analysed
//! when its size and modification time have not changed for `--settle` seconds, so a copy still
//! in progress is never read half-written. On start, every audio file already in the folder is
//! looked at the same way (catch-up). Content already in the catalog, as a track or a recorded
//! failure of the input itself, is not analysed again (an `internal` failure is retried). The
//! user's files are only ever read.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult};
use rayon::prelude::*;

use sonovec::catalog::Catalog;
use sonovec::isolate::{Engine, DEFAULT_CPU_BUDGET_S};
use sonovec::{content_id_of_file, Config};

use super::walk::{audio_files, has_audio_extension};
use super::{Isolation, Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The drop folder (watched recursively).
    dir: PathArg,

    /// The catalog the tracks and failures are stored in (SQLite; created if missing).
    #[arg(long, value_name = "DB")]
    catalog: PathArg,

    /// Seconds a file's size and modification time must stay unchanged before it is analysed.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS", value_parser = super::parse_seconds)]
    settle: f64,
}

/// How often pending files are looked at.
const TICK: Duration = Duration::from_millis(200);
/// notify's own debounce: bursts of events for one file become one.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What a pending file looked like when last seen, and since when.
struct Observation {
    size: u64,
    modified: Option<SystemTime>,
    since: Instant,
}

/// Watches until SIGINT or SIGTERM, then returns success. Prints one line per file handled:
/// `stored ID PATH`, `known ID PATH` (content already catalogued) or `failed PATH: ERROR`.
pub fn run(args: Args, config: Config, isolation: &Isolation) -> io::Result<Outcome> {
    if !args.dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a folder", args.dir.display()),
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(io::Error::other)?;

    // notify reports events under the absolute path of what it watches; the catch-up must list
    // the folder by the same path, or a file seen both ways is handled (and printed) twice.
    let dir = std::path::absolute(&args.dir)?;
    let mut catalog = Catalog::open(&args.catalog)?;
    // A worker that makes no progress for four budgets (blocked, not computing) is killed too.
    let budget = isolation.cpu_budget_s().unwrap_or(DEFAULT_CPU_BUDGET_S);
    let engine = isolation.engine(
        config,
        Some(DEFAULT_CPU_BUDGET_S),
        Some(Duration::from_secs_f64(4.0 * budget)),
    )?;

    // Watch first, then list: a file arriving during the catch-up is seen either way.
    let (events, received) = channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, events).map_err(io::Error::other)?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(io::Error::other)?;
    eprintln!("sonovec: watching {}", args.dir.display());

    let settle = Duration::from_secs_f64(args.settle);
    let mut pending: HashMap<PathBuf, Option<Observation>> = HashMap::new();
    let (existing, _) = audio_files(std::slice::from_ref(&dir));
    pending.extend(existing.into_iter().map(|p| (p, None)));
    // Path → content id last handled there, so an unchanged file touched again costs one hash.
    let mut handled: HashMap<PathBuf, String> = HashMap::new();

    while !stop.load(Ordering::SeqCst) {
        match received.recv_timeout(TICK) {
            Ok(Ok(batch)) => {
                for event in batch {
                    if is_candidate(&event.path) {
                        pending.entry(event.path).or_insert(None);
                    }
                }
            }
            Ok(Err(e)) => eprintln!("sonovec: watch: {e}"),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let ready = settled(&mut pending, settle);
        if !ready.is_empty() {
            handle(&ready, &engine, &mut catalog, &mut handled)?;
        }
    }
    drop(debouncer);
    eprintln!("sonovec: stopped watching");
    Ok(Outcome::Success)
}

/// Audio by extension, not hidden (editors and rsync write `.name.tmp` files first).
fn is_candidate(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'));
    !hidden && has_audio_extension(path)
}

/// Removes from `pending` and returns the files unchanged for `settle`; forgets vanished ones.
fn settled(pending: &mut HashMap<PathBuf, Option<Observation>>, settle: Duration) -> Vec<PathBuf> {
    let now = Instant::now();
    let mut ready = Vec::new();
    pending.retain(|path, seen| {
        let Ok(meta) = std::fs::metadata(path) else {
            return false; // gone (moved away or deleted by its owner)
        };
        if !meta.is_file() {
            return false;
        }
        let (size, modified) = (meta.len(), meta.modified().ok());
        match seen {
            Some(obs) if obs.size == size && obs.modified == modified => {
                if now.duration_since(obs.since) >= settle {
                    ready.push(path.clone());
                    return false;
                }
            }
            _ => {
                *seen = Some(Observation {
                    size,
                    modified,
                    since: now,
                })
            }
        }
        true
    });
    ready.sort();
    ready
}

/// Analyses the settled files not yet catalogued (in parallel) and stores each record.
fn handle(
    ready: &[PathBuf],
    engine: &Engine,
    catalog: &mut Catalog,
    handled: &mut HashMap<PathBuf, String>,
) -> io::Result<()> {
    let mut todo = Vec::new();
    for path in ready {
        let id = match content_id_of_file(path) {
            Ok(id) => id,
            Err(e) => {
                // Vanished or unreadable between the check and now: nothing to record yet.
                eprintln!("sonovec: {}: {e}", path.display());
                continue;
            }
        };
        if handled.get(path) == Some(&id) {
            continue;
        }
        handled.insert(path.clone(), id.clone());
        if catalog.has_track_with(&id, &engine.analyzer().vector_version())? {
            catalog.set_path(&id, &path.display().to_string())?;
            println!("known {id} {}", path.display());
        } else if catalog.has_final_failure(&id)? {
            println!("failed {}: (recorded before)", path.display());
        } else {
            todo.push((path.clone(), id));
        }
    }
    let tracks: Vec<_> = todo
        .into_par_iter()
        .map(|(path, id)| engine.analyze_file_with_id(&path, id))
        .collect();
    for track in tracks {
        let record = track.record;
        catalog.store(&record)?;
        match &record.error {
            None => println!("stored {} {}", record.key(), record.path),
            Some(error) => println!("failed {}: {error}", record.path),
        }
    }
    Ok(())
}
