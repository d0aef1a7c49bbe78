#!/usr/bin/env python3
"""Run the learned tempo estimators that #15 names as the state of the art on a labelled set,
and print their rows in the same table as `scripts/peers_tempo.py` and `sonovec eval-tempo`.

Peers (each in its own environment, made by `scripts/make_venv_learned_peers.sh`, because
their pinned NumPy and TensorFlow do not resolve with `.venv-ref`'s):

- `madmom`: Böck, Krebs & Widmer, "Accurate tempo estimation based on recurrent neural networks
  and resonating comb filters" (ISMIR 2015), madmom 0.16.1's `RNNBeatProcessor` (eight
  bidirectional LSTMs) and `TempoEstimationProcessor(method="comb")`, 40–250 BPM; its beats are
  `DBNBeatTrackingProcessor` on the same activation (Böck, Krebs & Widmer, ISMIR 2014).
- `tempocnn`: Schreiber & Müller, "A single-step approach to musical tempo estimation using a
  convolutional neural network" (ISMIR 2018), the `tempocnn` package's `ismir2018` model, and
  their 2019 `deeptemp_k8` (SMC 2019, "Musical tempo and key estimation using convolutional neural
  networks with directional filters"). Tempo only.

Both are fitted on human-annotated real music (madmom's on Ballroom, Hainsworth, SMC, ...;
TempoCNN's on LMD tempo, MTG tempo and extended Ballroom), which no clip here comes from.

    /work/data/venv-madmom/bin/python scripts/peers_tempo_learned.py madmom LABELS.csv [--details OUT.csv]
    /work/data/venv-tcnn/bin/python scripts/peers_tempo_learned.py tempocnn LABELS.csv [--details OUT.csv]
    ... peers_tempo_learned.py madmom|tempocnn --estimate OUT.csv CLIPS.txt   # no labels needed
"""
import functools
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers_tempo import labelled_clips, report  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# Each process builds its estimators once (madmom's eight networks, TempoCNN's models) and keeps
# them for every clip it is given; they hold no state from one clip to the next.
_estimators = {}


def madmom_one(path, first_only=False):
    """madmom's tempo and DBN beats for one file; with `first_only`, the tempo alone."""
    if not _estimators:
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
        from madmom.features.tempo import TempoEstimationProcessor
        _estimators["activation"] = RNNBeatProcessor()
        _estimators["tempo"] = TempoEstimationProcessor(fps=100, method="comb", min_bpm=40, max_bpm=250)
        _estimators["beats"] = DBNBeatTrackingProcessor(fps=100)
    activation = _estimators["activation"](path)
    tempo = float(_estimators["tempo"](activation)[0][0])
    beats = None if first_only else np.asarray(_estimators["beats"](activation), float)
    return {"madmom RNN+comb (Böck 2015)": (tempo, beats)}


TEMPOCNN_MODELS = ("ismir2018", "deeptemp_k8")


def tempocnn_one(path, first_only=False):
    """Each of TEMPOCNN_MODELS' tempo for one file; with `first_only`, the first model's alone."""
    from tempocnn.feature import read_features
    models = TEMPOCNN_MODELS[:1] if first_only else TEMPOCNN_MODELS
    for name in models:
        if name not in _estimators:
            import keras
            from tempocnn.classifier import TempoClassifier
            keras.utils.disable_interactive_logging()  # predict's progress bar would go to stdout
            _estimators[name] = TempoClassifier(name)
    features = read_features(path)
    return {f"TempoCNN {name}": (float(_estimators[name].estimate_tempo(features, interpolate=True)), None)
            for name in models}


def estimates(peer, paths, first_only=False):
    """Each path's estimates by `peer`, one dict per path as `report` takes them; with
    `first_only`, only the first estimate's tempo (what `--estimate` writes)."""
    one = functools.partial({"madmom": madmom_one, "tempocnn": tempocnn_one}[peer], first_only=first_only)
    if peer == "tempocnn":
        # TensorFlow already runs its graph on every core; a second process only contends.
        return [one(path) for path in paths]
    with ProcessPoolExecutor(max_workers=int(os.environ.get("JOBS", "2"))) as pool:
        return list(pool.map(one, paths))


def write_estimates(peer, out_csv, list_file):
    """`--estimate OUT.csv LIST`: no labels; LIST's first column (tab-separated) names each clip
    relative to LIST's folder, and OUT.csv gets `file,peer,estimate` for the peer's first model."""
    base = os.path.dirname(list_file)
    clips = [line.split("\t")[0].strip() for line in open(list_file) if line.strip()]
    results = estimates(peer, [os.path.join(base, clip) for clip in clips], first_only=True)
    with open(out_csv, "w") as out:
        out.write("file,peer,estimate\n")
        for clip, res in zip(clips, results):
            name, (bpm, _) = next(iter(res.items()))
            out.write(f"{clip},{name},{bpm:.3f}\n")


def main():
    peer, argv = sys.argv[1], sys.argv[2:]
    if argv[0] == "--estimate":
        write_estimates(peer, argv[1], argv[2])
        return
    rows, base, paths, details = labelled_clips(argv)
    report(rows, base, estimates(peer, paths), details)


if __name__ == "__main__":
    main()
