#!/usr/bin/env python3
"""Render a labelled tempo/beat evaluation set from generated MIDI.

Each clip is a General MIDI arrangement in one style (drums, bass, chords), humanised (timing
jitter, velocity jitter, swing where the style has it), written as a Standard MIDI File by the
small writer below, rendered with fluidsynth through one of two soundfonts, and encoded to one of
several codecs. Ground truth is the beat-level tempo and the beat times of the MIDI grid.

    python scripts/make_tempo_set.py --seed 1 --clips 60 --out data/tempo_tune
    python scripts/make_tempo_set.py --seed 90210 --clips 160 --out data/tempo_test
    python scripts/make_tempo_set.py --seed 3 --clips 60 --styles rock,drum-and-bass,hip-hop \
        --cymbals vary --out data/tempo_fit_cymbals

`--cymbals vary` draws, per clip, how the hi-hats and rides play: as written (every eighth),
only on the beats and softer, only on the off-beats, or not at all (a bare kick-and-snare
groove, where the beat itself barely repeats: a two-step repeats every half bar). The default
(`eighths`) and the default style list keep every earlier seed's clips as they were.

Writes OUT/labels.csv (file,bpm,meter,style,beats), OUT/beats/*.txt (one time in s per line) and
the audio. Standard library + fluidsynth + ffmpeg only; the two soundfonts come from Debian's
fluid-soundfont-gm and timgm6mb-soundfont.
"""

import argparse
import concurrent.futures as cf
import csv
import os
import random
import struct
import subprocess
import tempfile

SOUNDFONTS = ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2"]
CODECS = ["flac", "mp3", "ogg", "opus", "wav"]
# ffmpeg's encoder arguments for each of CODECS (make_tempo_synth.py encodes with them too).
ENCODER_ARGS = {"flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "160k"],
                "ogg": ["-c:a", "libvorbis", "-q:a", "4"], "opus": ["-c:a", "libopus", "-b:a", "96k"],
                "wav": ["-c:a", "pcm_s16le"]}

# GM percussion keys.
KICK, SNARE, RIM, CLAP, HAT, OPEN_HAT, RIDE, SHAKER, CONGA_HI, CONGA_LO, CLAVE, TAMB = (
    36, 38, 37, 39, 42, 46, 51, 70, 63, 64, 75, 54)

# style: (bpm range, beats per bar, subdivisions per beat, has drums, swing 0..1)
STYLES = {
    "rock": ((90, 150), 4, 2, True, 0.0),
    "disco-house": ((115, 130), 4, 4, True, 0.0),
    "hip-hop": ((80, 100), 4, 4, True, 0.6),
    "drum-and-bass": ((160, 180), 4, 4, True, 0.0),
    "reggae-one-drop": ((66, 84), 4, 4, True, 0.0),
    "bossa": ((120, 150), 4, 4, True, 0.0),
    "waltz": ((90, 180), 3, 2, True, 0.0),
    "shuffle-12-8": ((60, 92), 4, 3, True, 0.0),
    "ballad": ((60, 80), 4, 2, True, 0.0),
    "no-drums": ((70, 140), 4, 2, False, 0.0),
    "percussion": ((90, 130), 4, 4, True, 0.0),
}


def drum_hits(style, bar_beats, sub, rng):
    """(beat position within the bar in beats, key, velocity) of one bar of the style's groove."""
    h = []
    if style == "rock":
        for b in range(4):
            h += [(b, HAT, 80), (b + 0.5, HAT, 60)]
        h += [(0, KICK, 110), (2, KICK, 105), (2.5, KICK, 80), (1, SNARE, 110), (3, SNARE, 110)]
    elif style == "disco-house":
        for b in range(4):
            h += [(b, KICK, 115), (b + 0.5, OPEN_HAT, 80), (b + 0.25, HAT, 50), (b + 0.75, HAT, 50)]
        h += [(1, CLAP, 100), (3, CLAP, 100)]
    elif style == "hip-hop":
        for i in range(8):
            h.append((i * 0.5, HAT, 70 if i % 2 == 0 else 55))
        h += [(0, KICK, 115), (1.75, KICK, 90), (2.5, KICK, 105), (1, SNARE, 115), (3, SNARE, 115)]
    elif style == "drum-and-bass":
        for i in range(8):
            h.append((i * 0.5, RIDE if rng.random() < 0.5 else HAT, 70))
        h += [(0, KICK, 115), (2.5, KICK, 105), (1, SNARE, 115), (3, SNARE, 110), (1.75, SNARE, 60)]
    elif style == "reggae-one-drop":
        for i in range(8):
            h.append((i * 0.5, HAT, 60))
        h += [(2, KICK, 110), (2, RIM, 105)]
    elif style == "bossa":
        for i in range(16):
            h.append((i * 0.25, SHAKER, 55 if i % 2 else 70))
        for p in (0, 1.5, 2, 3.5):
            h.append((p, KICK, 95))
        for p in (0, 0.75, 1.5, 2.5, 3.25):
            h.append((p, RIM, 85))
    elif style == "waltz":
        h += [(0, KICK, 110), (1, SNARE, 70), (2, SNARE, 70)]
        for b in range(3):
            h += [(b, HAT, 60), (b + 0.5, HAT, 45)]
    elif style == "shuffle-12-8":
        for b in range(4):
            for t in range(3):
                h.append((b + t / 3, RIDE, 75 if t == 0 else 50))
        h += [(0, KICK, 110), (2, KICK, 100), (2 + 2 / 3, KICK, 70), (1, SNARE, 110), (3, SNARE, 110)]
    elif style == "ballad":
        for b in range(4):
            h.append((b, HAT, 55))
        h += [(0, KICK, 90), (2, SNARE, 90), (3.5, KICK, 60)]
    elif style == "percussion":
        for i in range(16):
            h.append((i * 0.25, SHAKER, 65 if i % 4 == 0 else 45))
        for p in (0, 1.5, 3):
            h.append((p, CONGA_LO, 100))
        for p in (0.5, 1, 2, 2.5, 3.5):
            h.append((p, CONGA_HI, 85))
        for p in (0, 0.75, 1.5, 2.5, 3):
            h.append((p, CLAVE, 90))
    return [(p, k, v) for p, k, v in h if p < bar_beats - 1e-9]


def chord_roots(rng):
    scale = [0, 2, 4, 5, 7, 9, 11]
    degrees = rng.choice([[0, 5, 3, 4], [0, 4, 5, 3], [1, 4, 0, 0], [0, 3, 4, 4], [5, 3, 0, 4]])
    return [scale[d] for d in degrees]


def triad(root):
    scale = [0, 2, 4, 5, 7, 9, 11]
    i = [0, 2, 4, 5, 7, 9, 11].index(root % 12) if root % 12 in scale else 0
    return [scale[(i + k) % 7] + 12 * ((i + k) // 7) for k in (0, 2, 4)]


CYMBALS = (HAT, OPEN_HAT, RIDE)
CYMBAL_MODES = ["eighths", "beats-soft", "offbeats", "none"]


def cymbal_filter(hits, mode):
    """The bar's hits with its hi-hats and rides played as `mode` (see --cymbals)."""
    out = []
    for p, k, v in hits:
        if k in CYMBALS:
            on_beat = abs(p - round(p)) < 1e-9
            if mode == "none" or (mode == "beats-soft" and not on_beat) or (mode == "offbeats" and on_beat):
                continue
            if mode == "beats-soft":
                v = int(v * 0.6)
        out.append((p, k, v))
    return out


def beat_grid(bpm, seconds):
    """Beat k at k·60/bpm s, every beat before `seconds`."""
    beat = 60.0 / bpm
    return [i * beat for i in range(int(seconds / beat) + 1) if i * beat < seconds]


def write_set(out, rows, render, jobs, workers):
    """Renders every job with `render` on `workers` processes, then writes OUT/labels.csv."""
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(render, jobs))
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "bpm", "meter", "style", "beats"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} clips in {out}")


def make_clip(style, bpm, seconds, rng, cymbals="eighths"):
    """Note events (time s, dur s, channel, key, velocity), beat times (s), meter string."""
    (_, bar_beats, sub, drums, swing) = STYLES[style]
    beat = 60.0 / bpm
    bars = int(seconds / (beat * bar_beats)) + 1
    key = rng.randrange(-5, 6)
    jitter = rng.uniform(0.004, 0.015)  # humanised timing, s (standard deviation)
    vel_jit = rng.uniform(4, 12)
    roots = chord_roots(rng)
    swing_amt = swing * rng.uniform(0.5, 1.0)
    events = []

    def at(pos_beats):
        b = int(pos_beats)
        frac = pos_beats - b
        if swing_amt and abs(frac - 0.5) < 1e-6:
            frac += swing_amt / 6  # swung eighths move towards the triplet position
        if swing_amt and abs(frac - 0.75) < 1e-6:
            frac += swing_amt / 12
        return (b + frac) * beat

    def hum(t):
        return max(0.0, t + rng.gauss(0, jitter))

    def vel(v):
        return int(min(127, max(1, v + rng.gauss(0, vel_jit))))

    bass_prog = rng.choice([33, 34, 38, 32])
    chord_prog = rng.choice([0, 4, 5, 16, 24, 48, 89] if drums else [0, 0, 4, 24, 46, 48])
    lead_prog = rng.choice([0, 11, 73, 80])
    fill_pct = rng.uniform(0.0, 0.15)
    cymbal_mode = rng.choice(CYMBAL_MODES) if cymbals == "vary" else "eighths"
    for bar in range(bars):
        t0 = bar * bar_beats
        root = roots[bar % len(roots)] + key
        if drums:
            for p, k, v in cymbal_filter(drum_hits(style, bar_beats, sub, rng), cymbal_mode):
                if style != "percussion" and rng.random() < 0.04:
                    continue  # a dropped ghost note now and then
                events.append((hum(at(t0 + p)), 0.1, 9, k, vel(v)))
            if rng.random() < fill_pct:
                for i in range(4):
                    events.append((hum(at(t0 + bar_beats - 1 + i * 0.25)), 0.1, 9, 45 + i, vel(90)))
        if style == "percussion":
            continue
        # Bass: root on the style's strong beats.
        bass_pos = {"reggae-one-drop": [0.5, 2.5, 3.0], "waltz": [0], "bossa": [0, 1.5, 2, 3.5],
                    "disco-house": [0.5, 1.5, 2.5, 3.5], "drum-and-bass": [0, 2.5]}.get(
                        style, [0, 2] if bar_beats == 4 else [0])
        for p in bass_pos:
            if p < bar_beats:
                events.append((hum(at(t0 + p)), beat * 0.9, 1, 36 + root % 12, vel(95)))
        # Chords: comping in the style.
        notes = [60 + n + key for n in triad(roots[bar % len(roots)])]
        if style == "reggae-one-drop":
            comp = [1, 3]
        elif style == "waltz":
            comp = [1, 2]
        elif style == "no-drums":
            comp = [i * (1.0 / sub) for i in range(bar_beats * sub)]  # arpeggio
        elif style in ("ballad", "shuffle-12-8"):
            comp = [0, 2] if bar_beats == 4 else [0]
        else:
            comp = [0, 1.5, 2.5] if rng.random() < 0.5 else [0, 2]
        for i, p in enumerate(comp):
            t = hum(at(t0 + p))
            if style == "no-drums":
                n = notes[i % 3] + (12 if (i // 3) % 2 else 0)
                events.append((t, beat / sub * 1.5, 2, n, vel(88 if i % sub == 0 else 65)))
                if i % (sub * bar_beats) == 0:
                    events.append((t, beat * bar_beats, 1, 36 + root % 12, vel(85)))
            else:
                for n in notes:
                    events.append((t, beat * 0.8, 2, n, vel(70)))
        if rng.random() < 0.5 and style != "no-drums":
            for p in range(bar_beats):
                if rng.random() < 0.5:
                    n = notes[rng.randrange(3)] + 12
                    events.append((hum(at(t0 + p)), beat * 0.5, 3, n, vel(75)))
    events = [e for e in events if e[0] < seconds]
    beats = beat_grid(bpm, seconds)
    meter = {"waltz": "3/4", "shuffle-12-8": "12/8"}.get(style, "4/4")
    programs = {1: bass_prog, 2: chord_prog, 3: lead_prog}
    return events, beats, meter, programs


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_smf(path, events, programs):
    """Format-0 SMF at 120 BPM with 960 ticks per quarter: 1 tick = 1/1920 s, exact enough."""
    tpq, us_per_q = 960, 500000
    ticks_per_s = tpq * 1e6 / us_per_q
    msgs = []
    for ch, prog in programs.items():
        msgs.append((0, bytes([0xC0 | ch, prog])))
    for t, dur, ch, key, v in events:
        on = int(round(t * ticks_per_s))
        off = int(round((t + dur) * ticks_per_s))
        msgs.append((on, bytes([0x90 | ch, key, v])))
        msgs.append((off, bytes([0x80 | ch, key, 0])))
    msgs.sort(key=lambda m: (m[0], m[1][0] & 0xF0 == 0x90))
    track = bytearray(b"\x00\xFF\x51\x03" + us_per_q.to_bytes(3, "big"))
    last = 0
    for tick, msg in msgs:
        track += vlq(tick - last) + msg
        last = tick
    track += b"\x00\xFF\x2F\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq))
        f.write(b"MTrk" + struct.pack(">I", len(track)) + track)


def render(job):
    mid, wav, out, sf, codec, seconds = job
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", "44100", "-F", wav, sf, mid],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", wav, "-t", str(seconds),
                    *ENCODER_ARGS[codec], out],
                   check=True)
    os.remove(wav)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--clips", type=int, default=165)
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--styles", help="comma-separated subset of the styles (default: all, in order)")
    ap.add_argument("--cymbals", choices=["eighths", "vary"], default="eighths",
                    help="how hi-hats and rides play: as written, or drawn per clip (see above)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "beats"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tempo_set_")
    styles = a.styles.split(",") if a.styles else list(STYLES)
    assert all(st in STYLES for st in styles), f"styles: {', '.join(STYLES)}"
    rows, jobs = [], []
    for i in range(a.clips):
        style = styles[i % len(styles)]
        lo, hi = STYLES[style][0]
        bpm = round(rng.uniform(lo, hi), 1)
        seconds = a.seconds * rng.uniform(0.85, 1.15)
        events, beats, meter, programs = make_clip(style, bpm, seconds, rng, a.cymbals)
        codec = rng.choice(CODECS)
        name = f"{i:03d}_{style}_{bpm:g}.{codec}"
        mid = os.path.join(tmp, f"{i:03d}.mid")
        write_smf(mid, events, programs)
        stem = os.path.splitext(name)[0]
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in beats)
        rows.append({"file": name, "bpm": bpm, "meter": meter, "style": style,
                     "beats": f"beats/{stem}.txt"})
        jobs.append((mid, os.path.join(tmp, f"{i:03d}.wav"), os.path.join(a.out, name),
                     rng.choice(SOUNDFONTS), codec, round(seconds, 2)))
    write_set(a.out, rows, render, jobs, a.jobs)


if __name__ == "__main__":
    main()
