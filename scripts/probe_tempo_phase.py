#!/usr/bin/env python3
"""Which register marks the beat, not the off-beat? Per style of a labelled tempo set (the
labels.csv of make_tempo_set.py / make_tempo_heldout.py, with beat files), the ratio of onset
strength on the labelled beats to onset strength half a beat later, for the whole band and for
the registers the beat tracker could choose its phase from.

The onset envelope is sonovec's (half-wave-rectified flux of log10(1 + 10000·mel), 16 kHz,
n_fft 512, hop 256, 96 mel bands to 8 kHz), computed here with librosa; each register is the
mean rise over its bands: low = the lowest 8 bands (< ~250 Hz, kick and bass), mid = bands
24–71 (~0.75–3.6 kHz, snare, claps, comping), high = 72–95 (hats, cymbals); `wide` is the rise
median-filtered over 9 bands first (broadband, percussive onsets). Each value is the maximum
within ±1 frame. `harmony` is a chord-change novelty: the cosine distance between the mean
chroma (librosa `chroma_stft`, n_fft 2048, same hop) of the 8 frames (128 ms) before and the 8
after each frame; harmony tends to change on the beat (and the bar line) even where the
comping is syncopated. A ratio above 1 means that register is stronger on the beat than on the
off-beat: a tracker following it keeps the beat's phase. Median over the clips of each style,
and the smallest clip's ratio.

    .venv-ref/bin/python scripts/probe_tempo_phase.py LABELS [LIMIT] [--clips]

e.g. LABELS = data/heldout_grooves/labels.csv; `LIMIT` clips per style at most; `--clips` also
prints each clip's ratios.
"""
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np

SR = 16000
FRAMES_PER_S = SR / 256


def load(path):
    """The file decoded and resampled to 16 kHz mono, as librosa does it."""
    import librosa
    return librosa.load(path, sr=SR)[0]


def log_mel(y, sr=SR):
    """The spectrogram sonovec computes for musicnn and its onsets, replicated: log10(1 + 10000
    mel), 96 bands to 8 kHz, frames of 512 samples every 256; (bands, frames)."""
    import librosa
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, hop_length=256, n_mels=96,
                                         fmax=8000, power=2)
    return np.log10(1 + 10000 * mel)


def log_mel_rise(y, sr=SR):
    """The replica of sonovec's onset envelope before its mean over the bands: per mel band
    (96 to 8 kHz) and frame, the half-wave-rectified rise of `log_mel`, from frame 1 on (frame 0
    has no rise)."""
    return np.maximum(0, np.diff(log_mel(y, sr), axis=1))


def onset_envelope(log_spectrogram):
    """The replica of sonovec's onset envelope, frame for frame with it: the mean over the bands
    of the rise of a `log_mel` spectrogram, 0 at frame 0."""
    rise = np.maximum(0, np.diff(log_spectrogram, axis=1)).mean(axis=0)
    return np.concatenate([[0.0], rise])


def envelopes(y, sr=SR):
    import scipy.ndimage as nd
    rise = log_mel_rise(y, sr)
    return {"full": rise.mean(0), "low": rise[:8].mean(0), "mid": rise[24:72].mean(0),
            "high": rise[72:].mean(0), "wide": nd.median_filter(rise, size=(9, 1)).mean(0),
            "harmony": chord_change(y, sr)}


def strength_at(envelope, times):
    """Mean over `times` (s) of the envelope's maximum within ±1 frame."""
    e = np.maximum.reduce([envelope, np.roll(envelope, 1), np.roll(envelope, -1)])
    return e[np.clip(np.round(times * FRAMES_PER_S).astype(int), 0, len(e) - 1)].mean()


def sonovec_tempo(path):
    """The `tempo` of the record `target/release/sonovec -j 1 --model none --beats analyze` writes
    for `path` (with `beats_s`), or None."""
    run = subprocess.run(["target/release/sonovec", "-j", "1", "--model", "none", "--beats",
                          "analyze", path], capture_output=True, text=True)
    return json.loads(run.stdout).get("tempo")


def dump_clips(labels, per_clip, path, workers=2):
    """`per_clip((folder of labels, row))` for every row of `labels` in `workers` processes: the
    results other than None, written to `path` as JSON lines and returned."""
    base = os.path.dirname(labels)
    rows = list(csv.DictReader(open(labels)))
    with ProcessPoolExecutor(workers) as ex, open(path, "w") as f:
        for result in ex.map(per_clip, [(base, r) for r in rows]):
            if result is not None:
                f.write(json.dumps(result) + "\n")
    return [json.loads(line) for line in open(path)]


def chord_change(y, sr, half_window=8):
    """Per frame, 1 − cosine(mean chroma of the frames before, mean chroma of those after)."""
    import librosa
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=2048, hop_length=256)
    cum = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    n = chroma.shape[1]
    t = np.arange(n)
    lo, hi = np.clip(t - half_window, 0, n), np.clip(t + half_window, 0, n)
    before = (cum[:, t] - cum[:, lo]).T
    after = (cum[:, hi] - cum[:, t]).T
    dot = (before * after).sum(1)
    norm = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1) + 1e-9
    return 1.0 - dot / norm


def main():
    per_clip = "--clips" in sys.argv
    args = [x for x in sys.argv[1:] if x != "--clips"]
    labels = args[0]
    limit = int(args[1]) if len(args) > 1 else 1 << 30
    base = os.path.dirname(labels)
    by_style, seen = defaultdict(list), defaultdict(int)
    names = None
    for row in csv.DictReader(open(labels)):
        if seen[row["style"]] >= limit or not row.get("beats"):
            continue
        seen[row["style"]] += 1
        env = envelopes(load(os.path.join(base, row["file"])))
        names = list(env)
        beats = np.loadtxt(os.path.join(base, row["beats"]), ndmin=1)
        half = 30.0 / float(row["bpm"])
        out = [strength_at(e, beats) / (strength_at(e, beats + half) + 1e-9)
               for e in env.values()]
        by_style[row["style"]].append(out)
        if per_clip:
            print(f"{row['file']:<40}" + "  ".join(f"{x:6.2f}" for x in out), flush=True)
    print(f"{'style':<18}{'n':>4}  on-beat / off-beat onset strength, median (min): "
          + ", ".join(names))
    for style, v in sorted(by_style.items()):
        v = np.array(v)
        cells = "  ".join(f"{m:5.2f} ({lo:4.2f})" for m, lo in zip(np.median(v, 0), v.min(0)))
        print(f"{style:<18}{len(v):>4}  {cells}")


if __name__ == "__main__":
    main()
