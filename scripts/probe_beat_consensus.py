#!/usr/bin/env python3
"""Would beats chosen by agreement beat sonovec's? A probe, nothing here is shipped.

Essentia's multi-feature beat tracker runs one tracker on several onset functions and keeps the
beats the others agree with most (maximum mutual agreement, Zapata et al. 2014). Here, per clip
of a labelled set: sonovec's tempo and beats (`--model none --beats analyze`), then librosa's
dynamic-programming tracker (Ellis 2007, as sonovec's: tightness 100, at sonovec's tempo) on each
envelope of probe_tempo_phase.py (full band, low, mid, high, wide, harmony), and the candidate
with the highest mean F-measure against the others (`mma`; `mma_noharm` without the harmony
envelope); and the same over the full band and three onset functions of other kinds
(`csd`, `hfc`, `eflux`: see `other_kinds`), `mma_kinds`. Prints the mean mir_eval F-measure of each against the labels; `full` is the
tracker on sonovec's own envelope, the like-for-like baseline of the others.

    .venv-ref/bin/python scripts/probe_beat_consensus.py data/heldout_midi/labels.csv OUT.jsonl
"""
import csv, json, os, subprocess, sys
import numpy as np, mir_eval, librosa
sys.path.insert(0, 'scripts')
from probe_tempo_phase import envelopes
from concurrent.futures import ProcessPoolExecutor


def other_kinds(path):
    """Onset functions of other kinds than sonovec's flux (n_fft 1024, hop 256, 16 kHz): the
    complex spectral difference (Bello et al. 2004; rising bins only), the rise of the
    high-frequency content and of the energy."""
    y, sr = librosa.load(path, sr=16000)
    spec = librosa.stft(y, n_fft=1024, hop_length=256, window="hann", center=True)
    mag, phase = np.abs(spec), np.angle(spec)
    predicted = mag[:, 1:-1] * np.exp(1j * (2 * phase[:, 1:-1] - phase[:, :-2]))
    csd = (np.abs(spec[:, 2:] - predicted) * (mag[:, 2:] >= mag[:, 1:-1])).sum(0)
    hfc = (np.arange(mag.shape[0])[:, None] * mag ** 2).sum(0)
    energy = (mag ** 2).sum(0)
    rise = lambda x: np.maximum(0, np.diff(x, prepend=x[0]))
    return {"csd": np.concatenate([[0, 0], csd]), "hfc": rise(hfc), "eflux": rise(energy)}

def one(job):
    base, r = job
    path = os.path.join(base, r['file'])
    d = json.loads(subprocess.run(['target/release/sonovec','-j','1','--model','none','--beats','analyze',path],capture_output=True,text=True).stdout)
    t = d.get('tempo') or {}
    if not t: return None
    ref = mir_eval.beat.trim_beats(np.loadtxt(os.path.join(base, r['beats']), ndmin=1))
    ours = np.array(t.get('beats_s', []))
    env = envelopes(path)
    cands = {}
    for k, e in env.items():
        e = np.concatenate([[0], e]) if k != 'harmony' else e
        _, fr = librosa.beat.beat_track(onset_envelope=e, sr=16000, hop_length=256, bpm=t['bpm'], tightness=100, trim=True)
        cands[k] = librosa.frames_to_time(fr, sr=16000, hop_length=256)
    for k, e in other_kinds(path).items():
        _, fr = librosa.beat.beat_track(onset_envelope=e / (e.std() + 1e-12), sr=16000,
                                        hop_length=256, bpm=t['bpm'], tightness=100, trim=True)
        cands[k] = librosa.frames_to_time(fr, sr=16000, hop_length=256)
    keys = [k for k in cands if k not in ('csd', 'hfc', 'eflux')]
    agree = {a: np.mean([mir_eval.beat.f_measure(mir_eval.beat.trim_beats(cands[b]), mir_eval.beat.trim_beats(cands[a])) for b in keys if b != a]) for a in keys}
    f = {k: mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(v)) for k, v in cands.items()}
    f['ours'] = mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(ours))
    best = max(keys, key=lambda k: agree[k])
    f['mma'] = f[best]
    keys2 = [k for k in keys if k != 'harmony']  # the same choice without the harmony envelope
    best2 = max(keys2, key=lambda k: np.mean([mir_eval.beat.f_measure(mir_eval.beat.trim_beats(cands[b]), mir_eval.beat.trim_beats(cands[k])) for b in keys2 if b != k]))
    f['mma_noharm'] = f[best2]
    kinds = ['full', 'csd', 'hfc', 'eflux']  # sonovec's flux beside the other kinds
    best3 = max(kinds, key=lambda k: np.mean([mir_eval.beat.f_measure(mir_eval.beat.trim_beats(cands[b]), mir_eval.beat.trim_beats(cands[k])) for b in kinds if b != k]))
    f['mma_kinds'] = f[best3]
    return dict(file=r['file'], style=r['style'], pick=best, **f)

if __name__ == '__main__':
    labels, out = sys.argv[1], sys.argv[2]
    base = os.path.dirname(labels)
    rows = list(csv.DictReader(open(labels)))
    with ProcessPoolExecutor(2) as ex, open(out, 'w') as fo:
        for res in ex.map(one, [(base, r) for r in rows]):
            if res: fo.write(json.dumps(res) + '\n')
    R = [json.loads(l) for l in open(out)]
    for k in ['ours', 'full', 'low', 'mid', 'high', 'wide', 'harmony', 'mma', 'mma_noharm',
              'csd', 'hfc', 'eflux', 'mma_kinds']:
        print(f"{k:10} {np.mean([r[k] for r in R]):.3f}")
