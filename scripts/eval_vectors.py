#!/usr/bin/env python3
"""Is the content vector any good? Three retrieval tests on data we can make.

    scripts/make_vector_eval_set.sh data/music data/vector/set 3
    sonovec extract data/music data/vector/set -o data/vector/out
    sonovec extract data/vector/tempo7 -o data/vector/tempo7-out
    bliss-cli --jobs 2 FILE... > data/vector/bliss.jsonl    (optional, same files)
    python scripts/eval_vectors.py --set data/vector/set --out data/vector/out \
        --tempo data/vector/tempo7 --tempo-out data/vector/tempo7-out --bliss data/vector/bliss.jsonl

1. codec/loudness: every MP3 128 kb/s copy and every 10 dB quieter copy queries a pool of all
   originals and copies; a hit when its nearest neighbour (itself left out) is another version
   of the same track. recall@1.
2. halves: each first or second half of a track queries the pool of all halves; a hit when the
   other half is among its 10 nearest. recall@10.
3. style: each labelled clip of the tempo set queries the pool of clips; precision@10 = share of
   its 10 nearest with the same style, averaged over clips.

`--extra-descriptors energy.score,danceability.raw` asks what adding record fields to the
descriptor block would do, without a rebuild: each field is standardised by its mean and
population std over the originals (the reference corpus, as scripts/make_vector_stats.sh does),
clamped like the other descriptors, and appended; the block is rescaled from 1/sqrt(n) to
1/sqrt(n + k) and the vector rebuilt exactly as sonovec assembles it (src/vector/mod.rs). Rows
with and without the fields are printed one after the other.

Representations are sliced from `vectors.npy` with the block layout of `vectors.json`: a block
alone is its slice L2-normalised; a weighting rescales each slice by new weight / extracted weight
and L2-normalises (exact, since sonovec unit-scales blocks before weighting). Cosine similarity
for ours; Euclidean distance for bliss's 23 values, as bliss does. Prints a Markdown table.
"""

import argparse
import csv
import hashlib
import json
import os

import numpy as np


def field(record, name):
    """`group.field` of a record as a float, None when absent or not finite."""
    value = record
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def field_stats(records, names):
    """(mean, population std) of each field over `records`."""
    stats = []
    for name in names:
        values = np.array([v for v in (field(r, name) for r in records) if v is not None])
        stats.append((values.mean(), max(values.std(), 1e-12)))
    return stats


def with_extra_descriptors(vectors, layout, records, names, stats, clamp=5.0):
    """The vectors and layout sonovec would write with `names` appended to the descriptor block.

    Needs the embedding block (unit-norm before weighting) to undo the final normalisation."""
    blocks = {b["name"]: b for b in layout["blocks"]}
    emb, desc = blocks["embedding"], blocks["descriptors"]
    norm = emb["weight"] / np.linalg.norm(
        vectors[:, emb["offset"]: emb["offset"] + emb["length"]], axis=1, keepdims=True)
    unscaled = vectors * norm  # each block back to (unit or z/sqrt(n)) × its weight
    n = desc["length"]
    z = unscaled[:, desc["offset"]: desc["offset"] + n] / desc["weight"] * np.sqrt(n)
    extra = np.zeros((len(records), len(names)))
    for i, record in enumerate(records):
        for j, (name, (mean, std)) in enumerate(zip(names, stats)):
            v = field(record, name)
            extra[i, j] = 0.0 if v is None else np.clip((v - mean) / std, -clamp, clamp)
    block = np.concatenate([z, extra], axis=1) / np.sqrt(n + len(names)) * desc["weight"]
    parts, new_blocks, offset = [], [], 0
    for b in layout["blocks"]:
        part = block if b is desc else unscaled[:, b["offset"]: b["offset"] + b["length"]]
        parts.append(part)
        new_blocks.append(dict(b, offset=offset, length=part.shape[1]))
        offset += part.shape[1]
    x = np.concatenate(parts, axis=1)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x, dict(layout, blocks=new_blocks)


def load_out(folder):
    """(paths, matrix, layout, records) of an extract output folder; paths (real paths) and
    records in row order."""
    vectors = np.load(os.path.join(folder, "vectors.npy")).astype(np.float64)
    layout = json.load(open(os.path.join(folder, "vectors.json")))
    version = layout["vector_version"]
    paths, records = [], []
    with open(os.path.join(folder, "tracks.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("error") is None and r.get("vector_version") == version and r.get("vector"):
                paths.append(os.path.realpath(r["path"]))
                records.append(r)
    assert len(paths) == len(vectors), (len(paths), vectors.shape)
    return paths, vectors, layout, records


def reweight(vectors, layout, weights):
    """Vectors re-weighted to `weights` (block name → weight; absent → 0), L2-normalised."""
    parts = []
    for block in layout["blocks"]:
        w = weights.get(block["name"], 0.0)
        if w == 0:
            continue
        part = vectors[:, block["offset"]: block["offset"] + block["length"]]
        if block["weight"] <= 0:
            raise SystemExit(f"block {block['name']} was extracted with weight 0: re-extract")
        parts.append(part * (w / block["weight"]))
    x = np.concatenate(parts, axis=1)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def similarity(x, metric):
    if metric == "cosine":
        return x @ x.T
    sq = (x * x).sum(1)
    return -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0))


def neighbours(x, metric, pool_rows, query_rows, k):
    """For each query row, the k best pool rows (query itself left out)."""
    sub = x[pool_rows]
    s = similarity(sub, metric)
    pos = {r: i for i, r in enumerate(pool_rows)}
    out = {}
    for q in query_rows:
        row = s[pos[q]].copy()
        row[pos[q]] = -np.inf
        best = np.argsort(-row, kind="stable")[:k]
        out[q] = [pool_rows[i] for i in best]
    return out


def music_tasks(paths, set_dir):
    """Rows of task 1 (queries, pool, track of each row) and task 2 (halves, partner)."""
    canonical = {}
    index, same_content = {}, {}
    for n, original in csv.reader(open(os.path.join(set_dir, "index.csv"))):
        index[n] = os.path.realpath(original)
        # Byte-identical originals (the corpus ships some twice) are one track, one record.
        digest = hashlib.blake2b(open(original, "rb").read()).hexdigest()
        same_content.setdefault(digest, n)
        index_key = same_content[digest]
        canonical[n] = index_key
    row_of = {p: i for i, p in enumerate(paths)}
    track_of = {}
    for n, original in index.items():
        if original in row_of:
            track_of[row_of[original]] = canonical[n]
    queries = []
    for sub, ext in (("codec", ".mp3"), ("quiet", ".flac")):
        for name in sorted(os.listdir(os.path.join(set_dir, sub))):
            p = os.path.realpath(os.path.join(set_dir, sub, name))
            n = name[: -len(ext)]
            if p in row_of and n in canonical:
                track_of[row_of[p]] = canonical[n]
                queries.append(row_of[p])
    pool1 = sorted(track_of)
    halves = {}
    for name in sorted(os.listdir(os.path.join(set_dir, "halves"))):
        p = os.path.realpath(os.path.join(set_dir, "halves", name))
        if p in row_of:
            halves[row_of[p]] = name.split("_")[0]
    partner = {}
    by_track = {}
    for r, n in halves.items():
        by_track.setdefault(n, []).append(r)
    for rows in by_track.values():
        if len(rows) == 2:
            partner[rows[0]], partner[rows[1]] = rows[1], rows[0]
    return (queries, pool1, track_of), partner


def recall1(x, metric, task1):
    queries, pool, track_of = task1
    nn = neighbours(x, metric, pool, queries, 1)
    return np.mean([track_of[nn[q][0]] == track_of[q] for q in queries]), len(queries)


def recall_halves(x, metric, partner):
    """recall@10 and recall@1 of the other half."""
    rows = sorted(partner)
    nn = neighbours(x, metric, rows, rows, 10)
    return np.mean([partner[q] in nn[q] for q in rows]), np.mean([partner[q] == nn[q][0] for q in rows])


def style_precision(x, metric, rows, style):
    nn = neighbours(x, metric, rows, rows, 10)
    return np.mean([np.mean([style[n] == style[q] for n in nn[q]]) for q in rows]), len(rows)


def load_bliss(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if "analysis" in r:
            out[os.path.realpath(r["path"])] = np.array(r["analysis"], dtype=np.float64)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--set", required=True, help="folder of make_vector_eval_set.sh")
    ap.add_argument("--out", required=True, help="extract output over the music and the set")
    ap.add_argument("--tempo", help="tempo set folder (labels.csv)")
    ap.add_argument("--tempo-out", help="extract output over the tempo set")
    ap.add_argument("--bliss", help="bliss-cli JSON lines over the same files")
    ap.add_argument("--extra-descriptors", help="record fields to try in the descriptor block, "
                    "comma-separated (e.g. energy.score,danceability.raw)")
    ap.add_argument("--weights", nargs="*", default=[
        "embedding=1,tags=1,descriptors=1", "embedding=1,tags=0.5,descriptors=0.5",
        "embedding=1,tags=0.5,descriptors=1", "embedding=1,tags=0,descriptors=0.5",
        "embedding=1,tags=0.25,descriptors=0.75"],
        help="combined weightings to report")
    args = ap.parse_args()

    paths, vectors, layout, records = load_out(args.out)
    task1, partner = music_tasks(paths, args.set)
    tempo = tpaths = trecords = None
    if args.tempo and args.tempo_out:
        tpaths, tvectors, tlayout, trecords = load_out(args.tempo_out)
        row_of = {p: i for i, p in enumerate(tpaths)}
        style = {}
        for r in csv.DictReader(open(os.path.join(args.tempo, "labels.csv"))):
            p = os.path.realpath(os.path.join(args.tempo, r["file"]))
            if p in row_of:
                style[row_of[p]] = r["style"]
        tempo = (tvectors, tlayout, sorted(style), style)

    reps = [("embedding alone", {"embedding": 1}), ("tags alone", {"tags": 1}),
            ("descriptors alone", {"descriptors": 1})]
    for spec in args.weights:
        w = {k: float(v) for k, v in (p.split("=") for p in spec.split(","))}
        reps.append(("combined " + spec, w))
    default = {b["name"]: b["weight"] for b in layout["blocks"]}
    reps.append(("**default** " + ",".join(f"{k}={v:g}" for k, v in default.items()), default))

    print(f"vector_version {layout['vector_version']}; task 1: {len(task1[0])} queries, pool "
          f"{len(task1[1])}; task 2: {len(partner)} halves" +
          (f"; task 3: {len(tempo[2])} clips, {len(set(tempo[3].values()))} styles" if tempo else ""))
    print()
    variants = [("", vectors, layout, tempo)]
    if args.extra_descriptors:
        names = args.extra_descriptors.split(",")
        originals = {os.path.realpath(o) for _, o in csv.reader(open(os.path.join(args.set, "index.csv")))}
        stats = field_stats([r for p, r in zip(paths, records) if p in originals], names)
        print("extra descriptors (mean, std over the originals): " +
              ", ".join(f"{n} ({m:.4g}, {s:.4g})" for n, (m, s) in zip(names, stats)))
        x, xl = with_extra_descriptors(vectors, layout, records, names, stats)
        xt = None
        if tempo:
            tx, txl = with_extra_descriptors(tempo[0], tempo[1], trecords, names, stats)
            xt = (tx, txl, tempo[2], tempo[3])
        variants.append((" + " + args.extra_descriptors, x, xl, xt))
    print("| vector | dim | codec/loudness recall@1 | halves recall@10 | halves recall@1 | style precision@10 |")
    print("|---|---|---|---|---|---|")
    for name, w in reps:
        for suffix, vx, vl, vt in variants:
            x = reweight(vx, vl, w)
            r1, _ = recall1(x, "cosine", task1)
            r10, h1 = recall_halves(x, "cosine", partner)
            p10 = "–"
            if vt:
                p10 = f"{style_precision(reweight(vt[0], vt[1], w), 'cosine', vt[2], vt[3])[0]:.3f}"
            print(f"| {name}{suffix} | {x.shape[1]} | {r1:.3f} | {r10:.3f} | {h1:.3f} | {p10} |")

    if args.bliss:
        bliss = load_bliss(args.bliss)
        keep = [i for i, p in enumerate(paths) if p in bliss]
        x = np.zeros((len(paths), 23))
        for i in keep:
            x[i] = bliss[paths[i]]
        q, pool, track_of = task1
        ok = set(keep)
        t1 = ([r for r in q if r in ok], [r for r in pool if r in ok], track_of)
        t2 = {a: b for a, b in partner.items() if a in ok and b in ok}
        r1, n1 = recall1(x, "euclidean", t1)
        r10, h1 = recall_halves(x, "euclidean", t2)
        p10 = "–"
        if tempo:
            tx = np.array([bliss.get(p, np.zeros(23)) for p in tpaths])
            rows = [r for r in tempo[2] if tpaths[r] in bliss]
            p10 = f"{style_precision(tx, 'euclidean', rows, tempo[3])[0]:.3f}"
        print(f"| bliss-rs 0.13 (Euclidean) | 23 | {r1:.3f} | {r10:.3f} | {h1:.3f} | {p10} |")


if __name__ == "__main__":
    main()
