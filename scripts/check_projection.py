"""Cross-checks `sonovec fit-projection` against NumPy's closed-form ridge at the chosen lambda.

usage: python scripts/check_projection.py CATALOG.db FACTORS.csv PROJECTION.safetensors

Reads the catalog's vectors (float32 blobs), the CSV of `id, f1..fK` (ids only, no header), and
the projection; refits W = (Xsᵀ Xs / n + λ I)⁻¹ Xsᵀ Yc / n on standardised vectors and unit-normalised
factors, folds the standardisation in, and prints the largest differences.
"""
import json
import sqlite3
import struct
import sys

import numpy as np

db, factors_csv, projection = sys.argv[1:4]
con = sqlite3.connect(db)
vectors = {i: np.frombuffer(v, "<f4").astype(np.float64)
           for i, v in con.execute("SELECT id, vector FROM tracks WHERE vector IS NOT NULL")}
ids, rows = [], []
for line in open(factors_csv):
    parts = line.strip().split(",")
    if parts[0] in vectors:
        ids.append(parts[0])
        rows.append([float(v) for v in parts[1:]])
Y = np.array(rows)
Y /= np.linalg.norm(Y, axis=1, keepdims=True)
X = np.stack([vectors[i] for i in ids])

raw = open(projection, "rb").read()
header_len = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + header_len])
body = raw[8 + header_len:]


def tensor(name):
    start, end = header[name]["data_offsets"]
    return np.frombuffer(body[start:end], "<f4").reshape(header[name]["shape"])


lam = float(header["__metadata__"]["lambda"])
mean, std = X.mean(0), X.std(0)
std[std == 0] = 1.0
Xs, Yc = (X - mean) / std, Y - Y.mean(0)
n = len(X)
W = np.linalg.solve(Xs.T @ Xs / n + lam * np.eye(X.shape[1]), Xs.T @ Yc / n) / std[:, None]
b = Y.mean(0) - mean @ W
print(f"lambda {lam:g}; tracks {n}; max |W - W_numpy| {np.abs(tensor('weight') - W).max():.3g} "
      f"(max |W| {np.abs(W).max():.3g}); max |b - b_numpy| {np.abs(tensor('bias') - b).max():.3g}")
