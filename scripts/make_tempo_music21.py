#!/usr/bin/env python3
"""A fitting set of composed music: pieces of the music21 corpus (Bach chorales, Palestrina and
Monteverdi, Beethoven, Mozart and Haydn, fiddle tunes of Ryan's Mammoth and O'Neill, Essen folk
songs), written as MIDI and rendered like the held-out MIDI sets.

The groove generators give the tempo decision drums; the held-out sets are compositions whose
harmony and phrasing the generators do not have. This set gives the fit composed music without
taking anything from the held-out sources: another corpus (music21's, not Debian's game music),
another synthesiser setup (fluidsynth through FluidR3_GM with a General MIDI instrument drawn per
part), and tempi drawn here, since the scores carry none: the beat (the unit of
`make_tempo_heldout.beat_unit`: the quarter in x/4, the dotted quarter in 6/8, 9/8 and 12/8, the
half in x/2) log-uniform in [55, 150] per minute. Each MIDI file then goes through
`make_tempo_heldout.py midi`, so the excerpt (the longest stretch of constant tempo and metre,
20–30 s from a bar line) and the labels follow exactly the held-out sets' rules.

    .venv-ref/bin/pip install music21==10.5.1   # the corpus comes with the package: pin it
    .venv-ref/bin/python scripts/make_tempo_music21.py --seed 21 --out data/tempo_music21

Writes OUT/midi/*.mid, then OUT/labels.csv and OUT/beats/ as make_tempo_heldout.py does.
With music21 10.5.1 (session 33) it gave the 170 clips, and the scores, of the earlier sessions'
unpinned install.
"""

import argparse
import concurrent.futures as cf
import math
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_tempo_heldout import beat_unit, cut_at_tick  # noqa: E402

# Corpus folder: pieces drawn from it (the folders differ in size by a factor of 100).
DRAW = {"bach": 60, "ryansMammoth": 40, "oneills1850": 20, "essenFolksong": 15, "palestrina": 15,
        "monteverdi": 15, "trecento": 10, "beethoven": 8, "mozart": 8, "haydn": 6}
# General MIDI programs a part may be given: keyboards, strings, winds, brass, voices, guitars.
PROGRAMS = [0, 1, 6, 19, 24, 25, 40, 41, 42, 48, 49, 52, 56, 57, 60, 61, 68, 70, 71, 73]
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# Each piece is cut to its first this many seconds: the excerpt needs at most 30 s of constant
# tempo, and fluidsynth rendered some whole quartet movements for over an hour of audio.
KEEP_S = 120.0


def truncate(midi, seconds):
    """Cuts a MIDI file of one tempo at `seconds` (make_tempo_heldout.cut_at_tick)."""
    tempo = next((m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"), 500000)
    cut_at_tick(midi, int(seconds * 1e6 / tempo * midi.ticks_per_beat))


def export(job):
    """Parses one corpus piece and writes it as MIDI at a drawn tempo; returns a line to print."""
    path, out, seed = job
    from music21 import converter, meter, tempo
    import mido
    rng = random.Random(seed)
    try:
        score = converter.parse(path)
        if hasattr(score, "scores"):  # an opus of several tunes: the first
            score = score.scores[0]
        for mark in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
            mark.activeSite.remove(mark)
        ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
        num, den = (ts.numerator, ts.denominator) if ts else (4, 4)
        beat_bpm = math.exp(rng.uniform(math.log(55), math.log(150)))
        quarter_bpm = beat_bpm * beat_unit(num, den)
        first = score.parts[0] if score.parts else score
        first.insert(0, tempo.MetronomeMark(number=round(quarter_bpm, 2)))
        score.write("midi", fp=out)
        midi = mido.MidiFile(out)
        for track in midi.tracks:
            program = rng.choice(PROGRAMS)
            for msg in track:
                if msg.type == "program_change":
                    msg.program = program
        truncate(midi, KEEP_S)
        midi.save(out)
        return f"{os.path.basename(out)}: {num}/{den}, beat {beat_bpm:.1f}"
    except Exception as e:  # a piece music21 cannot parse or write is skipped and said
        if os.path.exists(out):
            os.remove(out)
        return f"skip {path}: {type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    from music21 import corpus
    rng = random.Random(a.seed)
    by_folder = {}
    for p in sorted(str(p) for p in corpus.getCorePaths()):
        by_folder.setdefault(p.split("/corpus/")[-1].split("/")[0], []).append(p)
    midi_dir = os.path.join(a.out, "midi")
    os.makedirs(midi_dir, exist_ok=True)
    jobs = []
    for folder, n in DRAW.items():
        for k, path in enumerate(rng.sample(by_folder[folder], min(n, len(by_folder[folder])))):
            stem = f"{folder}_{k:02d}_{os.path.splitext(os.path.basename(path))[0]}"[:60]
            jobs.append((path, os.path.join(midi_dir, stem + ".mid"), rng.randrange(1 << 30)))
    with cf.ProcessPoolExecutor(a.jobs) as pool:
        for line in pool.map(export, jobs):
            print(line, flush=True)
    subprocess.run([sys.executable, os.path.join(HERE, "make_tempo_heldout.py"), "midi",
                    "--midi-dir", midi_dir, "--source", "music21", "--soundfont", SOUNDFONT,
                    "--seed", str(a.seed), "--out", a.out, "--jobs", str(a.jobs)], check=True)


if __name__ == "__main__":
    main()
