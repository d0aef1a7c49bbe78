//! The throughput table of `sonovec bench`: sonovec's three configurations run as users run them
//! (`sonovec [--model none | --embed-seconds 30] --jobs N extract`), each as a child process,
//! next to the decode floor (`ffmpeg` decoding every file to 16 kHz mono `f32`, one process per
//! file, N at a time) on the same files, in one run.
//!
//! Each row's CPU seconds (user + system) and peak RSS come from `wait4` on its processes, so they
//! count the whole process tree the way `scripts/peers/run.sh` does, and they stay fair on a
//! machine shared with other work, where wall time does not.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

/// One of sonovec's configurations in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Configuration {
    /// `--model none`: every descriptor, tempo and the vector, no embedding.
    NoEmbedding,
    /// `--embed-seconds 30`: the embedding of about 30 s of evenly spaced patches.
    Embed30,
    /// The default: the embedding of every patch of the track.
    FullEmbedding,
}

impl Configuration {
    /// The flags that select it on sonovec's command line.
    fn flags(self) -> &'static [&'static str] {
        match self {
            Configuration::NoEmbedding => &["--model", "none"],
            Configuration::Embed30 => &["--embed-seconds", "30"],
            Configuration::FullEmbedding => &[],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Configuration::NoEmbedding => "sonovec --model none",
            Configuration::Embed30 => "sonovec --embed-seconds 30",
            Configuration::FullEmbedding => "sonovec (full-track embedding)",
        }
    }

    /// Parses `none`, `e30` or `full`.
    pub fn parse(name: &str) -> Result<Configuration, String> {
        match name {
            "none" => Ok(Configuration::NoEmbedding),
            "e30" => Ok(Configuration::Embed30),
            "full" => Ok(Configuration::FullEmbedding),
            other => Err(format!("unknown configuration {other:?} (none, e30, full)")),
        }
    }
}

/// Wall time, CPU time and peak RSS of finished child processes.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mb: f64,
    failed: usize,
}

/// Runs `command` to its end, its standard output sent to `/dev/null`, and measures it with
/// `wait4` (CPU and peak RSS of the process and of the children it waited for).
///
/// Not a pipe drained here: ffmpeg writing 16 kHz `f32` into a pipe spent 1.1–1.4 CPU-s more in
/// the kernel over the 21-file peers set (54.7 min) than writing to `/dev/null`, a floor raised by
/// the measurement itself; `scripts/peers/peers.py` also writes to `/dev/null`.
fn measure(mut command: Command) -> io::Result<Usage> {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut status = 0;
    // SAFETY: wait4 only writes into the two values we hand it; the child is ours and was not
    // waited for (std's `Child` is dropped afterwards without waiting).
    let (pid, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
        (pid, usage)
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok(Usage {
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: tv(usage.ru_utime) + tv(usage.ru_stime),
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        failed: usize::from(!exited_ok),
    })
}

/// Whether `ffmpeg` runs here.
pub fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// ffmpeg decoding each file to 16 kHz mono `f32` on standard output (thrown away), `jobs`
/// processes at a time: the floor every row is compared with.
fn ffmpeg_floor(files: &[PathBuf], jobs: usize) -> io::Result<Usage> {
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Usage::default());
    let started = Instant::now();
    std::thread::scope(|scope| -> io::Result<()> {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| -> io::Result<()> {
                    while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let mut command = Command::new("ffmpeg");
                        command.args(["-nostdin", "-v", "error", "-i"]).arg(file);
                        command.args(["-f", "f32le", "-ac", "1", "-ar", "16000", "-"]);
                        let one = measure(command)?;
                        let mut t = total.lock().unwrap_or_else(|p| p.into_inner());
                        t.cpu_s += one.cpu_s;
                        t.peak_rss_mb = t.peak_rss_mb.max(one.peak_rss_mb);
                        t.failed += one.failed;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| io::Error::other("an ffmpeg runner panicked"))??;
        }
        Ok(())
    })?;
    let mut usage = total.into_inner().unwrap_or_else(|p| p.into_inner());
    usage.wall_s = started.elapsed().as_secs_f64();
    Ok(usage)
}

/// `sonovec <configuration> --jobs N extract --force --quiet -o TMP FILES…`, as a user runs it.
fn sonovec_row(
    exe: &Path,
    configuration: Configuration,
    jobs: usize,
    files: &[PathBuf],
) -> io::Result<Usage> {
    let out = std::env::temp_dir().join(format!(
        "sonovec-bench-{}-{:?}-{jobs}",
        std::process::id(),
        configuration
    ));
    let mut command = Command::new(exe);
    command.args(configuration.flags());
    command.args([
        "--jobs",
        &jobs.to_string(),
        "extract",
        "--force",
        "--quiet",
        "-o",
    ]);
    command.arg(&out).args(files);
    let usage = measure(command);
    let _ = std::fs::remove_dir_all(&out);
    usage
}

/// The 1-minute load average, if the system tells it.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Measures every row for every worker count: the ffmpeg floor first (when `ffmpeg` is on PATH),
/// then each configuration. The x-realtime columns wait for [`set_audio_seconds`].
///
/// Call it while this process is small: Linux counts the high-water mark of a spawning
/// process's memory in the peak RSS of the child it execs (`ru_maxrss`), so no row reads below
/// this process's own peak (`rss_floor_mb`). Measured after the in-process stages, every row of
/// the 21-track peer set read this process's 57–60 MB.
pub fn measure_table(
    files: &[PathBuf],
    configurations: &[Configuration],
    jobs_list: &[usize],
) -> io::Result<Value> {
    let rss_floor_mb = own_peak_rss_mb();
    let exe = std::env::current_exe()?;
    let ffmpeg = ffmpeg_available();
    let mut rows = Vec::new();
    for &jobs in jobs_list {
        let mut floor_cpu = None;
        let mut measured: Vec<(String, Usage)> = Vec::new();
        if ffmpeg {
            let usage = ffmpeg_floor(files, jobs)?;
            floor_cpu = Some(usage.cpu_s);
            measured.push(("ffmpeg decode → 16 kHz mono f32 (floor)".into(), usage));
        }
        for &c in configurations {
            measured.push((c.label().into(), sonovec_row(&exe, c, jobs, files)?));
        }
        for (label, u) in measured {
            rows.push(json!({
                "tool": label,
                "jobs": jobs,
                "wall_s": u.wall_s,
                "cpu_s": u.cpu_s,
                "files_per_s": (u.wall_s > 0.0).then(|| files.len() as f64 / u.wall_s),
                "peak_rss_mb": u.peak_rss_mb,
                "cpu_over_floor": floor_cpu.filter(|&f| f > 0.0).map(|f| u.cpu_s / f),
                "failed_processes": u.failed,
                "load_after": load_average(),
            }));
        }
    }
    Ok(json!({
        "ffmpeg": if ffmpeg { Value::from("on PATH") } else { Value::from("not on PATH: no floor row") },
        "rss_floor_mb": rss_floor_mb,
        "rows": rows,
    }))
}

/// Fills in the audio the files hold (`audio_s`, seconds) and each row's x-realtime per
/// CPU-second.
pub fn set_audio_seconds(table: &mut Value, audio_s: f64) {
    for row in table["rows"].as_array_mut().into_iter().flatten() {
        let cpu_s = row["cpu_s"].as_f64().unwrap_or(0.0);
        row["x_realtime_per_cpu_s"] = json!((cpu_s > 0.0).then(|| audio_s / cpu_s));
    }
    table["audio_s"] = json!(audio_s);
}

/// This process's peak resident memory so far (`VmHWM`), in MB; `None` where `/proc` does not
/// say. Not [`sonovec::bench::peak_rss_bytes`]: `ru_maxrss` also counts the memory of whatever
/// started this process, before its `exec`, which is not what its own children inherit.
fn own_peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Prints the table in the layout (markdown, so it pastes into BENCHMARKS.md).
pub fn print_table(out: &mut impl io::Write, table: &Value) -> io::Result<()> {
    if table["ffmpeg"] != "on PATH" {
        writeln!(
            out,
            "ffmpeg is not on PATH: the decode-floor row is missing"
        )?;
    }
    writeln!(
        out,
        "| tool | jobs | wall s | CPU s | x-realtime per CPU-s | files/s | peak RSS MB | CPU / floor | load |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let f = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or("–".to_string(), |x| format!("{x:.digits$}"))
    };
    for row in table["rows"].as_array().into_iter().flatten() {
        let failed = row["failed_processes"].as_u64().unwrap_or(0);
        writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row["tool"].as_str().unwrap_or("?"),
            if failed > 0 { " (exit ≠ 0)" } else { "" },
            row["jobs"],
            f(&row["wall_s"], 1),
            f(&row["cpu_s"], 1),
            f(&row["x_realtime_per_cpu_s"], 0),
            f(&row["files_per_s"], 3),
            f(&row["peak_rss_mb"], 0),
            f(&row["cpu_over_floor"], 2),
            f(&row["load_after"], 1),
        )?;
    }
    if let Some(floor) = table["rss_floor_mb"].as_f64() {
        writeln!(
            out,
            "\nPeak RSS reads at least {floor:.0} MB, this process's own peak when it started the rows \
             (Linux counts it in every child's)."
        )?;
    }
    Ok(())
}
