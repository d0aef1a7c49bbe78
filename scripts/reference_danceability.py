#!/usr/bin/env python3
"""Essentia's `Danceability` on audio files, next to sonovec's `danceability.raw`, and sonovec's
`energy.score` next to the musicnn MTT tags `loud`, `quiet`, `soft` (human-annotated tags the
energy formula never sees).

Essentia runs twice per file: on the file decoded at 44.1 kHz mono (`Danceability()` with its
defaults: what a user of Essentia gets) and on the 16 kHz signal sonovec analyses
(`Danceability(sampleRate=16000)` on the file resampled by soxr HQ, librosa's default), which
isolates the algorithm from the band above 8 kHz.

    sonovec --model mtt extract /work/data/real -o data/real-mtt     # tracks.jsonl with energy
    /work/main/.venv-ref/bin/python scripts/reference_danceability.py data/real-mtt/tracks.jsonl

    # the test fixture (samples/ clips):
    /work/main/.venv-ref/bin/python scripts/reference_danceability.py --fixture \\
        samples/*.opus samples/*.flac samples/*.mp3 samples/*.ogg > tests/fixtures/danceability.json
"""
import json
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

warnings.filterwarnings("ignore")


def essentia_pair(path):
    import essentia
    import essentia.standard as es
    import librosa
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    y44 = librosa.load(path, sr=44100, mono=True)[0].astype(np.float32)
    y16 = librosa.resample(y44, orig_sr=44100, target_sr=16000, res_type="soxr_hq").astype(np.float32)
    d44 = float(es.Danceability()(y44)[0])
    d16 = float(es.Danceability(sampleRate=16000)(y16)[0])
    return d44, d16


def spearman(a, b):
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).correlation)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--fixture":
        files = args[1:]
        with ProcessPoolExecutor(2) as pool:
            res = list(pool.map(essentia_pair, files))
        out = [{"file": f, "essentia_44k": round(a, 6), "essentia_16k": round(b, 6)} for f, (a, b) in zip(files, res)]
        print(json.dumps({"note": "Essentia 2.1b6 Danceability (minTau 310, maxTau 8800, tauMultiplier 1.1); "
                                  "made by scripts/reference_danceability.py --fixture", "clips": out}, indent=1))
        return
    recs = [json.loads(l) for l in open(args[0])]
    recs = [r for r in recs if r.get("danceability") and r.get("error") is None]
    with ProcessPoolExecutor(2) as pool:
        ess = list(pool.map(essentia_pair, [r["path"] for r in recs]))
    ours = np.array([r["danceability"]["raw"] for r in recs])
    e44 = np.array([e[0] for e in ess])
    e16 = np.array([e[1] for e in ess])
    print(f"{len(recs)} tracks")
    for name, ref in (("Essentia 44.1 kHz", e44), ("Essentia 16 kHz", e16)):
        d = np.abs(ours - ref)
        rel = d / np.maximum(ref, 1e-9)
        print(f"danceability vs {name}: Spearman {spearman(ours, ref):.4f}; |diff| median {np.median(d):.4f}, "
              f"p95 {np.percentile(d, 95):.4f}, max {d.max():.4f}; relative median {100 * np.median(rel):.2f} %, "
              f"p95 {100 * np.percentile(rel, 95):.2f} %, max {100 * rel.max():.2f} %")
    print(f"Essentia 44.1 vs 16 kHz: Spearman {spearman(e44, e16):.4f}")
    tags = [{t["tag"]: t["p"] for t in (r.get("tags") or [])} for r in recs]
    if tags and "loud" in tags[0]:
        energy = np.array([r["energy"]["score"] for r in recs])
        loud = np.array([t["loud"] for t in tags])
        calm = np.array([t["quiet"] + t["soft"] for t in tags])
        print(f"energy vs MTT p(loud): Spearman {spearman(energy, loud):.3f}; "
              f"vs p(quiet)+p(soft): {spearman(energy, calm):.3f}; "
              f"vs p(loud) − p(quiet) − p(soft): {spearman(energy, loud - calm):.3f}")
        for k in ("loudness_lufs",):
            lufs = np.array([(r.get("loudness") or {}).get("integrated_lufs") or np.nan for r in recs])
            ok = np.isfinite(lufs)
            print(f"(for scale: integrated loudness alone vs p(loud) − p(quiet) − p(soft): "
                  f"{spearman(lufs[ok], (loud - calm)[ok]):.3f})")
        q = np.percentile(energy, [10, 50, 90])
        print(f"energy percentiles 10/50/90: {q[0]:.3f} {q[1]:.3f} {q[2]:.3f}")


if __name__ == "__main__":
    main()
