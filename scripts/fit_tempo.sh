#!/usr/bin/env bash
# Reproduce models/tempo_level.json from the committed scripts and the current source:
# render the fitting sets (if absent), dump every clip's tempo hypotheses and their features with
# the binary built from this tree, fit the metrical-level model, rebuild (the model is compiled
# in) and score the held-out sets with the rebuilt binary.
#
#   bash scripts/fit_tempo.sh              # fit, write models/tempo_level.json, rebuild, evaluate
#   FIT_ONLY=1 bash scripts/fit_tempo.sh   # dump and fit, print the held-out scores, write nothing
#
# Fitting sets (the model sees their labels): make_tempo_set.py --seed 1 --clips 165
# (our generator, fluidsynth), make_tempo_heldout.py grooves --seed 7 --clips 150 (the second
# generator, TiMidity++) and make_tempo_synth.py --seed 11 --clips 96 (the third: drum-machine
# grooves synthesised without MIDI or SoundFont). Held out (scored only, never fitted on), when
# present: data/heldout_midi (openttd-openmsx, 31 real compositions) and data/heldout_blupi
# (planetblupi, 10, fluidsynth + MuseScore_General_Lite); make them as README.md's tempo section
# says.
# The dumps depend on the build: the features move in the last digits whenever decoding,
# resampling or the spectrogram change, so a model is reproducible only with the dumps of the
# binary it ships in. This script always dumps with the current tree's binary.
#
# Env: PY (Python with numpy/scipy, default .venv-ref/bin/python), DATA (default data),
# OUT (dumps and logs, default $DATA/level_fit), JOBS (threads for sonovec, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-ref/bin/python}
DATA=${DATA:-data}
OUT=${OUT:-$DATA/level_fit}
JOBS=${JOBS:-2}
BIN=target/release/sonovec
mkdir -p "$OUT"

[ -f "$DATA/tempo_fit/labels.csv" ] ||
    python3 scripts/make_tempo_set.py --seed 1 --clips 165 --out "$DATA/tempo_fit"
[ -f "$DATA/heldout_grooves/labels.csv" ] ||
    "$PY" scripts/make_tempo_heldout.py grooves --seed 7 --clips 150 --out "$DATA/heldout_grooves"
[ -f "$DATA/tempo_synth/labels.csv" ] ||
    python3 scripts/make_tempo_synth.py --seed 11 --clips 96 --out "$DATA/tempo_synth"

cargo build --release --quiet
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.lock || echo "+dirty")
dump() { # labels.csv name
    "$BIN" -j "$JOBS" eval-tempo "$1" --level-features "$OUT/$2.jsonl" > "$OUT/$2_dump.txt"
}
dump "$DATA/tempo_fit/labels.csv" fit
dump "$DATA/heldout_grooves/labels.csv" grooves
dump "$DATA/tempo_synth/labels.csv" synth
held=()
for set in midi blupi; do
    if [ -f "$DATA/heldout_$set/labels.csv" ]; then
        dump "$DATA/heldout_$set/labels.csv" "$set"
        held+=("$OUT/$set.jsonl")
    fi
done

model=models/tempo_level.json
[ -n "${FIT_ONLY:-}" ] && model=$OUT/tempo_level.json
"$PY" scripts/fit_tempo_level.py "$OUT/fit.jsonl" "$OUT/grooves.jsonl" "$OUT/synth.jsonl" --out "$model" \
    --note "features dumped by sonovec $commit (scripts/fit_tempo.sh)" \
    --eval "${held[@]}" | tee "$OUT/fit_log.txt"
[ -n "${FIT_ONLY:-}" ] && exit 0

# The shipped model, compiled in: the binary's own scores must equal the fit's.
cargo build --release --quiet
for set in midi blupi; do
    labels="$DATA/heldout_$set/labels.csv"
    [ -f "$labels" ] || continue
    echo "== heldout_$set, with tags (default)"
    "$BIN" -j "$JOBS" eval-tempo "$labels" --details "$OUT/eval_$set.csv" | tee "$OUT/eval_$set.txt"
    echo "== heldout_$set, --model none"
    "$BIN" -j "$JOBS" --model none eval-tempo "$labels" | tee "$OUT/eval_none_$set.txt"
done
