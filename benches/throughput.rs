//! File-level x-realtime harness for the spine.
//!
//! ```text
//! cargo bench --bench throughput -- [--jobs N] [--stage decode|resample|mel|desc|full]... FILE_OR_DIR...
//! ```
//!
//! Runs the chosen stage(s) over every audio file given (directories are walked), files in
//! parallel on a rayon pool of `N` threads (default: one per core). The spectrogram's own block
//! parallelism runs on the same pool, so `--jobs 1` really is one core. Stages:
//!
//! - `decode`: [`AudioStream`] decode to planar `f32` only;
//! - `resample`: decode + [`downmix_into`] + [`MonoResampler`] to 16 kHz;
//! - `mel`: resample + [`StreamingSpectrogram`] (power and mel computed, then discarded);
//! - `desc`: `mel` + every hand-crafted descriptor ([`Descriptors`]: EBU R128 loudness on the
//!   native channels, frame levels and chroma on the 16 kHz signal, spectral shape and MFCC on
//!   the spectrogram), so `desc` − `mel` is what the descriptors cost;
//! - `full`: [`Analyzer::analyze_path`], hashing and features included.
//!
//! `--stage` may be repeated or given a comma list (`--stage decode,mel`); the default is all
//! five. Each stage prints audio seconds, wall seconds, CPU seconds, x-realtime and files/s, and a
//! `RESULT key=value …` line for scripts. Flags cargo adds itself (`--bench`) are ignored.
//! `--warmup` decodes every file once first so that the page cache is warm for the first stage.
//!
//! `sonovec bench` supersedes the `full` stage (it times every stage inside the real pipeline)
//! and reports the decode-only floor too; this harness stays for the cumulative
//! decode → resample → mel loops that `scripts/bench_spine.sh` compares with ffmpeg.

use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use sonovec::audio::{downmix_into, AudioStream, MonoResampler};
use sonovec::bench::cpu_time;
use sonovec::dsp::{
    FrameSink, SpectrogramBlock, SpectrogramConfig, SpectrogramPlan, StreamingSpectrogram,
};
use sonovec::features::loudness::R128Meter;
use sonovec::features::Descriptors;
use sonovec::{Analyzer, Config};

const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "wav", "wave", "aif", "aiff", "aifc", "caf", "m4a", "mp4",
    "aac", "mka", "mkv", "webm",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Decode,
    Resample,
    Mel,
    Desc,
    Full,
}

impl Stage {
    const ALL: [Stage; 5] = [
        Stage::Decode,
        Stage::Resample,
        Stage::Mel,
        Stage::Desc,
        Stage::Full,
    ];

    fn parse(s: &str) -> Result<Stage, String> {
        match s {
            "decode" => Ok(Stage::Decode),
            "resample" => Ok(Stage::Resample),
            "mel" => Ok(Stage::Mel),
            "desc" => Ok(Stage::Desc),
            "full" => Ok(Stage::Full),
            other => Err(format!(
                "unknown stage {other:?} (decode, resample, mel, desc, full)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Resample => "resample",
            Stage::Mel => "mel",
            Stage::Desc => "desc",
            Stage::Full => "full",
        }
    }
}

struct Args {
    jobs: usize,
    stages: Vec<Stage>,
    warmup: bool,
    inputs: Vec<PathBuf>,
}

const USAGE: &str = "usage: cargo bench --bench throughput -- [--jobs N] \
[--stage decode|resample|mel|desc|full]... [--warmup] FILE_OR_DIR...";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        stages: Vec::new(),
        warmup: false,
        inputs: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--jobs" | "-j" => {
                let v = value("--jobs")?;
                args.jobs = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--jobs wants a positive integer, not {v:?}"))?;
            }
            "--stage" | "-s" => {
                for s in value("--stage")?.split(',').filter(|s| !s.is_empty()) {
                    args.stages.push(Stage::parse(s)?);
                }
            }
            "--warmup" => args.warmup = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            // cargo passes `--bench` to harness = false targets.
            f if f.starts_with("--bench") => {}
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(format!("unknown flag {f}\n{USAGE}"))
            }
            _ => args.inputs.push(PathBuf::from(arg)),
        }
    }
    if args.stages.is_empty() {
        args.stages = Stage::ALL.to_vec();
    }
    Ok(args)
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn collect_files(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(input)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && is_audio(e.path()))
                .map(walkdir::DirEntry::into_path)
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    files
}

/// Throws every spectrogram block away (after making sure it is not optimised out).
struct Discard;

impl FrameSink for Discard {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        black_box(block.mel);
    }
}

/// Audio seconds the stage got through for one file.
fn run_one(
    stage: Stage,
    path: &Path,
    plan: &SpectrogramPlan,
    analyzer: &Analyzer,
) -> Result<f64, String> {
    if stage == Stage::Full {
        let track = analyzer.analyze_path(path);
        if let Some(error) = &track.record.error {
            return Err(error.to_string());
        }
        return track
            .record
            .duration_s
            .ok_or_else(|| "the record has no duration".to_string());
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut stream =
        AudioStream::open(Box::new(file), ext.as_deref()).map_err(|e| e.to_string())?;
    let analysis_rate = plan.config().sample_rate;
    let mut resampler: Option<MonoResampler> = None;
    let mut spectrogram = StreamingSpectrogram::new(plan);
    let mut descriptors = (stage == Stage::Desc).then(|| Descriptors::new(plan.config()));
    let mut loudness = R128Meter::new();
    let (mut mono, mut analysis) = (Vec::new(), Vec::new());
    let mut rate = 0u32;
    while let Some(chunk) = stream.next_chunk().map_err(|e| e.to_string())? {
        rate = chunk.sample_rate;
        if stage == Stage::Decode {
            black_box(chunk.planar);
            continue;
        }
        if descriptors.is_some() {
            loudness.accept(chunk.planar, rate);
        }
        downmix_into(chunk.planar, &mut mono);
        let r = match &mut resampler {
            Some(r) => r,
            None => resampler
                .insert(MonoResampler::new(rate, analysis_rate).map_err(|e| e.to_string())?),
        };
        analysis.clear();
        r.push(&mono, &mut analysis);
        if let Some(d) = &mut descriptors {
            d.accept_signal(&analysis);
            spectrogram.push(&analysis, d);
        } else if stage == Stage::Mel {
            spectrogram.push(&analysis, &mut Discard);
        } else {
            black_box(&analysis);
        }
    }
    if let Some(r) = &mut resampler {
        analysis.clear();
        r.finish(&mut analysis);
        if let Some(mut d) = descriptors {
            d.accept_signal(&analysis);
            spectrogram.push(&analysis, &mut d);
            black_box(spectrogram.finish(&mut d));
            black_box(d.finish(loudness));
        } else if stage == Stage::Mel {
            spectrogram.push(&analysis, &mut Discard);
            black_box(spectrogram.finish(&mut Discard));
        }
    }
    Ok(stream.frames_decoded() as f64 / rate.max(1) as f64)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("throughput: {e}");
            return ExitCode::from(2);
        }
    };
    let files = collect_files(&args.inputs);
    if files.is_empty() {
        // A plain `cargo bench` runs every bench target with no inputs: not an error.
        println!("throughput: no input files; {USAGE}");
        return ExitCode::SUCCESS;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs)
        .build()
        .expect("a rayon pool");
    let plan = SpectrogramPlan::new(SpectrogramConfig::default());
    let analyzer = Analyzer::new(Config::default());
    println!(
        "throughput: {} file(s), --jobs {}, {} core(s) available",
        files.len(),
        args.jobs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if args.warmup {
        pool.install(|| {
            files.par_iter().for_each(|f| {
                let _ = run_one(Stage::Decode, f, &plan, &analyzer);
            })
        });
    }
    println!(
        "{:<9} {:>4} {:>6} {:>10} {:>9} {:>9} {:>11} {:>8}",
        "stage", "jobs", "files", "audio s", "wall s", "cpu s", "x-realtime", "files/s"
    );
    let mut failed = false;
    for &stage in &args.stages {
        let cpu_before = cpu_time();
        let started = Instant::now();
        let results: Vec<(usize, Result<f64, String>)> = pool.install(|| {
            files
                .par_iter()
                .enumerate()
                .map(|(i, f)| (i, run_one(stage, f, &plan, &analyzer)))
                .collect()
        });
        let wall = started.elapsed().as_secs_f64();
        let cpu = (cpu_time() - cpu_before).as_secs_f64();
        let mut audio = 0.0;
        let mut ok = 0usize;
        for (i, result) in &results {
            match result {
                Ok(seconds) => {
                    audio += seconds;
                    ok += 1;
                }
                Err(e) => {
                    failed = true;
                    eprintln!("throughput: {}: {}: {e}", stage.name(), files[*i].display());
                }
            }
        }
        let xrt = audio / wall;
        let fps = ok as f64 / wall;
        println!(
            "{:<9} {:>4} {:>6} {:>10.1} {:>9.3} {:>9.3} {:>10.1}x {:>8.2}",
            stage.name(),
            args.jobs,
            ok,
            audio,
            wall,
            cpu,
            xrt,
            fps
        );
        println!(
            "RESULT stage={} jobs={} files={} audio_s={:.3} wall_s={:.4} cpu_s={:.4} xrt={:.2} files_per_s={:.3}",
            stage.name(),
            args.jobs,
            ok,
            audio,
            wall,
            cpu,
            xrt,
            fps
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
