#!/usr/bin/env python3
"""Could a rule move sonovec's beats half a beat when they lock on the off-beat? A probe, not a
model: nothing here is shipped.

For every clip of the labelled sets (labels.csv of make_tempo_set.py / make_tempo_heldout.py):
sonovec's beats (`--model none --beats analyze`), the same beats moved half a beat (the
midpoints), the mir_eval F-measure of each against the labels, and the cues of
probe_tempo_phase.py at both phases, as log(strength at the midpoints / strength at the beats):
the onset envelope in full band and per register, and the chord-change novelty (`harmony`).
Then a logistic rule "move the beats" is fitted on the fitting sets only (clips where moving
changes F by more than 0.3), and every set is scored with it: mean F before and after, and how
many clips were moved; plus each fitting set scored by the rule fitted on the others.

    .venv-ref/bin/python scripts/probe_phase_rule.py OUT_DIR \\
        --fit data/tempo_fit/labels.csv data/heldout_grooves/labels.csv \\
        --held data/heldout_midi/labels.csv data/heldout_blupi/labels.csv

Needs target/release/sonovec, and numpy, scipy, librosa, mir_eval (.venv-ref).
"""
import argparse
import json
import os
import sys

import mir_eval
import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(__file__))
from probe_tempo_phase import (dump_clips, envelopes, load, sonovec_tempo,  # noqa: E402
                               strength_at)

CUES = [["harmony"], ["harmony", "full"], ["harmony", "full", "high"],
        ["full", "low", "mid", "high", "wide", "harmony"]]


def clip(job):
    base, row = job
    path = os.path.join(base, row["file"])
    beats = np.array((sonovec_tempo(path) or {}).get("beats_s", []))
    if len(beats) < 4:
        return None
    moved = (beats[:-1] + beats[1:]) / 2
    ref = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, row["beats"]), ndmin=1))
    f = [mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(b)) for b in (beats, moved)]
    cues = {name: float(np.log((strength_at(e, moved) + 1e-9)
                               / (strength_at(e, beats[:-1]) + 1e-9)))
            for name, e in envelopes(load(path)).items()}
    return dict(file=row["file"], style=row["style"], f_tracked=f[0], f_moved=f[1], **cues)


def dump(labels, out):
    """Every clip of `labels`, from OUT/<set>.jsonl when it is there (delete it to redo)."""
    path = os.path.join(out, os.path.basename(os.path.dirname(labels)) + ".jsonl")
    if os.path.exists(path):
        return [json.loads(line) for line in open(path)]
    return dump_clips(labels, clip, path)


def fit(rows, keys, lam):
    rows = [r for r in rows if abs(r["f_moved"] - r["f_tracked"]) > 0.3]
    x = np.array([[r[k] for k in keys] for r in rows])
    y = np.array([r["f_moved"] > r["f_tracked"] for r in rows], float)

    def loss(w):
        z = x @ w[:-1] + w[-1]
        return np.mean(np.logaddexp(0, z) - y * z) + lam * np.sum(w[:-1] ** 2)
    return minimize(loss, np.zeros(len(keys) + 1)).x


def score(rows, keys, w):
    move = np.array([[r[k] for k in keys] for r in rows]) @ w[:-1] + w[-1] > 0
    f = np.where(move, [r["f_moved"] for r in rows], [r["f_tracked"] for r in rows])
    return f.mean(), int(move.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--fit", nargs="+", required=True, help="two or more fitting sets")
    ap.add_argument("--held", nargs="*", default=[])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    fits = [dump(p, a.out) for p in a.fit]
    sets = {os.path.basename(os.path.dirname(p)): dump(p, a.out) for p in a.fit + a.held}
    for name, rows in sets.items():
        print(f"{name}: {len(rows)} clips, F {np.mean([r['f_tracked'] for r in rows]):.3f}; "
              f"moved better (> +0.3) {sum(r['f_moved'] > r['f_tracked'] + 0.3 for r in rows)}, "
              f"tracked better {sum(r['f_tracked'] > r['f_moved'] + 0.3 for r in rows)}")
    for keys in CUES:
        for lam in (0.01, 0.1):
            w = fit([r for rows in fits for r in rows], keys, lam)
            cells = []
            for n, rows in sets.items():
                after, moved = score(rows, keys, w)
                before = np.mean([r["f_tracked"] for r in rows])
                cells.append(f"{n} {before:.3f}→{after:.3f} ({moved} moved)")
            others = [[r for j, rows in enumerate(fits) if j != i for r in rows] for i in range(len(fits))]
            across = [score(fits[i], keys, fit(others[i], keys, lam))[0] for i in range(len(fits))]
            print(f"{','.join(keys)} λ {lam}: weights {np.round(w, 2).tolist()}")
            print("   " + "; ".join(cells) + "; each fitting set by the rule fitted on the others: "
                  + ", ".join(f"{x:.3f}" for x in across))


if __name__ == "__main__":
    main()
