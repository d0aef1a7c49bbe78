#!/usr/bin/env python3
"""Generate the librosa mel-spectrogram reference fixture for sonovec.

Run with the throwaway venv (see scripts/make_venv.sh):

    .venv-ref/bin/python scripts/reference_mel.py [INPUT_WAV] [--out-dir DIR]

Default input: tests/fixtures/mel/tone_noise_16k.wav. If it does not exist,
a deterministic 2.0 s 16 kHz mono PCM_16 WAV (linear chirp 100->7000 Hz plus
low-level seeded Gaussian noise) is created at that path first.

Writes float32, C-order .npy files into the output dir (default
tests/fixtures/mel/):
  librosa_mel.npy          (n_frames, 96)   = melspectrogram(...).T
  librosa_mel_filters.npy  (96, 257)        = filters.mel(...)
  librosa_power.npy        (n_frames, 257)  = (|stft(...)|**2).T
  librosa_versions.json    versions, call parameters, input sha256, shapes
"""
import argparse
import hashlib
import json
import os
import platform
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WAV = os.path.join(REPO_ROOT, "tests", "fixtures", "mel", "tone_noise_16k.wav")
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "mel")
MAX_FILE_BYTES = 200 * 1024

SR = 16000
N_FFT = 512
HOP = 256
WIN = 512
N_MELS = 96
FMIN = 0.0
FMAX = 8000.0

# Synthetic-input parameters (used only when the input WAV is missing).
GEN = {
    "duration_s": 2.0,
    "sample_rate": SR,
    "chirp": {"f0_hz": 100.0, "f1_hz": 7000.0, "method": "linear",
              "amplitude": 0.5, "phase_deg": -90.0},
    "noise": {"rng": "numpy.random.default_rng", "seed": 20240601,
              "distribution": "standard_normal", "std": 0.01},
    "quantization": "int16 = clip(round(x * 32767), -32768, 32767)",
    "format": "WAV PCM_16 mono",
}


def generate_input(path):
    """Deterministic chirp + seeded noise, quantized to int16 by us (not libsndfile)."""
    import scipy.signal
    import soundfile as sf

    n = int(round(GEN["duration_s"] * SR))
    t = np.arange(n, dtype=np.float64) / SR
    c = GEN["chirp"]
    x = c["amplitude"] * scipy.signal.chirp(
        t, f0=c["f0_hz"], t1=GEN["duration_s"], f1=c["f1_hz"],
        method=c["method"], phi=c["phase_deg"])
    rng = np.random.default_rng(GEN["noise"]["seed"])
    x = x + GEN["noise"]["std"] * rng.standard_normal(n)
    q = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, q, SR, subtype="PCM_16", format="WAV")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def save_f32(path, arr):
    a = np.ascontiguousarray(arr, dtype=np.float32)
    np.save(path, a)
    size = os.path.getsize(path)
    if size >= MAX_FILE_BYTES:
        sys.exit(f"ERROR: {path} is {size} bytes (>= {MAX_FILE_BYTES}); use a shorter input")
    print(f"wrote {os.path.relpath(path, REPO_ROOT)} shape={a.shape} dtype={a.dtype} bytes={size}")
    return a


def independent_reference(y):
    """Plain-numpy version of librosa's mel pipeline (no librosa calls).

    Periodic Hann (0.5 - 0.5 cos(2 pi n / N)), zero ('constant') centre
    padding of n_fft//2 each side, frames at hop, rfft in float64 then
    stored as complex64, |.|**2 in float32, Slaney mel filterbank built in
    float64 and stored as float32, mel = filters @ power.
    """
    n = np.arange(N_FFT)
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)          # float64
    yp = np.pad(y, (N_FFT // 2, N_FFT // 2), mode="constant")   # float32
    n_frames = 1 + len(y) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = yp[idx]                                            # (T, N) float32
    spec = np.fft.rfft(win * frames, axis=-1).astype(np.complex64)
    power = (np.abs(spec) ** 2).T                               # (257, T) float32

    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz,
                        min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep,
                        f / f_sp)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= min_log_mel,
                        min_log_hz * np.exp(logstep * (m - min_log_mel)),
                        f_sp * m)

    mel_f = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    fftfreqs = np.arange(1 + N_FFT // 2) * (SR / N_FFT)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    w = np.zeros((N_MELS, 1 + N_FFT // 2), dtype=np.float32)
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS])
    w *= enorm[:, None]
    return {"filters": w, "power": power, "mel": w @ power}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", default=DEFAULT_WAV)
    ap.add_argument("--out-dir", default=DEFAULT_OUT)
    args = ap.parse_args()

    import librosa
    import scipy
    import soundfile as sf

    generated = False
    if not os.path.exists(args.input):
        if os.path.abspath(args.input) != os.path.abspath(DEFAULT_WAV):
            sys.exit(f"ERROR: input {args.input} does not exist")
        print(f"NOTE: {args.input} missing; generating deterministic chirp+noise WAV there")
        generate_input(args.input)
        generated = True

    info = sf.info(args.input)
    y, sr = librosa.load(args.input, sr=None, mono=True)
    assert sr == SR, f"expected {SR} Hz input, got {sr}"
    assert y.dtype == np.float32 and y.ndim == 1

    S = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window="hann",
        center=True, pad_mode="constant", power=2.0, n_mels=N_MELS,
        fmin=FMIN, fmax=FMAX, htk=False, norm="slaney")
    fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN,
                             fmax=FMAX, htk=False, norm="slaney")
    D = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann",
                     center=True, pad_mode="constant")
    P = np.abs(D) ** 2

    n_frames = 1 + len(y) // HOP
    assert S.shape == (N_MELS, n_frames), S.shape
    assert fb.shape == (N_MELS, 1 + N_FFT // 2), fb.shape
    assert P.shape == (1 + N_FFT // 2, n_frames), P.shape

    os.makedirs(args.out_dir, exist_ok=True)
    out = lambda name: os.path.join(args.out_dir, name)
    save_f32(out("librosa_mel.npy"), S.T)
    save_f32(out("librosa_mel_filters.npy"), fb)
    save_f32(out("librosa_power.npy"), P.T)

    # Sanity checks
    FP = fb @ P
    rel = float(np.max(np.abs(FP - S)) / np.max(np.abs(S)))
    rel_fro = float(np.linalg.norm(FP - S) / np.linalg.norm(S))
    print(f"input: {os.path.relpath(os.path.abspath(args.input), REPO_ROOT)} "
          f"samples={len(y)} sr={sr} subtype={info.subtype} frames={n_frames}"
          + (" (generated by this script)" if generated else ""))
    print(f"dtypes: y={y.dtype} stft={D.dtype} power={P.dtype} filters={fb.dtype} mel={S.dtype}")
    print(f"max mel value      = {float(S.max()):.9g}")
    print(f"max power value    = {float(P.max()):.9g}")
    print(f"max |fb@P - S| / max|S|      = {rel:.3e}")
    print(f"||fb@P - S||_F / ||S||_F     = {rel_fro:.3e}")
    FP64 = fb.astype(np.float64) @ P.astype(np.float64)
    rel64 = float(np.max(np.abs(FP64 - S)) / np.max(np.abs(S)))
    print(f"max |fb@P (float64) - S| / max|S| = {rel64:.3e}")

    # Independent numpy re-implementation of the recipe the Rust port follows.
    indep = independent_reference(y)
    indep_err = {k: float(np.max(np.abs(indep[k] - ref)) / np.max(np.abs(ref)))
                 for k, ref in (("filters", fb), ("power", P), ("mel", S))}
    for k, v in indep_err.items():
        print(f"independent re-impl vs librosa, {k:7s}: max abs err / max = {v:.3e}")

    meta = {
        "description": "librosa mel-spectrogram reference for sonovec (generated by scripts/reference_mel.py)",
        "versions": {
            "librosa": librosa.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "soundfile": sf.__version__,
            "python": platform.python_version(),
            "fftlib": librosa.get_fftlib().__name__,
        },
        "input": {
            "path": os.path.relpath(os.path.abspath(args.input), REPO_ROOT),
            "sha256": sha256_of(args.input),
            "sample_rate": int(sr),
            "n_samples": int(len(y)),
            "subtype": info.subtype,
            "channels": int(info.channels),
            "generated_by_this_script": generated,
            "generator": GEN if generated else None,
        },
        "calls": {
            "load": "librosa.load(path, sr=None, mono=True)  # int16 -> x/32768, float32",
            "melspectrogram": {
                "sr": SR, "n_fft": N_FFT, "hop_length": HOP, "win_length": WIN,
                "window": "hann", "center": True, "pad_mode": "constant",
                "power": 2.0, "n_mels": N_MELS, "fmin": FMIN, "fmax": FMAX,
                "htk": False, "norm": "slaney",
            },
            "filters_mel": {
                "sr": SR, "n_fft": N_FFT, "n_mels": N_MELS, "fmin": FMIN,
                "fmax": FMAX, "htk": False, "norm": "slaney",
            },
            "power": "np.abs(librosa.stft(y, n_fft=512, hop_length=256, window='hann', center=True, pad_mode='constant'))**2",
        },
        "outputs": {
            "librosa_mel.npy": {"shape": [n_frames, N_MELS], "dtype": "float32",
                                "layout": "C order, frames x mel bands (melspectrogram(...).T)"},
            "librosa_mel_filters.npy": {"shape": [N_MELS, 1 + N_FFT // 2], "dtype": "float32",
                                        "layout": "C order, bands x fft bins"},
            "librosa_power.npy": {"shape": [n_frames, 1 + N_FFT // 2], "dtype": "float32",
                                  "layout": "C order, frames x fft bins ((|stft|**2).T)"},
        },
        "sanity": {
            "max_mel": float(S.max()),
            "max_power": float(P.max()),
            "rel_maxabs_diff_fbP_vs_S": rel,
            "rel_fro_diff_fbP_vs_S": rel_fro,
            "rel_maxabs_diff_fbP_float64_vs_S": rel64,
            "independent_reimpl_rel_maxabs_err": indep_err,
        },
    }
    with open(out("librosa_versions.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=False)
        f.write("\n")
    print(f"wrote {os.path.relpath(out('librosa_versions.json'), REPO_ROOT)} "
          f"bytes={os.path.getsize(out('librosa_versions.json'))}")


if __name__ == "__main__":
    main()
