#!/usr/bin/env python3
"""A third tempo fitting set: drum-machine grooves synthesised from scratch, no MIDI, no SoundFont.

The two fitting generators (make_tempo_set.py, make_tempo_heldout.py grooves) both play General
MIDI drum kits through a SoundFont synthesiser, and in both the fast level of drum and bass
repeats (a ride or hat on every eighth, or an alternating middle register). Electronic music is
often made otherwise: synthesised kick, snare and hats, a two-step kick that leaves the fast
level nearly empty, hats on the off-beats only or not at all. This generator draws such grooves
from the instruments of scripts/make_samples.py (pitched-sine kick, noise snare, high-passed
noise hats, a harmonic bass, chord stabs), with every pattern, gain, hat mode, tuning and
swing drawn per clip, and labels each at the level a musician taps (drum and bass ~174, punk at
the quarter note, ballads and one-drop reggae at the slow quarter note).

It is a fitting set, not a held-out one: the bundled samples/dnb_174.opus comes from the same
instruments, so its reading says nothing about held-out accuracy. The held-out sets stay the
MIDI compositions of make_tempo_heldout.py.

    python3 scripts/make_tempo_synth.py --seed 11 --clips 96 --out data/tempo_synth

Writes OUT/labels.csv (file,bpm,meter,style,beats) and OUT/beats/*.txt (beat k at k·60/bpm s).
Needs python3 (standard library) and ffmpeg with libopus, libvorbis and libmp3lame.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_samples import Mix, bass, hat, kick, midi_hz, snare, stab, step_time, write_wav  # noqa: E402
from make_tempo_set import ENCODER_ARGS, beat_grid, write_set  # noqa: E402

# Style: (tempo range in BPM at the labelled level, kick steps, snare steps) on a bar of 16
# sixteenths. Kick and snare steps are alternatives drawn per clip.
STYLES = {
    "two-step": ((165, 178), [(0, 10), (0, 10, 11), (0, 6, 10)], [(4, 12), (4, 12, 15)]),
    "breakbeat": ((160, 176), [(0, 2, 10), (0, 10), (0, 3, 10)], [(4, 7, 12), (4, 12, 14)]),
    "punk": ((160, 200), [(0, 8), (0, 6, 8)], [(4, 12)]),
    "boom-bap": ((82, 98), [(0, 7, 10), (0, 10), (0, 3, 10)], [(4, 12)]),
    "four-floor": ((118, 136), [(0, 4, 8, 12)], [(4, 12), ()]),
    "backbeat": ((90, 140), [(0, 8), (0, 8, 10), (0, 7, 8)], [(4, 12)]),
    "ballad": ((58, 76), [(0, 10), (0,), (0, 8)], [(4, 12), (8,)]),
    "one-drop": ((66, 84), [(8,)], [(8,)]),
}
# How the hats play: every eighth, only the off-beat eighths, every sixteenth, or not at all.
HAT_MODES = ["eighths", "offbeats", "sixteenths", "none"]
CODECS = ["flac", "mp3", "ogg", "opus"]


def hat_steps(mode):
    return {"eighths": range(0, 16, 2), "offbeats": range(2, 16, 4),
            "sixteenths": range(16), "none": ()}[mode]


def render_clip(style, bpm, seconds, seed):
    """The clip's mix; every choice drawn from `seed`."""
    rng = random.Random(seed)
    _, kicks, snares = STYLES[style]
    kick_steps, snare_steps = rng.choice(kicks), rng.choice(snares)
    hats = hat_steps(rng.choice(HAT_MODES))
    swing = rng.uniform(0.55, 0.64) if style == "boom-bap" and rng.random() < 0.7 else 0.5
    kick_sound = kick(f_hi=rng.uniform(120, 180), decay=rng.uniform(0.09, 0.22),
                      length=rng.uniform(0.25, 0.42))
    gains = {"kick": rng.uniform(0.8, 1.0), "snare": rng.uniform(0.4, 0.8),
             "hat": rng.uniform(0.1, 0.35), "bass": rng.uniform(0.25, 0.5)}
    snare_tone = rng.uniform(170, 240)
    key = rng.randrange(28, 40)
    progression = [key + rng.choice((0, 3, 5, 7, -2)) for _ in range(4)]
    bass_every = rng.choice((16, 8))  # a note per bar or per half bar
    stabs = rng.random() < 0.4
    mix = Mix(seconds, seed=seed)
    steps = int(seconds * bpm / 60.0 * 4) + 1
    for s in range(steps):
        bar, pos = divmod(s, 16)
        t = step_time(s, bpm, swing)
        if pos in kick_steps:
            mix.add(t, kick_sound, gains["kick"])
        if pos in snare_steps:
            mix.add(t, snare(mix, snare_tone), gains["snare"])
        if pos in hats:
            accent = 1.0 if pos % 4 == 0 else 0.7
            mix.add(t, hat(mix, open_=(pos % 8 == 6 and rng.random() < 0.3)),
                    gains["hat"] * accent, pan=0.3)
        if pos % bass_every == 0:
            root = progression[bar % 4]
            length = bass_every * 15.0 / bpm * 0.95
            mix.add(t, bass(midi_hz(root + 12), length, detune=rng.choice((0.0, 0.006))),
                    gains["bass"])
        if stabs and pos in (0, 6) and bar % 2 == 0:
            for i, interval in enumerate((12, 15, 19)):
                mix.add(t, stab(midi_hz(progression[bar % 4] + 24 + interval), 0.25), 0.08,
                        pan=(i - 1) * 0.5)
    return mix


def render(job):
    style, bpm, seconds, seed, codec, out, tmp = job
    wav = os.path.join(tmp, f"{seed}.wav")
    write_wav(wav, render_clip(style, bpm, seconds, seed))
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", wav, *ENCODER_ARGS[codec], out],
                   check=True)
    os.remove(wav)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--clips", type=int, default=96)
    ap.add_argument("--seconds", type=float, default=22.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "beats"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tempo_synth_")
    styles = list(STYLES)
    rows, jobs = [], []
    for i in range(a.clips):
        style = styles[i % len(styles)]
        lo, hi = STYLES[style][0]
        bpm = round(rng.uniform(lo, hi), 1)
        seconds = round(a.seconds * rng.uniform(0.85, 1.15), 2)
        codec = rng.choice(CODECS)
        stem = f"{i:03d}_{style}_{bpm:g}"
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in beat_grid(bpm, seconds))
        rows.append({"file": f"{stem}.{codec}", "bpm": bpm, "meter": "4/4", "style": style,
                     "beats": f"beats/{stem}.txt"})
        jobs.append((style, bpm, seconds, a.seed * 1000 + i, codec,
                     os.path.join(a.out, f"{stem}.{codec}"), tmp))
    write_set(a.out, rows, render, jobs, a.jobs)


if __name__ == "__main__":
    main()
