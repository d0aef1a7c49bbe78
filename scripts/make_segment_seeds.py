#!/usr/bin/env python3
"""Seeds for the `segments` fuzz target (fuzz/fuzz_targets/segments.rs).

Each seed is three bytes (the extension hint's index, the segment length, the helper's limit)
then a file of the project whose codec may be cut (Opus, Vorbis, MP3, FLAC) and that is at most
128 KiB: the shortest and the longest segments, with the helper's smallest limit, none, and 0
(every segment handed back whole).

    python3 scripts/make_segment_seeds.py OUT_DIR
"""
import pathlib
import sys

HINTS = ["opus", "ogg", "webm", "mkv", "mp3", "flac"]
MAX_LEN = 131072


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    root = pathlib.Path(__file__).resolve().parent.parent
    files = sorted(root.glob("samples/*")) + sorted(root.glob("tests/fixtures/**/*"))
    count = 0
    for path in files:
        ext = path.suffix.lstrip(".").lower()
        if not path.is_file() or ext not in HINTS:
            continue
        data = path.read_bytes()
        if len(data) + 3 > MAX_LEN:
            continue
        for length in (0, 31):
            for limit in (0, 3, 4):
                (out / f"{count:04d}").write_bytes(bytes([HINTS.index(ext), length, limit]) + data)
                count += 1
    print(f"{count} seeds in {out}")


if __name__ == "__main__":
    main()
