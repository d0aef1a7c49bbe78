#!/usr/bin/env bash
# Makes the retrieval test set of scripts/eval_vectors.py from the real music corpus
# (scripts fetched by ../shared/data/fetch_real_music.sh into data/music):
#   OUT/codec/<n>.mp3     every STRIDE-th track re-encoded to MP3 128 kb/s (libmp3lame)
#   OUT/quiet/<n>.flac    the same tracks 10 dB quieter, as FLAC
#   OUT/halves/<n>_a.flac, <n>_b.flac   the first and second half of every track ≥ 20 s
#   OUT/index.csv         n,original path
# Usage: scripts/make_vector_eval_set.sh [MUSIC_DIR] [OUT] [STRIDE]
set -euo pipefail
music=${1:-data/music}
out=${2:-data/vector/set}
stride=${3:-3}
mkdir -p "$out/codec" "$out/quiet" "$out/halves"
: > "$out/index.csv"
n=0
find "$music" -name '*.ogg' | sort | while read -r f; do
    n=$((n + 1))
    id=$(printf '%03d' "$n")
    echo "$id,$(realpath "$f")" >> "$out/index.csv"
    dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
    ff="ffmpeg -nostdin -v error -y -i"
    if [ $((n % stride)) -eq 0 ]; then
        $ff "$f" -c:a libmp3lame -b:a 128k "$out/codec/$id.mp3"
        $ff "$f" -af volume=-10dB -c:a flac "$out/quiet/$id.flac"
    fi
    if awk -v d="$dur" 'BEGIN { exit !(d >= 20) }'; then
        half=$(awk -v d="$dur" 'BEGIN { printf "%.3f", d / 2 }')
        $ff "$f" -t "$half" -c:a flac "$out/halves/${id}_a.flac"
        $ff "$f" -ss "$half" -c:a flac "$out/halves/${id}_b.flac"
    fi
done
