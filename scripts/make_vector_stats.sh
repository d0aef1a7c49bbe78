#!/usr/bin/env bash
# Recomputes the descriptor standardisation of models/vector.json over a reference corpus of real
# music (default: data/music, fetched by ../shared/data/fetch_real_music.sh).
#   scripts/make_vector_stats.sh [MUSIC_DIR] [WORK_DIR]
# Extra tracks.jsonl files (e.g. of an earlier full run over the same corpus) may be appended as
# further arguments after WORK_DIR; content ids are counted once.
set -euo pipefail
music=${1:-data/music}
work=${2:-data/vector/ref-none}
shift 2 || true
cargo build --release --example make_vector_stats
target/release/sonovec extract -q --model none "$music" -o "$work" || true
target/release/examples/make_vector_stats models/vector.json "$work/tracks.jsonl" "$@"
