#!/usr/bin/env python3
"""Are sonovec's beats early or late? Per labelled tempo set, the signed offset of every
estimated beat from the nearest labelled beat (estimate minus label, ms), over the clips whose
tempo is right (Acc1), and the mean beat F-measure (mir_eval, ±70 ms, beats before 5 s ignored)
if every estimated beat were moved by a constant shift.

    .venv-ref/bin/python scripts/probe_beat_offset.py RECORDS LABELS [--clips]

RECORDS is the `tracks.jsonl` of `sonovec --model none extract --beats DIR -o OUT` over the
clips of LABELS (a labels.csv with `file`, `bpm`, `style` and beat files in `beats/STEM.txt`,
as the make_tempo_*.py scripts write). The F-measure is mir_eval's (scripts/make_venv.sh).
"""
import csv
import json
import os
import statistics
import sys
from collections import defaultdict

import numpy as np
from mir_eval.beat import f_measure, trim_beats

SHIFTS_MS = [-40, -30, -20, -15, -10, -5, 0, 5, 10, 15, 20, 30, 40]


def main():
    records_path, labels_path = sys.argv[1], sys.argv[2]
    per_clip = "--clips" in sys.argv
    records = {}
    for line in open(records_path):
        rec = json.loads(line)
        records[os.path.basename(rec["path"])] = rec
    folder = os.path.dirname(labels_path)
    offsets = defaultdict(list)
    gains = defaultdict(lambda: defaultdict(list))
    for row in csv.DictReader(open(labels_path)):
        name = os.path.basename(row["file"])
        rec = records.get(name)
        stem = os.path.splitext(name)[0]
        beats_file = os.path.join(folder, row.get("beats") or f"beats/{stem}.txt")
        if rec is None or not os.path.exists(beats_file):
            continue
        reference = [float(x) for x in open(beats_file) if x.strip()]
        trimmed = trim_beats(np.array(reference))
        tempo = rec.get("tempo") or {}
        estimate = tempo.get("beats_s") or []
        bpm, label = tempo.get("bpm"), float(row["bpm"])
        style = row.get("style", "")
        for shift in SHIFTS_MS:
            moved = trim_beats(np.array(estimate, dtype=float) + shift / 1000)
            gains[style][shift].append(f_measure(trimmed, moved))
            gains["ALL"][shift].append(gains[style][shift][-1])
        if bpm is None or abs(bpm - label) > 0.04 * label:
            continue
        half = 30.0 / label
        clip = []
        for b in estimate:
            if b < 5.0:
                continue
            nearest = min(trimmed, key=lambda r: abs(r - b), default=None)
            if nearest is not None and abs(b - nearest) < half:
                clip.append(1000 * (b - nearest))
        offsets[style] += clip
        offsets["ALL"] += clip
        if per_clip and clip:
            print(f"{name:40} {label:7.2f} median offset {statistics.median(clip):+6.1f} ms")
    print(f"{'style':22} {'beats':>6} {'median ms':>10} {'IQR ms':>14}   F at shift (ms) "
          + " ".join(f"{s:+d}" for s in SHIFTS_MS))
    for style in sorted(offsets, key=lambda s: (s == "ALL", s)):
        values = sorted(offsets[style])
        if not values:
            continue
        q1, q3 = values[len(values) // 4], values[3 * len(values) // 4]
        fs = " ".join(f"{statistics.mean(gains[style][s]):.3f}" for s in SHIFTS_MS)
        print(f"{style:22} {len(values):6d} {statistics.median(values):+10.1f} "
              f"{q1:+6.1f}..{q3:+6.1f}   {fs}")


if __name__ == "__main__":
    main()
