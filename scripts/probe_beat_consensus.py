#!/usr/bin/env python3
"""Would beats chosen by agreement beat sonovec's? A probe, nothing here is shipped.

Essentia's multi-feature beat tracker runs one tracker on several onset functions and keeps the
beats the others agree with most (maximum mutual agreement, Zapata et al. 2014). Here, per clip
of a labelled set: sonovec's tempo and beats (`--model none --beats analyze`), then librosa's
dynamic-programming tracker (Ellis 2007, as sonovec's: tightness 100, at sonovec's tempo) on each
envelope of probe_tempo_phase.py (full band, low, mid, high, wide, harmony), and the candidate
with the highest mean F-measure against the others (`mma`; `mma_noharm` without the harmony
envelope); and the same over the full band and three onset functions of other kinds (`csd`,
`hfc`, `eflux`: see `other_kinds`), `mma_kinds`. Prints the mean mir_eval F-measure of each
against the labels; `full` is the tracker on sonovec's own envelope, the like-for-like baseline
of the others.

    .venv-ref/bin/python scripts/probe_beat_consensus.py data/heldout_midi/labels.csv \
        data/consensus_midi.jsonl
"""
import os
import sys

import librosa
import mir_eval
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from probe_tempo_phase import dump_clips, envelopes, load, sonovec_tempo  # noqa: E402

COLUMNS = ["ours", "full", "low", "mid", "high", "wide", "harmony", "mma", "mma_noharm",
           "csd", "hfc", "eflux", "mma_kinds"]


def other_kinds(y):
    """Onset functions of other kinds than sonovec's flux (n_fft 1024, hop 256, 16 kHz): the
    complex spectral difference (Bello et al. 2004; rising bins only), the rise of the
    high-frequency content and of the energy."""
    spec = librosa.stft(y, n_fft=1024, hop_length=256, window="hann", center=True)
    mag, phase = np.abs(spec), np.angle(spec)
    predicted = mag[:, 1:-1] * np.exp(1j * (2 * phase[:, 1:-1] - phase[:, :-2]))
    csd = (np.abs(spec[:, 2:] - predicted) * (mag[:, 2:] >= mag[:, 1:-1])).sum(0)
    hfc = (np.arange(mag.shape[0])[:, None] * mag ** 2).sum(0)
    energy = (mag ** 2).sum(0)
    rise = lambda x: np.maximum(0, np.diff(x, prepend=x[0]))
    return {"csd": np.concatenate([[0, 0], csd]), "hfc": rise(hfc), "eflux": rise(energy)}


def track(envelope, bpm):
    """librosa's DP beat tracker on one envelope at a given tempo: trimmed beat times (s)."""
    _, frames = librosa.beat.beat_track(onset_envelope=envelope, sr=16000, hop_length=256,
                                        bpm=bpm, tightness=100, trim=True)
    return mir_eval.beat.trim_beats(librosa.frames_to_time(frames, sr=16000, hop_length=256))


def by_agreement(candidates, names):
    """The name whose beats agree most (mean F-measure) with the others'."""
    def agreement(a):
        return np.mean([mir_eval.beat.f_measure(candidates[b], candidates[a])
                        for b in names if b != a])
    return max(names, key=agreement)


def clip(job):
    base, row = job
    path = os.path.join(base, row["file"])
    tempo = sonovec_tempo(path)
    if not tempo:
        return None
    ref = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, row["beats"]), ndmin=1))
    # sonovec's envelopes are rises between frames: one frame shorter, aligned by a leading 0.
    y = load(path)
    flux = {k: e if k == "harmony" else np.concatenate([[0], e]) for k, e in envelopes(y).items()}
    candidates = {k: track(e, tempo["bpm"]) for k, e in flux.items()}
    candidates.update({k: track(e / (e.std() + 1e-12), tempo["bpm"])
                       for k, e in other_kinds(y).items()})
    f = {k: mir_eval.beat.f_measure(ref, b) for k, b in candidates.items()}
    ours = mir_eval.beat.trim_beats(np.array(tempo.get("beats_s", [])))
    f["ours"] = mir_eval.beat.f_measure(ref, ours)
    for name, among in [("mma", list(flux)), ("mma_noharm", [k for k in flux if k != "harmony"]),
                        ("mma_kinds", ["full", "csd", "hfc", "eflux"])]:
        f[name] = f[by_agreement(candidates, among)]
    return dict(file=row["file"], style=row["style"], **f)


def main():
    results = dump_clips(sys.argv[1], clip, sys.argv[2])
    for k in COLUMNS:
        print(f"{k:10} {np.mean([r[k] for r in results]):.3f}")


if __name__ == "__main__":
    main()
