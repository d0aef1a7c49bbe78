#!/usr/bin/env python3
"""Which rows of a beat hold a tracker module's notes? A probe for the beat phase of the modules
set (make_tempo_modules.py), not a model.

For each clip of a labels.csv of that script (or only the clips whose number, e.g. `t012`, is
given): the notes of the whole song, every order once, counted by their row's phase within the
label's beat (row % rows per beat, the `meter` column), for all instruments and for the six
with the most notes, with the name the module gives them. A phase with as many notes as the
labelled beat's (phase 0), or more, is where an onset-based beat tracker may lock.

    .venv-ref/bin/python scripts/probe_module_rows.py data/heldout_modules/labels.csv [t012 ...]

Reads the modules under data/modules/<source>/ (make_tempo_modules.py unpacks them there).
Needs libopenmpt (Debian's libopenmpt0).
"""
import csv
import ctypes
import os
import sys
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from make_tempo_modules import clip_name, libopenmpt, open_module  # noqa: E402

NOTE, INSTRUMENT = 0, 1  # libopenmpt's OPENMPT_MODULE_COMMAND_NOTE, _INSTRUMENT


def pattern_api():
    """libopenmpt with the signatures of the pattern and name calls used here."""
    lib = libopenmpt()
    module, i32 = ctypes.c_void_p, ctypes.c_int32
    for name, res, args in [
            ("get_num_orders", i32, [module]), ("get_num_channels", i32, [module]),
            ("get_num_instruments", i32, [module]), ("get_order_pattern", i32, [module, i32]),
            ("get_pattern_num_rows", i32, [module, i32]),
            ("get_pattern_row_channel_command", ctypes.c_uint8, [module, i32, i32, i32, ctypes.c_int]),
            ("get_instrument_name", ctypes.c_void_p, [module, i32]),
            ("get_sample_name", ctypes.c_void_p, [module, i32])]:
        function = getattr(lib, "openmpt_module_" + name)
        function.restype, function.argtypes = res, args
    lib.openmpt_free_string.argtypes = [ctypes.c_void_p]
    return lib


def module_path(row):
    """The module a clip was made from: the one under its package whose name gives the clip's."""
    name = row["file"].rsplit(".", 1)[0].split("_", 1)[1]
    root = os.path.join("data/modules", row["source"])
    return next((os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                 if clip_name(f) == name), None)


def notes_by_phase(lib, path, rows_per_beat):
    """{instrument: Counter(phase: notes)} over every order of the song, and the names."""
    m = open_module(path)
    counts = defaultdict(Counter)
    try:
        command = lib.openmpt_module_get_pattern_row_channel_command
        channels = lib.openmpt_module_get_num_channels(m)
        for order in range(lib.openmpt_module_get_num_orders(m)):
            pattern = lib.openmpt_module_get_order_pattern(m, order)
            if pattern < 0:
                continue
            for row in range(lib.openmpt_module_get_pattern_num_rows(m, pattern)):
                for channel in range(channels):
                    if 1 <= command(m, pattern, row, channel, NOTE) <= 120:
                        instrument = command(m, pattern, row, channel, INSTRUMENT)
                        counts[instrument][row % rows_per_beat] += 1
        get_name = (lib.openmpt_module_get_instrument_name
                    if lib.openmpt_module_get_num_instruments(m) > 0
                    else lib.openmpt_module_get_sample_name)
        names = {}
        for instrument in counts:
            pointer = get_name(m, instrument - 1) if instrument > 0 else None
            names[instrument] = ctypes.string_at(pointer).decode("latin1").strip() if pointer else ""
            if pointer:
                lib.openmpt_free_string(pointer)
        return counts, names
    finally:
        lib.openmpt_module_destroy(m)


def main():
    labels, wanted = sys.argv[1], set(sys.argv[2:])
    lib = pattern_api()
    for row in csv.DictReader(open(labels)):
        stem = row["file"].rsplit(".", 1)[0]
        if wanted and stem.split("_")[0] not in wanted:
            continue
        path = module_path(row)
        if path is None:
            print(f"{stem}: module not found under data/modules/{row['source']}")
            continue
        rows_per_beat = int(row["meter"].split()[0])
        counts, names = notes_by_phase(lib, path, rows_per_beat)
        total = sum(counts.values(), Counter())
        line = lambda c: " ".join(f"{c[p]:5d}" for p in range(rows_per_beat))
        print(f"{stem}  {rows_per_beat} rows/beat, notes by phase: {line(total)}")
        for instrument, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))[:6]:
            print(f"    instrument {instrument:3d} {names[instrument][:22]:22s} {line(c)}")


if __name__ == "__main__":
    main()
