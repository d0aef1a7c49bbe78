"""Analyse a folder of audio with Ray Data into Parquet, one row per file.

    python examples/ray_backfill.py samples/ out/ray --workers 2
    python examples/ray_backfill.py /work/data/real out/ray-real --workers 2 --embed-seconds 30
    python examples/ray_backfill.py /work/data/real out/ray-real --workers 2 --bytes

Each worker is a Ray actor holding one sonovec.Extractor (the model loads once per worker) and
using one core; the rows have the schema of sonovec.schema(). The dataset holds the files' paths
and each actor reads its own files: no read tasks and no copy of the bytes through Ray's object
store, and less CPU than bytes (README.md, "What a backfill costs"). Every actor must see the
paths: a local disk, a shared mount, or URIs that pyarrow.fs opens, such as s3://. When they
cannot, --bytes reads the files with read_binary_files and ships their bytes to the actors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ray

import sonovec
import sonovec.ray

AUDIO = ["mp3", "ogg", "oga", "opus", "flac", "wav", "m4a", "aiff", "aif"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model", default="msd")
    ap.add_argument("--embed-seconds", type=float, default=None)
    source = ap.add_mutually_exclusive_group()
    source.add_argument(
        "--paths",
        dest="bytes",
        action="store_false",
        default=False,
        help="actors read the files themselves (the default)",
    )
    source.add_argument(
        "--bytes",
        dest="bytes",
        action="store_true",
        help="Ray reads the files and ships their bytes to the actors (when the actors cannot "
        "open the paths)",
    )
    args = ap.parse_args()

    # A node of its own. No dashboard: with ray[default] installed it is a web server and eight
    # module processes, 15-30 % of what Ray spends of its own per second; the workers' logs stay
    # in Ray's session folder. Progress bars, usage stats and metrics export cost nothing
    # measurable (docs/scale-measurements.md, "What Ray Data spends of its own"); on a cluster,
    # give `ray start` the same settings (--include-dashboard=false).
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    if not args.bytes:
        # A catalog would read its manifest instead (ray.data.read_parquet("manifest.parquet")).
        found = [p for p in Path(args.root).rglob("*") if p.suffix.lower().lstrip(".") in AUDIO]
        files = ray.data.from_items([{"path": str(p)} for p in sorted(found)])
    else:
        files = ray.data.read_binary_files(
            args.root,
            include_paths=True,
            file_extensions=AUDIO,
            # Reading is I/O: the actors hold every CPU, and a read asking for one would
            # wait for ever. One read task at a time: without a core to wait for, Ray Data
            # would start a read task per file at once, each in a worker process of its own
            # (Ray's and pyarrow's imports, about a CPU-second each).
            num_cpus=0,
            concurrency=1,
        )
    tracks = files.map_batches(
        sonovec.ray.SonovecUDF,
        fn_constructor_kwargs={"model": args.model, "embed_seconds": args.embed_seconds},
        # A fixed pool of one actor per core, each loading the model once (Ray >= 2.51 wants
        # the pool here, not in the deprecated `concurrency=`).
        compute=ray.data.ActorPoolStrategy(size=args.workers),
        num_cpus=1,
        batch_size=args.batch_size,
        batch_format="pyarrow",
    )
    # The same for the writer: with a core to wait for, it would start only when the actors
    # are done, and every row would wait in the object store until then.
    # min_rows_per_file: a Parquet file per 10 000 tracks, not one per batch.
    tracks.write_parquet(
        args.out, ray_remote_args={"num_cpus": 0}, concurrency=1, min_rows_per_file=10_000
    )
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
