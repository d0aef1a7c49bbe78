#!/usr/bin/env python3
"""sonovec's resampler against python-soxr `quality='HQ'` (librosa's `soxr_hq`) on real music.

    cargo build --release --example resample_file
    /work/main/.venv-ref/bin/python scripts/compare_resampler.py [--limit N] [--binary PATH] \
        [--json OUT.json] [AUDIO ...]

Each file (default: every `--stride`-th line of /work/data/real/tracks.txt, then samples/*) is
decoded and mixed to mono by sonovec's own decoder (`examples/resample_file.rs`), which also
writes sonovec's 16 kHz resampling of those samples; python-soxr resamples the very same native
samples (float32, as librosa.load hands them over). Only the resampler differs. Per file:

* length of both outputs (soxr gives round(n·16000/rate), sonovec ceil(n·16000/rate));
* alignment: the lag (in 16 kHz samples, parabolic sub-sample estimate) of the cross-correlation
  peak between the two, which is 0 for two zero-delay resamplers;
* RMS of the difference in dB relative to the RMS of soxr's output, over the common length;
* per-band mel power: 96 Slaney bands 0-8 kHz (n_fft 512, hop 256, librosa's melspectrogram),
  10·log10(mean power ours / mean power soxr) per band: the worst band, and the top band (95);
* spectral centroid mean (librosa) and ZCR mean, relative difference in %, over the frames
  whose soxr RMS is above -100 dBFS, with soxr's values below half a 24-bit step set to zero as
  sonovec's are (OUTPUT_FLOOR). In digital silence next to sound, soxr's filter tails leave
  values of 1e-18..1e-9; librosa gives a frame of them a centroid of 3-6 kHz and zero
  crossings, an all-zero frame 0 Hz and none, so such frames measure nothing but rounding.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import soxr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def db(x):
    return 10 * np.log10(np.maximum(x, 1e-30))


def lag(a, b, reach=32):
    """Sub-sample lag of b relative to a from the cross-correlation peak within ±reach."""
    n = min(len(a), len(b))
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    c = np.array([np.dot(a[max(0, -k):n - max(0, k)], b[max(0, k):n - max(0, -k)])
                  for k in range(-reach, reach + 1)])
    i = int(np.argmax(c))
    frac = 0.0
    if 0 < i < len(c) - 1:
        y0, y1, y2 = c[i - 1], c[i], c[i + 1]
        frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return i - reach + frac


def compare(path, binary, tmp):
    prefix = os.path.join(tmp, "x")
    run = subprocess.run([binary, path, prefix], capture_output=True, text=True, check=True)
    info = json.loads(run.stdout)
    native = np.fromfile(prefix + ".native.f32", dtype="<f4")
    ours = np.fromfile(prefix + ".16k.f32", dtype="<f4")
    ref = soxr.resample(native, info["rate"], SR, quality="HQ")
    n = min(len(ours), len(ref))
    o, r = ours[:n].astype(np.float64), ref[:n].astype(np.float64)
    signal = np.sqrt(np.mean(r ** 2))
    stft = dict(sr=SR, n_fft=512, hop_length=256, n_mels=96)
    mo = librosa.feature.melspectrogram(y=o.astype(np.float32), **stft).mean(axis=1)
    mr = librosa.feature.melspectrogram(y=r.astype(np.float32), **stft).mean(axis=1)
    band = db(mo) - db(mr)
    sounding = librosa.feature.rms(y=r, frame_length=512, hop_length=256)[0] > 1e-5
    r = np.where(np.abs(r) < 2.0 ** -24, 0.0, r)
    cen = [librosa.feature.spectral_centroid(y=x.astype(np.float32), sr=SR, n_fft=512,
                                             hop_length=256)[0][sounding].mean() for x in (o, r)]
    zcr = [librosa.feature.zero_crossing_rate(x, frame_length=512, hop_length=256)[0][sounding]
           .mean() for x in (o, r)]
    return {
        "file": os.path.relpath(path, ROOT) if path.startswith(ROOT) else path,
        "rate": info["rate"],
        "len_ours": len(ours),
        "len_soxr": len(ref),
        "lag": lag(r, o),
        "rms_diff_db": float(db(np.mean((o - r) ** 2)) - db(signal ** 2)),
        "worst_band": int(np.argmax(np.abs(band))),
        "worst_band_db": float(band[np.argmax(np.abs(band))]),
        "band95_db": float(band[95]),
        "band_db": [float(v) for v in band],
        "centroid_pct": float(100 * (cen[0] / cen[1] - 1)),
        "zcr_pct": float(100 * (zcr[0] / zcr[1] - 1)),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("audio", nargs="*")
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "examples",
                                                   "resample_file"))
    p.add_argument("--tracks", default="/work/data/real/tracks.txt")
    p.add_argument("--stride", type=int, default=8)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args()
    files = args.audio
    if not files:
        with open(args.tracks) as f:
            files = [line.strip() for line in f if line.strip()][::args.stride]
        files += sorted(os.path.join(ROOT, "samples", n) for n in os.listdir(
            os.path.join(ROOT, "samples")) if n.split(".")[-1] in ("ogg", "opus", "mp3", "flac"))
    if args.limit:
        files = files[:args.limit]
    rows = []
    print(f"{'file':48} {'rate':>6} {'len ours/soxr':>17} {'lag':>7} {'RMS diff':>9} "
          f"{'worst band':>12} {'band 95':>8} {'centroid':>9} {'ZCR':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            r = compare(path, args.binary, tmp)
            rows.append(r)
            name = r["file"][-48:]
            print(f"{name:48} {r['rate']:6d} {r['len_ours']:>8d}/{r['len_soxr']:<8d} "
                  f"{r['lag']:7.3f} {r['rms_diff_db']:7.1f}dB {r['worst_band']:3d}:"
                  f"{r['worst_band_db']:+7.3f}dB {r['band95_db']:+7.3f} "
                  f"{r['centroid_pct']:+8.3f}% {r['zcr_pct']:+6.2f}%", flush=True)
    diffs = np.array([r["rms_diff_db"] for r in rows])
    print(f"RMS difference: median {np.median(diffs):.1f} dB, worst {diffs.max():.1f} dB over "
          f"{len(rows)} files; worst |band| {max(abs(r['worst_band_db']) for r in rows):.3f} dB; "
          f"worst |centroid| {max(abs(r['centroid_pct']) for r in rows):.3f} %; "
          f"worst |lag| {max(abs(r['lag']) for r in rows):.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
