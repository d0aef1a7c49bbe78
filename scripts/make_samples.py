#!/usr/bin/env python3
"""Generate the bundled example loops in samples/.

Usage:
    python3 scripts/make_samples.py            # from the repository root (or anywhere)

Makes (overwriting whatever is there):
    samples/hiphop_92.mp3        92 BPM boom-bap with swung hats   (lame -V2, stereo)
    samples/fourfloor_120.flac   120 BPM four-on-the-floor          (flac -8, stereo 16-bit)
    samples/house_128.ogg        128 BPM house, 16th hats, stabs    (oggenc -q4)
    samples/dnb_174.opus         174 BPM two-step drum and bass     (opusenc 96 kb/s)
    samples/tempo.csv            file,bpm,meter,style
    samples/beats/<stem>.txt     one beat time in seconds per line (quarter notes)
    samples/LICENSE              CC0 1.0 dedication

Everything is synthesised here from scratch (no recordings, no sound fonts): kick = pitched
decaying sine, snare = noise burst + tone, hat = high-passed noise, plus a bass line and, for
some loops, chord stabs. Rendering is at 44.1 kHz stereo; every random number comes from a
random.Random with a fixed seed, so re-running gives byte-identical WAV masters (and, with the
encoder versions recorded in samples/LICENSE, identical encoded files).

Beat times: beat k (k = 0, 1, ...) is at k * 60 / bpm seconds of the source timeline; the
first beat is at 0.0 s. Swing only delays off-beat eighth notes, never the beats themselves.
Lossy decoders that do not honour encoder delay/padding info may shift audio by up to a few
tens of milliseconds against these times.

Needs: python3 (standard library only), flac, lame, oggenc, opusenc on PATH.
"""

import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import wave

SR = 44100
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "samples")

A4 = 440.0


def midi_hz(note):
    return A4 * 2.0 ** ((note - 69) / 12.0)


class Mix:
    """A stereo float buffer that instruments add into."""

    def __init__(self, seconds, seed):
        self.n = int(round(seconds * SR))
        self.left = [0.0] * self.n
        self.right = [0.0] * self.n
        self.rng = random.Random(seed)

    def add(self, start_s, samples, gain=1.0, pan=0.0):
        """Adds mono `samples` at `start_s` with constant-power `pan` in [-1, 1]."""
        angle = (pan + 1.0) * math.pi / 4.0
        gl = math.cos(angle) * gain * math.sqrt(2.0)
        gr = math.sin(angle) * gain * math.sqrt(2.0)
        i0 = int(round(start_s * SR))
        left, right, n = self.left, self.right, self.n
        for k, v in enumerate(samples):
            i = i0 + k
            if i >= n:
                break
            if i >= 0:
                left[i] += v * gl
                right[i] += v * gr

    def noise(self, count):
        r = self.rng.random
        return [2.0 * r() - 1.0 for _ in range(count)]


# ---------------------------------------------------------------------------------------------
# Instruments. Each returns a list of mono float samples.


def attack(k, ramp):
    return k / ramp if k < ramp else 1.0


def kick(f_hi=150.0, f_lo=48.0, sweep=0.045, decay=0.16, length=0.42):
    n = int(length * SR)
    out, phase = [], 0.0
    for k in range(n):
        t = k / SR
        f = f_lo + (f_hi - f_lo) * math.exp(-t / sweep)
        phase += 2.0 * math.pi * f / SR
        out.append(math.sin(phase) * math.exp(-t / decay) * attack(k, 44))
    return out


def snare(mix, tone_hz=190.0, length=0.26):
    n = int(length * SR)
    noise = mix.noise(n)
    out, lp = [], 0.0
    for k in range(n):
        t = k / SR
        lp += 0.45 * (noise[k] - lp)  # gentle low-pass: body rather than fizz
        tone = 0.6 * math.sin(2 * math.pi * tone_hz * t) + 0.3 * math.sin(2 * math.pi * 1.75 * tone_hz * t)
        out.append((0.75 * lp * math.exp(-t / 0.075) + tone * math.exp(-t / 0.045)) * attack(k, 22))
    return out


def hat(mix, open_=False):
    length = 0.28 if open_ else 0.06
    decay = 0.09 if open_ else 0.018
    n = int(length * SR)
    noise = mix.noise(n + 2)
    out = []
    for k in range(n):
        # Second difference = a crude high-pass (+12 dB/octave): mostly energy above ~6 kHz.
        hp = (noise[k + 2] - 2.0 * noise[k + 1] + noise[k]) * 0.25
        out.append(hp * math.exp(-(k / SR) / decay) * attack(k, 10))
    return out


def bass(freq, seconds, harmonics=(1.0, 0.35, 0.18, 0.08), detune=0.0, release=0.03):
    """Sum of a few harmonics; with `detune` a second detuned copy (a mild 'reese')."""
    n = int(seconds * SR)
    rel = int(release * SR)
    out = []
    w = 2.0 * math.pi * freq / SR
    w2 = w * (1.0 + detune)
    for k in range(n):
        v = 0.0
        for h, a in enumerate(harmonics, start=1):
            v += a * math.sin(h * w * k)
            if detune:
                v += a * math.sin(h * w2 * k + 0.5 * h)
        if detune:
            v *= 0.5
        env = attack(k, 220) * (1.0 if k < n - rel else (n - k) / rel)
        out.append(v * env)
    return out


def stab(freq, seconds, decay=0.18):
    """A chord-note stab: odd harmonics (triangle-ish) with a decaying envelope."""
    n = int(seconds * SR)
    w = 2.0 * math.pi * freq / SR
    out = []
    for k in range(n):
        v = math.sin(w * k) - math.sin(3 * w * k) / 9.0 + math.sin(5 * w * k) / 25.0
        env = attack(k, 130) * math.exp(-(k / SR) / decay)
        if k > n - 200:
            env *= (n - k) / 200.0
        out.append(v * env)
    return out


# ---------------------------------------------------------------------------------------------
# Loops. Grid = 16th notes; `step_time` applies swing to off-beat eighths (steps 2, 6, 10, 14
# within a bar when swing > 0.5) and leaves beats (steps 0, 4, 8, 12) on the grid.


def step_time(step, bpm, swing=0.5):
    beat = 60.0 / bpm
    q, r = divmod(step, 4)  # quarter index, 16th within the quarter
    pos = {0: 0.0, 1: 0.25, 2: swing, 3: 0.75}[r]
    if swing != 0.5 and r == 1:
        pos = swing / 2.0
    if swing != 0.5 and r == 3:
        pos = swing + (1.0 - swing) / 2.0
    return (q + pos) * beat


def render_hiphop(seconds, bpm):
    mix = Mix(seconds, seed=92)
    swing = 0.62
    steps = int(round(seconds * bpm / 60.0)) * 4
    roots = [45, 45, 48, 43]  # A1 A1 C2 G1, one per bar
    for s in range(steps):
        bar, pos = divmod(s, 16)
        t = step_time(s, bpm, swing)
        if pos in (0, 7, 10):
            mix.add(t, kick(f_hi=140.0, decay=0.2), 0.95)
        if pos in (4, 12):
            mix.add(t, snare(mix, 185.0), 0.6)
        if pos % 2 == 0:
            mix.add(t, hat(mix, open_=(pos == 14)), 0.35 if pos % 4 == 0 else 0.22, pan=0.35)
        if pos in (0, 7, 10):
            root = roots[bar % len(roots)]
            note = root if pos != 10 else root + 7
            length = step_time(s + 3, bpm, swing) - t
            mix.add(t, bass(midi_hz(note), length), 0.45)
    return mix


def render_fourfloor(seconds, bpm):
    mix = Mix(seconds, seed=120)
    steps = int(round(seconds * bpm / 60.0)) * 4
    roots = [40, 40, 43, 38]  # E1 E1 G1 D1
    for s in range(steps):
        bar, pos = divmod(s, 16)
        t = step_time(s, bpm)
        if pos % 4 == 0:
            mix.add(t, kick(), 1.0)
        if pos in (4, 12):
            mix.add(t, snare(mix, 200.0), 0.5)
        if pos % 4 == 2:
            mix.add(t, hat(mix), 0.25, pan=-0.3)
        if pos % 2 == 0:  # disco octave bass on eighths
            note = roots[bar % 4] + (12 if pos % 4 == 2 else 0)
            mix.add(t, bass(midi_hz(note), 0.5 * 60.0 / bpm * 0.9), 0.4)
    return mix


def render_house(seconds, bpm):
    mix = Mix(seconds, seed=128)
    steps = int(round(seconds * bpm / 60.0)) * 4
    chords = [(57, 60, 64), (57, 60, 64), (55, 59, 62), (53, 57, 60)]  # Am Am G F
    roots = [33, 33, 31, 29]
    for s in range(steps):
        bar, pos = divmod(s, 16)
        t = step_time(s, bpm)
        if pos % 4 == 0:
            mix.add(t, kick(f_hi=160.0, decay=0.14), 1.0)
        if pos in (4, 12):
            mix.add(t, snare(mix, 210.0), 0.45, pan=0.05)
        # Hats: closed on every 16th, open on the off-beat eighth.
        if pos % 4 == 2:
            mix.add(t, hat(mix, open_=True), 0.3, pan=0.25)
        else:
            mix.add(t, hat(mix), 0.12 if pos % 2 else 0.18, pan=-0.25)
        if pos % 4 == 2:  # off-beat bass
            mix.add(t, bass(midi_hz(roots[bar % 4] + 12), 0.2), 0.45)
        if pos in (3, 6, 11):  # chord stabs
            for i, note in enumerate(chords[bar % 4]):
                mix.add(t, stab(midi_hz(note), 0.22), 0.12, pan=(i - 1) * 0.5)
    return mix


def render_dnb(seconds, bpm):
    mix = Mix(seconds, seed=174)
    steps = int(round(seconds * bpm / 60.0)) * 4
    roots = [38, 38, 41, 36]  # D1 D1 F1 C1, two bars each
    for s in range(steps):
        bar, pos = divmod(s, 16)
        t = step_time(s, bpm)
        if pos in (0, 10):  # two-step: kick on 1 and the "and" of 3
            mix.add(t, kick(f_hi=170.0, decay=0.11, length=0.3), 1.0)
        if pos in (4, 12):
            mix.add(t, snare(mix, 220.0), 0.7)
        if pos % 2 == 0:
            mix.add(t, hat(mix), 0.22 if pos % 4 else 0.14, pan=0.3)
        if pos == 0:  # reese bass, one note per bar
            root = roots[(bar // 2) % 4]
            mix.add(t, bass(midi_hz(root + 12), 16 * 15.0 / bpm, detune=0.006), 0.4)
    return mix


LOOPS = [
    # stem, bpm, beats, style (no commas: tempo.csv is unquoted), encoder, renderer
    ("hiphop_92", 92, 14, "hip-hop", "mp3", render_hiphop),
    ("fourfloor_120", 120, 16, "four-on-the-floor", "flac", render_fourfloor),
    ("house_128", 128, 20, "house", "ogg", render_house),
    ("dnb_174", 174, 24, "drum-and-bass", "opus", render_dnb),
]


def write_wav(path, mix, peak=0.89):
    m = max(max(abs(v) for v in mix.left), max(abs(v) for v in mix.right)) or 1.0
    g = peak / m * 32767.0
    frames = bytearray()
    pack = struct.Struct("<hh").pack
    for l, r in zip(mix.left, mix.right):
        frames += pack(int(round(l * g)), int(round(r * g)))
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(bytes(frames))


def encode(kind, wav, out):
    if kind == "flac":
        cmd = ["flac", "--silent", "--force", "-8", "-o", out, wav]
    elif kind == "mp3":
        cmd = ["lame", "--quiet", "-V2", wav, out]
    elif kind == "ogg":
        cmd = ["oggenc", "--quiet", "-q4", "--serial", "92128", "-o", out, wav]
    elif kind == "opus":
        cmd = ["opusenc", "--quiet", "--bitrate", "96", "--serial", "174174", wav, out]
    else:
        raise ValueError(kind)
    subprocess.run(cmd, check=True)


def main():
    os.makedirs(os.path.join(OUT, "beats"), exist_ok=True)
    rows = ["file,bpm,meter,style"]
    with tempfile.TemporaryDirectory() as tmp:
        for stem, bpm, beats, style, kind, render in LOOPS:
            seconds = beats * 60.0 / bpm
            print(f"{stem}: {bpm} BPM, {beats} beats, {seconds:.3f} s -> {kind}", file=sys.stderr)
            mix = render(seconds, bpm)
            wav = os.path.join(tmp, stem + ".wav")
            write_wav(wav, mix)
            name = f"{stem}.{kind}"
            encode(kind, wav, os.path.join(OUT, name))
            rows.append(f"{name},{bpm},4/4,{style}")
            with open(os.path.join(OUT, "beats", stem + ".txt"), "w") as f:
                for k in range(beats):
                    f.write(f"{k * 60.0 / bpm:.6f}\n")
    with open(os.path.join(OUT, "tempo.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    write_license()


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def write_license():
    versions = "\n".join(
        "  " + tool_version(c)
        for c in (["flac", "--version"], ["lame", "--version"], ["oggenc", "--version"], ["opusenc", "--version"])
    )
    text = f"""The audio files in this directory (hiphop_92.mp3, fourfloor_120.flac, house_128.ogg,
dnb_174.opus) and the accompanying tempo.csv and beats/*.txt were generated entirely by
scripts/make_samples.py in this repository: every sound is synthesised from scratch (sine
waves and seeded pseudo-random noise). No recordings, samples or sound fonts were used.

To the extent possible under law, the sonovec authors have waived all copyright and related or
neighboring rights to these files, dedicating them to the public domain under the
Creative Commons CC0 1.0 Universal Public Domain Dedication:
https://creativecommons.org/publicdomain/zero/1.0/

You can copy, modify, distribute and use them, even for commercial purposes, without asking
permission.

Regenerate with: python3 scripts/make_samples.py
Encoders used for the committed files:
{versions}
"""
    with open(os.path.join(OUT, "LICENSE"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
