#!/usr/bin/env python3
"""Held-out tempo/beat sets made by processes the tempo decision was never fitted on.

The decision (models/tempo_level.json, scripts/fit_tempo_level.py) is fitted on clips of
scripts/make_tempo_set.py: our own groove generator, rendered by fluidsynth through FluidR3_GM or
TimGM6mb. The sets here differ in every step a model could learn by accident:

* ``grooves``: a second, separately written groove generator. Fifteen styles, their patterns
  written from the genres' textbook grooves (not from make_tempo_set.py's), tempo written as MIDI
  tempo meta events with an optional slow drift, swing and humanisation of its own, rendered by
  **TiMidity++ with the freepats patch set** (another synthesiser, other samples), encoded by
  ffmpeg. Labels at the level a musician taps: drum and bass ~174 (not 87), punk at the quarter
  note, ballads and one-drop reggae at the slow quarter note, 12/8 shuffles at the dotted
  quarter, bossa nova at the quarter note of 4/4 notation.
* ``midi``: real compositions, the MIDI files of Debian's ``openttd-openmsx`` (about 40 pieces by
  several composers). For every file the longest stretch of constant tempo and metre (at least
  20 s) is cut, labelled from the file's own tempo map and time signature: the beat is the
  quarter note in x/4, the dotted quarter in compound metres (6/8, 9/8, 12/8), the half note in
  x/2. Beat times are the grid of that beat unit from the excerpt's first bar line. Rendered by
  TiMidity++/freepats. ``--midi-dir``, ``--source`` and ``--soundfont`` make the same kind of
  set from other MIDI files rendered by another synthesiser: with ``--soundfont`` the clips are
  rendered by **fluidsynth** through that SoundFont (for a second truly held-out source, e.g.
  Debian's ``planetblupi-music-midi`` through ``musescore-general-soundfont-small``).

    apt-get install -y timidity freepats ffmpeg openttd-openmsx
    /work/main/.venv-ref/bin/python scripts/make_tempo_heldout.py grooves --seed 7 --clips 150 --out data/heldout_grooves
    /work/main/.venv-ref/bin/python scripts/make_tempo_heldout.py midi --out data/heldout_midi
    apt-get install -y planetblupi-music-midi musescore-general-soundfont-small fluidsynth
    /work/main/.venv-ref/bin/python scripts/make_tempo_heldout.py midi --midi-dir /usr/share/planetblupi/music \
        --source planetblupi --soundfont /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 --out data/heldout_blupi

Writes OUT/labels.csv (file,bpm,meter,style,beats,source) and OUT/beats/*.txt. Needs `mido` for
the MIDI files (in scripts/make_venv.sh).
"""

import argparse
import concurrent.futures as cf
import csv
import glob
import math
import os
import random
import subprocess
import tempfile

CODECS = ["flac", "mp3", "ogg", "opus"]
ENC = {"flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
       "ogg": ["-c:a", "libvorbis", "-q:a", "5"], "opus": ["-c:a", "libopus", "-b:a", "128k"]}

# GM drum keys
BD, SD, XS, CP, CH, PH, OH, RD, RB, CR, LT, MT, HT, SH, CB, CL, LC, HC, MC, GU = (
    35, 38, 37, 39, 42, 44, 46, 51, 53, 49, 45, 47, 50, 70, 56, 75, 64, 63, 62, 73)

# style: bpm range, beats per bar, steps per beat, swing (0 straight, 1 full triplet),
# label factor (tapped beat = factor × notated quarter-note rate; 12/8 is notated per 8th)
STYLES = {
    "drum-and-bass": ((168, 180), 4, 4, 0.0),
    "punk": ((160, 200), 4, 2, 0.0),
    "ballad": ((58, 76), 4, 4, 0.0),
    "reggae-one-drop": ((64, 82), 4, 3, 0.0),
    "strings": ((60, 120), 4, 2, 0.0),
    "bossa-nova": ((124, 148), 4, 4, 0.0),
    "disco": ((110, 128), 4, 4, 0.0),
    "funk": ((92, 112), 4, 4, 0.0),
    "hip-hop": ((82, 98), 4, 4, 0.5),
    "house": ((120, 128), 4, 4, 0.0),
    "latin": ((88, 108), 4, 4, 0.0),
    "rock": ((100, 150), 4, 2, 0.0),
    "shuffle": ((96, 132), 4, 3, 0.0),
    "waltz": ((120, 176), 3, 2, 0.0),
    "jazz-swing": ((120, 176), 4, 3, 0.0),
}


def groove(style, beats, steps, rng):
    """One bar as (position in beats, channel, key, velocity, duration in beats); channel 9 =
    drums, 1 bass, 2 chords/pads, 3 lead."""
    n = []
    d = lambda p, k, v: n.append((p, 9, k, v, 0.1))
    if style == "drum-and-bass":
        for i in range(8):
            d(i * 0.5, CH if i % 2 else RD, 64 + (i % 2) * 8)
        d(0, BD, 118); d(2.5, BD, 108); d(1, SD, 120); d(3, SD, 118)
        for p in rng.sample([0.75, 1.75, 2.25, 3.25, 3.75], 2):
            d(p, SD, 52)
    elif style == "punk":
        for i in range(8):
            d(i * 0.5, CH if i % 2 else OH, 90)
        for b in range(4):
            d(b, BD if b % 2 == 0 else SD, 120)
        if rng.random() < 0.4:
            d(1.5, BD, 100)
    elif style == "ballad":
        for i in range(16):
            d(i * 0.25, CH, 58 if i % 4 == 0 else 34)
        d(0, BD, 100); d(2.5, BD, 80); d(1, XS, 100); d(3, XS, 100)
    elif style == "reggae-one-drop":
        for b in range(4):
            for t in range(3):
                if t != 1:
                    d(b + t / 3, CH, 70 if t == 0 else 50)
        d(2, BD, 115); d(2, XS, 110)
    elif style == "bossa-nova":
        for i in range(8):
            d(i * 0.5, CH, 46 + 14 * (i % 2 == 0))
        for p in (0, 1.5, 2, 3.5):
            d(p, BD, 82)
        for p in rng.choice([(0, 1, 2.5, 3.5), (0, 1.5, 3, 3.5), (0.5, 1.5, 3, 3.5)]):
            d(p, XS, 88)
    elif style in ("disco", "house"):
        for b in range(4):
            d(b, BD, 120); d(b + 0.5, OH, 84)
            if style == "disco":
                d(b + 0.25, CH, 52); d(b + 0.75, CH, 52)
        d(1, CP if style == "house" else SD, 104); d(3, CP if style == "house" else SD, 104)
    elif style == "funk":
        for i in range(16):
            d(i * 0.25, CH, 80 if i % 2 == 0 else 48)
        for p in (0, 0.75, 2.25, 2.5):
            d(p, BD, 112)
        d(1, SD, 120); d(3, SD, 120)
        for p in (1.75, 2.75, 3.25):
            d(p, SD, 40)
    elif style == "hip-hop":
        for i in range(8):
            d(i * 0.5, CH, 72)
        d(0, BD, 120); d(0.75, BD, 90); d(2.25, BD, 110); d(1, SD, 122); d(3, SD, 122)
    elif style == "latin":
        for i in range(8):
            d(i * 0.5, GU, 70 if i % 2 else 50)
        for p in (0, 2):
            d(p, BD, 100)
        for p in (0.5, 1.5, 2.5, 3.5):
            d(p, HC, 86)
        for p in (1, 3):
            d(p, LC, 96)
        for p in (0, 0.75, 1.5, 2.5, 3):
            d(p, CL, 78)
    elif style == "rock":
        for i in range(8):
            d(i * 0.5, CH, 86 if i % 2 == 0 else 62)
        d(0, BD, 120); d(2, BD, 115); d(2.5 if rng.random() < 0.5 else 1.5, BD, 90)
        d(1, SD, 122); d(3, SD, 122)
    elif style == "shuffle":
        for b in range(4):
            d(b, RD, 84); d(b + 2 / 3, RD, 60)
        d(0, BD, 110); d(2, BD, 100); d(1, SD, 116); d(3, SD, 116)
    elif style == "waltz":
        d(0, BD, 112); d(1, CH, 70); d(2, CH, 70)
    elif style == "jazz-swing":
        for b in range(4):
            d(b, RD, 80)
            if b % 2 == 1:
                d(b + 2 / 3, RD, 62); d(b, PH, 78)
        if rng.random() < 0.5:
            d(rng.choice([1 + 2 / 3, 3 + 2 / 3]), SD, 50)
    return n


def harmony(style, beats, root, chord, rng):
    """Bass, chord and melody notes of one bar, same format as groove()."""
    n = []
    if style == "strings":
        for k in chord:
            n.append((0, 2, 48 + k, 72, beats))
        for b in range(beats):
            n.append((b, 1, 36 + root, 92 if b == 0 else 74, 0.4))
        for b in range(beats * 2):
            if rng.random() < 0.7:
                n.append((b * 0.5, 3, 72 + rng.choice(chord), 80 if b % 2 == 0 else 60, 0.45))
        return n
    bass = {
        "drum-and-bass": [(0, 2.0), (2.5, 1.5)], "punk": [(i * 0.5, 0.45) for i in range(8)],
        "ballad": [(0, 2.0), (2, 1.5), (3.5, 0.5)], "reggae-one-drop": [(0.5, 0.4), (1, 0.9), (2.5, 0.4), (3, 0.5)],
        "bossa-nova": [(0, 1.4), (1.5, 0.5), (2, 1.4), (3.5, 0.5)], "disco": [(i * 0.5, 0.4) for i in range(8)],
        "funk": [(0, 0.2), (0.75, 0.2), (1.5, 0.2), (2.25, 0.2), (2.5, 0.4)],
        "hip-hop": [(0, 0.7), (0.75, 0.5), (2.25, 1.0)], "house": [(b + 0.5, 0.4) for b in range(4)],
        "latin": [(0, 1.4), (1.5, 0.5), (2, 1.4), (3.5, 0.4)], "rock": [(i * 0.5, 0.45) for i in range(8)],
        "shuffle": [(b + t, 0.3) for b in range(4) for t in (0, 2 / 3)], "waltz": [(0, 0.9)],
        "jazz-swing": [(b, 0.9) for b in range(4)],
    }[style]
    for i, (p, dur) in enumerate(bass):
        key = 36 + root + (7 if (style in ("disco", "jazz-swing") and i % 2) else 0)
        n.append((p, 1, key, 96, dur))
    comp = {
        "reggae-one-drop": [1, 3], "waltz": [1, 2], "ballad": [0, 2], "strings": [0],
        "bossa-nova": [0, 1.5, 2.5, 3.5], "punk": [i * 0.5 for i in range(8)],
        "funk": [0.5, 1.5, 2.25, 3.5], "house": [0.5, 1.5, 2.5, 3.5],
        "jazz-swing": [1 + 2 / 3, 3], "drum-and-bass": [0],
    }.get(style, [0, 2])
    dur = 4.0 if style == "drum-and-bass" else (0.25 if style in ("reggae-one-drop", "funk", "house") else 0.9)
    for p in comp:
        for k in chord:
            n.append((p, 2, 60 + k, 66, dur))
    if style == "ballad":
        for i in range(8):
            n.append((i * 0.5, 3, 72 + chord[i % 3], 60, 0.45))
    return n


PROGRAMS = {  # bass, chords, lead
    "drum-and-bass": (38, 89, 81), "punk": (34, 30, 29), "ballad": (33, 0, 0), "reggae-one-drop": (33, 16, 27),
    "strings": (45, 48, 40), "bossa-nova": (32, 24, 73), "disco": (36, 48, 62), "funk": (36, 27, 4),
    "hip-hop": (38, 4, 80), "house": (38, 81, 90), "latin": (32, 0, 56), "rock": (34, 29, 30),
    "shuffle": (33, 16, 65), "waltz": (32, 0, 41), "jazz-swing": (32, 0, 66),
}


def render_clip(style, bpm, seconds, rng):
    """Note events in beats, the tempo map [(beat, bpm)], beat times (s) and the metre."""
    _, beats, steps, swing = STYLES[style]
    bars = int(seconds * bpm / 60 / beats) + 2
    key = rng.randrange(0, 12)
    progression = rng.choice([[0, 5, 7, 5], [0, 9, 5, 7], [2, 7, 0, 0], [0, 0, 5, 7]])
    jitter = rng.uniform(0.003, 0.012) * bpm / 60  # in beats
    events = []
    for bar in range(bars):
        root = (key + progression[bar % 4]) % 12
        third = 3 if rng.random() < 0.3 else 4
        chord = [root % 12, (root + third) % 12, (root + 7) % 12]
        notes = groove(style, beats, steps, rng) if style != "strings" else []
        notes += harmony(style, beats, root, chord, rng)
        for p, ch, k, v, dur in notes:
            if p >= beats:
                continue
            if swing and abs(p % 0.5 - 0.25) < 1e-6:
                p += swing * 0.25 / 3
            t = bar * beats + p + rng.gauss(0, jitter)
            events.append((max(0.0, t), ch, k, max(1, min(127, int(v + rng.gauss(0, 6)))), dur))
    drift = rng.choice([0.0, 0.0, rng.uniform(-0.02, 0.02)])
    total_beats = bars * beats
    tempo_map = [(b, bpm * (1 + drift * (b / total_beats - 0.5))) for b in range(0, total_beats, beats)]
    beat_times, t = [], 0.0
    for b in range(total_beats):
        beat_times.append(t)
        t += 60.0 / tempo_map[b // beats][1]
    beat_times = [x for x in beat_times if x < seconds]
    mean_bpm = 60.0 / ((beat_times[-1] - beat_times[0]) / (len(beat_times) - 1))
    label = mean_bpm
    meter = {"waltz": "3/4", "shuffle": "12/8", "reggae-one-drop": "4/4"}.get(style, "4/4")
    return events, tempo_map, beat_times, meter, label


def write_midi(path, events, tempo_map, programs):
    import mido
    tpq = 480
    mid = mido.MidiFile(ticks_per_beat=tpq)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    msgs = [(int(b * tpq), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t))) for b, t in tempo_map]
    for ch, prog in zip((1, 2, 3), programs):
        msgs.append((0, 0, mido.Message("program_change", channel=ch, program=prog)))
    for b, ch, k, v, dur in events:
        msgs.append((int(round(b * tpq)), 2, mido.Message("note_on", channel=ch, note=k, velocity=v)))
        msgs.append((int(round((b + dur) * tpq)), 1, mido.Message("note_off", channel=ch, note=k, velocity=0)))
    msgs.sort(key=lambda m: (m[0], m[1]))
    last = 0
    for tick, _, msg in msgs:
        tr.append(msg.copy(time=tick - last))
        last = tick
    mid.save(path)


# Before fluidsynth renders a MIDI file, it is cut this long after its excerpt ends: fluidsynth
# writes the whole piece, over 12 GB of WAV for some hour-long quartet movements. Its excerpts
# are the same samples either way (the 10 planetblupi excerpts, decoded and compared). TiMidity++
# is not given cut files: its output changes partway into 25 of the 31 openmsx excerpts when the
# file is cut.
CUT_AFTER_EXCERPT_S = 2.0


def tick_at(midi, seconds):
    """The tick `seconds` into a MidiFile, its tempo changes followed; None if it ends before."""
    import mido
    tempo, elapsed, tick = 500000, 0.0, 0
    for msg in mido.merge_tracks(midi.tracks):
        step = mido.tick2second(msg.time, midi.ticks_per_beat, tempo)
        if elapsed + step >= seconds:
            return tick + int((seconds - elapsed) / mido.tick2second(1, midi.ticks_per_beat, tempo))
        elapsed += step
        tick += msg.time
        if msg.type == "set_tempo":
            tempo = msg.tempo
    return None


def cut_at_tick(midi, limit):
    """Cuts every track of a MidiFile at tick `limit`: later events are dropped and every note
    still sounding is released there."""
    import mido
    for k, track in enumerate(midi.tracks):
        kept, sounding, tick, last = [], set(), 0, 0
        for msg in track:
            tick += msg.time
            if msg.is_meta and msg.type == "end_of_track":
                break
            if tick > limit:
                break
            kept.append(msg.copy(time=tick - last))
            last = tick
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.add((msg.channel, msg.note))
            elif msg.type in ("note_off", "note_on"):
                sounding.discard((msg.channel, msg.note))
        for n, (channel, note) in enumerate(sorted(sounding)):
            kept.append(mido.Message("note_off", channel=channel, note=note,
                                     time=(max(limit, last) - last) if n == 0 else 0))
        kept.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks[k] = mido.MidiTrack(kept)


def cut_copy(mid, seconds, path):
    """`mid` cut `seconds` in, written to `path` (returned); `mid` itself if it is shorter."""
    import mido
    midi = mido.MidiFile(mid)
    limit = tick_at(midi, seconds)
    if limit is None:
        return mid
    cut_at_tick(midi, limit)
    midi.save(path)
    return path


def render(job):
    """TiMidity++ (freepats), or fluidsynth through a SoundFont, → WAV → ffmpeg excerpt
    [start, start + seconds) → codec. With `cut`, the MIDI file is cut after the excerpt first."""
    mid, wav, out, codec, start, seconds, soundfont, cut = job
    if cut:
        mid = cut_copy(mid, start + seconds + CUT_AFTER_EXCERPT_S, wav + ".mid")
    if soundfont:
        cmd = ["fluidsynth", "-n", "-i", "-q", "-r", "44100", "-F", wav, soundfont, mid]
    else:
        cmd = ["timidity", "-c", "/etc/timidity/freepats.cfg", "-Ow", "-s", "44100", "-A", "100", "--quiet=2", "-o", wav, mid]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-ss", f"{start:.4f}", "-i", wav, "-t", f"{seconds:.3f}",
                    "-ac", "2", *ENC[codec], out], check=True)
    os.remove(wav)
    if mid == wav + ".mid":
        os.remove(mid)


def grooves(a, tmp):
    rng = random.Random(a.seed)
    styles = list(STYLES)
    rows, jobs = [], []
    for i in range(a.clips):
        style = styles[i % len(styles)]
        lo, hi = STYLES[style][0]
        bpm = round(rng.uniform(lo, hi), 1)
        seconds = round(a.seconds * rng.uniform(0.9, 1.2), 2)
        events, tempo_map, beat_times, meter, label = render_clip(style, bpm, seconds, rng)
        if style == "shuffle":
            pass  # notated as 4/4 with triplet swing: the quarter note is the dotted quarter of 12/8
        codec = rng.choice(CODECS)
        stem = f"g{i:03d}_{style}_{label:.1f}"
        mid = os.path.join(tmp, stem + ".mid")
        write_midi(mid, events, tempo_map, PROGRAMS[style])
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in beat_times)
        rows.append({"file": f"{stem}.{codec}", "bpm": round(label, 2), "meter": meter, "style": style,
                     "beats": f"beats/{stem}.txt", "source": "grooves-timidity"})
        jobs.append((mid, os.path.join(tmp, stem + ".wav"), os.path.join(a.out, f"{stem}.{codec}"), codec, 0.0, seconds, None,
                     False))
    return rows, jobs


def beat_unit(num, den):
    """The tapped beat in quarter notes for a time signature."""
    if den == 8 and num in (6, 9, 12):
        return 1.5
    if den == 2:
        return 2.0
    if den == 8:
        return 0.5 if num not in (3,) else 0.5
    return 4.0 / den


def midi_excerpt(path, min_s=20.0, max_s=30.0):
    """The longest stretch of constant tempo and metre: (start s, length s, bpm at the beat level,
    meter, beat times relative to the start) or None."""
    import mido
    mid = mido.MidiFile(path)
    tpq = mid.ticks_per_beat
    changes = []  # (tick, kind, value)
    last_note = 0
    for tr in mid.tracks:
        tick = 0
        for m in tr:
            tick += m.time
            if m.type == "set_tempo":
                changes.append((tick, "tempo", m.tempo))
            elif m.type == "time_signature":
                changes.append((tick, "ts", (m.numerator, m.denominator)))
            elif m.type == "note_on" and m.velocity > 0:
                last_note = max(last_note, tick)
    changes.sort()
    # Segments of constant (tempo, ts) in ticks.
    tempo, ts, seg_start = 500000, (4, 4), 0
    segments = []
    for tick, kind, val in changes + [(last_note, "end", None)]:
        if tick > seg_start:
            segments.append((seg_start, tick, tempo, ts))
            seg_start = tick
        if kind == "tempo":
            tempo = val
        elif kind == "ts":
            ts = val
    # Seconds at each tick boundary.
    def seconds_at(t):
        s, tp, prev = 0.0, 500000, 0
        for tick, kind, val in changes:
            if tick >= t:
                break
            if kind == "tempo":
                s += (tick - prev) * tp / tpq / 1e6
                prev, tp = tick, val
        return s + (t - prev) * tp / tpq / 1e6
    best = None
    for a, b, tp, (num, den) in segments:
        length = (b - a) * tp / tpq / 1e6
        if length >= min_s and (best is None or length > best[1]):
            best = (a, length, tp, num, den)
    if best is None:
        return None
    a, length, tp, num, den = best
    unit = beat_unit(num, den)
    bpm = 60e6 / tp / unit
    # Start on the first bar line at or after the segment start (bars counted from the last ts change).
    ts_tick = max([t for t, k, _ in changes if k == "ts" and t <= a] or [0])
    bar_ticks = int(num * 4 / den * tpq)
    first_bar = ts_tick + math.ceil((a - ts_tick) / bar_ticks) * bar_ticks
    start_s = seconds_at(first_bar)
    seg_len = length - (first_bar - a) * tp / tpq / 1e6
    take = min(max_s, seg_len)
    if take < min_s:
        return None
    beat_s = 60.0 / bpm
    beats = [k * beat_s for k in range(int(take / beat_s) + 1) if k * beat_s < take]
    return start_s, take, bpm, f"{num}/{den}", beats


def midis(a, tmp):
    rng = random.Random(a.seed)
    files = sorted(glob.glob(os.path.join(a.midi_dir, "**", "*.mid"), recursive=True))
    rows, jobs = [], []
    for i, path in enumerate(files):
        try:
            ex = midi_excerpt(path)
        except Exception as e:  # a file mido cannot read is skipped and said
            print(f"skip {path}: {e}")
            continue
        if ex is None:
            print(f"skip {path}: no stretch of constant tempo ≥ 20 s")
            continue
        start, take, bpm, meter, beats = ex
        codec = rng.choice(CODECS)
        stem = f"m{i:03d}_{os.path.splitext(os.path.basename(path))[0]}"
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in beats)
        rows.append({"file": f"{stem}.{codec}", "bpm": round(bpm, 2), "meter": meter, "style": "midi-" + meter.replace("/", "-"),
                     "beats": f"beats/{stem}.txt", "source": a.source})
        jobs.append((path, os.path.join(tmp, stem + ".wav"), os.path.join(a.out, f"{stem}.{codec}"), codec, start, take,
                     a.soundfont, a.soundfont is not None))
    return rows, jobs


def clip_set_options(ap, seed):
    """The options of a held-out set cut one clip from each song (make_tempo_lmms.py,
    make_tempo_modules.py)."""
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--min-seconds", type=float, default=20.0, help="songs shorter than this are left out")
    ap.add_argument("--seed", type=int, default=seed, help="draws the codec of each clip")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)


def write_labels(out, rows):
    """OUT/labels.csv of a held-out set (file,bpm,meter,style,beats,source); make_tempo_lmms.py
    writes its set with it too."""
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "bpm", "meter", "style", "beats", "source"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} clips in {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["grooves", "midi"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clips", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--midi-dir", default="/usr/share/games/openttd/baseset/openmsx")
    ap.add_argument("--source", default="openttd-openmsx", help="midi: the labels' source column")
    ap.add_argument("--soundfont", help="midi: render with fluidsynth through this SoundFont instead of TiMidity++")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "beats"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tempo_heldout_")
    rows, jobs = (grooves if a.kind == "grooves" else midis)(a, tmp)
    with cf.ProcessPoolExecutor(max_workers=a.jobs) as pool:
        list(pool.map(render, jobs))
    write_labels(a.out, rows)


if __name__ == "__main__":
    main()
