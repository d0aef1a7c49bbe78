//! The hostile-header family (tests/fixtures/bad/hostile, made by scripts/make_hostile_corpus.py):
//! files whose headers lie about rates, channel counts, block sizes, tag sizes and offsets. Each
//! must give one record with the expected outcome and exit code, and cost bounded CPU time and
//! memory, measured on the child process by the kernel (wait4), not by the wall clock.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_csv, repo_path};

/// CPU seconds (user + system) one hostile file may cost `analyze`. Generous, so a loaded
/// machine never fails it; a file that ran for two minutes before the fix fails it.
const MAX_CPU_S: f64 = 20.0;
/// Peak resident memory one hostile file may cost. Generous (the bar of issue #16 is 300 MB for
/// inputs under 1 MB); the 5 GB of a lying AIFF fails it.
const MAX_RSS_BYTES: u64 = 600 << 20;
/// A child still running after this long is killed and the test fails (a hang).
const HANG: Duration = Duration::from_secs(300);

/// What the kernel says one finished child cost.
struct Cost {
    status: i32,
    cpu_s: f64,
    max_rss_bytes: u64,
    stdout: Vec<u8>,
}

/// Runs the sonovec binary with `args` and returns its wait status and its rusage (children it
/// reaped included), or panics if it runs longer than [`HANG`].
// The child is reaped by wait4 (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(args: &[&str], env: &[(&str, &str)]) -> Cost {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drain stdout on a thread so a large record never blocks the child.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: wait4 on our own child, writing into structs we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            // The Child handle must not wait again for a reaped pid.
            std::mem::forget(child);
            return Cost {
                status,
                cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                max_rss_bytes: usage.ru_maxrss as u64 * 1024,
                stdout: reader.join().unwrap(),
            };
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sonovec {args:?} still running after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn exit_code(status: i32) -> Option<i32> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

fn family() -> Vec<std::collections::HashMap<String, String>> {
    read_csv(&repo_path("tests/fixtures/bad/hostile/expect.csv"))
}

fn check_record(row: &std::collections::HashMap<String, String>, record: &serde_json::Value) {
    let file = &row["file"];
    let failed = !record["error"].is_null();
    match row["expect"].as_str() {
        "ok" => assert!(!failed, "{file} should be analysed: {record}"),
        "error" => assert!(failed, "{file} should be an error record: {record}"),
        _ => {}
    }
    if failed {
        let kind = record["error"]["kind"].as_str().unwrap();
        assert!(
            ["unsupported_format", "corrupt", "empty", "too_long"].contains(&kind),
            "{file}: {record}"
        );
        let wanted = row.get("kind").map(String::as_str).unwrap_or("");
        if !wanted.is_empty() {
            assert_eq!(kind, wanted, "{file}: {record}");
        }
        assert!(record["vector"].is_null());
    } else {
        let vector = record["vector"].as_array().unwrap();
        assert!(vector
            .iter()
            .all(|v| v.as_f64().is_some_and(f64::is_finite)));
    }
}

#[test]
fn every_hostile_header_gets_its_record_in_bounded_time_and_memory() {
    let mut report = Vec::new();
    for row in family() {
        let path = repo_path(&format!("tests/fixtures/bad/hostile/{}", row["file"]));
        assert!(
            std::fs::metadata(&path).unwrap().len() < 1 << 20,
            "the family is of small files"
        );
        // In process on purpose: nothing but the limits stands between the header and the
        // allocator here.
        let cost = measure(&["analyze", "--model", "msd", path.to_str().unwrap()], &[]);
        let code = exit_code(cost.status);
        let record: serde_json::Value = serde_json::from_slice(&cost.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: no record ({e}), wait status {}",
                row["file"], cost.status
            )
        });
        check_record(&row, &record);
        let want_code = if record["error"].is_null() { 0 } else { 1 };
        assert_eq!(code, Some(want_code), "{}: {record}", row["file"]);
        report.push(format!(
            "{:<36} {:>6.2} CPU-s {:>5} MB",
            row["file"],
            cost.cpu_s,
            cost.max_rss_bytes >> 20
        ));
        assert!(
            cost.cpu_s < MAX_CPU_S,
            "{}: {:.1} CPU-s",
            row["file"],
            cost.cpu_s
        );
        assert!(
            cost.max_rss_bytes < MAX_RSS_BYTES,
            "{}: {} MB resident",
            row["file"],
            cost.max_rss_bytes >> 20
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn extract_gives_the_whole_family_one_record_each_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let corpus = repo_path("tests/fixtures/bad/hostile");
    let cost = measure(
        &[
            "extract",
            corpus.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(
        exit_code(cost.status),
        Some(1),
        "bad inputs give exit code 1"
    );
    assert!(
        cost.max_rss_bytes < MAX_RSS_BYTES,
        "{} MB",
        cost.max_rss_bytes >> 20
    );
    let records = common::records(&out.join("tracks.jsonl"));
    let rows = family();
    assert_eq!(records.len(), rows.len());
    for row in rows {
        let record = records
            .iter()
            .find(|r| Path::new(r["path"].as_str().unwrap()).ends_with(&row["file"]))
            .unwrap_or_else(|| panic!("no record for {}", row["file"]));
        check_record(&row, record);
    }
}

#[test]
fn a_rate_outside_the_range_names_the_limit() {
    let path = repo_path("tests/fixtures/bad/hostile/wav_rate_4294967291.wav");
    let cost = measure(&["analyze", "--model", "none", path.to_str().unwrap()], &[]);
    let record: serde_json::Value = serde_json::from_slice(&cost.stdout).unwrap();
    let message = record["error"]["message"].as_str().unwrap();
    assert!(message.contains("4294967291 Hz"), "{message}");
    assert!(message.contains("1000–768000 Hz"), "{message}");
}

/// Every file refused for its sample rate says so, and names the supported range: not the end of
/// the file (a FLAC whose STREAMINFO rate its frames contradict), nor a saturated number (symphonia
/// reads AIFF's 1e300 Hz as 4294967295 Hz).
#[test]
fn every_rate_refusal_names_the_rate_limit() {
    let mut checked = 0;
    for row in family() {
        let file = &row["file"];
        let rate_case = file.contains("_rate_") || file.contains("timescale_1.");
        if !rate_case || row["expect"] != "error" {
            continue;
        }
        let path = repo_path(&format!("tests/fixtures/bad/hostile/{file}"));
        let cost = measure(&["analyze", "--model", "none", path.to_str().unwrap()], &[]);
        let record: serde_json::Value = serde_json::from_slice(&cost.stdout).unwrap();
        assert_eq!(
            record["error"]["kind"], "unsupported_format",
            "{file}: {record}"
        );
        let message = record["error"]["message"].as_str().unwrap();
        assert!(message.contains("1000–768000 Hz"), "{file}: {message}");
        assert!(!message.contains("4294967295"), "{file}: {message}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} rate cases in the family");
    let message = |file: &str| {
        let path = repo_path(&format!("tests/fixtures/bad/hostile/{file}"));
        let cost = measure(&["analyze", "--model", "none", path.to_str().unwrap()], &[]);
        let record: serde_json::Value = serde_json::from_slice(&cost.stdout).unwrap();
        record["error"]["message"].as_str().unwrap().to_string()
    };
    assert!(message("flac_streaminfo_rate_1.flac").contains("sample rate 1 Hz"));
    assert!(message("aiff_rate_1e300.aiff").contains("1e300 Hz"));
    assert!(message("caf_rate_nan.caf").contains("not a number"));
}
