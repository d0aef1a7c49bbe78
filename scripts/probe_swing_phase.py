#!/usr/bin/env python3
"""Are sonovec's beats on a swing's late off-beat? Per clip at the right tempo (Acc1), the onset
strength at the tracked beats and at a third, a half and two thirds of the period after them, and
the beat F-measure of the beats as tracked and moved a third of a period later.

The statistic is that of src/features/tempo/swing.rs (the median over the beats, first and last
left out, of the strongest envelope frame within one frame of each point), on a librosa replica of
sonovec's onset envelope (16 kHz, hop 256, 96 mel bands, mean rise of log10(1 + 10000 mel)),
not on sonovec's own; the rule's thresholds are printed with it. Clips marked `*` gain more than
0.3 in F by the move; the last line counts the clips the rule moves and the mean F before and
after, over the clips at the right tempo.

    sonovec -j 2 --model none extract --beats --quiet --force DIR -o /tmp/rec   # a build without the rule
    .venv-ref/bin/python scripts/probe_swing_phase.py DIR/labels.csv /tmp/rec/tracks.jsonl
"""
import csv
import json
import os
import sys
import warnings

import numpy as np
from mir_eval.beat import f_measure, trim_beats

sys.path.insert(0, os.path.dirname(__file__))
from probe_tempo_phase import FRAMES_PER_S as FRAMES_PER_SECOND, load, log_mel, onset_envelope  # noqa: E402

warnings.filterwarnings("ignore")
# src/features/tempo/swing.rs
THIRD_OF_BEAT, CONTRAST = 0.35, 2.0


def envelope(path):
    """The replica envelope, frame for frame with sonovec's (frame 0 has no rise)."""
    return onset_envelope(log_mel(load(path)))


def onset_after(env, beats, offset):
    values = []
    for t in beats + offset:
        i = int(round(t * FRAMES_PER_SECOND))
        if 1 <= i < len(env) - 1:
            values.append(env[i - 1:i + 2].max())
    return float(np.median(values)) if values else 0.0


def main():
    labels, records_path = sys.argv[1], sys.argv[2]
    folder = os.path.dirname(labels)
    records = {}
    for line in open(records_path):
        rec = json.loads(line)
        records[os.path.basename(rec["path"])] = rec
    moved, before, after = [], [], []
    for row in csv.DictReader(open(labels)):
        name = os.path.basename(row["file"])
        tempo = (records.get(name) or {}).get("tempo") or {}
        beats = np.array(tempo.get("beats_s") or [])
        if len(beats) < 8 or abs(tempo["bpm"] / float(row["bpm"]) - 1) > 0.04:
            continue
        stem = os.path.splitext(name)[0]
        reference = trim_beats(np.loadtxt(os.path.join(folder, row.get("beats") or f"beats/{stem}.txt")))
        period = float(np.median(np.diff(beats)))
        env = envelope(os.path.join(folder, name))
        at = {x: onset_after(env, beats[1:-1], x * period) for x in (0, 1 / 3, 1 / 2, 2 / 3)}
        beat, third, half, two_thirds = at[0], at[1 / 3], at[1 / 2], at[2 / 3]
        f_tracked = f_measure(reference, trim_beats(beats))
        f_moved = f_measure(reference, trim_beats(beats + period / 3))
        swung = (third >= THIRD_OF_BEAT * beat and third >= CONTRAST * max(half, two_thirds)
                 and third > env.mean())
        flag = "*" if f_moved > f_tracked + 0.3 else " "
        print(f"{flag} {name[:36]:36} {row.get('style', '')[:16]:16} beat {beat:6.3f} third {third:6.3f} "
              f"half {half:6.3f} two-thirds {two_thirds:6.3f}  third/beat {third / max(beat, 1e-9):5.2f}  "
              f"F {f_tracked:.2f} moved {f_moved:.2f}{'  MOVED BY THE RULE' if swung else ''}")
        before.append(f_tracked)
        after.append(f_moved if swung else f_tracked)
        if swung:
            moved.append(name)
    print(f"rule: {len(moved)} of {len(before)} clips at the right tempo moved; mean F "
          f"{np.mean(before) if before else 0:.4f} -> {np.mean(after) if after else 0:.4f}")


if __name__ == "__main__":
    main()
