//! `sonovec bench PATH…`: throughput of the real pipeline, stage by stage, with one worker and
//! with all of them, next to the decode-only floor and the plain-sgemm rate of this CPU.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{json, Value};

use sonovec::bench::{
    amx_peak, bf16_peak, cpu_time, decode_only, fp32_peak, peak_rss_bytes, sgemm_gflops,
};
use sonovec::embed::{DOMINANT_GEMM, FRONT_MACS_PER_PATCH, MACS_PER_PATCH};
use sonovec::{Analyzer, Config, StageTimings, Track};

use super::bench_table::{self, Configuration};
use super::walk::audio_files;
use super::{Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio files or folders (walked recursively for audio extensions).
    #[arg(required = true)]
    paths: Vec<PathArg>,

    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,

    /// Seconds spent timing the plain sgemm the embedding is compared with.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    gemm_seconds: f64,

    /// sonovec configurations of the throughput table, each run as `sonovec extract` in a child
    /// process next to the ffmpeg decode floor: none (`--model none`), e30
    /// (`--embed-seconds 30`), full (the default).
    #[arg(long, value_delimiter = ',', default_value = "none,e30,full", value_parser = Configuration::parse)]
    configs: Vec<Configuration>,

    /// Leave out the throughput table (only the stages of this configuration).
    #[arg(long)]
    no_table: bool,
}

/// The pipeline's stages, in order, as named in the output.
const STAGES: [&str; 8] = [
    "hash",
    "decode",
    "resample",
    "spectrogram",
    "descriptors",
    "tempo",
    "embedding",
    "pipeline",
];

fn stage_seconds(t: &StageTimings) -> [Duration; 8] {
    [
        t.hash,
        t.decode,
        t.resample,
        t.spectrogram,
        t.descriptors,
        t.tempo,
        t.embedding,
        t.total,
    ]
}

/// Wall and CPU seconds of one parallel pass over the files.
struct Pass<T> {
    results: Vec<T>,
    wall: f64,
    cpu: f64,
}

fn timed_pass<T: Send>(
    pool: &rayon::ThreadPool,
    files: &[PathBuf],
    f: impl Fn(&Path) -> T + Sync,
) -> Pass<T> {
    let (cpu0, started) = (cpu_time(), Instant::now());
    let results = pool.install(|| files.par_iter().map(|p| f(p)).collect());
    Pass {
        results,
        wall: started.elapsed().as_secs_f64(),
        cpu: (cpu_time() - cpu0).as_secs_f64(),
    }
}

/// One `--jobs` setting: the decode floor, then the whole pipeline.
fn run_jobs(jobs: usize, files: &[PathBuf], analyzer: &Analyzer) -> io::Result<(Value, f64, u64)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(io::Error::other)?;
    let decode = timed_pass(&pool, files, |p| decode_only(p).ok());
    let decoded_s: f64 = decode.results.iter().flatten().sum();
    let pipeline = timed_pass(&pool, files, |p| analyzer.analyze_path(p));
    let ok: Vec<&Track> = pipeline
        .results
        .iter()
        .filter(|t| t.record.error.is_none())
        .collect();
    let audio_s: f64 = ok.iter().filter_map(|t| t.record.duration_s).sum();
    let mut sums = StageTimings::default();
    for t in &ok {
        sums += t.timings;
    }
    let patches: u64 = ok
        .iter()
        .filter_map(|t| t.record.embedding_patches)
        .map(|p| p as u64)
        .sum();
    // Other processes on the machine stretch every stage's wall time alike: the process CPU
    // time shared out in proportion to the stages' wall times estimates each stage's CPU time.
    let cpu_per_wall = ratio(pipeline.cpu, sums.total.as_secs_f64()).unwrap_or(0.0);
    let stages: serde_json::Map<String, Value> = STAGES
        .iter()
        .zip(stage_seconds(&sums))
        .map(|(name, d)| {
            let s = d.as_secs_f64();
            let cpu = s * cpu_per_wall;
            (
                name.to_string(),
                json!({
                    "seconds": s,
                    "x_realtime": ratio(audio_s, s),
                    "cpu_s_est": cpu,
                    "x_realtime_per_cpu_s_est": ratio(audio_s, cpu),
                }),
            )
        })
        .collect();
    let run = json!({
        "jobs": jobs,
        "files_ok": ok.len(),
        "files_failed": pipeline.results.len() - ok.len(),
        "audio_s": audio_s,
        "wall_s": pipeline.wall,
        "cpu_s": pipeline.cpu,
        "x_realtime": ratio(audio_s, pipeline.wall),
        "x_realtime_per_cpu_s": ratio(audio_s, pipeline.cpu),
        "files_per_s": ratio(ok.len() as f64, pipeline.wall),
        "audio_hours_per_hour": ratio(audio_s, pipeline.wall),
        "stages": stages,
        // One track's stream on three threads: the busiest bounds that track's speed-up.
        "stream_threads_cpu_s": {
            "decode": sums.stream_threads_cpu[0].as_secs_f64(),
            "meter": sums.stream_threads_cpu[1].as_secs_f64(),
            "features": sums.stream_threads_cpu[2].as_secs_f64(),
        },
        "decode_only": {
            "audio_s": decoded_s,
            "wall_s": decode.wall,
            "cpu_s": decode.cpu,
            "x_realtime": ratio(decoded_s, decode.wall),
            "x_realtime_per_cpu_s": ratio(decoded_s, decode.cpu),
        },
    });
    Ok((run, sums.embedding.as_secs_f64(), patches))
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Runs the bench and prints its table (or JSON). Exit code 1 if any file failed to analyse.
///
/// Each pass runs on its own rayon pool: `--jobs 1`, then `--jobs N` (N = the global `--jobs`,
/// or one per core), so the stage sums of the first pass are single-thread times. Stage
/// `seconds` are summed over files (thread-seconds; with N workers they exceed the wall time);
/// stage `x_realtime` is audio seconds / those seconds, i.e. per worker; `cpu_s_est` shares the
/// pass's process CPU time out in proportion, for machines where other load stretches wall time.
pub fn run(args: Args, config: Config, jobs: Option<usize>) -> io::Result<Outcome> {
    let (files, problems) = audio_files(&args.paths);
    for (path, why) in &problems {
        eprintln!("sonovec: {}: {why}", path.display());
    }
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no audio files to bench",
        ));
    }
    let all = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut jobs_list = vec![1];
    if all > 1 {
        jobs_list.push(all);
    }
    let embed_seconds = config.embedding.as_ref().and_then(|e| e.seconds);
    let model = config.embedding.as_ref().map(|e| format!("{:?}", e.model));
    let analyzer = Analyzer::new(config);
    // Page cache: every pass reads warm files. Streamed, not read whole: this process's own
    // peak would show in the table's peak RSS (see `bench_table::measure_table`).
    for f in &files {
        if let Ok(mut file) = std::fs::File::open(f) {
            let _ = io::copy(&mut file, &mut io::sink());
        }
    }
    // Before the in-process stages, for the same reason.
    let mut table = if args.no_table {
        Value::Null
    } else {
        bench_table::measure_table(&files, &args.configs, &jobs_list)?
    };
    let mut runs = Vec::new();
    let mut single = (0.0, 0);
    let mut computed = (0, Duration::ZERO);
    for &j in &jobs_list {
        let before = analyzer.model().map(|m| m.computed());
        let (run, embedding_s, patches) = run_jobs(j, &files, &analyzer)?;
        if j == 1 {
            single = (embedding_s, patches);
            if let (Some(m), Some((n0, cpu0))) = (analyzer.model(), before) {
                let (n1, cpu1) = m.computed();
                computed = (n1 - n0, cpu1.saturating_sub(cpu0));
            }
        }
        runs.push(run);
    }
    let peak_time = Duration::from_secs_f64(args.gemm_seconds.max(0.0) / 2.0);
    let peak = fp32_peak(peak_time);
    let bf16 = bf16_peak(peak_time);
    // The peak of the embedding's own arithmetic: where its front end runs in bf16 (pairs or
    // AMX tiles), that share of the operations at that rate and the rest at the f32 rate.
    let macs = analyzer
        .model()
        .map_or(MACS_PER_PATCH, |m| m.macs_per_patch());
    let front = FRONT_MACS_PER_PATCH as f64 / MACS_PER_PATCH as f64;
    let amx = amx_peak(peak_time);
    let isa = analyzer.model().map(|m| m.isa());
    let front_peak = match (isa, &bf16, &amx) {
        (Some("avx512f+bf16"), Some(b), _) | (Some("amx-bf16"), _, Some(b)) => Some(b.gflops),
        _ => None,
    };
    let arithmetic_peak = front_peak.map_or(peak.gflops, |f| {
        1.0 / (front / f + (1.0 - front) / peak.gflops)
    });
    if !args.no_table {
        let audio_s = runs[0]["decode_only"]["audio_s"].as_f64().unwrap_or(0.0);
        bench_table::set_audio_seconds(&mut table, audio_s);
    }
    let (m, k, n) = DOMINANT_GEMM;
    let sgemm = sgemm_gflops(m, k, n, Duration::from_secs_f64(args.gemm_seconds.max(0.0)));
    let (embedding_s, patches) = single;
    let embedding_gflops = (patches > 0).then(|| 2.0 * (macs * patches) as f64 / embedding_s / 1e9);
    // Thread CPU time of the patches actually computed and of their log-mel input: other load
    // on the machine does not stretch it, unlike the stage's wall time above.
    let cpu_gflops = (computed.0 > 0 && computed.1 > Duration::ZERO)
        .then(|| 2.0 * (macs * computed.0) as f64 / computed.1.as_secs_f64() / 1e9);
    let report = json!({
        "files": files.len(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "model": model,
        "embed_seconds": embed_seconds,
        "runs": runs,
        "gemm": {
            "patches": patches,
            "flop_per_patch": 2 * macs,
            "direct_flop_per_patch": 2 * MACS_PER_PATCH,
            "embedding_gflops": embedding_gflops,
            "sgemm_shape": [m, k, n],
            "sgemm_gflops": sgemm,
            "embedding_over_sgemm": embedding_gflops.map(|g| g / sgemm),
            "embedding_isa": analyzer.model().map(|m| m.isa()),
            "embedding_patches_computed": computed.0,
            "embedding_cpu_s": computed.1.as_secs_f64(),
            "embedding_cpu_gflops": cpu_gflops,
            "fp32_peak_gflops": peak.gflops,
            "fp32_peak_isa": peak.isa,
            "bf16_peak_gflops": bf16.as_ref().map(|b| b.gflops),
            "amx_peak_gflops": amx.as_ref().map(|b| b.gflops),
            "front_end_share": front,
            "arithmetic_peak_gflops": arithmetic_peak,
            "embedding_over_peak": cpu_gflops.map(|g| g / arithmetic_peak),
        },
        "peak_rss_mb": peak_rss_bytes() as f64 / (1024.0 * 1024.0),
        "load_average": bench_table::load_average(),
        "table": table,
    });
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if !report["table"].is_null() {
            bench_table::print_table(&mut out, &report["table"])?;
            writeln!(out)?;
        }
        print_table(&mut out, &report)?;
    }
    let failed = runs
        .iter()
        .any(|r| r["files_failed"].as_u64().unwrap_or(0) > 0);
    Ok(if failed {
        Outcome::BadInput
    } else {
        Outcome::Success
    })
}

/// How one row of the summary renders a pass.
type RowCell<'a> = &'a dyn Fn(&Value) -> String;

fn print_table(out: &mut impl Write, r: &Value) -> io::Result<()> {
    let runs = r["runs"].as_array().cloned().unwrap_or_default();
    let f = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.1}"));
    writeln!(
        out,
        "{} file(s), {:.1} min of audio, model {}, embed seconds {}, {} core(s)",
        r["files"],
        runs[0]["audio_s"].as_f64().unwrap_or(0.0) / 60.0,
        r["model"].as_str().unwrap_or("none"),
        r["embed_seconds"]
            .as_f64()
            .map_or("all".into(), |s| s.to_string()),
        r["cores"]
    )?;
    write!(out, "{:<28}", "stage (summed over files)")?;
    for run in &runs {
        write!(
            out,
            " {:>11} {:>10} {:>12}",
            format!("jobs {} s", run["jobs"]),
            "x-rt",
            "x-rt/CPU-s"
        )?;
    }
    writeln!(out)?;
    for stage in STAGES {
        write!(out, "{stage:<28}")?;
        for run in &runs {
            let s = &run["stages"][stage];
            write!(
                out,
                " {:>11.2} {:>9}x {:>11}x",
                s["seconds"].as_f64().unwrap_or(0.0),
                f(&s["x_realtime"]),
                f(&s["x_realtime_per_cpu_s_est"])
            )?;
        }
        writeln!(out)?;
    }
    let rows: [(&str, RowCell); 6] = [
        ("whole run wall s, x-rt", &|run| {
            format!(
                "{:>11.2} {:>9}x",
                run["wall_s"].as_f64().unwrap_or(0.0),
                f(&run["x_realtime"])
            )
        }),
        ("whole run CPU s, x-rt/CPU-s", &|run| {
            format!(
                "{:>11.2} {:>9}x",
                run["cpu_s"].as_f64().unwrap_or(0.0),
                f(&run["x_realtime_per_cpu_s"])
            )
        }),
        ("files/s, audio h/h", &|run| {
            format!(
                "{:>11.2} {:>10}",
                run["files_per_s"].as_f64().unwrap_or(0.0),
                f(&run["audio_hours_per_hour"])
            )
        }),
        ("decode only wall s, x-rt", &|run| {
            format!(
                "{:>11.2} {:>9}x",
                run["decode_only"]["wall_s"].as_f64().unwrap_or(0.0),
                f(&run["decode_only"]["x_realtime"])
            )
        }),
        ("decode only CPU s, x-rt/CPU-s", &|run| {
            format!(
                "{:>11.2} {:>9}x",
                run["decode_only"]["cpu_s"].as_f64().unwrap_or(0.0),
                f(&run["decode_only"]["x_realtime_per_cpu_s"])
            )
        }),
        ("files failed", &|run| {
            format!("{:>11} {:>10}", run["files_failed"], "")
        }),
    ];
    for (label, cell) in rows {
        write!(out, "{label:<28}")?;
        for run in &runs {
            write!(out, " {:<35}", cell(run))?;
        }
        writeln!(out)?;
    }
    for run in &runs {
        let t = &run["stream_threads_cpu_s"];
        let secs = ["decode", "meter", "features"].map(|k| t[k].as_f64().unwrap_or(0.0));
        let busiest = secs.iter().copied().fold(0.0, f64::max);
        if busiest > 0.0 {
            // No more than the pool's threads, nor than the busiest thread allows.
            let cpu = run["cpu_s"].as_f64().unwrap_or(0.0);
            let bound = (cpu / busiest).min(run["jobs"].as_f64().unwrap_or(1.0));
            writeln!(
                out,
                "jobs {}: stream threads' CPU s, decode {:.2}, meter {:.2}, features {:.2}, of \
                 {cpu:.2} process CPU s: one track can run at most {bound:.2}x as fast as on \
                 one thread",
                run["jobs"], secs[0], secs[1], secs[2],
            )?;
        }
    }
    let g = &r["gemm"];
    writeln!(
        out,
        "embedding {} GFLOP/s over {} patches (jobs 1) vs plain sgemm {:.1} GFLOP/s at {}: {}",
        f(&g["embedding_gflops"]),
        g["patches"],
        g["sgemm_gflops"].as_f64().unwrap_or(0.0),
        g["sgemm_shape"],
        g["embedding_over_sgemm"]
            .as_f64()
            .map_or("–".into(), |x| format!("{:.0} %", 100.0 * x))
    )?;
    let share = g["front_end_share"].as_f64().unwrap_or(0.0);
    let other_peak = |key: &str, name: &str, isa: &str| {
        g[key].as_f64().map_or(String::new(), |b| {
            if g["embedding_isa"] == isa {
                format!("; {name} {b:.1} for the front end's {:.0} %", 100.0 * share)
            } else {
                format!("; {name} {b:.1}, not used")
            }
        })
    };
    let bf16 = other_peak("bf16_peak_gflops", "bf16", "avx512f+bf16")
        + &other_peak("amx_peak_gflops", "amx", "amx-bf16");
    writeln!(
        out,
        "embedding ({}) {} GFLOP/s per thread CPU second over {} computed patches = {} of this \
         core's peak for that arithmetic, {:.1} GFLOP/s (fp32 {:.1}, {}{bf16})",
        g["embedding_isa"].as_str().unwrap_or("–"),
        f(&g["embedding_cpu_gflops"]),
        g["embedding_patches_computed"],
        g["embedding_over_peak"]
            .as_f64()
            .map_or("–".into(), |x| format!("{:.0} %", 100.0 * x)),
        g["arithmetic_peak_gflops"].as_f64().unwrap_or(0.0),
        g["fp32_peak_gflops"].as_f64().unwrap_or(0.0),
        g["fp32_peak_isa"].as_str().unwrap_or("–"),
    )?;
    writeln!(
        out,
        "peak RSS {:.0} MB",
        r["peak_rss_mb"].as_f64().unwrap_or(0.0)
    )
}
