"""Analyse a folder of audio with Ray Data into Parquet, one row per file.

    python examples/ray_backfill.py samples/ out/ray --workers 2
    python examples/ray_backfill.py /work/data/real out/ray-real --workers 2 --embed-seconds 30

Each worker is a Ray actor holding one sonovec.Extractor (the model loads once per worker) and
using one core; the rows have the schema of sonovec.schema().
"""

from __future__ import annotations

import argparse
import time

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
    args = ap.parse_args()

    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    files = ray.data.read_binary_files(
        args.root,
        include_paths=True,
        file_extensions=AUDIO,
        # Reading is I/O: the actors hold every CPU, and a read asking for one would wait for
        # ever. One read task at a time: without a core to wait for, Ray Data would start a read
        # task per file at once, each in a worker process of its own (Ray's and pyarrow's
        # imports, about a CPU-second each).
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
    tracks.write_parquet(args.out, ray_remote_args={"num_cpus": 0}, concurrency=1)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
