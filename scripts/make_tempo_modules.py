#!/usr/bin/env python3
"""A held-out tempo/beat set of real songs written in trackers: the music modules (.mod, .xm, .s3m,
.it) that Debian's game data packages ship.

Each module is a song written by a person in a tracker (ProTracker, FastTracker 2, Scream Tracker,
Impulse Tracker): their own drum samples and programming, their own harmony, played by libopenmpt,
the player engine of OpenMPT. Nothing in it was made by this project, nor by a process the tempo
decision (models/tempo_level.json) was fitted on.

Labels come from the player, not from an estimate: the module is rendered through libopenmpt's C
API (ctypes), a few frames at a time, and each row's start is read from the playback position, to
within one read (16 frames, 0.36 ms at 44.1 kHz). A beat is every `rows per beat`-th row of a
pattern, counted from the pattern's first row. Trackers define their tempo (the "BPM" of
ProTracker, FastTracker 2, Scream Tracker and Impulse Tracker) as beats of 24 ticks: at the
default speed of 6 ticks a row, four rows a beat and sixteen a bar. Rows per beat is the power of
two nearest 24 ticks at the row's speed (4 at speed 5–8, 8 at speed 3–4, 16 at speed 2, 2 at
speed 9–16), so a song written at speed 3 with eight rows a beat is labelled at its tempo field,
not at twice it. At speed 4 a beat of 24 ticks is 6 rows, which no power of two is: those songs
are labelled at 8 rows (32 ticks), and a song meant in three eighths a beat reads 4:3 of it.
That is the composer's grid, not a listener's tap (the same caveat as the MIDI and LMMS sets, where
the label is the notated quarter note): where the two differ, Acc2 forgives the octave and Acc1
does not. Rows-per-beat highlights that a format may store are not read.

One clip per module, ``--seconds`` long (default 30), inside the longest stretch whose beats are
evenly spaced (every interval within 0.5 % of the stretch's first: the tempo and the rows per beat
hold; a swing that alternates speeds evens out within a beat): from the first bar line (a beat
whose row is a multiple of four beats) at or after a quarter of the song, earlier when the stretch
is too short for that. Modules without such a stretch of ``--min-seconds`` are left out, as are
clips that are nearly silent. Each clip is encoded by ffmpeg in a codec drawn per clip.

    apt-get install -y --no-install-recommends libopenmpt0 ffmpeg
    .venv-ref/bin/python scripts/make_tempo_modules.py data/modules --out data/heldout_modules

The packages (PACKAGES, 25 of them, about 100 MB) are fetched with `apt-get download` and unpacked
with `dpkg-deb -x` into one folder each under the first argument, unless they are there already;
nothing is installed. Needs libopenmpt (Debian's libopenmpt0) and ffmpeg. Writes OUT/labels.csv
(file,bpm,meter,style,beats,source; meter is the rows per beat, source the Debian package and
style its name without `-data`) and OUT/beats/*.txt.
"""
import argparse
import ctypes
import functools
import glob
import math
import os
import random
import re
import subprocess
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np

from make_tempo_heldout import clip_set_options, write_labels
from make_tempo_set import ENCODER_ARGS

EXTENSIONS = (".mod", ".xm", ".s3m", ".it")
CODECS = ["flac", "mp3", "ogg", "opus"]
RATE = 44100
READ_FRAMES = 16
STEADY = 0.005
BEATS_PER_BAR = 4
# ProTracker's tempo counts beats of 24 ticks (speed 6, four rows); XM, S3M and IT kept it.
TICKS_PER_BEAT = 24


class Row(NamedTuple):
    time: float  # seconds from the start of the song
    row: int  # index in its pattern
    speed: int  # ticks a row


class Beat(NamedTuple):
    time: float
    starts_bar: bool
    rows: int  # rows a beat


# Debian (bookworm) game data packages that ship music modules, found in the archive's
# Contents-all index by extension.
PACKAGES = [
    "ballz-data", "biniax2-data", "bomberclone-data", "ceferino-data", "circuslinux-data",
    "criticalmass-data", "cuyo-data", "freedroid-data", "gl-117-data", "heroes-sound-tracks",
    "ironseed-data", "madbomber-data", "monsterz-data", "njam-data", "open-invaders-data",
    "pachi-data", "pekka-kana-2-data", "pingus-data", "rafkill-data", "ri-li-data", "solarwolf",
    "tecnoballz-data", "tomatoes-data", "tuxmath-data", "tuxtype-data",
]


def unpack_packages(folder, packages=PACKAGES):
    """Each of `packages` unpacked into FOLDER/PACKAGE, downloaded first where it is missing."""
    missing = [p for p in packages if not os.path.isdir(os.path.join(folder, p))]
    if not missing:
        return
    debs = os.path.join(folder, "debs")
    os.makedirs(debs, exist_ok=True)
    subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    for package in missing:
        deb = glob.glob(os.path.join(debs, f"{package}_*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(folder, package)], check=True)


@functools.cache
def libopenmpt():
    """libopenmpt's C API, with the signatures of the calls used here (once per process)."""
    lib = ctypes.CDLL("libopenmpt.so.0")
    lib.openmpt_module_create_from_memory2.restype = ctypes.c_void_p
    lib.openmpt_module_create_from_memory2.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_void_p, ctypes.c_void_p]
    for name, res in [("read_float_mono", ctypes.c_size_t), ("get_current_order", ctypes.c_int32),
                      ("get_current_row", ctypes.c_int32), ("get_current_speed", ctypes.c_int32),
                      ("get_duration_seconds", ctypes.c_double), ("set_repeat_count", ctypes.c_int),
                      ("destroy", None)]:
        getattr(lib, "openmpt_module_" + name).restype = res
    # The output is an address (an int), so each read can write further into one array.
    lib.openmpt_module_read_float_mono.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t,
                                                   ctypes.c_void_p]
    for name in ["get_current_order", "get_current_row", "get_current_speed", "get_duration_seconds", "destroy"]:
        getattr(lib, "openmpt_module_" + name).argtypes = [ctypes.c_void_p]
    lib.openmpt_module_set_repeat_count.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    return lib


def open_module(path):
    """libopenmpt's module of the file at `path`, to be destroyed by the caller; ValueError if
    libopenmpt cannot open it."""
    lib = libopenmpt()
    data = open(path, "rb").read()
    error = ctypes.c_int(0)
    module = lib.openmpt_module_create_from_memory2(data, len(data), None, None, None, None,
                                                    ctypes.byref(error), None, None)
    if not module:
        raise ValueError(f"libopenmpt cannot open it (error {error.value})")
    return module


def clip_name(path):
    """The module's file name as its clip is named, after the clip's number: every run of other
    characters than letters and digits one underscore."""
    return re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(path)).strip("_")


def play(path, max_seconds=900):
    """The module played once at RATE, mono: (samples, rows), where rows lists each Row as it
    starts."""
    lib = libopenmpt()
    module = open_module(path)
    try:
        lib.openmpt_module_set_repeat_count(module, 0)
        # Read straight into one array sized from the duration libopenmpt computes; grown if the
        # song plays longer than that.
        limit = int(max_seconds * RATE)
        expected = int(lib.openmpt_module_get_duration_seconds(module) * RATE) + READ_FRAMES
        audio = np.zeros(min(max(expected, READ_FRAMES), limit + READ_FRAMES), np.float32)
        rows, done, last, address = [], 0, None, audio.ctypes.data
        while done < limit:
            if done + READ_FRAMES > len(audio):
                audio = np.concatenate([audio, np.zeros(len(audio), np.float32)])
                address = audio.ctypes.data
            n = lib.openmpt_module_read_float_mono(module, RATE, READ_FRAMES, address + done * 4)
            if n == 0:
                break
            position = (lib.openmpt_module_get_current_order(module), lib.openmpt_module_get_current_row(module))
            if position != last:
                # The row started within this read: its middle is within 0.2 ms of it.
                rows.append(Row((done + n / 2) / RATE, row=position[1],
                                speed=lib.openmpt_module_get_current_speed(module)))
                last = position
            done += n
        return audio[:done], rows
    finally:
        lib.openmpt_module_destroy(module)


def rows_per_beat(speed):
    """The power of two rows nearest a beat of TICKS_PER_BEAT ticks at `speed` ticks a row."""
    return 2 ** max(0, round(math.log2(TICKS_PER_BEAT / max(speed, 1))))


def beats_of(rows):
    """The Beats among the rows: a row starts a beat when its index in the pattern is a multiple
    of the rows per beat at its speed."""
    beats = []
    for r in rows:
        per_beat = rows_per_beat(r.speed)
        if r.row % per_beat == 0:
            beats.append(Beat(r.time, r.row % (per_beat * BEATS_PER_BAR) == 0, per_beat))
    return beats


def steady_stretch(beats):
    """The longest run of beats, as (first, last) indices, whose intervals all stay within STEADY
    of the run's first interval and whose rows per beat do not change."""
    best, start = (0, 0), 0
    for i in range(1, len(beats)):
        interval = beats[i].time - beats[i - 1].time
        first = beats[start + 1].time - beats[start].time if i - start >= 2 else interval
        if abs(interval / first - 1) > STEADY or beats[i].rows != beats[start].rows:
            start = i - 1
        if beats[i].time - beats[start].time > beats[best[1]].time - beats[best[0]].time:
            best = (start, i)
    return best


def render(job):
    path, out, codec, seconds, min_seconds = job
    try:
        audio, rows = play(path)
    except ValueError as e:
        return f"{path}: {e}"
    beats = beats_of(rows)
    if len(beats) < 8:
        return f"{path}: {len(beats)} beats"
    first, last = steady_stretch(beats)
    span_end = beats[last].time
    if span_end - beats[first].time < min_seconds:
        return f"{path}: no steady stretch of {min_seconds:.0f} s (longest {span_end - beats[first].time:.1f} s)"
    song_s = len(audio) / RATE
    bars = [i for i in range(first, last + 1) if beats[i].starts_bar]
    fits = [i for i in bars if beats[i].time + seconds <= span_end] or [first]
    start = next((i for i in fits if beats[i].time >= song_s / 4), fits[-1])
    t0 = beats[start].time
    take = min(seconds, span_end - t0)
    if take < min_seconds:
        return f"{path}: the stretch after its first bar line is {take:.1f} s"
    clip = audio[int(round(t0 * RATE)):int(round((t0 + take) * RATE))]
    if float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))) < 1e-3:
        return f"{path}: the clip is nearly silent"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "1",
                    "-i", "-", *ENCODER_ARGS[codec], out], input=clip.tobytes(), check=True)
    times = [b.time - t0 for b in beats[start:last + 1] if b.time - t0 < take]
    bpm = 60.0 * (len(times) - 1) / (times[-1] - times[0])
    return {"beats": times, "bpm": round(bpm, 3), "rows_per_beat": beats[start].rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("packages", help="folder with one folder per unpacked Debian package (filled if empty)")
    clip_set_options(ap, seed=13)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "beats"), exist_ok=True)
    unpack_packages(a.packages)
    modules = [path for package in PACKAGES
               for path in sorted(glob.glob(os.path.join(a.packages, package, "**", "*"), recursive=True))
               if path.lower().endswith(EXTENSIONS) and os.path.isfile(path)]
    seen, meta, jobs = set(), [], []
    for path in modules:
        content = open(path, "rb").read()
        if content in seen:  # the same song shipped twice
            continue
        seen.add(content)
        package = os.path.relpath(path, a.packages).split(os.sep)[0]
        stem = f"t{len(meta):03d}_" + clip_name(path)
        codec = rng.choice(CODECS)
        meta.append((stem, codec, package))
        jobs.append((path, os.path.join(a.out, f"{stem}.{codec}"), codec, a.seconds, a.min_seconds))
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(render, jobs))
    rows = []
    for (stem, codec, package), result in zip(meta, results):
        if isinstance(result, str):
            print("skip", result)
            continue
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in result["beats"])
        rows.append({"file": f"{stem}.{codec}", "bpm": result["bpm"], "meter": f"{result['rows_per_beat']} rows/beat",
                     "style": package.removesuffix("-data"), "beats": f"beats/{stem}.txt", "source": package})
    write_labels(a.out, rows)


if __name__ == "__main__":
    main()
