#!/usr/bin/env python3
"""Reference outputs of the original musicnn TF model, per patch, for sonovec's parity tests.

Needs a throwaway venv with TensorFlow (not the crate's reference venv):

    python3.11 -m venv data/venv-tf
    data/venv-tf/bin/pip install tensorflow-cpu==2.16.2 tf-keras==2.16.0 'numpy<2' \
        librosa==0.11.0 soundfile safetensors
    data/venv-tf/bin/python scripts/export_musicnn.py      # unpacks the wheel into data/wheel
    data/venv-tf/bin/python scripts/reference_musicnn.py [AUDIO ...] [--out-dir DIR]

The graph is musicnn's own `models.define_model` from the 0.1.0 wheel, restored from its
checkpoint with `tf.compat.v1.train.Saver`. It is fed patch by patch here because upstream's
`extractor()` returns patch 0's penultimate layer on every row (a stale loop variable).

Input preprocessing follows upstream `batch_data()` except for one thing: upstream casts the mel
to float16 before `log10(10000·x + 1)`, which overflows to inf for mel power > 6.55 (common in
loud bass bands) and feeds inf to the network; here the mel stays float32.

For each AUDIO (default: the four clips in samples/) writes into --out-dir
(default tests/fixtures/musicnn/):
  <stem>.penultimate.npy  (patches, 200) float32  MSD_musicnn penultimate layer per patch
  <stem>.tags.npy         (patches, 50)  float32  MSD_musicnn tag probabilities per patch
and, for the first AUDIO, the network-alone fixture:
  <stem>.logmel.npy       (patches, 187, 96) float32  the exact input fed to TF
  <stem>.mtt_penultimate.npy / <stem>.mtt_tags.npy  MTT_musicnn on the same input
and, for dnb_174 and hiphop_92, a copy resampled to 16 kHz by librosa (soxr_hq) and stored as
16-bit FLAC, <stem>_16k.flac, with its own .penultimate/.tags outputs: the whole chain without
any resampler in sonovec, so the network and spectrogram are tested apart from rubato;
plus reference_versions.json (versions, file sha256s, shapes).
"""
import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL_DIR = os.path.join(REPO_ROOT, "data", "wheel")
sys.path.insert(0, WHEEL_DIR)

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers needs Keras 2
import librosa  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
from musicnn import models  # noqa: E402

SR, N_FFT, HOP, N_MELS, N_FRAMES = 16000, 512, 256, 96, 187


def log_mel_patches(path):
    audio, _ = librosa.load(path, sr=SR)  # soxr_hq resampling, mono mixdown
    mel = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=N_FFT,
                                         n_mels=N_MELS).T.astype(np.float32)
    rep = np.log10(10000 * mel + 1).astype(np.float32)
    if rep.shape[0] < N_FRAMES:  # repeat-pad, as musicnn's training did ("pad_short")
        rep = np.tile(rep, (N_FRAMES // rep.shape[0] + 1, 1))[:N_FRAMES]
    count = rep.shape[0] // N_FRAMES  # non-overlapping, trailing partial patch dropped
    return rep[:count * N_FRAMES].reshape(count, N_FRAMES, N_MELS)


def run_model(model, patches):
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outputs = models.define_model(x, is_training, model, 50)
        logits, penultimate = outputs[0], outputs[-1]
        probabilities = tf.nn.sigmoid(logits)
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, os.path.join(WHEEL_DIR, "musicnn", model, ""))
        pens, tags = [], []
        for patch in patches:  # one at a time: batch size 1, as upstream
            p, t = sess.run([penultimate, probabilities],
                            feed_dict={x: patch[None], is_training: False})
            pens.append(p[0])
            tags.append(t[0])
    return np.asarray(pens, np.float32), np.asarray(tags, np.float32)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("audio", nargs="*")
    parser.add_argument("--out-dir", default=os.path.join(REPO_ROOT, "tests", "fixtures", "musicnn"))
    parser.add_argument("--no-logmel", action="store_true", help="skip the network-alone fixture")
    args = parser.parse_args()
    files = args.audio or sorted(
        f for f in glob.glob(os.path.join(REPO_ROOT, "samples", "*"))
        if os.path.splitext(f)[1] in (".mp3", ".flac", ".ogg", ".opus"))
    os.makedirs(args.out_dir, exist_ok=True)
    meta = {"tensorflow": tf.__version__, "librosa": librosa.__version__,
            "numpy": np.__version__, "inputs": {}}
    for i, path in enumerate(files):
        stem = os.path.basename(path).split(".")[0]
        patches = log_mel_patches(path)
        pen, tags = run_model("MSD_musicnn", patches)
        np.save(os.path.join(args.out_dir, f"{stem}.penultimate.npy"), pen)
        np.save(os.path.join(args.out_dir, f"{stem}.tags.npy"), tags)
        if i == 0 and not args.no_logmel:
            np.save(os.path.join(args.out_dir, f"{stem}.logmel.npy"), patches[:2])
            mpen, mtags = run_model("MTT_musicnn", patches[:2])
            np.save(os.path.join(args.out_dir, f"{stem}.mtt_penultimate.npy"), mpen)
            np.save(os.path.join(args.out_dir, f"{stem}.mtt_tags.npy"), mtags)
        meta["inputs"][os.path.relpath(path, REPO_ROOT)] = {
            "sha256": sha256(path), "patches": int(patches.shape[0])}
        print(f"{path}: {patches.shape[0]} patches; mean tags max {tags.mean(0).max():.3f}")
    if not args.audio:
        import soundfile as sf
        for stem in ("dnb_174", "hiphop_92"):
            source = [f for f in files if os.path.basename(f).startswith(stem + ".")][0]
            audio, _ = librosa.load(source, sr=SR)
            resampled = os.path.join(args.out_dir, f"{stem}_16k.flac")
            sf.write(resampled, audio, SR, subtype="PCM_16")
            pen, tags = run_model("MSD_musicnn", log_mel_patches(resampled))
            np.save(os.path.join(args.out_dir, f"{stem}_16k.penultimate.npy"), pen)
            np.save(os.path.join(args.out_dir, f"{stem}_16k.tags.npy"), tags)
            meta["inputs"][os.path.relpath(resampled, REPO_ROOT)] = {
                "sha256": sha256(resampled), "patches": int(pen.shape[0])}
    with open(os.path.join(args.out_dir, "reference_versions.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
