"""Analyse a folder of audio with Spark into Parquet, one row per file.

    python examples/spark_backfill.py samples/ out/spark --cores 2
    python examples/spark_backfill.py /work/data/real out/spark-real --cores 2 --embed-seconds 30
    python examples/spark_backfill.py /work/data/real out/spark-real --cores 2 --paths

Spark reads the files with the binaryFile source; sonovec.spark.analyze() runs in each Python
worker through mapInArrow (one sonovec.Extractor, so one model load, per worker process). With
--paths Spark lists the files without reading them and each Python worker reads its own: the
same CPU, and the files' bytes never sit in the JVM or cross into Python (the executors must see
the paths: a local disk, a shared mount, or URIs that pyarrow.fs opens).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pyspark.sql import SparkSession

import sonovec.spark

GLOB = "*.{mp3,ogg,oga,opus,flac,wav,m4a,aiff,aif}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--files-per-batch", type=int, default=8)
    ap.add_argument("--model", default="msd")
    ap.add_argument("--embed-seconds", type=float, default=None)
    ap.add_argument("--paths", action="store_true", help="Python workers read the files")
    args = ap.parse_args()

    # Spark's Python workers run `python3` from PATH unless told: use the one running this.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .appName("sonovec")
        # Audio files are a few MB each: small Arrow batches keep worker memory bounded.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.files_per_batch))
        # Files are not split. Each task costs the JVM a Parquet writer and a Python exchange of
        # its own: tasks of about 64 MB of audio (a dozen files) cost 5 CPU-s less per 16 files
        # than tasks of one file (benches/engines.py), and a catalog still makes many per core.
        .config("spark.sql.files.maxPartitionBytes", "64m")
        .config("spark.sql.files.openCostInBytes", "1m")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    started = time.perf_counter()
    files = (
        spark.read.format("binaryFile")
        .option("pathGlobFilter", GLOB)
        .option("recursiveFileLookup", "true")
        .load(args.root)
    )
    if args.paths:
        files = files.select("path")  # binaryFile reads a file's content only when selected
    tracks = files.mapInArrow(
        sonovec.spark.analyze(model=args.model, embed_seconds=args.embed_seconds),
        sonovec.spark.schema(args.model),
    )
    tracks.write.mode("overwrite").parquet(args.out)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")
    spark.stop()


if __name__ == "__main__":
    main()
