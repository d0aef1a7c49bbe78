#!/usr/bin/env python3
"""Export musicnn's pretrained TF1 checkpoints to safetensors, without TensorFlow.

    /work/main/.venv-ref/bin/python scripts/export_musicnn.py [--models MSD_musicnn MTT_musicnn]

Downloads the `musicnn==0.1.0` wheel from PyPI with `pip download --no-deps` (into data/,
git-ignored), reads each checkpoint's `.index` (a LevelDB-style sorted table of
BundleEntryProto records, uncompressed) and its `.data-00000-of-00001` shard (raw
little-endian tensors at the offsets the index gives), and writes:

  models/<id>.safetensors   every float32 variable except the optimiser's Adam slots
  models/<id>.json          model card: source, licence, sha256s, preprocessing, layers, tags

musicnn (Pons & Serra, 2019) is ISC-licensed (LICENSE.md in the upstream repository); the
wheel carries the trained weights. Needs only numpy and safetensors (pip install safetensors).
"""
import argparse
import ast
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
from safetensors.numpy import save_file

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL_DIR = os.path.join(REPO_ROOT, "data", "wheel")
MODELS_DIR = os.path.join(REPO_ROOT, "models")
PACKAGE = "musicnn==0.1.0"

DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}


# --- protobuf / LevelDB table primitives -------------------------------------------------
def varint(buf, pos):
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def proto_fields(buf):
    """Yields (field number, wire type, value) of a serialised protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, wire, value


def block_entries(buf):
    """Key/value pairs of one table block (prefix-compressed keys, restart array at the end)."""
    n_restarts = struct.unpack_from("<I", buf, len(buf) - 4)[0]
    end = len(buf) - 4 - 4 * n_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = varint(buf, pos)
        non_shared, pos = varint(buf, pos)
        value_len, pos = varint(buf, pos)
        key = key[:shared] + buf[pos:pos + non_shared]
        pos += non_shared
        yield key, buf[pos:pos + value_len]
        pos += value_len


def read_block(data, handle):
    offset, pos = varint(handle, 0)
    size, _ = varint(handle, pos)
    if data[offset + size] != 0:
        raise ValueError("compressed table block: not expected in a TF checkpoint index")
    return data[offset:offset + size]


def read_index(path):
    data = open(path, "rb").read()
    footer = data[-48:]
    if struct.unpack("<Q", footer[-8:])[0] != 0xDB4775248B80FB57:
        raise ValueError(f"{path}: not a LevelDB table (bad magic)")
    _, pos = varint(footer, 0)  # metaindex handle offset
    _, pos = varint(footer, pos)  # metaindex handle size
    index_handle = footer[pos:]
    entries = {}
    for _, handle in block_entries(read_block(data, index_handle)):
        for key, value in block_entries(read_block(data, handle)):
            entries[key.decode()] = value
    return entries


def bundle_entry(value):
    entry = {"dtype": 0, "shape": [], "shard": 0, "offset": 0, "size": 0}
    for field, _, v in proto_fields(value):
        if field == 1:
            entry["dtype"] = v
        elif field == 2:
            for f, _, dim in proto_fields(v):
                if f == 2:
                    size = dict((ff, vv) for ff, _, vv in proto_fields(dim)).get(1, 0)
                    entry["shape"].append(size)
        elif field == 3:
            entry["shard"] = v
        elif field == 4:
            entry["offset"] = v
        elif field == 5:
            entry["size"] = v
        elif field == 7:
            raise ValueError("sliced variables are not supported")
    return entry


def read_checkpoint(prefix):
    """All variables of the TF checkpoint at `prefix` as {name: np.ndarray}."""
    entries = read_index(prefix + ".index")
    shard = open(prefix + ".data-00000-of-00001", "rb").read()
    tensors = {}
    for name, value in entries.items():
        if name == "":  # the BundleHeaderProto
            continue
        e = bundle_entry(value)
        if e["shard"] != 0:
            raise ValueError(f"{name}: shard {e['shard']} (only one shard expected)")
        dtype = np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")
        raw = shard[e["offset"]:e["offset"] + e["size"]]
        tensors[name] = np.frombuffer(raw, dtype=dtype).reshape(e["shape"]).copy()
    return tensors


# --- wheel ------------------------------------------------------------------------------
def fetch_wheel():
    wheels = glob.glob(os.path.join(WHEEL_DIR, "musicnn-0.1.0-*.whl"))
    if not wheels:
        os.makedirs(WHEEL_DIR, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps",
                               PACKAGE, "-d", WHEEL_DIR])
        wheels = glob.glob(os.path.join(WHEEL_DIR, "musicnn-0.1.0-*.whl"))
    wheel = wheels[0]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(WHEEL_DIR)
    return wheel


def labels(model):
    source = open(os.path.join(WHEEL_DIR, "musicnn", "configuration.py")).read()
    tree = ast.parse(source)
    wanted = "MSD_LABELS" if model.startswith("MSD") else "MTT_LABELS"
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == wanted:
            return ast.literal_eval(node.value)
    raise KeyError(wanted)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def sort_metadata(path):
    """Writes the header's `__metadata__` in key order. safetensors keeps it in a hash map, so
    its order, and the file's sha256 in the model card, changed from run to run; the tensors'
    entries are already in order. Same keys, same length: only the header's bytes move."""
    data = bytearray(open(path, "rb").read())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= length, (len(text), length)
    data[8:8 + length] = text.ljust(length, b" ")
    open(path, "wb").write(bytes(data))


def export(model, wheel):
    prefix = os.path.join(WHEEL_DIR, "musicnn", model, "")
    tensors = read_checkpoint(prefix)
    kept = {k: v for k, v in sorted(tensors.items())
            if v.dtype == np.float32 and "Adam" not in k and "beta1_power" not in k
            and "beta2_power" not in k}
    model_id = model.lower()
    out = os.path.join(MODELS_DIR, model_id + ".safetensors")
    save_file(kept, out, metadata={"source": PACKAGE, "model": model, "licence": "ISC"})
    sort_metadata(out)
    card = {
        "id": model_id,
        "model": model,
        "paper": "Pons & Serra, musicnn: pre-trained convolutional neural networks for music "
                 "audio tagging, ISMIR 2019 LBD",
        "source": f"PyPI wheel {os.path.basename(wheel)} (pip download --no-deps {PACKAGE}), "
                  f"musicnn/{model}/",
        "licence": "ISC (Copyright Jordi Pons; https://github.com/jordipons/musicnn/blob/master/LICENSE.md)",
        "wheel_sha256": sha256(wheel),
        "checkpoint_data_sha256": sha256(prefix + ".data-00000-of-00001"),
        "safetensors_sha256": sha256(out),
        "input": {
            "sample_rate_hz": 16000, "channels": "mono", "stft": "periodic Hann 512, hop 256, "
            "centred (reflect in librosa, zeros in sonovec)", "power": 2,
            "mel": "96 Slaney bands 0-8000 Hz, Slaney area norm (librosa defaults)",
            "compression": "log10(10000 * mel + 1)",
            "patch_frames": 187, "patch_hop_frames": 187,
            "note": "upstream extractor.py casts the mel to float16 before the log, which "
                    "overflows to inf for mel > 6.55; the export and sonovec keep float32",
        },
        "layers": [{"name": k, "shape": list(v.shape)} for k, v in kept.items()],
        "outputs": {"penultimate": 200, "tags": len(labels(model))},
        "tags": labels(model),
    }
    with open(os.path.join(MODELS_DIR, model_id + ".json"), "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    print(f"{out}: {len(kept)} tensors, {sum(v.size for v in kept.values())} parameters")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["MSD_musicnn", "MTT_musicnn"])
    args = parser.parse_args()
    wheel = fetch_wheel()
    os.makedirs(MODELS_DIR, exist_ok=True)
    for model in args.models:
        export(model, wheel)


if __name__ == "__main__":
    main()
