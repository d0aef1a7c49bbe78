#!/usr/bin/env bash
# Generate the tonal/loudness fixtures of the descriptor tests (tests/fixtures/descriptors/).
#
#   c_major.flac  16 kHz mono, 8 s: piano (GM program 0) C–F–G–C, 2 s per chord, root-position
#                 triads with the root doubled an octave below (FluidR3_GM, fluidsynth).
#   a_minor.flac  the same for Am–Dm–E–Am (harmonic minor cadence).
#   pink.flac     16 kHz mono, 4 s of sox pink noise at -20 dBFS RMS-ish (seeded, -R).
#
# Needs: python3, fluidsynth, fluid-soundfont-gm, sox, flac.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/fixtures/descriptors"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2

write_midi() { # OUT.mid "notes;notes;..." (MIDI numbers, one chord per 2 s)
    python3 - "$1" "$2" <<'PY'
import struct, sys
path, chords = sys.argv[1], sys.argv[2]
tpq = 480  # ticks per quarter; 120 bpm -> one quarter = 0.5 s, a chord = 4 quarters = 2 s
def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)
ev = bytearray(b"\x00\xC0\x00")  # program change: acoustic grand piano
for chord in chords.split(";"):
    notes = [int(n) for n in chord.split(",")]
    for n in notes:
        ev += b"\x00" + bytes([0x90, n, 90])
    for i, n in enumerate(notes):
        ev += vlq(4 * tpq if i == 0 else 0) + bytes([0x80, n, 0])
ev += vlq(tpq) + b"\xFF\x2F\x00"
track = b"MTrk" + struct.pack(">I", len(ev)) + bytes(ev)
with open(path, "wb") as f:
    f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + track)
PY
}

render() { # NAME "chords"
    write_midi "$TMP/$1.mid" "$2"
    fluidsynth -ni -g 0.8 -r 16000 -F "$TMP/$1.wav" "$SF2" "$TMP/$1.mid" >/dev/null 2>&1
    sox "$TMP/$1.wav" -r 16000 -c 1 -b 16 "$TMP/$1_mono.wav" trim 0 8
    flac -s -f --best -o "$OUT/$1.flac" "$TMP/$1_mono.wav"
}

# C major: C(48,60,64,67) F(53,65,69,72) G(55,67,71,74) C
render c_major "48,60,64,67;53,65,69,72;55,67,71,74;48,60,64,67"
# A minor: Am(45,57,60,64) Dm(50,62,65,69) E(52,64,68,71) Am
render a_minor "45,57,60,64;50,62,65,69;52,64,68,71;45,57,60,64"

sox -R -n -r 16000 -c 1 -b 16 "$TMP/pink.wav" synth 4 pinknoise vol 0.25
flac -s -f --best -o "$OUT/pink.flac" "$TMP/pink.wav"
ls -l "$OUT"
