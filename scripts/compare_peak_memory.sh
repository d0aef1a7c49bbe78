#!/usr/bin/env bash
# Peak RSS of one or more sonovec binaries on the same input, in turn, for the three
# configurations of #14's table (`--embed-seconds 30`, the default, `--model none`), `-j 1`.
#
#   bash scripts/compare_peak_memory.sh INPUT RUNS BINARY...
#   bash scripts/compare_peak_memory.sh /work/data/peers/set 3 /tmp/sv_before target/release/sonovec
#
# Prints, per configuration and binary, each run's peak (KiB, `/usr/bin/time -f %M`: the
# largest process, the worker).
#
# Each binary is dropped from the page cache before each run. About half of a worker's RSS
# (13–15 MB of 25) is the binary's own pages, mapped from the page cache, and how many a run
# maps depends on how the cache holds the file: on ext4 with large folios, builds run as `cp`
# left them read 14.0–15.2 MB of file pages, each steady run after run but not alike (two builds
# differing in one buffer's reservation: 14.0–14.2 and 15.1–15.2). Read back from disk, every
# build read 13.6–14.0 MB.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
input=$1 runs=$2
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
evict() {
  python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}
for config in "--embed-seconds 30" "" "--model none"; do
  for binary in "$@"; do
    peaks=()
    for _ in $(seq "$runs"); do
      evict "$binary"
      # shellcheck disable=SC2086 # the configuration is two words or none
      peaks+=("$(/usr/bin/time -f %M "$binary" -j 1 $config extract --force --quiet \
        -o "$out" "$input" 2>&1 >/dev/null | tail -1)")
    done
    echo "${config:-default}  $binary  ${peaks[*]} KiB"
  done
done
