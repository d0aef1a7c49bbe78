#!/usr/bin/env python3
"""Beats on real music without labels: how well two sonovec builds' beats agree with Essentia's
RhythmExtractor2013 (multifeature) on the same whole tracks. Reference = Essentia's ticks;
mir_eval beat F-measure (±70 ms, the first 5 s ignored); also each build's tempo and `stability`.
Agreement is not accuracy (Essentia errs too), but a change that moves every track away from an
independent tracker would show here.

    sonovec -j 2 --model none extract --beats --quiet --force DIR -o /tmp/before   # build A
    sonovec -j 2 --model none extract --beats --quiet --force DIR -o /tmp/after    # build B
    .venv-ref/bin/python scripts/probe_beat_agreement.py DIR /tmp/before/tracks.jsonl \
        /tmp/after/tracks.jsonl [ESSENTIA_CACHE.json]
"""
import json
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from probe_beat_trackers import essentia_rhythm_of_file, tempo_records

warnings.filterwarnings("ignore")


def main():
    import mir_eval
    folder, before_path, after_path = sys.argv[1:4]
    cache = sys.argv[4] if len(sys.argv) > 4 else None
    before, after = tempo_records(before_path), tempo_records(after_path)
    names = sorted(before)
    if cache and os.path.exists(cache):
        essentia = json.load(open(cache))
    else:
        with ProcessPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
            essentia = dict(zip(names, pool.map(essentia_rhythm_of_file, [os.path.join(folder, n) for n in names])))
        if cache:
            json.dump(essentia, open(cache, "w"))
    scores = []
    for name in names:
        bpm, ticks = essentia[name]
        reference = mir_eval.beat.trim_beats(np.array(ticks))
        row = []
        for tempo in (before[name], after.get(name, {})):
            beats = mir_eval.beat.trim_beats(np.array(tempo.get("beats_s") or [], float))
            row.append((mir_eval.beat.f_measure(reference, beats), tempo.get("bpm"), tempo.get("stability")))
        scores.append((row[0][0], row[1][0]))
        print(f"{name[:34]:34} Essentia {bpm:6.1f}  sonovec {row[0][1] or 0:6.1f} -> {row[1][1] or 0:6.1f}"
              f"  F {row[0][0]:.3f} -> {row[1][0]:.3f}  stability {row[0][2]} -> {row[1][2]}")
    scores = np.array(scores)
    print(f"mean F against Essentia over {len(names)} tracks: {scores[:, 0].mean():.3f} -> {scores[:, 1].mean():.3f}")


if __name__ == "__main__":
    main()
