#!/usr/bin/env python3
"""Two workers against one: sonovec `--jobs 1` vs `--jobs 2` on one long file and on a folder.

    scaling.py --long FILE --folder DIR [--bin BIN]... [--rounds 2] [--configs none,30s,full]
               [--inputs long,folder] [--jobs 1,2] [--out results.jsonl]

Every measurement is one `sonovec <config> --jobs N extract --force --quiet -o TMP INPUT`
child process; wall time, user+sys CPU seconds (the child and the worker processes it waited
for) and peak RSS come from os.wait4, the load average (1 min) is read just before it starts.
Rounds repeat the whole grid; inside a round the binaries alternate for each (config, input,
jobs), A B A B, so slow drifts in the machine's load fall on each alike. Each measurement is
appended to --out as one JSON line at once, then a markdown table is printed: per binary,
config and input, the median wall and CPU seconds at each --jobs and the wall-time ratio of
one worker to two (the scaling; 2.0 is perfect on two free cores).

Wall time is the figure scaling is about, so run it on a quiet machine and read the load column.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "none": ["--model", "none"],
    "30s": ["--embed-seconds", "30"],
    "full": [],
}


def measure(binary, config, jobs, target):
    out = tempfile.mkdtemp(prefix="sonovec-scaling-")
    try:
        cmd = [binary, *CONFIGS[config], "--jobs", str(jobs), "extract", "--force", "--quiet",
               "-o", out, str(target)]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stderr = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        return {
            "wall_s": round(wall, 3),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "rss_mb": round(usage.ru_maxrss / 1024, 1),
            "load": load,
            "exit": os.waitstatus_to_exitcode(status),
            "stderr": stderr[-500:],
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def report(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["bin"], r["config"], r["input"]), {}).setdefault(r["jobs"], []).append(r)
    print("| binary | config | input | jobs | wall s (median) | CPU s (median) | rounds | load | "
          "wall ratio jobs 1 / jobs N |")
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    for (binary, config, target), by_jobs in groups.items():
        base = statistics.median(r["wall_s"] for r in by_jobs.get(1, [])) if 1 in by_jobs else None
        for jobs in sorted(by_jobs):
            runs = by_jobs[jobs]
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            loads = [r["load"] for r in runs]
            ratio = f"{base / wall:.2f}" if base and jobs != 1 else ""
            walls = " / ".join(f"{r['wall_s']:.2f}" for r in runs)
            print(f"| {binary} | {config} | {target} | {jobs} | {wall:.2f} ({walls}) | {cpu:.2f} | "
                  f"{len(runs)} | {min(loads):.2f}–{max(loads):.2f} | {ratio} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--long", type=Path, required=True, help="one long audio file")
    ap.add_argument("--folder", type=Path, required=True, help="a folder of tracks")
    ap.add_argument("--bin", action="append", help="sonovec binaries (default target/release)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--configs", default="none,30s,full")
    ap.add_argument("--inputs", default="long,folder", help="which of the two to measure")
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--out", type=Path, default=Path("data/scaling.jsonl"),
                    help="JSON lines log of every run, appended to (default in git-ignored data/)")
    args = ap.parse_args()
    binaries = args.bin or [str(Path(__file__).resolve().parents[2] / "target/release/sonovec")]
    configs = args.configs.split(",")
    jobs_list = [int(j) for j in args.jobs.split(",")]
    inputs = [(n, t) for n, t in (("long", args.long), ("folder", args.folder))
              if n in args.inputs.split(",")]
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as log:
        for rnd in range(args.rounds):
            for config in configs:
                for name, target in inputs:
                    for jobs in jobs_list:
                        for binary in binaries:
                            m = measure(binary, config, jobs, target)
                            row = {"round": rnd, "bin": binary, "config": config, "input": name,
                                   "jobs": jobs, **m, "time": time.strftime("%H:%M:%S")}
                            rows.append(row)
                            log.write(json.dumps(row) + "\n")
                            log.flush()
                            print(f"round {rnd} {Path(binary).name} {config} {name} jobs {jobs}: "
                                  f"wall {m['wall_s']:.2f} s cpu {m['cpu_s']:.2f} s "
                                  f"rss {m['rss_mb']} MB load {m['load']:.2f} exit {m['exit']}",
                                  file=sys.stderr, flush=True)
    report(rows)


if __name__ == "__main__":
    main()
