#!/usr/bin/env python3
"""Two commands timed in turn, A B A B …, and their ratio pair by pair: a comparison that holds
when a shared machine's speed drifts between runs.

    python3 scripts/paired_timing.py [-n RUNS] [--warmup N] --vs 'COMMAND B' -- COMMAND A ...

Each command runs as a whole process (B is one string, split as a shell splits words, and run
without a shell; wrap it in `sh -c '…'` for a pipeline or a loop). After the warm-up runs, which
are not counted, A and B alternate RUNS times each. Per run: wall seconds, and CPU seconds (user
+ system) of the finished process tree from the operating system's own accounting (`getrusage`
of the reaped children). Printed: each figure's minimum, median and maximum for A and for B, then
A/B pair by pair (run i of A over run i of B), minimum, median and maximum. Quote the medians;
the range says how noisy the machine was. The commands' output is thrown away.

A benchmark, not a test: it asserts nothing.
"""
import argparse
import resource
import shlex
import statistics
import subprocess
import sys
import time


def timed(argv, check=False):
    """Runs `argv` to the end, its output thrown away; returns (wall s, CPU s of its process
    tree). A failed run raises with `check`, and is only warned of without it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0 and check:
        raise subprocess.CalledProcessError(code, argv)
    if code != 0:
        print(f"warning: exit {code}: {shlex.join(argv)}", file=sys.stderr)
    return wall, cpu


def spread(values):
    return f"{min(values):9.3f} {statistics.median(values):9.3f} {max(values):9.3f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=5, help="counted runs of each (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="uncounted runs of each first (default 1)")
    p.add_argument("--vs", required=True, help="command B, one string")
    p.add_argument("a", nargs=argparse.REMAINDER, help="-- command A and its arguments")
    args = p.parse_args()
    a = args.a[1:] if args.a[:1] == ["--"] else args.a
    if not a or args.runs < 1:
        p.error("give command A after --, and at least one run")
    b = shlex.split(args.vs)
    for _ in range(args.warmup):
        timed(a)
        timed(b)
    runs = {"A": [], "B": []}
    for _ in range(args.runs):
        runs["A"].append(timed(a))
        runs["B"].append(timed(b))
    print(f"A = {shlex.join(a)}\nB = {shlex.join(b)}\n{args.runs} runs each, in turn, after "
          f"{args.warmup} warm-up run(s) each")
    print(f"{'':12}{'min':>9} {'median':>9} {'max':>9}")
    for name in ("A", "B"):
        print(f"{name} wall s    {spread([w for w, _ in runs[name]])}")
        print(f"{name} cpu s     {spread([c for _, c in runs[name]])}")
    for i, label in ((0, "wall"), (1, "cpu")):
        ratios = [ra[i] / rb[i] for ra, rb in zip(runs["A"], runs["B"]) if rb[i] > 0]
        if ratios:
            print(f"A/B {label:8} {spread(ratios)}")


if __name__ == "__main__":
    main()
