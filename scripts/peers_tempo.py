#!/usr/bin/env python3
"""Run the peers' tempo and beat estimators on a labelled set and print their rows in the same
table as `sonovec eval-tempo` (Acc1/Acc2 at ±4 %, mir_eval beat F-measure ±70 ms and P-score,
beats before 5 s trimmed as mir_eval.beat.evaluate does).

Peers: librosa 0.11 `feature.tempo` (= feature.rhythm.tempo) (tempo) and `beat.beat_track` (tempo + beats);
Essentia `RhythmExtractor2013(method="multifeature")` (tempo + beats) and
`PercivalBpmEstimator` (tempo). Audio is decoded once by librosa's loader at 44100 Hz
(Essentia's input) and resampled to librosa's default 22050 Hz.

    /work/main/.venv-ref/bin/python scripts/peers_tempo.py data/tempo_test/labels.csv [--details OUT.csv]

With `--details`, every clip's row per peer goes to OUT.csv (file, peer, bpm, estimate, acc1,
acc2, f_measure, p_score), as `eval-tempo --details` writes sonovec's.
"""
import csv
import os
import sys
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np

warnings.filterwarnings("ignore")


def run_one(args):
    path, = args
    import librosa
    import essentia.standard as es
    out = {}
    # One decode (librosa's loader) for both: Essentia's MonoLoader crashed the pool on this set.
    y44 = librosa.load(path, sr=44100, mono=True)[0]
    y, sr = librosa.resample(y44, orig_sr=44100, target_sr=22050), 22050
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    out["librosa tempo"] = (float(librosa.feature.tempo(onset_envelope=onset, sr=sr)[0]), None)
    bt, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, units="time")
    out["librosa beat_track"] = (float(np.atleast_1d(bt)[0]), np.asarray(beats, float))
    audio = y44.astype(np.float32)
    bpm, ticks, _, _, _ = es.RhythmExtractor2013(method="multifeature")(audio)
    out["essentia RhythmExtractor2013"] = (float(bpm), np.asarray(ticks, float))
    out["essentia Percival"] = (float(es.PercivalBpmEstimator(sampleRate=44100)(audio)), None)
    return out


def report(rows, base, results, details=None):
    """Score each peer's `(bpm, beats or None)` per clip against the labels and print the table.

    `results` holds one dict per row of `rows`, peer name to estimate. Shared with
    `peers_tempo_learned.py`, whose peers live in other environments.
    """
    import mir_eval
    scores = defaultdict(lambda: defaultdict(list))
    per_clip = []
    for row, res in zip(rows, results):
        ref_bpm = float(row["bpm"])
        ref_beats = np.loadtxt(os.path.join(base, row["beats"]), ndmin=1) if row.get("beats") else None
        for peer, (bpm, beats) in res.items():
            acc1 = abs(bpm - ref_bpm) <= 0.04 * ref_bpm
            acc2 = any(abs(bpm - ref_bpm * f) <= 0.04 * ref_bpm * f for f in (1, 2, 3, 0.5, 1 / 3))
            f = p = None
            if beats is not None and ref_beats is not None:
                r, e = mir_eval.beat.trim_beats(ref_beats), mir_eval.beat.trim_beats(np.sort(beats))
                f, p = mir_eval.beat.f_measure(r, e), mir_eval.beat.p_score(r, e)
            per_clip.append((row["file"], peer, ref_bpm, bpm, int(acc1), int(acc2), f, p))
            for key in (row.get("style", "all"), "ALL"):
                scores[peer][key].append((acc1, acc2, f, p))
    if details:
        with open(details, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "peer", "bpm", "estimate", "acc1", "acc2", "f_measure", "p_score"])
            score = lambda v: "" if v is None else f"{v:.4f}"
            for file, peer, ref_bpm, bpm, acc1, acc2, f, p in per_clip:
                writer.writerow([file, peer, ref_bpm, f"{bpm:.2f}", acc1, acc2, score(f), score(p)])
    for peer, by_style in scores.items():
        print(f"\n{peer}")
        print(f"{'style':<20} {'n':>4} {'Acc1':>6} {'Acc2':>6} {'F':>6} {'P':>6}")
        for style in sorted(k for k in by_style if k != "ALL") + ["ALL"]:
            s = by_style[style]
            fs = [x[2] for x in s if x[2] is not None]
            ps = [x[3] for x in s if x[3] is not None]
            fmt = lambda v: f"{np.mean(v):.3f}" if v else "-"
            print(f"{style:<20} {len(s):>4} {100*np.mean([x[0] for x in s]):>5.1f}% "
                  f"{100*np.mean([x[1] for x in s]):>5.1f}% {fmt(fs):>6} {fmt(ps):>6}")


def labelled_clips(argv):
    """`LABELS.csv [--details OUT.csv]` → (rows, the labels' folder, each row's audio path, OUT.csv)."""
    args = list(argv)
    details = None
    if "--details" in args:
        at = args.index("--details")
        details = args[at + 1]
        del args[at:at + 2]
    labels_path = args[0]
    base = os.path.dirname(labels_path)
    rows = list(csv.DictReader(open(labels_path)))
    return rows, base, [os.path.join(base, r["file"]) for r in rows], details


def main():
    rows, base, paths, details = labelled_clips(sys.argv[1:])
    jobs = [(path,) for path in paths]
    # Compile librosa's numba kernels (cache=True) once here: two workers compiling them at the
    # same time on a fresh environment can leave a corrupt cache that segfaults beat_track.
    import librosa
    librosa.beat.beat_track(onset_envelope=np.random.default_rng(0).random(2000), sr=22050)
    with ProcessPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
        results = list(pool.map(run_one, jobs))
    report(rows, base, results, details)


if __name__ == "__main__":
    main()
