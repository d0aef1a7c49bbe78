//! The command line: argument parsing and exit codes. One module per subcommand.
//!
//! Exit codes mean the same for every subcommand:
//! - `0`: everything asked for was analysed;
//! - `1`: at least one input could not be analysed because of the input itself (unsupported,
//!   corrupt, empty, too long); its error record was still written;
//! - `2`: the command line was wrong (clap's usage errors);
//! - `3`: an I/O error: an input could not be read, or the output could not be written;
//! - `4`: an internal error in sonovec.

mod analyze;
mod bench;
mod bench_table;
mod eval_tempo;
mod export;
mod extract;
mod fit_projection;
#[cfg(feature = "serve")]
mod serve;
mod similar;
mod walk;
#[cfg(feature = "serve")]
mod watch;
mod worker;

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use sonovec::embed::{Model, ModelChoice};
use sonovec::features::tempo::BpmRange;
use sonovec::isolate::{Engine, Limits, WorkerCommand, WorkerPool};
use sonovec::vector::{BlockWeights, VectorModel};
use sonovec::{Config, EmbeddingConfig, ErrorKind};

/// Audio content vectors for cold-start recommendation.
#[derive(Parser, Debug)]
#[command(name = "sonovec", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Worker threads (default: one per core; at most 1024).
    #[arg(short = 'j', long, global = true, value_parser = count_up_to(MAX_WORKERS))]
    jobs: Option<usize>,

    /// Reject tracks longer than this many seconds (as error kind `too_long`).
    #[arg(long, global = true, default_value_t = 6.0 * 3600.0, value_name = "SECONDS")]
    max_duration: f64,

    /// Include the beat times (`tempo.beats_s`, seconds) in each record.
    #[arg(long, global = true)]
    beats: bool,

    /// Report the tempo within LOW-HIGH BPM, an octave or more wide (e.g. `70-140`, Mixxx's
    /// default; `120-240` where drum and bass is counted at 174): the catalog's convention for
    /// which metrical level is the beat. The beats follow it, and the vectors get their own
    /// `vector_version` (`…+bpm70-140`).
    #[arg(long, global = true, value_name = "LOW-HIGH")]
    bpm_range: Option<BpmRange>,
    /// Embedding model: `msd` (musicnn MSD: genre, mood, era), `mtt` (musicnn MagnaTagATune:
    /// instruments, timbre), `none` (skip the embedding), or a `.safetensors` file exported by
    /// scripts/export_musicnn.py with its `.json` model card beside it.
    #[arg(long, global = true, default_value = "msd", value_parser = parse_model, value_name = "MODEL")]
    model: ModelArg,

    /// Embed about N seconds of evenly spaced 3 s patches instead of the whole track
    /// (faster on long tracks; 30 reproduces the length of an MSD preview).
    #[arg(long, global = true, value_name = "N", value_parser = parse_seconds)]
    embed_seconds: Option<f64>,

    /// Weights of the content vector's blocks, e.g. `embedding=1,tags=0.5,descriptors=0.7`
    /// (unnamed blocks keep their default of models/vector.json). Non-default weights give the
    /// vectors their own `vector_version`.
    #[arg(long, global = true, value_parser = parse_weights, value_name = "BLOCK=W,…")]
    vector_weights: Option<BlockWeights>,

    /// extract, watch, serve: analyse in this process instead of one worker process per
    /// concurrent track (faster to start, but a crash on one file ends the whole run).
    #[arg(long, global = true)]
    in_process: bool,

    /// extract, watch, serve: address-space limit of each worker process, in MiB.
    #[arg(long, global = true, default_value_t = sonovec::isolate::DEFAULT_WORKER_MEMORY_BYTES >> 20, value_name = "MIB")]
    worker_memory: u64,

    /// CPU seconds one track may cost before it is stopped with error kind `over_budget`
    /// (default 300 for watch and serve, no budget for extract).
    #[arg(long, global = true, value_parser = parse_seconds, value_name = "SECONDS")]
    cpu_budget: Option<f64>,
}

/// How `extract`, `watch` and `serve` run their analyses: the global options of isolation.
pub struct Isolation {
    in_process: bool,
    worker: WorkerCommand,
    memory_bytes: u64,
    cpu_budget_s: Option<f64>,
}

impl Isolation {
    /// `--cpu-budget`, if given.
    fn cpu_budget_s(&self) -> Option<f64> {
        self.cpu_budget_s
    }

    /// The engine of a command: `default_budget` applies when `--cpu-budget` is not given, and
    /// `wall_timeout` kills a worker busy for longer.
    fn engine(
        &self,
        config: Config,
        default_budget: Option<f64>,
        wall_timeout: Option<Duration>,
    ) -> io::Result<Engine> {
        let analyzer = sonovec::Analyzer::try_new(config)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if self.in_process {
            return Ok(Engine::in_process(analyzer));
        }
        let limits = Limits {
            memory_bytes: Some(self.memory_bytes),
            cpu_budget_s: self.cpu_budget_s.or(default_budget),
            wall_timeout,
        };
        Ok(Engine::isolated(
            analyzer,
            WorkerPool::new(self.worker.clone(), limits),
        ))
    }
}

/// The command line of a worker: this binary with the options that shape the analysis.
fn worker_command(cli: &Cli, memory_bytes: u64) -> io::Result<WorkerCommand> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |name: &str, value: OsString| {
        args.push(name.into());
        args.push(value);
    };
    if let Some(jobs) = cli.jobs {
        push("--jobs", jobs.to_string().into());
    }
    push("--max-duration", cli.max_duration.to_string().into());
    let model: OsString = match &cli.model.0 {
        None => "none".into(),
        Some(ModelChoice::Msd) => "msd".into(),
        Some(ModelChoice::Mtt) => "mtt".into(),
        Some(ModelChoice::File(path)) => path.clone().into_os_string(),
    };
    push("--model", model);
    if let Some(seconds) = cli.embed_seconds {
        push("--embed-seconds", seconds.to_string().into());
    }
    if let Some(w) = cli.vector_weights {
        let weights = format!(
            "embedding={},tags={},descriptors={}",
            w.embedding, w.tags, w.descriptors
        );
        push("--vector-weights", weights.into());
    }
    if let Some(range) = cli.bpm_range {
        push("--bpm-range", range.to_string().into());
    }
    if cli.beats {
        args.push("--beats".into());
    }
    args.push("worker".into());
    args.push("--memory-bytes".into());
    args.push(memory_bytes.to_string().into());
    Ok(WorkerCommand {
        program: std::env::current_exe()?,
        args,
    })
}

fn parse_weights(value: &str) -> Result<BlockWeights, String> {
    VectorModel::bundled().weights.with_overrides(value)
}

/// The `--model` choice: a model, or none.
#[derive(Clone, Debug)]
struct ModelArg(Option<ModelChoice>);

fn parse_model(value: &str) -> Result<ModelArg, String> {
    Ok(ModelArg(match value {
        "msd" => Some(ModelChoice::Msd),
        "mtt" => Some(ModelChoice::Mtt),
        "none" => None,
        path if path.ends_with(".safetensors") => Some(ModelChoice::File(PathBuf::from(path))),
        other => {
            return Err(format!(
                "unknown model {other:?}: use msd, mtt, none or a .safetensors file"
            ))
        }
    }))
}

fn parse_seconds(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("{value:?} is not a positive number of seconds")),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse every audio file under the given paths into an output folder.
    Extract(extract::Args),
    /// Analyse one file (or `-` for standard input) and print its record as JSON.
    Analyze(analyze::Args),
    /// Write a catalog's records as tracks.jsonl, vectors.npy and ids.txt.
    Export(export::Args),
    /// Print the catalogued tracks nearest to a file or a catalogued track (cosine).
    Similar(similar::Args),
    /// Fit a map from content vectors to a recommender's latent factors (ridge regression).
    FitProjection(fit_projection::Args),
    /// Score tempo and beats against a labelled set (Acc1, Acc2, beat F-measure, P-score).
    EvalTempo(eval_tempo::Args),
    #[cfg(feature = "serve")]
    /// Serve an HTTP API that analyses uploads into a catalog.
    Serve(serve::Args),
    #[cfg(feature = "serve")]
    /// Watch a drop folder and analyse each new or changed audio file into a catalog.
    Watch(watch::Args),
    /// Throughput of sonovec's configurations next to the ffmpeg decode floor (CPU seconds,
    /// x-realtime per CPU-second, files/s, peak RSS), then every pipeline stage with one worker
    /// and with all, and the plain-sgemm rate of this CPU.
    Bench(bench::Args),
    /// The analysis worker process of extract, watch and serve (framed JSON on stdin/stdout).
    #[command(hide = true)]
    Worker(worker::Args),
}

/// How a command ended; `main` turns it into the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    BadInput,
    Io,
    Internal,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::BadInput => 1,
            Outcome::Io => 3,
            Outcome::Internal => 4,
        }
    }

    fn of_error_kind(kind: ErrorKind) -> Outcome {
        match kind {
            ErrorKind::Io => Outcome::Io,
            ErrorKind::Internal | ErrorKind::WorkerCrashed => Outcome::Internal,
            _ => Outcome::BadInput,
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> io::Result<Outcome> {
    if let Some(jobs) = cli.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global()
            .map_err(io::Error::other)?;
    }
    if let Some(choice @ ModelChoice::File(_)) = &cli.model.0 {
        // Fail before any track is read: a bad weights file is a usage error, not a track's.
        Model::load(choice).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    let memory_bytes = cli.worker_memory.saturating_mul(1 << 20);
    let isolation = Isolation {
        in_process: cli.in_process,
        worker: worker_command(&cli, memory_bytes)?,
        memory_bytes,
        cpu_budget_s: cli.cpu_budget,
    };
    let config = Config {
        max_duration_s: cli.max_duration,
        beats: cli.beats,
        embedding: cli.model.0.map(|model| EmbeddingConfig {
            model,
            seconds: cli.embed_seconds,
        }),
        vector_weights: cli.vector_weights,
        bpm_range: cli.bpm_range,
        ..Default::default()
    };
    match cli.command {
        Command::Extract(args) => extract::run(args, config, &isolation),
        Command::Analyze(args) => analyze::run(args, config),
        Command::Export(args) => export::run(args, config),
        Command::Similar(args) => similar::run(args, config),
        Command::FitProjection(args) => fit_projection::run(args, config),
        Command::EvalTempo(args) => eval_tempo::run(args, config),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(args, config, cli.jobs, &isolation),
        #[cfg(feature = "serve")]
        Command::Watch(args) => watch::run(args, config, &isolation),
        Command::Bench(args) => bench::run(args, config, cli.jobs),
        Command::Worker(args) => worker::run(args, config),
    }
}

/// The most workers a run may start: [`sonovec::analyzer::MAX_WORKERS`].
const MAX_WORKERS: u64 = sonovec::analyzer::MAX_WORKERS as u64;

/// Parses a count from 0 to `max`; a larger one is a usage error that names the range.
fn count_up_to(max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(0..=max)
}

/// Paths on the command line are plain paths; this keeps clap's type in one place.
pub type PathArg = PathBuf;

/// Loads `--projection FILE` and checks it was fitted for the run's vector layout
/// `vector_version`.
fn load_projection(
    path: Option<&std::path::Path>,
    vector_version: &str,
) -> io::Result<Option<sonovec::projection::Projection>> {
    let Some(path) = path else { return Ok(None) };
    let projection = sonovec::projection::Projection::load(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if projection.vector_version != vector_version {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} was fitted for vector layout {}; this run writes {} (fit it again, or \
                 use the same --model and --vector-weights)",
                path.display(),
                projection.vector_version,
                vector_version
            ),
        ));
    }
    Ok(Some(projection))
}
