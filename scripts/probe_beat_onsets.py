#!/usr/bin/env python3
"""Would another onset function, or a committee of several, give sonovec's beat tracker better
beats? Per clip of a labelled tempo set, at the tempo sonovec chose (RECORDS, the tracks.jsonl of
`sonovec --model none --beats extract`), Degara's tracker as `src/features/tempo/beats.rs` runs
it (a numpy copy, without the trimming of weak ends) on each of these functions of the clip at
16 kHz, one value per frame of sonovec's grid (hop 256, centred frames):

- `flux`: sonovec's envelope, the mean rise of the log-mel spectrogram (96 bands, 512-point
  frames); `low`, `mid`, `high`: the same over the lowest 8, the middle 48 and the top 24 bands
  (all four as `probe_tempo_phase.envelopes` computes them);
- `complex 512`, `complex 1024`: the complex-domain difference (Bello et al. 2004), the distance
  of each bin from its value predicted by the two frames before (previous magnitude, phase
  extrapolated), summed over the bins of a 512- or 1024-point frame;
- `complex 1024 rising`: the same over the bins whose magnitude rose (Dixon 2006, Essentia's
  `complex`);
- `committee`: of the beat sequences on `flux`, `low`, `mid`, `high` and `complex 1024`, the one
  that agrees most with the others (mean beat F against each; Zapata et al. 2014, the selection
  behind Essentia's RhythmExtractor2013 `multifeature`).

`probe_beat_consensus.py` asked the same with librosa's tracker (Ellis's), which sonovec had
before Degara's.

Printed: mean mir_eval beat F-measure (±70 ms, beats before 5 s ignored) per function, with
`sonovec` (its own beats, from RECORDS) first; `flux` should match it within a few thousandths.
With DETAILS, also each clip's F per function, as CSV (`file`, `style`, one column a function).

    .venv-ref/bin/python scripts/probe_beat_onsets.py LABELS RECORDS [DETAILS]
"""
import csv
import json
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
SR, HOP = 16000, 256
FRAME_RATE = SR / HOP
COMMITTEE = ["flux", "low", "mid", "high", "complex 1024"]
FUNCTIONS = COMMITTEE[:4] + ["complex 512", "complex 1024", "complex 1024 rising"]


def spectrum(y, n_fft):
    import librosa
    window = np.hanning(n_fft + 1)[:-1]  # periodic, as sonovec's
    return librosa.stft(y, n_fft=n_fft, hop_length=HOP, window=window, center=True,
                        pad_mode="constant")


def complex_difference(y, n_fft, rising_only=False):
    """Per frame, the summed distance of each bin from its prediction; frames 0 and 1 are 0."""
    x = spectrum(y, n_fft)
    magnitude, phase = np.abs(x), np.angle(x)
    predicted = magnitude[:, 1:-1] * np.exp(1j * (2 * phase[:, 1:-1] - phase[:, :-2]))
    distance = np.abs(x[:, 2:] - predicted)
    if rising_only:
        distance *= magnitude[:, 2:] >= magnitude[:, 1:-1]
    return np.concatenate([[0.0, 0.0], distance.sum(0)])


def onset_functions(y):
    from probe_tempo_phase import envelopes
    rise = envelopes(y, SR)  # the log-mel rise, whole and by register, from frame 1 on
    functions = {name: np.concatenate([[0.0], rise[key]])  # frame 0 has no rise
                 for name, key in [("flux", "full"), ("low", "low"), ("mid", "mid"),
                                   ("high", "high")]}
    functions["complex 512"] = complex_difference(y, 512)
    functions["complex 1024"] = complex_difference(y, 1024)
    functions["complex 1024 rising"] = complex_difference(y, 1024, rising_only=True)
    return functions


def track_beats(envelope, period, sd_s=0.025, span=4.0):
    """Beat times (s): beats.rs's sequence with its free start and end, extended to the ends."""
    n, peak = len(envelope), envelope.max()
    if peak <= 0:
        return []
    p = np.maximum(envelope * 0.99 / peak, np.finfo(np.float32).eps)
    log_odds = np.log(p) - np.log1p(-p)
    sd = sd_s * FRAME_RATE
    low = max(int(np.floor(period - span * sd)), 1)
    steps = np.arange(low, max(int(np.ceil(period + span * sd)), low) + 1)
    interval = -0.5 * ((steps - period) / sd) ** 2
    score, previous = np.full(n, -np.inf), np.full(n, -1)
    for i in range(n):
        fits = steps <= i
        best, start = -np.inf, -1
        if fits.any():
            candidates = score[i - steps[fits]] + interval[fits]
            j = int(np.argmax(candidates))
            best, start = candidates[j], i - steps[fits][j]
        if start < 0 or (i < steps[-1] and best < 0):
            score[i] = log_odds[i]
        else:
            score[i], previous[i] = log_odds[i] + best, start
    tail = max(n - steps[-1], 0)
    beats = [tail + int(np.argmax(score[tail:]))]
    while previous[beats[-1]] >= 0:
        beats.append(previous[beats[-1]])
    beats.reverse()

    def step(beat, sign):
        frames = beat + sign * steps
        ok = (frames >= 0) & (frames < n)
        if not ok.any():
            return None
        return int(frames[ok][np.argmax(log_odds[frames[ok]] + interval[ok])])

    before, first = [], beats[0]
    while (first := step(first, -1)) is not None:
        before.append(first)
    while (b := step(beats[-1], 1)) is not None:
        beats.append(b)
    return [f / FRAME_RATE for f in before[::-1] + beats]


def clip(args):
    path, bpm = args
    import librosa
    y = librosa.load(path, sr=SR, mono=True)[0].astype(np.float32)
    period = 60 * FRAME_RATE / bpm
    return {name: track_beats(f, period) for name, f in onset_functions(y).items()}


def committee(sequences):
    import mir_eval
    trimmed = {k: mir_eval.beat.trim_beats(np.asarray(sequences[k])) for k in COMMITTEE}
    agreement = {a: np.mean([mir_eval.beat.f_measure(trimmed[b], trimmed[a])
                             for b in COMMITTEE if b != a]) for a in COMMITTEE}
    return sequences[max(COMMITTEE, key=agreement.get)]


def main():
    import mir_eval
    labels, records = sys.argv[1:3]
    base = os.path.dirname(labels)
    rows = (json.loads(line) for line in open(records))
    tempo = {os.path.basename(r["path"]): r.get("tempo") or {} for r in rows}
    clips = list(csv.DictReader(open(labels)))
    tempi = [tempo.get(os.path.basename(c["file"]), {}) for c in clips]
    with ProcessPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
        beats = list(pool.map(clip, [(os.path.join(base, c["file"]), t["bpm"])
                                     for c, t in zip(clips, tempi) if t.get("bpm")]))
    scores, found, details = {}, iter(beats), []
    for c, t in zip(clips, tempi):
        reference = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, c["beats"]), ndmin=1))
        if t.get("bpm"):
            estimates = next(found)
            estimates["committee"] = committee(estimates)
        else:  # no tempo, no beats: F 0 for every function
            estimates = dict.fromkeys(FUNCTIONS + ["committee"], [])
        estimates = {"sonovec": t.get("beats_s") or [], **estimates}
        details.append({"file": c["file"], "style": c.get("style", "")})
        for name, b in estimates.items():
            estimate = mir_eval.beat.trim_beats(np.sort(np.asarray(b, float)))
            scores.setdefault(name, []).append(mir_eval.beat.f_measure(reference, estimate))
            details[-1][name] = f"{scores[name][-1]:.3f}"
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(details[0]))
            writer.writeheader()
            writer.writerows(details)
    print(f"{labels} ({len(clips)} clips)")
    for name, values in scores.items():
        print(f"  {name:22} {np.mean(values):.3f}")


if __name__ == "__main__":
    main()
