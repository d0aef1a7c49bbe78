#!/usr/bin/env python3
"""librosa / Essentia reference values of sonovec's descriptors for the descriptor fixtures.

    /work/main/.venv-ref/bin/python scripts/reference_descriptors.py

Reads tests/fixtures/descriptors/*.flac (16 kHz mono, so no resampler stands between the tools)
and the four clips of samples/ (44.1/48 kHz stereo MP3, FLAC, Vorbis, Opus), and writes
tests/fixtures/descriptors/reference.json with, per file (fixtures under their file name, clips
as "samples/NAME"):

* librosa 0.11 (spectral, the definitions sonovec follows), on the 512/256 centred Hann STFT:
  spectral_centroid, spectral_bandwidth, spectral_rolloff(0.85), spectral_flatness, rms ->
  amplitude_to_db(amin=1e-5, ref=1), zero_crossing_rate(512, 256), mfcc(S=power_to_db(mel,
  top_db=None), n_mfcc=13) on the 96-band Slaney mel 0-8 kHz; chroma_stft(n_fft=4096,
  hop_length=2048, tuning=0) mean. Each as mean and population std over frames.
* Essentia: LoudnessEBUR128 (integrated, range) on the mono signal as [x, 0] (ITU BS.1770 treats
  a mono file as one channel of weight 1; Essentia only takes stereo), and KeyExtractor with
  profileType='krumhansl' (Essentia's own HPCP pipeline).

The clips of samples/ are decoded by FFmpeg at their native rate: the
loudness is measured on those native channels, as sonovec does; the librosa features on their
channel mean resampled to 16 kHz by librosa (soxr_hq). Decoder and resampler differ from
sonovec's (symphonia, its soxr-HQ-equivalent resampler); values of the resampled
signal below half a 24-bit step are set to zero, as sonovec's resampler does (see describe_clip).
"""
import glob
import json
import os
import re
import subprocess
import tempfile

import essentia
import essentia.standard as es
import librosa
import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "tests", "fixtures", "descriptors")
SR = 16000
STFT = dict(n_fft=512, hop_length=256, window="hann", center=True, pad_mode="constant")


def ms(x):
    x = np.asarray(x, dtype=np.float64)
    return [float(x.mean()), float(x.std())]


def describe(path):
    y, sr = librosa.load(path, sr=None, mono=True)
    assert sr == SR, (path, sr)
    stereo = np.stack([y, np.zeros_like(y)], axis=1).astype(np.float32)
    return describe_signal(y, stereo, SR)


def describe_clip(path):
    # FFmpeg decodes every format of samples/ (Essentia's AudioLoader has no Opus).
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "clip.wav")
        subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-c:a", "pcm_f32le", wav], check=True)
        audio, sr = soundfile.read(wav, dtype="float32", always_2d=True)
    assert audio.shape[1] == 2, (path, audio.shape)
    y = librosa.resample(audio.mean(axis=1).astype(np.float64), orig_sr=sr, target_sr=SR,
                         res_type="soxr_hq").astype(np.float32)
    # Values below half a 24-bit step are zero in sonovec's analysis signal (see
    # src/audio/resample.rs, OUTPUT_FLOOR). soxr's filter tails leave 1e-18..1e-9 in the digital
    # silence between these synthetic clips' hits and the two resamplers' far tails differ there;
    # librosa gives a frame of such values a centroid of 3-6 kHz and zero crossings, an all-zero
    # frame 0 Hz and none. The same floor here makes the features compare the sound.
    y[np.abs(y) < 2.0 ** -24] = 0.0
    out = describe_signal(y, audio, sr)
    # A second loudness opinion: FFmpeg's ebur128 filter (its summary has 0.1 LU resolution).
    log = subprocess.run(["ffmpeg", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    summary = log[log.rindex("Summary:"):]
    out["ffmpeg_integrated_lufs"] = float(re.search(r"I:\s+(-?[0-9.]+) LUFS", summary).group(1))
    out["ffmpeg_range_lu"] = float(re.search(r"LRA:\s+([0-9.]+) LU", summary).group(1))
    return out


def describe_signal(y, stereo, loudness_sr):
    S = np.abs(librosa.stft(y, **STFT))
    out = {
        "centroid_hz": ms(librosa.feature.spectral_centroid(S=S, sr=SR)),
        "bandwidth_hz": ms(librosa.feature.spectral_bandwidth(S=S, sr=SR)),
        "rolloff_hz": ms(librosa.feature.spectral_rolloff(S=S, sr=SR, roll_percent=0.85)),
        "flatness": ms(librosa.feature.spectral_flatness(S=S)),
        "zcr": ms(librosa.feature.zero_crossing_rate(y, frame_length=512, hop_length=256)),
        "rms_dbfs": ms(librosa.amplitude_to_db(
            librosa.feature.rms(y=y, frame_length=512, hop_length=256), ref=1.0, amin=1e-5,
            top_db=None)),
    }
    mel = librosa.feature.melspectrogram(S=S**2, sr=SR, n_mels=96, fmin=0, fmax=8000)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13)
    out["mfcc_mean"] = [float(v) for v in mfcc.astype(np.float64).mean(axis=1)]
    out["mfcc_std"] = [float(v) for v in mfcc.astype(np.float64).std(axis=1)]
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=4096, hop_length=2048, tuning=0)
    out["chroma_mean"] = [float(v) for v in chroma.astype(np.float64).mean(axis=1)]

    _, _, integrated, lra = es.LoudnessEBUR128(sampleRate=loudness_sr)(essentia.array(stereo))
    out["essentia_integrated_lufs"] = float(integrated)
    out["essentia_range_lu"] = float(lra)
    key, scale, strength = es.KeyExtractor(profileType="krumhansl", sampleRate=SR)(
        essentia.array(y))
    out["essentia_key"] = [key, scale, float(strength)]
    return out


def main():
    result = {
        "versions": {"librosa": librosa.__version__, "essentia": essentia.__version__,
                     "numpy": np.__version__},
        "files": {},
    }
    for path in sorted(glob.glob(os.path.join(DIR, "*.flac"))):
        result["files"][os.path.basename(path)] = describe(path)
        print(os.path.basename(path), result["files"][os.path.basename(path)]["essentia_key"])
    for name in ["dnb_174.opus", "fourfloor_120.flac", "hiphop_92.mp3", "house_128.ogg"]:
        result["files"]["samples/" + name] = describe_clip(os.path.join(ROOT, "samples", name))
        print(name, result["files"]["samples/" + name]["essentia_key"])
    with open(os.path.join(DIR, "reference.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
