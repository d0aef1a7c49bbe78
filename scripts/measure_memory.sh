#!/usr/bin/env bash
# Peak memory and wall time of `sonovec analyze` on a 3-hour MP3 made of real music.
#
#   bash scripts/measure_memory.sh
#
# 1. Builds data/long_3h.mp3 once (kept between runs): the song-length tracks (> 1 min) of the
#    Debian soundtrack packages in data/music (wesnoth, drascula, singularity; see
#    ../shared/data/fetch_real_music.sh), joined end to end with ffmpeg's concat filter (each
#    input resampled to 44.1 kHz stereo first; the list is cycled if it is too short), cut to
#    exactly 3 h and encoded as MP3 192k 44.1 kHz stereo.
# 2. `cargo build --release`, then runs
#        /usr/bin/time -v target/release/sonovec analyze data/long_3h.mp3 > /dev/null
#    (default thread count), and once more with `--jobs 1` keeping the JSON record, and prints
#    the maximum resident set size and wall time of each.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
music=$root/data/music
long=$root/data/long_3h.mp3
target_s=10800

log() { printf '%s\n' "$*" >&2; }
[ -x /usr/bin/time ] || apt-get install -y -q time >&2

if [ ! -s "$long" ]; then
  if [ ! -f "$music/tracks.txt" ]; then
    bash "$root/../shared/data/fetch_real_music.sh" "$music"
  fi
  inputs=() total=0
  mapfile -t candidates < <(grep -E '/(wesnoth-1.16-music|drascula-music|singularity-music)/' "$music/tracks.txt")
  for _ in 1 2 3; do
    for f in "${candidates[@]}"; do
      d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
      python3 -c "import sys; sys.exit(0 if $d > 60 else 1)" || continue
      inputs+=("$f")
      total=$(python3 -c "print($total + $d)")
      python3 -c "import sys; sys.exit(0 if $total >= $target_s + 60 else 1)" && break 2
    done
  done
  log "joining ${#inputs[@]} tracks (${total%.*} s) into $long"
  args=() graph=""
  for i in "${!inputs[@]}"; do
    args+=(-i "${inputs[$i]}")
    graph+="[$i:a:0]aresample=44100,aformat=sample_fmts=fltp:channel_layouts=stereo[a$i];"
  done
  for i in "${!inputs[@]}"; do graph+="[a$i]"; done
  graph+="concat=n=${#inputs[@]}:v=0:a=1[out]"
  ffmpeg -nostdin -v error -y "${args[@]}" -filter_complex "$graph" -map '[out]' \
    -t "$target_s" -c:a libmp3lame -b:a 192k -ar 44100 -ac 2 "$long.part.mp3"
  mv "$long.part.mp3" "$long"
fi
log "$long: $(ffprobe -v error -show_entries format=duration,size -of csv=p=0 "$long") (duration s, bytes)"

log "building (cargo build --release)"
cargo build --release >&2

report() {  # $1 label, $2 GNU time -v output file, $3 exit status
  local rss wall
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$2")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$2")
  printf '%-34s exit %s  max RSS %8s kB (%5.1f MiB)  wall %s  user %s s  sys %s s\n' "$1" "$3" "$rss" \
    "$(python3 -c "print($rss / 1024)")" "$wall" \
    "$(sed -n 's/.*User time (seconds): //p' "$2")" "$(sed -n 's/.*System time (seconds): //p' "$2")"
}

status=0
/usr/bin/time -v -o "$root/data/long_3h.time.txt" target/release/sonovec analyze "$long" > /dev/null || status=$?
report "sonovec analyze (default jobs)" "$root/data/long_3h.time.txt" "$status"

status=0
/usr/bin/time -v -o "$root/data/long_3h.j1.time.txt" target/release/sonovec --jobs 1 analyze "$long" \
  > "$root/data/long_3h.json" || status=$?
report "sonovec --jobs 1 analyze" "$root/data/long_3h.j1.time.txt" "$status"
python3 - "$root/data/long_3h.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"record: duration_s={r.get('duration_s')} frames={r.get('frames')} error={r.get('error')} warnings={r.get('warnings')}")
EOF
