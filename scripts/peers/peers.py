#!/usr/bin/env python3
"""Side-by-side throughput of sonovec and the tools users know, on the same folder.

    peers.py run    --set DIR --out DIR --sonovec BIN --bliss BIN [--rounds N] [--deadline EPOCH]
                    [--only TOOL,…] [--jobs 1,2] [--sonovec-before BIN]
    peers.py report OUT_DIR            # prints the markdown table of OUT_DIR/results.jsonl
    peers.py worker TOOL --jobs N FILE...   # one measured peer process (run uses it)

`run` measures every (tool, jobs) pair once per round, in an order rotated every round (A B A B,
so slow drifts in the machine's load fall on every tool alike), each as one child process whose
wall time and user+sys CPU time come from os.wait4 (including the worker processes it waited
for), and peak RSS from GNU time (/usr/bin/time, the largest of the process and its workers;
os.wait4's where time is missing). Every measurement is appended to OUT/results.jsonl at once, so a run
cut short by --deadline still reports what it finished: a measurement is not started after the
deadline, nor when the same pair's previous duration says it would end after it.

Python peers run with BLAS/OpenMP/numba pinned to one thread so that `--jobs N` means N cores;
bliss-rs cannot be pinned (it spawns threads inside one analysis), which is why CPU seconds and
x-realtime per CPU-second are reported next to wall time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

AUDIO = (".mp3", ".flac", ".ogg")
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


# ---- workers: one file each, one JSON line per file with per-stage wall and CPU seconds -------


class Clock:
    """Per-stage wall and process-CPU seconds of one file."""

    def __init__(self):
        self.stages = {}
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def lap(self, stage):
        wall, cpu = time.perf_counter(), time.process_time()
        self.stages[stage] = [wall - self._wall, cpu - self._cpu]
        self._wall, self._cpu = wall, cpu


def librosa_file(path):
    import librosa

    c = Clock()
    y, sr = librosa.load(path, sr=22050, mono=True)
    c.lap("load")
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128)
    librosa.power_to_db(mel)
    c.lap("mel")
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    c.lap("onset")
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr)
    c.lap("tempo")
    _, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr)
    c.lap("beat_track")
    return {"duration": len(y) / sr, "tempo": float(tempo[0]), "beats": len(beats)}, c


def essentia_music_file(path):
    import essentia
    import essentia.standard as es

    essentia.log.warningActive = False
    c = Clock()
    # The full standard feature set: low-level, rhythm and tonal descriptors and their stats.
    features, _frames = es.MusicExtractor()(path)
    c.lap("music_extractor")
    return {
        "duration": float(features["metadata.audio_properties.length"]),
        "bpm": float(features["rhythm.bpm"]),
    }, c


def essentia_rhythm_loudness_file(path):
    import essentia
    import essentia.standard as es

    essentia.log.warningActive = False
    c = Clock()
    mono = es.MonoLoader(filename=path, sampleRate=44100)()
    c.lap("mono_load")
    bpm, beats, *_ = es.RhythmExtractor2013(method="multifeature")(mono)
    c.lap("rhythm_extractor_2013")
    stereo, rate, *_ = es.AudioLoader(filename=path)()
    c.lap("stereo_load")
    *_, integrated, lra = es.LoudnessEBUR128(sampleRate=rate)(stereo)
    c.lap("loudness_ebur128")
    return {
        "duration": len(mono) / 44100.0,
        "bpm": float(bpm),
        "beats": len(beats),
        "lufs": float(integrated),
    }, c


WORKERS = {
    "librosa": librosa_file,
    "essentia_music": essentia_music_file,
    "essentia_rhythm_loudness": essentia_rhythm_loudness_file,
}


def _one(task):
    tool, path = task
    try:
        result, clock = WORKERS[tool](path)
        return {"path": path, **result, "stages": clock.stages}
    except Exception as e:  # a peer failing on a file is reported, not fatal
        return {"path": path, "error": f"{type(e).__name__}: {e}"}


def worker(args):
    tasks = [(args.tool, f) for f in args.files]
    if args.jobs == 1:
        results = map(_one, tasks)
        for r in results:
            print(json.dumps(r), flush=True)
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for r in pool.map(_one, tasks):
                print(json.dumps(r), flush=True)


# ---- the run ------------------------------------------------------------------------------------


def durations(files):
    total = 0.0
    for f in files:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", f],
            capture_output=True, text=True, check=True,
        )
        total += float(out.stdout.strip())
    return total


def commands(a, files, jobs):
    """Every (name, argv, env) to measure with `jobs` workers."""
    py = [sys.executable, os.path.abspath(__file__), "worker"]
    ffmpeg = [
        "xargs", "-0", "-n1", f"-P{jobs}", "sh", "-c",
        'exec ffmpeg -nostdin -v error -i "$1" -f f32le -ac 1 -ar 16000 - > /dev/null', "_",
    ]

    def sonovec(name, *flags, binary=None):
        out = Path(a.out) / "sonovec-out" / f"{name}-j{jobs}"
        return [binary or a.sonovec, "--jobs", str(jobs), *flags, "extract", "--force",
                "--quiet", "-o", str(out), a.set]

    before = []
    if a.sonovec_before:
        before = [
            ("sonovec_before_no_embedding",
             sonovec("before-none", "--model", "none", binary=a.sonovec_before), None),
            ("sonovec_before_embed_30s",
             sonovec("before-e30", "--embed-seconds", "30", binary=a.sonovec_before), None),
            ("sonovec_before_full_embedding", sonovec("before-full", binary=a.sonovec_before),
             None),
        ]
    return before + [
        ("ffmpeg_decode_16k", ffmpeg, None),
        ("librosa", py + ["librosa", "--jobs", str(jobs), *files], ONE_THREAD),
        ("essentia_music_extractor", py + ["essentia_music", "--jobs", str(jobs), *files],
         ONE_THREAD),
        ("essentia_rhythm_loudness",
         py + ["essentia_rhythm_loudness", "--jobs", str(jobs), *files], ONE_THREAD),
        ("bliss", [a.bliss, "--jobs", str(jobs), *files], None),
        ("sonovec_no_embedding", sonovec("none", "--model", "none"), None),
        ("sonovec_embed_30s", sonovec("e30", "--embed-seconds", "30"), None),
        ("sonovec_full_embedding", sonovec("full"), None),
    ]


# A child that execs from this process reports this process's resident set as its own peak
# (Linux carries the old memory's high-water mark across exec, and subprocess forks with vfork):
# 58 MB for ffmpeg and sonovec alike on one machine. GNU time, small itself, forks the tool and
# reports the tool's own peak.
GNU_TIME = "/usr/bin/time"


def peak_rss_kb(rss_path, usage):
    """GNU time's figure where it wrote one (its last line: it may print a signal note first),
    else wait4's."""
    try:
        return float(Path(rss_path).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return usage.ru_maxrss


def measure(argv, env, stdin_bytes, log_path):
    rss_path = str(log_path) + ".rss"
    if os.access(GNU_TIME, os.X_OK):
        argv = [GNU_TIME, "-f", "%M", "-o", rss_path, *argv]
    started = time.perf_counter()
    load_before = os.getloadavg()
    with open(log_path, "wb") as out, open(str(log_path) + ".err", "wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
            stdout=out, stderr=err, env={**os.environ, **(env or {})},
        )
        if stdin_bytes is not None:
            proc.stdin.write(stdin_bytes)
            proc.stdin.close()
        # wait4 gives this child's rusage, including the children it waited for.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": peak_rss_kb(rss_path, usage) / 1024.0,
        "exit": proc.returncode,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def run(a):
    files = sorted(str(p) for p in Path(a.set).iterdir() if p.suffix.lower() in AUDIO)
    out = Path(a.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    audio_s = durations(files)
    for f in files:  # page cache
        Path(f).read_bytes()
    meta = {
        "files": len(files), "audio_s": audio_s, "set": a.set, "rounds": a.rounds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    print(f"peers: {len(files)} files, {audio_s:.1f} s of audio -> {out}", flush=True)
    jobs_all = os.cpu_count() or 1
    jobs_list = [int(j) for j in a.jobs.split(",")] if a.jobs else [1, jobs_all]
    pairs = [(name, argv, env, jobs) for jobs in jobs_list
             for name, argv, env in commands(a, files, jobs)]
    if a.only:
        # In the order ONLY names them, within each worker count.
        order = a.only.split(",")
        pairs = sorted((p for p in pairs if p[0] in order),
                       key=lambda p: (jobs_list.index(p[3]), order.index(p[0])))
    if not pairs:
        sys.exit(f"peers: nothing to measure (ONLY={a.only!r} names no tool; names: "
                 f"{', '.join(name for name, _, _ in commands(a, files, 1))})")
    last = {}
    results = out / "results.jsonl"
    for r in range(a.rounds):
        shift = (r * 3) % len(pairs)
        for name, argv, env, jobs in pairs[shift:] + pairs[:shift]:
            key = f"{name}-j{jobs}"
            if a.deadline and key in last and time.time() + last[key] > a.deadline:
                print(f"round {r}: skip {key} (would end after the deadline)", flush=True)
                continue
            if a.deadline and time.time() >= a.deadline:
                print(f"round {r}: skip {key} (the deadline has passed)", flush=True)
                continue
            stdin = b"\0".join(f.encode() for f in files) if name.startswith("ffmpeg") else None
            m = measure(argv, env, stdin, out / "runs" / f"{key}-r{r}.jsonl")
            last[key] = m["wall_s"]
            row = {"tool": name, "jobs": jobs, "round": r, **m}
            with open(results, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"round {r}: {key}: wall {m['wall_s']:.1f} s, cpu {m['cpu_s']:.1f} s, "
                  f"rss {m['peak_rss_mb']:.0f} MB, exit {m['exit']}, "
                  f"load {m['load_before'][0]:.1f}", flush=True)


# ---- the report ---------------------------------------------------------------------------------

LABELS = {
    "ffmpeg_decode_16k": "ffmpeg decode → 16 kHz mono f32 (floor)",
    "librosa": "librosa load+mel+onset+feature.tempo+beat_track",
    "essentia_music_extractor": "Essentia MusicExtractor (standard set)",
    "essentia_rhythm_loudness": "Essentia RhythmExtractor2013 + LoudnessEBUR128",
    "bliss": "bliss-rs analyze (23 numbers)",
    "sonovec_no_embedding": "sonovec extract --model none",
    "sonovec_embed_30s": "sonovec extract --embed-seconds 30",
    "sonovec_full_embedding": "sonovec extract (whole-track embedding)",
    "sonovec_before_no_embedding": "sonovec extract --model none (before: --sonovec-before)",
    "sonovec_before_embed_30s": "sonovec extract --embed-seconds 30 (before: --sonovec-before)",
    "sonovec_before_full_embedding":
        "sonovec extract, whole-track embedding (before: --sonovec-before)",
}
REFERENCE = "sonovec_embed_30s"


def stage_sums(outs, tool, jobs):
    """Per-stage wall/CPU seconds summed over files, median over the rounds (Python peers)."""
    per_round = []
    logs = [out / "runs" / f"{tool}-j{jobs}-r{r['round']}.jsonl" for out in outs
            for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())
            if (r["tool"], r["jobs"], r["exit"]) == (tool, jobs, 0)]
    for log in logs:
        sums = {}
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            for stage, (w, c) in rec.get("stages", {}).items():
                s = sums.setdefault(stage, [0.0, 0.0])
                s[0] += w
                s[1] += c
        if sums:
            per_round.append(sums)
    if not per_round:
        return {}
    return {st: [statistics.median(r[st][i] for r in per_round if st in r) for i in (0, 1)]
            for st in per_round[0]}


def report(a):
    outs = [Path(o) for o in a.out]
    out = outs[0]
    meta = json.loads((out / "meta.json").read_text())
    rows = []
    for o in outs:
        m = json.loads((o / "meta.json").read_text())
        assert (m["files"], round(m["audio_s"])) == (meta["files"], round(meta["audio_s"])), o
        rows += [json.loads(l) for l in (o / "results.jsonl").read_text().splitlines()]
    audio, n = meta["audio_s"], meta["files"]
    groups = {}
    for r in rows:
        groups.setdefault((r["tool"], r["jobs"]), []).append(r)
    med = {}
    for key, rs in groups.items():
        ok = [r for r in rs if r["exit"] in (0,)]
        if not ok:
            continue
        med[key] = {
            "wall": statistics.median(r["wall_s"] for r in ok),
            "cpu": statistics.median(r["cpu_s"] for r in ok),
            "rss": max(r["peak_rss_mb"] for r in ok),
            "reps": len(ok),
            "load": statistics.median(r["load_before"][0] for r in ok),
        }
    print(f"{n} files, {audio / 60:.1f} min of audio; medians over the repetitions; "
          f"x-rt = audio s / wall s; x-rt/CPU = audio s / (user+sys) s; ratio = the peer's "
          f"median time / `{REFERENCE}`'s median time at the same --jobs (>1: sonovec faster).\n")
    print("| tool | jobs | reps | wall s | CPU s | x-rt (wall) | x-rt per CPU-s | files/s "
          "| peak RSS MB | ratio wall | ratio CPU | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tool in LABELS:
        for jobs in sorted({j for _, j in med}):
            m = med.get((tool, jobs))
            if not m:
                continue
            ref = med.get((REFERENCE, jobs))
            rw = f"{m['wall'] / ref['wall']:.2f}" if ref else "–"
            rc = f"{m['cpu'] / ref['cpu']:.2f}" if ref else "–"
            print(f"| {LABELS[tool]} | {jobs} | {m['reps']} | {m['wall']:.1f} | {m['cpu']:.1f} "
                  f"| {audio / m['wall']:.1f} | {audio / m['cpu']:.1f} | {n / m['wall']:.3f} "
                  f"| {m['rss']:.0f} | {rw} | {rc} | {m['load']:.1f} |")
    print("\nPer-stage CPU seconds of the Python peers, summed over the files (--jobs 1, median):\n")
    for tool in ("librosa", "essentia_rhythm_loudness", "essentia_music"):
        sums = stage_sums(outs, tool if tool != "essentia_music" else
                          "essentia_music_extractor", 1)
        if sums:
            parts = ", ".join(f"{st} {c:.1f} s ({audio / max(c, 1e-9):.0f}× per CPU-s)"
                              for st, (w, c) in sums.items())
            print(f"- {tool}: {parts}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--set", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--sonovec", required=True)
    r.add_argument("--bliss", required=True)
    r.add_argument("--sonovec-before", default="",
                   help="another sonovec binary (e.g. main's) measured beside, for before/after")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--deadline", type=float, default=0, help="Unix time; 0: none")
    r.add_argument("--only", default="", help="comma list of tool names")
    r.add_argument("--jobs", default="", help="comma list of worker counts (default: 1,nproc)")
    rep = sub.add_parser("report")
    rep.add_argument("out", nargs="+", help="output folders of runs on the same set (merged)")
    w = sub.add_parser("worker")
    w.add_argument("tool", choices=sorted(WORKERS))
    w.add_argument("--jobs", type=int, default=1)
    w.add_argument("files", nargs="+")
    a = p.parse_args()
    {"run": run, "report": report, "worker": worker}[a.cmd](a)


if __name__ == "__main__":
    main()
