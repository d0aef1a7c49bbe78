#!/usr/bin/env python3
"""librosa reference descriptors of the real-music parity fixtures (tests/fixtures/parity/).

    /work/main/.venv-ref/bin/python scripts/reference_parity_descriptors.py

Each file is loaded as a librosa user loads it, `librosa.load(path, sr=16000)` (soundfile, or
audioread/FFmpeg for .m4a; channel mean; soxr_hq resampling), and described on the 512/256
centred Hann STFT with librosa 0.11's definitions, the ones sonovec follows (see
scripts/reference_descriptors.py): spectral_centroid, spectral_bandwidth, spectral_rolloff(0.85),
zero_crossing_rate(512, 256), mfcc(S=power_to_db(96-band Slaney mel 0-8 kHz, top_db=None),
n_mfcc=13). Each as mean and population std over frames. Writes descriptors.json.
"""
import glob
import json
import os
import warnings

import librosa
import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "tests", "fixtures", "parity")
SR = 16000
STFT = dict(n_fft=512, hop_length=256, window="hann", center=True, pad_mode="constant")


def ms(x):
    x = np.asarray(x, dtype=np.float64)
    return [float(x.mean()), float(x.std())]


def describe(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # audioread fallback for .m4a
        y, _ = librosa.load(path, sr=SR, mono=True)
    S = np.abs(librosa.stft(y, **STFT))
    mel = librosa.feature.melspectrogram(S=S**2, sr=SR, n_mels=96, fmin=0, fmax=8000)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13)
    return {
        "samples_16k": int(len(y)),
        "centroid_hz": ms(librosa.feature.spectral_centroid(S=S, sr=SR)),
        "bandwidth_hz": ms(librosa.feature.spectral_bandwidth(S=S, sr=SR)),
        "rolloff_hz": ms(librosa.feature.spectral_rolloff(S=S, sr=SR, roll_percent=0.85)),
        "zcr": ms(librosa.feature.zero_crossing_rate(y, frame_length=512, hop_length=256)),
        "mfcc_mean": [float(v) for v in mfcc.astype(np.float64).mean(axis=1)],
        "mfcc_std": [float(v) for v in mfcc.astype(np.float64).std(axis=1)],
    }


def main():
    result = {"versions": {"librosa": librosa.__version__, "numpy": np.__version__,
                           "soundfile": soundfile.__version__,
                           "libsndfile": soundfile.__libsndfile_version__}, "files": {}}
    for path in sorted(glob.glob(os.path.join(DIR, "*"))):
        if path.split(".")[-1] not in ("ogg", "opus", "mp3", "m4a", "flac"):
            continue
        name = os.path.basename(path)
        result["files"][name] = describe(path)
        print(name, result["files"][name]["centroid_hz"][0])
    with open(os.path.join(DIR, "descriptors.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
