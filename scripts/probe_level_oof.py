#!/usr/bin/env python3
"""The beat activation as evidence for the metrical level, fitted out of sample.

Session 26 (docs/tempo-experiments.md) added features of the learned beat activation to the
level decision and found them decisive on the fitting generators and useless on the held-out
sets: the network had been fitted on those very generators, so its activation there was in
sample, and the level model learned to trust it more than it deserves on music the network never
saw. This probe gives the level model activations it can trust as it will meet them: each fitting
clip's activation comes from a network fitted without that clip's source (leave one source out,
`probe_tempo_tcn.py train --fit` on the other three), and each held-out clip's from the shipped
network (models/beat_activation.safetensors), which never saw any held-out set either.

The commands, and what they found (not shipped): docs/tempo-experiments.md, session 33.

    PY=/tmp/venv-tcn/bin/python      # torch, librosa, safetensors
    # a fold network per fitting generator, fitted as run C on the other two and music21
    $PY scripts/probe_tempo_tcn.py train /tmp/tcn/feats --fit heldout_grooves tempo_synth \
        tempo_music21 --epochs 100 --seed 1 --out /tmp/tcn/without_tempo_fit.pt   # and so on
    # activations (and tempo heads): fitting sets from their fold network
    $PY scripts/probe_level_oof.py activations /tmp/tcn/feats --out /tmp/tcn/act \
        --fold tempo_fit=/tmp/tcn/without_tempo_fit.pt ...
    # held-out sets from the shipped network (no head), or from a network with its head
    $PY scripts/probe_level_oof.py activations /tmp/tcn/feats --out /tmp/tcn/act_shipped \
        --shipped models/beat_activation.safetensors --sets heldout_midi heldout_blupi ...
    $PY scripts/probe_level_oof.py activations /tmp/tcn/feats --out /tmp/tcn/act_all \
        --model /tmp/tcn/all.pt --sets heldout_midi heldout_blupi ...
    # the level dumps (`eval-tempo --level-features`) with the activation's features appended
    $PY scripts/probe_level_oof.py augment /tmp/tcn/dumps/tempo_fit.jsonl /tmp/tcn/act/tempo_fit.npz \
        --out /tmp/tcn/aug/tempo_fit.jsonl
    .venv-ref/bin/python scripts/fit_tempo_level.py /tmp/tcn/aug/{tempo_fit,heldout_grooves,tempo_synth}.jsonl \
        --features log2_bpm_120,...,act_acf_1,act_salience,act_offbeat_ratio,act_third_ratio,act_head \
        --eval /tmp/tcn/aug/heldout_{midi,blupi,lmms,modules}.jsonl

Features of a hypothesis at `bpm`, period P = 60·fps/bpm frames, on the activation a (mean
removed for the autocorrelations):
- `act_acf_1`: the autocorrelation at P (linearly interpolated), over the autocorrelation at 0;
- `act_salience`: the mean of that at P, 2P, 3P and 4P;
- `act_offbeat_ratio`: with the phase φ in [0, P) whose comb a(φ + kP) has the largest mean,
  the comb's mean at φ + P/2 over its mean at φ (a level whose midpoints fire as strongly as its
  beats is too slow);
- `act_third_ratio`: the larger of the comb's means at φ + P/3 and φ + 2P/3, over its mean at φ;
- `act_head` (only where the network has its tempo head): the log of the head's probability over
  the integer BPM within 4 % of the hypothesis.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from probe_tempo_tcn import FPS, build_model, load_model, load_set, predict  # noqa: E402

ACT_FEATURES = ["act_acf_1", "act_salience", "act_offbeat_ratio", "act_third_ratio"]
# The tempo head's log-probability within 4 % of the hypothesis (Böck's multi-task tempo), from
# networks that still have the head (the fold networks, `--sets` run through `--model`); the
# shipped file has none. Appended only when the activations carry it.
HEAD_FEATURE = "act_head"


def shipped_model(path):
    """The shipped network from its safetensors (the tempo head, left out of the file, stays at
    its random initial weights: only the beat activation is used here)."""
    from safetensors.torch import load_file
    model = build_model("2d")
    missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    assert not unexpected and all(k.startswith("tempo.") for k in missing), (missing, unexpected)
    model.eval()
    return model


def activations(args):
    import torch
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    # (set, network, whether its tempo head was fitted: the shipped file has no head)
    jobs = [(name, load_model(path), True) for name, path in (f.split("=", 1) for f in args.fold)]
    if args.shipped:
        model = shipped_model(args.shipped)
        jobs += [(name, model, False) for name in args.sets]
    if args.model:
        model = load_model(args.model)
        jobs += [(name, model, True) for name in args.sets]
    for name, model, has_head in jobs:
        clips = load_set(args.feats, name)
        out = [predict(model, c["spec"]) for c in clips]
        heads = {f"head{i}": o[1] for i, o in enumerate(out)} if has_head else {}
        np.savez(os.path.join(args.out, name + ".npz"), files=np.array([c["file"] for c in clips]),
                 **{f"act{i}": o[0] for i, o in enumerate(out)}, **heads)
        print(f"{name}: {len(clips)} activations", file=sys.stderr, flush=True)


def comb_mean(a, start, period):
    """Mean of `a` at start, start + period, ... (linear interpolation between frames)."""
    t = np.arange(start, len(a) - 1, period)
    if len(t) == 0:
        return 0.0
    i = t.astype(int)
    w = t - i
    return float(np.mean(a[i] * (1 - w) + a[i + 1] * w))


def normalised_acf(a):
    """The autocorrelation of `a` (mean removed) at every lag, over its value at 0; zeros when
    `a` is flat."""
    n = len(a)
    spectrum = np.fft.rfft(a - a.mean(), 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    return acf / acf[0] if acf[0] > 0 else np.zeros(n)


def act_features(a, acf, bpm):
    """ACT_FEATURES of the hypothesis at `bpm` on the activation `a`, whose `normalised_acf` is
    `acf` (one per clip, whatever the number of its hypotheses)."""
    period = 60 * FPS / bpm

    def acf_at(lag):
        if lag >= len(acf) - 1:
            return 0.0
        i = int(lag)
        w = lag - i
        return float(acf[i] * (1 - w) + acf[i + 1] * w)

    acf_1 = acf_at(period)
    salience = float(np.mean([acf_at(k * period) for k in range(1, 5)]))
    phases = np.arange(0, period, 0.5)
    beat_means = [comb_mean(a, p, period) for p in phases]
    phase = phases[int(np.argmax(beat_means))]
    on_beat = max(max(beat_means), 1e-9)
    offbeat = comb_mean(a, phase + period / 2, period) / on_beat
    third = max(comb_mean(a, phase + period / 3, period),
                comb_mean(a, phase + 2 * period / 3, period)) / on_beat
    return [acf_1, salience, offbeat, third]


def head_feature(dist, bpm):
    """log of the tempo head's probability over the integer BPM within 4 % of `bpm`."""
    bins = np.arange(len(dist))
    return float(np.log(dist[np.abs(bins / bpm - 1) <= 0.04].sum() + 1e-6))


def augment(args):
    z = np.load(args.activations)
    by_file = {str(f): z[f"act{i}"] for i, f in enumerate(z["files"])}
    head = {str(f): z[f"head{i}"] for i, f in enumerate(z["files"])} if "head0" in z else None
    extra = ACT_FEATURES + ([HEAD_FEATURE] if head is not None else [])
    written = 0
    with open(args.out, "w") as out:
        for line in open(args.dump):
            clip = json.loads(line)
            # A dump this script has augmented already gets its features replaced, not doubled.
            names = clip["feature_names"]
            at = names.index(ACT_FEATURES[0]) if ACT_FEATURES[0] in names else len(names)
            clip["feature_names"] = names[:at] + extra
            decision = clip["decision"]
            if decision is not None:
                name = os.path.basename(clip["file"])
                a = by_file[name]
                acf = normalised_acf(a)
                for h in decision["hypotheses"]:
                    h["features"] = h["features"][:at] + act_features(a, acf, h["bpm"])
                    if head is not None:
                        h["features"].append(head_feature(head[name], h["bpm"]))
            out.write(json.dumps(clip) + "\n")
            written += 1
    print(f"{args.out}: {written} clips", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("activations")
    p.add_argument("feats", help="probe_tempo_tcn.py features output")
    p.add_argument("--out", required=True)
    p.add_argument("--fold", nargs="*", default=[], help="SET=MODEL.pt: SET's clips by MODEL")
    p.add_argument("--shipped", help="models/beat_activation.safetensors")
    p.add_argument("--model", help="a probe_tempo_tcn.py network, head and all, for --sets")
    p.add_argument("--sets", nargs="*", default=[], help="sets run through --shipped or --model")
    p = sub.add_parser("augment")
    p.add_argument("dump", help="an eval-tempo --level-features dump")
    p.add_argument("activations", help="this script's activations npz for the same set")
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    {"activations": activations, "augment": augment}[args.command](args)


if __name__ == "__main__":
    main()
