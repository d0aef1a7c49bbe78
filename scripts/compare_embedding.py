#!/usr/bin/env python3
"""Cosine and tag |Δ| between sonovec records and reference_musicnn.py outputs.

    sonovec analyze FILE > rec.json
    python3 scripts/compare_embedding.py rec.json tests/fixtures/musicnn/<stem>   (prefix of .npy)

    sonovec extract FOLDER -o OUT ...
    python3 scripts/compare_embedding.py --catalog REF_DIR OUT [OUT2]

The second form compares every record of OUT/tracks.jsonl with REF_DIR/<stem>.penultimate.npy
and .tags.npy (reference_musicnn.py --out-dir REF_DIR, run on the same files), one row per track
and a summary; with OUT2 (the same files analysed another way, e.g. SONOVEC_EMBED_ISA=avx512) it
also gives the cosine between the two runs' embeddings.
"""
import json
import os
import sys

import numpy as np


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def one_record(path, prefix):
    record = json.load(open(path))
    want = np.load(prefix + ".penultimate.npy").astype(np.float64)
    want_tags = np.load(prefix + ".tags.npy").astype(np.float64)
    got = np.asarray(record["embedding"], np.float64)
    tags = np.asarray([t["p"] for t in record["tags"]], np.float64)
    print(f"{record['path']}: patches {record['embedding_patches']} vs {len(want)}, "
          f"cosine {cosine(got, want.mean(0)):.6f}, "
          f"tags max |d| {np.abs(tags - want_tags.mean(0)).max():.4f}")


def records(out):
    with open(os.path.join(out, "tracks.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return {os.path.basename(r["path"]): r for r in rows if r.get("embedding")}


def catalogs(ref_dir, outs):
    runs = [records(out) for out in outs]
    summary = [([], []) for _ in outs]
    between = []
    for name in sorted(runs[0]):
        stem = os.path.splitext(name)[0]
        want = np.load(os.path.join(ref_dir, stem + ".penultimate.npy")).astype(np.float64)
        want_tags = np.load(os.path.join(ref_dir, stem + ".tags.npy")).astype(np.float64).mean(0)
        row = f"{name:32} patches {len(want):4}"
        embeddings = []
        for run, (cosines, tag_diffs) in zip(runs, summary):
            r = run[name]
            if r["embedding_patches"] != len(want):
                sys.exit(f"{name}: {r['embedding_patches']} patches, the reference {len(want)}")
            got = np.asarray(r["embedding"], np.float64)
            tags = np.asarray([t["p"] for t in r["tags"]], np.float64)
            cosines.append(cosine(got, want.mean(0)))
            tag_diffs.append(float(np.abs(tags - want_tags).max()))
            embeddings.append(got)
            row += f"  cosine {cosines[-1]:.6f} tags |d| {tag_diffs[-1]:.4f}"
        if len(embeddings) == 2:
            between.append(cosine(*embeddings))
            row += f"  between {between[-1]:.7f}"
        print(row)
    for out, (cosines, tag_diffs) in zip(outs, summary):
        print(f"{out}: {len(cosines)} tracks, cosine min {min(cosines):.6f} median "
              f"{np.median(cosines):.6f}; tags max |d| max {max(tag_diffs):.4f} median "
              f"{np.median(tag_diffs):.4f}")
    if between:
        print(f"between the two runs: cosine min {min(between):.7f}")


if __name__ == "__main__":
    if sys.argv[1] == "--catalog":
        catalogs(sys.argv[2], sys.argv[3:5])
    else:
        one_record(sys.argv[1], sys.argv[2])
