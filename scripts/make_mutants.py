#!/usr/bin/env python3
"""Damaged copies of real audio files, for robustness runs of `sonovec extract`.

Usage: python3 scripts/make_mutants.py OUT_DIR [N_PER_FILE] SOURCE...

For each source file, writes N_PER_FILE (default 25) mutants into OUT_DIR: random byte flips,
zeroed or random spans, truncations at random offsets, duplicated or deleted spans, and a swapped
header. Deterministic (seeded by file name and index). Standard library only.
"""
import os
import random
import sys


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    n = len(b)
    kind = rng.choice(["flip", "zero", "random_span", "truncate", "duplicate", "delete", "header"])
    if kind == "flip":
        for _ in range(rng.randint(1, 64)):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "zero":
        i = rng.randrange(n)
        b[i:i + rng.randint(1, 4096)] = bytes(min(4096, n - i))[: len(b[i:i + 4096])]
    elif kind == "random_span":
        i = rng.randrange(n)
        span = rng.randint(1, 8192)
        b[i:i + span] = bytes(rng.getrandbits(8) for _ in range(len(b[i:i + span])))
    elif kind == "truncate":
        b = b[: rng.randrange(1, n)]
    elif kind == "duplicate":
        i, j = sorted(rng.randrange(n) for _ in range(2))
        b = b[:j] + b[i:j] + b[j:]
    elif kind == "delete":
        i = rng.randrange(n)
        del b[i:i + rng.randint(1, 16384)]
    else:
        head = rng.randint(4, 64)
        b[:head] = bytes(rng.getrandbits(8) for _ in range(head))
    return bytes(b), kind


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    per_file = int(sys.argv[2]) if sys.argv[2].isdigit() else 25
    sources = sys.argv[3:] if sys.argv[2].isdigit() else sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    count = 0
    for src in sources:
        data = open(src, "rb").read()
        base, ext = os.path.splitext(os.path.basename(src))
        for k in range(per_file):
            rng = random.Random(f"{base}{ext}:{k}")
            mutant, kind = mutate(data, rng)
            with open(os.path.join(out, f"{base}.{k:03d}.{kind}{ext}"), "wb") as f:
                f.write(mutant)
            count += 1
    print(f"{count} mutants in {out}")


if __name__ == "__main__":
    main()
