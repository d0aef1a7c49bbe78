#!/usr/bin/env bash
# Speed, memory and --embed-seconds fidelity of the musicnn embedding on real music.
# Usage: bash scripts/embed_speed_study.sh FILE...   (writes records into data/study/)
# Prints per file: wall seconds and peak RSS for -j 1 and -j 2 (full chain, every patch), and
# the cosine between the full-track embedding and --embed-seconds 15 / 30 / 60.
set -euo pipefail
BIN="$(dirname "$0")/../target/release/sonovec"
OUT="$(dirname "$0")/../data/study"
mkdir -p "$OUT"
for f in "$@"; do
    s=$(basename "$f"); s=${s%.*}
    for j in 1 2; do
        /usr/bin/time -f "$s -j $j: %e s wall, %M KB peak RSS" "$BIN" -j $j analyze "$f" > "$OUT/$s.full.j$j.json"
    done
    for n in 15 30 60; do
        "$BIN" -j 2 --embed-seconds $n analyze "$f" > "$OUT/$s.n$n.json"
    done
    python3 - "$OUT" "$s" <<'PY'
import json, math, sys
out, s = sys.argv[1:]
full = json.load(open(f"{out}/{s}.full.j2.json"))
j1 = json.load(open(f"{out}/{s}.full.j1.json"))
assert j1["embedding"] == full["embedding"], "-j 1 and -j 2 differ"
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
parts = [f"{s}: {full['duration_s']:.1f} s, {full['embedding_patches']} patches"]
for n in (15, 30, 60):
    r = json.load(open(f"{out}/{s}.n{n}.json"))
    parts.append(f"N={n}: {r['embedding_patches']} patches cosine {cos(r['embedding'], full['embedding']):.4f}")
print("; ".join(parts))
PY
done
