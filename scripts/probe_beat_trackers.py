#!/usr/bin/env python3
"""Which part of Essentia's beat tracking makes its beats right where sonovec's are not: the
tracker or the onset function? Per clip of a labelled tempo set, beats from

- `sonovec`: the records of `sonovec --model none --beats extract` (RECORDS, tracks.jsonl);
- `essentia RhythmExtractor2013`: multifeature, the peer row of peers_tempo.py;
- `essentia BeatTrackerDegara`: Degara's tracker on one onset function, the complex spectral
  difference (2048/1024 frames at 44.1 kHz, upsampled twice), with its own tempo;
- `Degara on sonovec's envelope`: Essentia's `TempoTapDegara` on the log-mel flux that sonovec's
  tempo reads (as probe_tempo_phase.py computes it at 16 kHz, 62.5 frames/s): the tracker alone;
- `DP on the complex difference`: librosa's Ellis DP at sonovec's tempo on the complex spectral
  difference: the onset function alone.

Printed: mean mir_eval beat F-measure (±70 ms, beats before 5 s ignored) and the same with a
window of ±0.2 beat, which forgives a constant lag (planetblupi's slow attacks put every tracker
40–60 ms after the MIDI grid) and so reads phase and level alone.

    .venv-ref/bin/python scripts/probe_beat_trackers.py LABELS RECORDS
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


def complex_difference(y, sr, size, hop):
    """Essentia's complex-domain onset function, one value per frame starting at sample 0."""
    import essentia.standard as es
    window, fft, polar = es.Windowing(type="hann", size=size), es.FFT(size=size), es.CartesianToPolar()
    detect = es.OnsetDetection(method="complex", sampleRate=sr)
    values = []
    for frame in es.FrameGenerator(y, frameSize=size, hopSize=hop, startFromZero=True):
        magnitude, phase = polar(fft(window(frame)))
        values.append(detect(magnitude, phase))
    return np.array(values, np.float32)


def essentia_rhythm(y44):
    """RhythmExtractor2013 (multifeature) on mono 44.1 kHz audio: its tempo and beat times."""
    import essentia.standard as es
    bpm, ticks, *_ = es.RhythmExtractor2013(method="multifeature")(y44)
    return float(bpm), [float(t) for t in ticks]


def essentia_rhythm_of_file(path):
    """`essentia_rhythm` of the file at `path`, decoded by librosa's loader to mono 44.1 kHz."""
    import librosa
    return essentia_rhythm(librosa.load(path, sr=44100, mono=True)[0].astype(np.float32))


def tempo_records(path):
    """The `tempo` block of each record of a sonovec `tracks.jsonl`, by file name."""
    rows = (json.loads(line) for line in open(path))
    return {os.path.basename(r["path"]): r.get("tempo") or {} for r in rows}


def run_one(args):
    path, sonovec_bpm = args
    import essentia.standard as es
    import librosa
    from probe_tempo_phase import envelopes
    out = {}
    y44 = librosa.load(path, sr=44100, mono=True)[0].astype(np.float32)
    out["essentia RhythmExtractor2013"] = essentia_rhythm(y44)[1]
    out["essentia BeatTrackerDegara"] = es.BeatTrackerDegara()(y44)
    y16 = librosa.load(path, sr=16000, mono=True)[0].astype(np.float32)
    flux = np.concatenate([[0.0], envelopes(y16)["full"]]).astype(np.float32)  # index = frame
    out["Degara on sonovec's envelope"] = es.TempoTapDegara(sampleRateODF=16000 / 256)(flux)
    if sonovec_bpm:
        odf = complex_difference(y44, 44100, 2048, 1024)
        _, frames = librosa.beat.beat_track(onset_envelope=odf, sr=44100, hop_length=1024,
                                            bpm=sonovec_bpm, units="frames")
        # frame k spans [k·1024, k·1024 + 2048): its centre is one hop after its start
        out["DP on the complex difference"] = (np.asarray(frames) + 1) * 1024 / 44100
    return {k: [float(t) for t in v] for k, v in out.items()}


def main():
    import mir_eval
    labels, records = sys.argv[1:3]
    base = os.path.dirname(labels)
    by_name = tempo_records(records)
    rows = list(csv.DictReader(open(labels)))
    tempi = [by_name.get(os.path.basename(r["file"]), {}) for r in rows]
    jobs = [(os.path.join(base, r["file"]), t.get("bpm")) for r, t in zip(rows, tempi)]
    with ProcessPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
        results = list(pool.map(run_one, jobs))
    scores = {}
    for row, tempo, peers in zip(rows, tempi, results):
        reference = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, row["beats"]), ndmin=1))
        period = 60 / float(row["bpm"])
        peers = {"sonovec": tempo.get("beats_s") or [], **peers}
        for name, beats in peers.items():
            estimate = mir_eval.beat.trim_beats(np.sort(np.asarray(beats, float)))
            scores.setdefault(name, []).append((
                mir_eval.beat.f_measure(reference, estimate),
                mir_eval.beat.f_measure(reference, estimate, f_measure_threshold=0.2 * period)))
    print(f"{labels} ({len(rows)} clips)")
    print(f"  {'tracker':32} {'F':>6} {'F ±0.2 beat':>12}")
    for name, values in scores.items():
        values = np.array(values)
        print(f"  {name:32} {values[:, 0].mean():6.3f} {values[:, 1].mean():12.3f}")


if __name__ == "__main__":
    main()
