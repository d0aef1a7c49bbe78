#!/usr/bin/env python3
"""How much faster two cores make one file: `-j 2` against `-j 1`, for several builds in turn.

    python3 scripts/compare_two_core_speedup.py INPUT ROUNDS BINARY... [-- SONOVEC_FLAGS...]

Each round runs every BINARY at `-j 1` then `-j 2` (`extract --force --quiet` into a throwaway
folder; the flags after `--` go before `extract`, default `--model none`), so the builds meet the
same drift of a noisy machine, and each round gives each build one ratio of its own `-j 2` wall
time to its `-j 1` wall time. Printed per build: the median wall times, the median ratio with its
range and what it means as a speed-up, and the median ratio of CPU time (user + system of the
process tree), which says what the second thread costs. #14 asks for ≥ 1.8× on one long file.

A benchmark, not a test: it asserts nothing.
"""
import statistics
import sys
import tempfile

from paired_timing import timed


def main(argv):
    if "--" in argv:
        cut = argv.index("--")
        argv, flags = argv[:cut], argv[cut + 1:]
    else:
        flags = ["--model", "none"]
    if len(argv) < 3:
        sys.exit(__doc__)
    path, rounds, binaries = argv[0], int(argv[1]), argv[2:]
    out = tempfile.mkdtemp(prefix="two-core-")
    runs = {(b, j): [] for b in binaries for j in (1, 2)}
    for _ in range(rounds):
        for binary in binaries:
            for jobs in (1, 2):
                cmd = [binary, "-j", str(jobs), *flags, "extract", "--force", "--quiet",
                       "-o", out, path]
                runs[(binary, jobs)].append(timed(cmd, check=True))
    for binary in binaries:
        one, two = runs[(binary, 1)], runs[(binary, 2)]
        wall = [b[0] / a[0] for a, b in zip(one, two)]
        cpu = [b[1] / a[1] for a, b in zip(one, two)]
        ratio = statistics.median(wall)
        print(f"{binary}: -j 1 wall {statistics.median(r[0] for r in one):.3f} s, "
              f"-j 2 wall {statistics.median(r[0] for r in two):.3f} s; -j 2 / -j 1 wall "
              f"{ratio:.4f} ({min(wall):.3f}–{max(wall):.3f}, {rounds} rounds) = "
              f"{1 / ratio:.3f}× as fast; CPU {statistics.median(cpu):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
