#!/usr/bin/env python3
"""Which clips of a labelled set each tempo estimator gets right (Acc1), side by side.

Reads the per-clip CSVs that `sonovec eval-tempo --details`, `scripts/peers_tempo.py --details`
and `scripts/peers_tempo_learned.py --details` write, and prints, for the clips that at least
one estimator misses, the label and each estimate (`*` = within 4 %), then how many clips every
estimator gets right, how many none does, and how many each alone misses.

    python3 scripts/compare_tempo_details.py sonovec=sv.csv "madmom=mm.csv" \\
        "TempoCNN=tc.csv:TempoCNN ismir2018"

Each argument is NAME=CSV, with `:PEER` where the CSV holds several peers' rows.
"""
import csv
import os
import sys


def read(spec):
    name, _, rest = spec.partition("=")
    path, _, peer = rest.partition(":")
    rows = {}
    for row in csv.DictReader(open(path)):
        if peer and row.get("peer") != peer:
            continue
        estimate = float(row["estimate"]) if row["estimate"] else None
        rows[os.path.basename(row["file"])] = (float(row["bpm"]), estimate, row["acc1"] == "1")
    return name, rows


def main():
    tools = [read(spec) for spec in sys.argv[1:]]
    clips = sorted(set.intersection(*(set(rows) for _, rows in tools)))
    every = none = 0
    alone = {name: 0 for name, _ in tools}
    for clip in clips:
        hits = [rows[clip][2] for _, rows in tools]
        every += all(hits)
        none += not any(hits)
        if sum(hits) == len(hits) - 1:
            alone[tools[hits.index(False)][0]] += 1
        if not all(hits):
            label = tools[0][1][clip][0]
            cells = "  ".join(f"{name} {rows[clip][1] or 0:6.1f}{'*' if rows[clip][2] else ' '}"
                              for name, rows in tools)
            print(f"{clip[:44]:<44} label {label:6.1f}  {cells}")
    print(f"\n{len(clips)} clips: every estimator right {every}, none right {none}; "
          + ", ".join(f"only {name} wrong {n}" for name, n in alone.items()))


if __name__ == "__main__":
    main()
