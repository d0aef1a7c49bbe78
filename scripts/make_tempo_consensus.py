#!/usr/bin/env python3
"""A tempo set of real music labelled by two learned estimators that agree, for fitting.

No tempo annotations of real music are reachable from this machine (only PyPI and Debian), so
this set takes its labels from the published models that were fitted on human annotations:
madmom's RNN + comb tempo (Böck et al., ISMIR 2015) and TempoCNN's `ismir2018` (Schreiber &
Müller), both run by `scripts/peers_tempo_learned.py`. A clip is labelled only where the two
agree within 4 % (mir_eval's Acc1 tolerance); its label is their geometric mean. Where they
disagree the clip is left out, which keeps mostly the clips whose level is clear, and that is a
bias to keep in mind: the set says what the conventional level is where it is easy to hear.

    bash scripts/make_venv_learned_peers.sh                             # the two estimators' venvs
    PY=.venv-ref/bin/python                                             # scripts/make_venv.sh
    $PY scripts/make_tempo_consensus.py clips --out data/tempo_consensus  # fetch, cut: clips.txt
    T=data/tempo_consensus
    /work/data/venv-madmom/bin/python scripts/peers_tempo_learned.py madmom --estimate $T/madmom.csv $T/clips.txt
    /work/data/venv-tcnn/bin/python scripts/peers_tempo_learned.py tempocnn --estimate $T/tempocnn.csv $T/clips.txt
    $PY scripts/make_tempo_consensus.py labels $T                       # $T/labels.csv

`clips` unpacks PACKAGES (Debian game soundtracks: 0.8 GB of .deb files, 1 GB unpacked) into
OUT/pkgs; `--music FOLDER` reads already unpacked packages from FOLDER instead, as
fetch_real_music.sh leaves them. It takes every Ogg, Opus, MP3 or FLAC file there that lasts at
least 40 s (once, where a package links one file into several folders), and cuts 30 s starting a
quarter of the way in, and a second 30 s from five eighths where the track lasts at least 150 s.
The package is the clip's `style` and `source`. Left out: planetblupi-music-ogg (the compositions
of the planetblupi MIDI held-out set) and every package of `make_tempo_modules.py`'s (the
tracker-module held-out set).
"""
import argparse
import csv
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_serve_clips import cut, duration  # noqa: E402
from make_tempo_modules import unpack_packages  # noqa: E402

AUDIO = (".ogg", ".opus", ".mp3", ".flac")
PACKAGES = ["wesnoth-1.16-music", "drascula-music", "singularity-music", "warzone2100-music",
            "hedgewars-data", "extremetuxracer-data", "xmoto-data", "marsshooter-data",
            "lincity-ng-data", "supertux-data"]
CLIP_S = 30.0


def make_clips(out, music):
    if music is None:
        music = os.path.join(out, "pkgs")
        os.makedirs(music, exist_ok=True)
        unpack_packages(music, PACKAGES)
    clip_dir = os.path.join(out, "clips")
    os.makedirs(clip_dir, exist_ok=True)
    listed, seen = [], set()
    for package in PACKAGES:
        for root, _, files in sorted(os.walk(os.path.join(music, package))):
            for name in sorted(files):
                if not name.lower().endswith(AUDIO):
                    continue
                path = os.path.join(root, name)
                # drascula-music links one set of tracks into five language folders.
                real = os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
                seconds = duration(path)
                if seconds < 40.0:
                    continue
                starts = [seconds / 4]
                if seconds >= 150.0:
                    starts.append(seconds * 5 / 8)
                stem = re.sub(r"[^A-Za-z0-9]+", "_", os.path.splitext(name)[0]).strip("_")
                for k, start in enumerate(starts):
                    clip = f"{package}__{stem}_{k}.flac"
                    cut(path, f"{start:.3f}", CLIP_S, os.path.join(clip_dir, clip), [], check=False)
                    listed.append((f"clips/{clip}", package))
    with open(os.path.join(out, "clips.txt"), "w") as f:
        for clip, package in listed:
            f.write(f"{clip}\t{package}\n")
    print(f"{len(listed)} clips in {clip_dir}")


def read_estimates(path):
    with open(path) as f:
        return {row["file"]: float(row["estimate"]) for row in csv.DictReader(f)}


def make_labels(out):
    clips = [line.rstrip("\n").split("\t") for line in open(os.path.join(out, "clips.txt"))]
    madmom = read_estimates(os.path.join(out, "madmom.csv"))
    tempocnn = read_estimates(os.path.join(out, "tempocnn.csv"))
    kept = 0
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "bpm", "style", "source", "madmom", "tempocnn"])
        for clip, package in clips:
            a, b = madmom.get(clip), tempocnn.get(clip)
            if a is None or b is None or not a > 0 or not b > 0:
                continue
            if abs(a - b) <= 0.04 * max(a, b):
                writer.writerow([clip, f"{math.sqrt(a * b):.2f}", package, package, f"{a:.2f}", f"{b:.2f}"])
                kept += 1
    print(f"{kept} of {len(clips)} clips labelled (the two estimators agree within 4 %)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    clips = sub.add_parser("clips")
    clips.add_argument("--out", required=True)
    clips.add_argument("--music", help="a folder holding PACKAGES already unpacked, one folder each")
    labels = sub.add_parser("labels")
    labels.add_argument("out")
    args = parser.parse_args()
    if args.step == "clips":
        make_clips(args.out, args.music)
    else:
        make_labels(args.out)


if __name__ == "__main__":
    sys.exit(main())
