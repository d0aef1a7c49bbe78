#!/usr/bin/env python3
"""Cosine and tag |Δ| between sonovec records and reference_musicnn.py outputs.

    sonovec analyze FILE > rec.json
    python3 scripts/compare_embedding.py rec.json tests/fixtures/musicnn/<stem>   (prefix of .npy)
"""
import json
import sys

import numpy as np

record = json.load(open(sys.argv[1]))
prefix = sys.argv[2]
want = np.load(prefix + ".penultimate.npy").astype(np.float64)
want_tags = np.load(prefix + ".tags.npy").astype(np.float64)
got = np.asarray(record["embedding"], np.float64)
tags = np.asarray([t["p"] for t in record["tags"]], np.float64)
ref = want.mean(0)
cos = got @ ref / np.linalg.norm(got) / np.linalg.norm(ref)
print(f"{record['path']}: patches {record['embedding_patches']} vs {len(want)}, cosine {cos:.6f}, "
      f"tags max |d| {np.abs(tags - want_tags.mean(0)).max():.4f}")
