//! `sonovec eval-tempo LABELS.csv`: tempo and beat accuracy on a labelled set, per style.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use sonovec::eval::{acc1, acc2, beat_f_measure, p_score, trim_beats};
use sonovec::{Analyzer, Config, Track};

use super::{Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV with a header and the columns `file` and `bpm`, optionally `style` and `beats` (a file
    /// of beat times in seconds, one per line). Paths are relative to the CSV's folder; without a
    /// `beats` column, `beats/STEM.txt` is used when it exists.
    labels: PathArg,

    /// Also write one line per clip (estimates and scores) to this CSV.
    #[arg(long, value_name = "CSV")]
    details: Option<PathBuf>,

    /// Also write, per clip, the label and every metrical-level hypothesis with its features and
    /// the track's tags, as JSON lines (the input of `scripts/fit_tempo_level.py`).
    #[arg(long, value_name = "JSONL")]
    level_features: Option<PathBuf>,
}

struct Label {
    file: PathBuf,
    bpm: f64,
    style: String,
    beats: Option<Vec<f64>>,
}

/// Scores of one clip. A clip without a tempo scores 0 everywhere.
struct Score {
    estimate_bpm: Option<f64>,
    acc1: bool,
    acc2: bool,
    f_measure: Option<f64>,
    p_score: Option<f64>,
}

/// Analyses every labelled clip and prints Acc1, Acc2 (±4 %), beat F-measure (±70 ms) and P-score
/// per style and overall, as mir_eval defines them (beats before 5 s are ignored).
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let labels = read_labels(&args.labels)?;
    let analyzer = Analyzer::new(Config {
        beats: true,
        ..config
    });
    let started = Instant::now();
    let tracks: Vec<Track> = labels
        .par_iter()
        .map(|label| analyzer.analyze_path(&label.file))
        .collect();
    let wall = started.elapsed().as_secs_f64();
    let mut failed = false;
    let scores: Vec<Score> = labels
        .iter()
        .zip(&tracks)
        .map(|(label, track)| {
            if let Some(e) = &track.record.error {
                eprintln!("sonovec: {}: {e}", label.file.display());
                failed = true;
            }
            score(label, track)
        })
        .collect();

    let mut by_style: BTreeMap<&str, Vec<&Score>> = BTreeMap::new();
    for (label, s) in labels.iter().zip(&scores) {
        by_style.entry(&label.style).or_default().push(s);
    }
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{:<20} {:>4} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "style", "n", "Acc1", "Acc2", "F", "P", "null"
    )?;
    for (style, rows) in &by_style {
        writeln!(out, "{}", table_row(style, rows))?;
    }
    writeln!(
        out,
        "{}",
        table_row("ALL", &scores.iter().collect::<Vec<_>>())
    )?;

    let audio_s: f64 = tracks.iter().filter_map(|t| t.record.duration_s).sum();
    let mut totals = sonovec::StageTimings::default();
    for t in &tracks {
        totals += t.timings;
    }
    let spine = (totals.decode + totals.resample + totals.spectrogram).as_secs_f64();
    let features = totals.features().as_secs_f64();
    writeln!(
        out,
        "{:.0} s of audio in {:.1} s wall; CPU time summed over clips: decode+resample+mel {:.2} s \
         ({:.0}x realtime), features incl. tempo+beats {:.3} s (+{:.1} %)",
        audio_s,
        wall,
        spine,
        audio_s / spine.max(1e-9),
        features,
        100.0 * features / spine.max(1e-9)
    )?;
    if let Some(path) = &args.details {
        write_details(path, &labels, &tracks, &scores)?;
    }
    if let Some(path) = &args.level_features {
        write_level_features(path, &labels, &tracks)?;
    }
    Ok(if failed {
        Outcome::BadInput
    } else {
        Outcome::Success
    })
}

fn score(label: &Label, track: &Track) -> Score {
    let tempo = track.record.tempo.clone().flatten();
    let estimate_bpm = tempo.as_ref().map(|t| t.bpm);
    let (f_measure, p) = match &label.beats {
        None => (None, None),
        Some(reference) => {
            let estimate = tempo.and_then(|t| t.beats_s).unwrap_or_default();
            let (r, e) = (trim_beats(reference, 5.0), trim_beats(&estimate, 5.0));
            (
                Some(beat_f_measure(&r, &e, 0.07)),
                Some(p_score(&r, &e, 0.2)),
            )
        }
    };
    Score {
        estimate_bpm,
        acc1: estimate_bpm.is_some_and(|b| acc1(b, label.bpm)),
        acc2: estimate_bpm.is_some_and(|b| acc2(b, label.bpm)),
        f_measure,
        p_score: p,
    }
}

fn table_row(name: &str, rows: &[&Score]) -> String {
    let n = rows.len().max(1) as f64;
    let pct = |count: usize| 100.0 * count as f64 / n;
    let mean = |values: Vec<f64>| {
        if values.is_empty() {
            "-".to_string()
        } else {
            format!("{:.3}", values.iter().sum::<f64>() / values.len() as f64)
        }
    };
    format!(
        "{:<20} {:>4} {:>5.1}% {:>5.1}% {:>6} {:>6} {:>6}",
        name,
        rows.len(),
        pct(rows.iter().filter(|s| s.acc1).count()),
        pct(rows.iter().filter(|s| s.acc2).count()),
        mean(rows.iter().filter_map(|s| s.f_measure).collect()),
        mean(rows.iter().filter_map(|s| s.p_score).collect()),
        rows.iter().filter(|s| s.estimate_bpm.is_none()).count(),
    )
}

fn write_details(
    path: &Path,
    labels: &[Label],
    tracks: &[Track],
    scores: &[Score],
) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "file,style,bpm,estimate,confidence,candidates,acc1,acc2,f_measure,p_score,null_reason"
    )?;
    for ((label, track), s) in labels.iter().zip(tracks).zip(scores) {
        let tempo = track.record.tempo.clone().flatten();
        let candidates = tempo
            .as_ref()
            .map(|t| {
                t.candidates
                    .iter()
                    .map(|c| format!("{}:{}", c.bpm, c.strength))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            label.file.display(),
            label.style,
            label.bpm,
            s.estimate_bpm.map(|b| b.to_string()).unwrap_or_default(),
            tempo
                .as_ref()
                .map(|t| t.confidence.to_string())
                .unwrap_or_default(),
            candidates,
            s.acc1 as u8,
            s.acc2 as u8,
            s.f_measure.map(|f| format!("{f:.4}")).unwrap_or_default(),
            s.p_score.map(|p| format!("{p:.4}")).unwrap_or_default(),
            track
                .record
                .tempo_null_reason
                .map(|r| format!("{r:?}"))
                .unwrap_or_default(),
        )?;
    }
    out.flush()
}

fn write_level_features(path: &Path, labels: &[Label], tracks: &[Track]) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for (label, track) in labels.iter().zip(tracks) {
        let decision = track
            .record
            .tempo
            .clone()
            .flatten()
            .and_then(|t| t.decision);
        let line = serde_json::json!({
            "file": label.file.display().to_string(),
            "style": label.style,
            "bpm": label.bpm,
            "feature_names": sonovec::features::tempo::level::FEATURE_NAMES,
            "decision": decision,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn read_labels(csv: &Path) -> io::Result<Vec<Label>> {
    let base = csv.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(csv)?;
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let (Some(file_col), Some(bpm_col)) = (column("file"), column("bpm")) else {
        return Err(bad(format!(
            "{}: needs the columns file and bpm",
            csv.display()
        )));
    };
    let (style_col, beats_col) = (column("style"), column("beats"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or("");
            let file = base.join(cell(file_col));
            let bpm: f64 = cell(bpm_col)
                .parse()
                .map_err(|_| bad(format!("bad bpm in line: {line}")))?;
            let beats_path = match beats_col.map(cell).filter(|c| !c.is_empty()) {
                Some(p) => Some(base.join(p)),
                None => {
                    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                    Some(base.join("beats").join(format!("{stem}.txt"))).filter(|p| p.exists())
                }
            };
            let beats = beats_path.map(|p| read_beats(&p)).transpose()?;
            Ok(Label {
                file,
                bpm,
                style: style_col.map(cell).unwrap_or("all").to_string(),
                beats,
            })
        })
        .collect()
}

fn read_beats(path: &Path) -> io::Result<Vec<f64>> {
    let text = std::fs::read_to_string(path)?;
    text.split_whitespace()
        .map(|w| {
            w.parse::<f64>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: bad time {w}", path.display()),
                )
            })
        })
        .collect()
}
