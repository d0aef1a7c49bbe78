#!/usr/bin/env python3
"""sonovec against Essentia's RhythmExtractor2013 on one labelled set, clip by clip: Acc1 by the
value of one label column (default `meter`; `make_tempo_modules.py` writes the rows per beat
there), and, where both are at the labelled tempo, which of the two beat on the labelled phase.

    target/release/sonovec -j 2 --model none eval-tempo data/heldout_modules/labels.csv \\
        --details /tmp/modules.csv
    .venv-ref/bin/python scripts/probe_tempo_groups.py data/heldout_modules/labels.csv /tmp/modules.csv

Beat F is mir_eval's (±70 ms, beats before 5 s trimmed); "off the phase" is F below 0.1 at the
labelled tempo, "on it" F above 0.9.
"""
import argparse
import csv
import os
import sys
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_beat_trackers import essentia_rhythm_of_file  # noqa: E402


def main():
    import mir_eval
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labels")
    ap.add_argument("details", help="`sonovec eval-tempo --details` of the same set")
    ap.add_argument("--by", default="meter", help="label column to group by")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    base = os.path.dirname(a.labels)
    rows = list(csv.DictReader(open(a.labels)))
    sonovec = {os.path.basename(r["file"]): r for r in csv.DictReader(open(a.details))}
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        essentia = list(pool.map(essentia_rhythm_of_file, [os.path.join(base, r["file"]) for r in rows]))
    right = lambda bpm, label: abs(bpm - label) <= 0.04 * label
    counts, phase = {}, Counter()
    for row, (ess_bpm, ticks) in zip(rows, essentia):
        label = float(row["bpm"])
        ours = sonovec[os.path.basename(row["file"])]
        ours_bpm = float(ours["estimate"] or 0)
        reference = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, row["beats"]), ndmin=1))
        ess_f = mir_eval.beat.f_measure(reference, mir_eval.beat.trim_beats(np.asarray(ticks, float)))
        ours_f = float(ours["f_measure"] or 0)
        group = counts.setdefault(row[a.by], Counter())
        group.update(n=1, sonovec=right(ours_bpm, label), essentia=right(ess_bpm, label))
        if right(ours_bpm, label) and right(ess_bpm, label):
            phase["both at the labelled tempo"] += 1
            phase["both off the phase"] += ours_f < 0.1 and ess_f < 0.1
            phase["sonovec off, Essentia on"] += ours_f < 0.1 and ess_f > 0.9
            phase["Essentia off, sonovec on"] += ess_f < 0.1 and ours_f > 0.9
    print(f"{a.labels}: Acc1 by {a.by}")
    print(f"  {a.by:20} {'n':>4} {'sonovec':>8} {'Essentia':>9}")
    for value, c in sorted(counts.items(), key=lambda kv: -kv[1]["n"]):
        print(f"  {value:20} {c['n']:4} {100 * c['sonovec'] / c['n']:7.1f}% {100 * c['essentia'] / c['n']:8.1f}%")
    for name, n in phase.items():
        print(f"  {name}: {n}")


if __name__ == "__main__":
    main()
