//! `sonovec extract PATH… -o OUT`: analyse folders of audio into `tracks.jsonl`, `vectors.npy`
//! and `ids.txt`.

use std::collections::{HashMap, HashSet};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use sonovec::catalog::Catalog;
use sonovec::isolate::Engine;
use sonovec::output::{JsonlAppender, OutputDir};
use sonovec::projection::Projection;
use sonovec::{content_id_of_file, AnalysisError, Config, Record, Track};

use super::walk::audio_files;
use super::{load_projection, Isolation, Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio files or folders (walked recursively for audio extensions).
    #[arg(required = true)]
    paths: Vec<PathArg>,

    /// Output folder for tracks.jsonl, vectors.npy and ids.txt.
    #[arg(short, long, default_value = "out")]
    output: PathBuf,

    /// Analyse every file again, even those already in the output.
    #[arg(long)]
    force: bool,

    /// No progress bar, no per-file error lines; only the summary (and only on failure).
    #[arg(short, long)]
    quiet: bool,

    /// Also store every record in this catalog (SQLite; created if missing). Tracks already in
    /// it with this vector layout are not analysed again.
    #[arg(long, value_name = "DB")]
    catalog: Option<PathArg>,

    /// Add `cf_vector` to each record: the vector mapped by this projection (`fit-projection`).
    #[arg(long, value_name = "FILE")]
    projection: Option<PathArg>,
}

/// Counters shared by the workers.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    audio_ms: AtomicU64,
}

/// Analyses every file in parallel, appending each record as it finishes, then compacts the
/// output. A file that cannot be analysed gets an error record and the run goes on, even one
/// that crashes its worker process; only an output that cannot be written stops it.
pub fn run(args: Args, config: Config, isolation: &Isolation) -> io::Result<Outcome> {
    let started = Instant::now();
    let vector_version = config.vector_spec().version();
    let projection = load_projection(args.projection.as_deref(), &vector_version)?;
    let out = OutputDir::create(&args.output)?;
    let mut done = if args.force {
        HashSet::new()
    } else {
        out.completed_keys(&vector_version)?
    };
    let catalog = args.catalog.as_deref().map(Catalog::open).transpose()?;
    // Content the catalog already holds is not analysed again; what the output folder lacks of
    // it is copied from the catalog.
    let mut from_catalog: HashMap<String, String> = match (&catalog, args.force) {
        (Some(catalog), false) => catalog.completed(&vector_version)?,
        _ => HashMap::new(),
    };
    if catalog.is_some() {
        // Tracks of the output folder the catalog lacks are analysed again, to fill it.
        done.retain(|id| from_catalog.contains_key(id));
    }
    from_catalog.retain(|id, _| !done.contains(id));
    done.extend(from_catalog.keys().cloned());
    let copier = catalog.map(|catalog| {
        Mutex::new(CatalogCopier {
            catalog,
            vector_version: vector_version.clone(),
            pending: from_catalog,
        })
    });
    let appender = Mutex::new(out.appender()?);

    let (files, walk_problems) = audio_files(&args.paths);
    for (path, why) in &walk_problems {
        eprintln!("sonovec: {}: {why}", path.display());
    }
    let progress = progress_bar(files.len() as u64, args.quiet);
    let engine = isolation.engine(config, None, None)?;
    let tally = Tally::default();
    let read_once = done.is_empty();
    let claimed = Mutex::new(done);
    let write_failure: Mutex<Option<io::Error>> = Mutex::new(None);
    let stop = AtomicBool::new(false);

    engine.occupancy().expect(files.len());
    files.par_iter().for_each(|path| {
        engine.occupancy().started_one();
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let written = match analyze_unless_done(&engine, path, &claimed, read_once) {
            Work::Analysed(mut track) => {
                if let Some(projection) = &projection {
                    projection.apply_to(&mut track.record);
                }
                report(&track, &tally, &progress, args.quiet);
                let stored = match &copier {
                    Some(copier) => lock(copier).catalog.store(&track.record),
                    None => Ok(()),
                };
                stored.and_then(|()| append(&appender, &track.record))
            }
            Work::Skipped { id } => {
                tally.skipped.fetch_add(1, Ordering::Relaxed);
                match &copier {
                    Some(copier) => lock(copier).seen(&id, path, projection.as_ref(), &appender),
                    None => Ok(()),
                }
            }
        };
        if let Err(e) = written {
            stop.store(true, Ordering::Relaxed);
            write_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
        progress.inc(1);
    });
    progress.finish_and_clear();
    if let Some(e) = write_failure
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        let target = match &args.catalog {
            Some(db) => format!("{} or {}", out.tracks_path().display(), db.display()),
            None => out.tracks_path().display().to_string(),
        };
        eprintln!("sonovec: cannot write {target}: {e}");
        return Ok(Outcome::Io);
    }
    let finalized = out.finalize(&engine.analyzer().vector_layout())?;
    if finalized.unreadable_lines > 0 {
        eprintln!(
            "sonovec: dropped {} unreadable line(s) from {}",
            finalized.unreadable_lines,
            out.tracks_path().display()
        );
    }

    let failed = tally.failed.load(Ordering::Relaxed);
    if !args.quiet || failed > 0 {
        eprintln!(
            "sonovec: {}",
            summary(&tally, started.elapsed(), &args.output, finalized.vectors)
        );
    }
    Ok(if failed > 0 || !walk_problems.is_empty() {
        Outcome::BadInput
    } else {
        Outcome::Success
    })
}

/// What became of one file.
enum Work {
    Analysed(Box<Track>),
    /// Its content is already in the output or the catalog, or another file of this run has it.
    Skipped {
        id: String,
    },
}

/// Analyses `path` unless a run already has its content.
///
/// With `read_once` (nothing from an earlier run to skip), the file is read once: its content id
/// is hashed from the bytes the decoder reads, and the content is claimed when the analysis is
/// done; a copy of a file this run has already analysed is analysed in vain, but skipped all the
/// same. Otherwise the file is hashed first, so that what is done already is not decoded again.
fn analyze_unless_done(
    engine: &Engine,
    path: &Path,
    claimed: &Mutex<HashSet<String>>,
    read_once: bool,
) -> Work {
    let started = Instant::now();
    let claim = |id: &str| {
        claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string())
    };
    if read_once {
        let mut track = engine.analyze_path(path);
        track.timings.total = started.elapsed();
        return match &track.record.id {
            Some(id) if !claim(id) => Work::Skipped { id: id.clone() },
            _ => Work::Analysed(Box::new(track)),
        };
    }
    let id = match content_id_of_file(path) {
        Ok(id) => id,
        Err(e) => {
            let mut record = Record::new(path.display().to_string(), None);
            record.fail(AnalysisError::from_io(&e));
            return Work::Analysed(Box::new(Track {
                record,
                timings: Default::default(),
            }));
        }
    };
    if !claim(&id) {
        return Work::Skipped { id };
    }
    let mut track = engine.analyze_file_with_id(path, id);
    track.timings.total = started.elapsed();
    Work::Analysed(Box::new(track))
}

/// The catalog of a run, and the catalogued tracks the output folder does not have yet.
struct CatalogCopier {
    catalog: Catalog,
    /// The run's vector version: the only rows it reads.
    vector_version: String,
    /// Content id → path stored in the catalog (with this vector version).
    pending: HashMap<String, String>,
}

impl CatalogCopier {
    /// A file whose content was skipped: if the catalog's path for it no longer exists, the file
    /// moved and the catalog follows it; if the output folder lacks the track, its catalogued
    /// record is appended there.
    fn seen(
        &mut self,
        id: &str,
        path: &Path,
        projection: Option<&Projection>,
        appender: &Mutex<JsonlAppender>,
    ) -> io::Result<()> {
        let path = path.display().to_string();
        let Some(stored_path) = self.pending.remove(id) else {
            return self.follow_move(id, &path);
        };
        if stored_path != path && !Path::new(&stored_path).exists() {
            self.catalog.set_path(id, &path)?;
        }
        match self.catalog.record(id, &self.vector_version)? {
            Some(mut record) => {
                if let Some(projection) = projection {
                    projection.apply_to(&mut record);
                }
                append(appender, &record)
            }
            None => Ok(()),
        }
    }

    fn follow_move(&mut self, id: &str, path: &str) -> io::Result<()> {
        match self.catalog.record(id, &self.vector_version)? {
            Some(stored) if stored.path != path && !Path::new(&stored.path).exists() => {
                self.catalog.set_path(id, path)
            }
            _ => Ok(()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn append(appender: &Mutex<JsonlAppender>, record: &Record) -> io::Result<()> {
    appender
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .append(record)
}

fn report(track: &Track, tally: &Tally, progress: &ProgressBar, quiet: bool) {
    let record = &track.record;
    match &record.error {
        None => {
            tally.ok.fetch_add(1, Ordering::Relaxed);
            let ms = (record.duration_s.unwrap_or(0.0) * 1000.0) as u64;
            tally.audio_ms.fetch_add(ms, Ordering::Relaxed);
        }
        Some(error) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            if !quiet {
                progress.suspend(|| eprintln!("sonovec: {}: {error}", record.path));
            }
        }
    }
}

fn summary(tally: &Tally, elapsed: Duration, output: &Path, rows: usize) -> String {
    let audio_s = tally.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    let wall = elapsed.as_secs_f64().max(1e-9);
    format!(
        "{} ok, {} failed, {} skipped (already in the output or duplicate content); \
         {:.2} h of audio in {:.1} s ({:.0}x realtime, {:.1} files/s); {} vectors in {}",
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.skipped.load(Ordering::Relaxed),
        audio_s / 3600.0,
        wall,
        audio_s / wall,
        (tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed)) as f64 / wall,
        rows,
        output.display(),
    )
}

fn progress_bar(files: u64, quiet: bool) -> ProgressBar {
    if quiet || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len} files  {per_sec}  {elapsed_precise} elapsed, ETA {eta}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(files), ProgressDrawTarget::stderr()).with_style(style)
}
