"""CPU cost per track of the Ray Data and Spark paths next to the CLI, on the same files.

    .venv-test/bin/python benches/engines.py /work/data/real --limit 16 --larger 32 \
        --engines cli,ray,ray-paths,spark,spark-paths [--embed-seconds 30]

Runs, in one process each and one after the other: `sonovec extract --jobs 1` (`cli2`:
`--jobs 2`), Ray Data (README.md's pipeline, 2 actors; `ray` ships the files' bytes from
read_binary_files, `ray-paths` gives the actors paths to read) and Spark (local[2], mapInArrow
over binaryFile; `spark-paths` selects the path column alone); `py` (`py2`) is the Python
binding alone, SonovecUDF's call (`Extractor(jobs=1).extract_batch` on batches of two paths) in
one process (two at once): against `cli` what the binding costs, against `ray-paths` what Ray
adds to the same work, and `py2` against `py` what two analyses at once cost each other, without
`cli2`'s pipelined stream (`--jobs 2` gives each track's stream three threads). For each it
reports CPU seconds (user + system of every process of the run: for the engines the driver, the
JVM or raylet/GCS and all workers, sampled from /proc every 0.5 s during the run, so processes
that end early count too, and split by kind of process and by thread: the analysis runs on the
extractor's `sonovec-N` threads, so the rest is what the engine adds), audio seconds per
CPU-second (x-realtime per core), the peak resident memory of the largest worker, and wall time.
CPU time, not wall time, is the comparable figure on a shared machine; wall time is printed for
context only.

The CLI is `target/release/sonovec` (`SONOVEC_BIN` names another build).

`py2-clock` and `ray-paths-clock` are `py2` and `ray-paths` with exact clocks of the analysis:
around every batch, inside the process that analyses it, the scheduler's nanosecond CPU clock of
each `sonovec-N` thread (/proc/self/task/TID/schedstat), its run-queue wait and context switches,
and getrusage of the process (BatchClock). `py2-clock` deals out the batches Ray Data makes (pairs
of consecutive paths), so each batch can be set against the same one in a Ray run. An engine
written `name@KEY=VALUE` runs with that variable in its environment (and its children's: py2's
processes, Ray's raylet and actors), e.g. `ray-paths-clock@MALLOC_ARENA_MAX=2`.

Fixed cost (JVM and Ray start-up, model loads, Python imports) is separated from the cost per
file in one of two ways. `--larger N` runs each engine again on N files: the steady state is
the difference of the two runs (same processes, more files), the fixed cost what that leaves of
the smaller run. Otherwise each engine also runs on `--probe` files alone (by default two of the
bundled samples, 18 s of audio), and the steady state is (CPU of the set - CPU of the probe) per
(audio of the set - audio of the probe); that also counts as steady any worker process the
larger run starts and the probe does not. `--no-probe` leaves both out.

    .venv-test/bin/python benches/engines.py --ray-idle default,recommended,quiet --rounds 2

measures instead what Ray Data spends of its own per second of wall time: README.md's pipeline
(2 actors, paths, the writer beside them) with a UDF that sleeps (`--ray-idle-seconds`, 2) per
batch of one row instead of analysing, under each set of settings in RAY_SETTINGS (what
`ray.init`, environment variables and `DataContext` let a job turn off), each in a fresh
interpreter. While both actors sleep,
every CPU-second spent is the engine's: it reports CPU-s per wall-s over that steady window, by
process (driver, raylet, GCS, Ray Data's helper actors, the actors' own idle cost).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
EXTS = {".ogg", ".mp3", ".flac", ".opus", ".wav", ".m4a"}
TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(stat: str) -> list[str]:
    """The fields of a `/proc/PID/stat` (or `task/TID/stat`) line after the command name, which
    may itself hold spaces and parentheses: field 3 of proc(5) is index 0."""
    return stat.rsplit(")", 1)[1].split()


def cpu_seconds(fields: list[str]) -> float:
    """User + system CPU seconds of a process or thread from its `stat_fields`."""
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat_fields(stat)[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def kind_of(name: str, cmdline: str) -> str:
    """What a process of an engine run is, for the CPU split."""
    if name.startswith("java"):
        return "jvm"
    if "pyspark.daemon" in cmdline or "pyspark.worker" in cmdline or name.startswith("python"):
        return "python workers"
    if name.startswith("ray::"):
        return "ray workers"
    return "engine services"  # raylet, gcs_server, dashboard agents, log monitors ...


class TreeSampler(threading.Thread):
    """Samples the CPU time and peak RSS of every descendant of this process every `interval`
    seconds until `finish()`, so a process that exits during the run (Ray Data ends its actors
    when a dataset is done, before the driver could look) is counted up to its last sample.

    Only each process's own utime + stime is summed, never cutime (that would count a reaped
    child twice); a process living less than one interval is missed. The sampler's own CPU is
    kept in `own_cpu` so the caller can leave it out of the driver's."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.done = threading.Event()
        self.procs: dict[tuple[int, str], dict] = {}  # (pid, start time) -> name, kind, cpu, mb
        self.own_cpu = 0.0

    def sample(self) -> None:
        for p in descendants(os.getpid()):
            try:
                fields = stat_fields(Path(f"/proc/{p}/stat").read_text())
                status = Path(f"/proc/{p}/status").read_text()
                key = (p, fields[19])  # a reused pid has another start time
                if key not in self.procs:
                    name = Path(f"/proc/{p}/comm").read_text().strip()
                    cmdline = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
                    self.procs[key] = dict(name=name, cmdline=cmdline.decode(), cpu=0.0, mb=0.0)
            except OSError:
                continue
            proc = self.procs[key]
            # ray:: workers rename themselves: the latest name says what the process became.
            proc["cpu"] = max(proc["cpu"], cpu_seconds(fields))
            self.sample_threads(p, proc)
            hwm = [line for line in status.splitlines() if line.startswith("VmHWM")]
            if hwm:
                proc["mb"] = max(proc["mb"], int(hwm[0].split()[1]) / 1024)
            try:
                proc["name"] = Path(f"/proc/{p}/comm").read_text().strip()
                if proc["name"].startswith("ray::"):
                    # comm keeps 15 characters; the title says which operator an actor runs.
                    title = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0]
                    proc["title"] = title.decode(errors="replace")[:60]
            except OSError:
                pass

    def sample_threads(self, pid: int, proc: dict) -> None:
        """CPU of each thread of `pid`: the analysis runs on the extractor's own threads
        (`sonovec-N`), so what a worker spends beyond the analysis is the rest of its threads."""
        threads = proc.setdefault("threads", {})
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat_fields(stat)
            key = (tid, fields[19])
            cpu = cpu_seconds(fields)
            old = threads.get(key)
            threads[key] = (name, max(cpu, old[1] if old else 0.0))

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()
        self.own_cpu = time.thread_time()

    def finish(self) -> tuple[float, dict[str, float], dict[str, float]]:
        """Stops sampling; returns the descendants' CPU seconds, the peak RSS (MB) of each by
        `name:pid`, and their CPU seconds by kind of process."""
        self.done.set()
        self.join()
        self.sample()
        split: dict[str, float] = {}
        self.threads: dict[str, dict[str, float]] = {}
        for proc in self.procs.values():
            kind = kind_of(proc["name"], proc["cmdline"])
            split[kind] = split.get(kind, 0.0) + proc["cpu"]
            by_thread = self.threads.setdefault(kind, {})
            for name, cpu in proc.get("threads", {}).values():
                # Pools number their threads: sum `sonovec-0`, `sonovec-1` ... as `sonovec-N`.
                label = name.rstrip("0123456789") + "N" if name[-1:].isdigit() else name
                by_thread[label] = by_thread.get(label, 0.0) + cpu
        peaks = {f"{proc['name']}:{pid}": proc["mb"] for (pid, _), proc in self.procs.items()}
        self.cpu_by_process = {f"{proc.get('title', proc['name'])}:{pid}": proc["cpu"]
                               for (pid, _), proc in self.procs.items()}
        return sum(split.values()), peaks, split


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def audio_seconds(table) -> float:
    return sum(d for d in table.column("duration_s").to_pylist() if d)


def run_cli(files_dir: Path, out: Path, embed_seconds: float | None, jobs: int = 1) -> dict:
    cmd = [os.environ.get("SONOVEC_BIN", str(REPO / "target/release/sonovec")), "--jobs", str(jobs),
           "extract", str(files_dir),
           "-o", str(out), "--force", "--quiet"]
    if embed_seconds:
        cmd[1:1] = ["--embed-seconds", str(embed_seconds)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    table = pq.read_table(out / "tracks.parquet")
    return dict(engine=f"cli --jobs {jobs}", cpu_s=usage.ru_utime + usage.ru_stime, wall_s=wall,
                audio_s=audio_seconds(table), rows=table.num_rows,
                worker_peak_mb=usage.ru_maxrss / 1024, exit=status >> 8)


def pairs(paths: list[str]) -> list[list[str]]:
    """Consecutive pairs of `paths`, the batches Ray Data makes with batch_size=2."""
    return [paths[i:i + 2] for i in range(0, len(paths), 2)]


def _py_child(batches: list[list[str]], out: Path, embed_seconds: float | None,
              log_dir: Path | None = None) -> None:
    """One `run_py` or `run_py_clock` process: an Extractor(jobs=1) over `batches` of paths, as
    SonovecUDF calls it in each Ray actor; with `log_dir`, a BatchClock around every batch."""
    import pyarrow as pa

    import sonovec

    extractor = sonovec.Extractor("msd", embed_seconds=embed_seconds, jobs=1)
    clock = BatchClock(str(log_dir)) if log_dir else lambda fn, _paths: fn()
    tables = [clock(functools.partial(extractor.extract_batch, b, paths=b), b) for b in batches]
    pq.write_table(pa.concat_tables(tables), out)


def _run_forked(jobs) -> tuple[float, float]:
    """Runs each of `jobs` (no-argument callables) in a process forked from this one, all at
    once; returns the wall seconds until the last ended and the largest peak RSS in MB."""
    started = time.perf_counter()
    pids = []
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            try:
                job()
            finally:
                os._exit(0)
        pids.append(pid)
    peak = 0.0
    for pid in pids:
        _, _, usage = os.wait4(pid, 0)
        peak = max(peak, usage.ru_maxrss / 1024)
    return time.perf_counter() - started, peak


def run_py(files_dir: Path, out: Path, embed_seconds: float | None, procs: int = 1) -> dict:
    """The Python binding without an engine: `procs` processes at once (forked from this
    fresh interpreter after `import sonovec`), each analysing every `procs`-th file with
    SonovecUDF's call (`Extractor(jobs=1).extract_batch`, batches of two paths). Against `cli`
    it is what the binding costs, against `ray-paths` what Ray adds to the same actors' work."""
    import sonovec  # noqa: F401  (imported once, before the fork, as Ray's workers import it)

    files = sorted(str(p) for p in files_dir.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    wall, peak = _run_forked([
        functools.partial(_py_child, pairs(files[k::procs]), out / f"part-{k}.parquet",
                          embed_seconds)
        for k in range(procs)])
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    table = pq.read_table(out)
    return dict(engine=f"python, {procs} process{'es' if procs > 1 else ''}",
                cpu_s=self_cpu() + children.ru_utime + children.ru_stime, wall_s=wall,
                audio_s=audio_seconds(table), rows=table.num_rows, worker_peak_mb=peak)


# Exact clocks of the analysis, for `py2-clock` and `ray-paths-clock`: the sampler above reads
# each thread's utime + stime from /proc every 0.5 s; these read, around every batch inside the
# process that analyses it, the scheduler's own nanosecond clock of each `sonovec-N` thread
# (field 1 of /proc/self/task/TID/schedstat, the thread's sum_exec_runtime; field 2 is the time it
# waited on a run queue) and getrusage of the whole process.
CLOCK_ENV = ("MALLOC_", "OMP_", "MKL_", "OPENBLAS_", "RAYON_", "LD_PRELOAD", "GLIBC_TUNABLES",
             "PYTHONMALLOC", "CUDA_VISIBLE_DEVICES")


def analysis_clocks() -> dict[str, list[int]]:
    """tid -> [ns on CPU, ns waiting on a run queue, voluntary, involuntary context switches] of
    every `sonovec-*` thread of this process."""
    out: dict[str, list[int]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            if not Path(f"/proc/self/task/{tid}/comm").read_text().startswith("sonovec-"):
                continue
            run, wait, _ = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
            status = Path(f"/proc/self/task/{tid}/status").read_text().splitlines()
        except OSError:
            continue
        switches = [int(line.split()[1]) for line in status
                    if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt"))]
        out[tid] = [int(run), int(wait), *switches]
    return out


def clock_snapshot() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return dict(t=time.time(), caller_ns=time.thread_time_ns(), analysis=analysis_clocks(),
                proc_cpu_s=r.ru_utime + r.ru_stime, proc_sys_s=r.ru_stime, minflt=r.ru_minflt,
                nvcsw=r.ru_nvcsw, nivcsw=r.ru_nivcsw)


def clock_process_info() -> dict:
    """What may differ between an analysis in an actor and in a plain process."""
    names: dict[str, int] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        except OSError:
            continue
        name = name.rstrip("0123456789") + "N" if name[-1:].isdigit() else name
        names[name] = names.get(name, 0) + 1
    status = Path("/proc/self/status").read_text().splitlines()
    return dict(pid=os.getpid(), comm=Path("/proc/self/comm").read_text().strip(),
                affinity=sorted(os.sched_getaffinity(0)),
                nice=os.getpriority(os.PRIO_PROCESS, 0), policy=os.sched_getscheduler(0),
                timerslack_ns=int(Path("/proc/self/timerslack_ns").read_text()),
                cgroup=Path("/proc/self/cgroup").read_text().strip(),
                thp=[line for line in status if line.startswith("THP")],
                env={k: v for k, v in os.environ.items() if k.startswith(CLOCK_ENV)},
                jemalloc="jemalloc" in Path("/proc/self/maps").read_text(),
                threads=names)


class BatchClock:
    """Appends one JSON line per batch (and one with the process's setup first) to
    `log_dir/PID.jsonl`: the paths, the wall span, and the deltas of `clock_snapshot`."""

    def __init__(self, log_dir: str) -> None:
        self.path = Path(log_dir) / f"{os.getpid()}.jsonl"
        self.started = False

    def __call__(self, fn, paths: list[str]):
        if not self.started:
            self.started = True
            with open(self.path, "a") as f:
                f.write(json.dumps(dict(info=clock_process_info())) + "\n")
        a = clock_snapshot()
        out = fn()
        b = clock_snapshot()
        analysis = {tid: [y - x for x, y in zip(a["analysis"].get(tid, [0, 0, 0, 0]), v)]
                    for tid, v in b["analysis"].items()}
        line = dict(pid=os.getpid(), paths=list(paths), t0=a["t"], t1=b["t"],
                    analysis_ns=sum(v[0] for v in analysis.values()),
                    wait_ns=sum(v[1] for v in analysis.values()),
                    vcsw=sum(v[2] for v in analysis.values()),
                    ivcsw=sum(v[3] for v in analysis.values()),
                    analysis_threads=len(analysis), caller_ns=b["caller_ns"] - a["caller_ns"],
                    **{k: b[k] - a[k] for k in ("proc_cpu_s", "proc_sys_s", "minflt", "nvcsw",
                                                "nivcsw")})
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")
        return out


def clock_summary(log_dir: Path) -> dict:
    """Sums the batches' exact clocks; `overlap_share` is the share of the analysis CPU spent in
    batches during which another process's batch was in progress the whole time."""
    batches: list[dict] = []
    infos: list[dict] = []
    for f in sorted(log_dir.glob("*.jsonl")):
        for line in f.read_text().splitlines():
            d = json.loads(line)
            (infos if "info" in d else batches).append(d.get("info", d))
    both = 0
    for b in batches:
        others = sorted((o["t0"], o["t1"]) for o in batches if o["pid"] != b["pid"])
        covered, t = 0.0, b["t0"]
        for s, e in others:
            if e > t and s < b["t1"]:
                covered += min(e, b["t1"]) - max(s, t)
                t = max(t, min(e, b["t1"]))
        b["overlap"] = covered / max(b["t1"] - b["t0"], 1e-9)
        both += b["analysis_ns"] if b["overlap"] >= 0.99 else 0
    total = sum(b["analysis_ns"] for b in batches)
    return dict(
        batches=len(batches), tracks=sum(len(b["paths"]) for b in batches),
        analysis_s=total / 1e9, wait_s=sum(b["wait_ns"] for b in batches) / 1e9,
        caller_s=sum(b["caller_ns"] for b in batches) / 1e9,
        proc_cpu_s=sum(b["proc_cpu_s"] for b in batches),
        proc_sys_s=sum(b["proc_sys_s"] for b in batches),
        minflt=sum(b["minflt"] for b in batches), ivcsw=sum(b["ivcsw"] for b in batches),
        vcsw=sum(b["vcsw"] for b in batches),
        batch_wall_s=sum(b["t1"] - b["t0"] for b in batches),
        overlap_share=both / max(total, 1),
        analysis_threads=sorted({b["analysis_threads"] for b in batches}),
        # By the batch's file names: analysis CPU-s, the share of its wall time another batch
        # ran beside it, run-queue wait s, minor faults.
        per_batch={"|".join(Path(p).name for p in b["paths"]): [
            round(b["analysis_ns"] / 1e9, 4), round(b["overlap"], 3), round(b["wait_ns"] / 1e9, 3),
            b["minflt"]] for b in batches},
        processes=infos)


def run_py_clock(files_dir: Path, out: Path, embed_seconds: float | None, procs: int = 2) -> dict:
    """`py2` with the exact clocks: the same call in `procs` forked processes, but on the batches
    Ray Data makes of the sorted paths (consecutive pairs), dealt out in turn, so that each batch
    can be set against the same batch in `ray-paths-clock`."""
    import sonovec  # noqa: F401

    files = sorted(str(p) for p in files_dir.iterdir())
    batches = pairs(files)
    out.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="sonovec-clock-"))
    wall, peak = _run_forked([
        functools.partial(_py_child, batches[k::procs], out / f"part-{k}.parquet",
                          embed_seconds, log_dir)
        for k in range(procs)])
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    table = pq.read_table(out)
    clock = clock_summary(log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    return dict(engine=f"python, {procs} processes, clocked",
                cpu_s=self_cpu() + children.ru_utime + children.ru_stime, wall_s=wall,
                audio_s=audio_seconds(table), rows=table.num_rows, worker_peak_mb=peak,
                clock=clock)


READ_CONCURRENCY = int(os.environ.get("SONOVEC_RAY_READ_CONCURRENCY", "1")) or None


def top_processes(peaks_cpu: dict[str, float], n: int = 8) -> list[tuple[str, float]]:
    return sorted(((k, round(v, 2)) for k, v in peaks_cpu.items()), key=lambda kv: -kv[1])[:n]


def thread_split(sampler: TreeSampler, n: int = 6) -> dict:
    """The analysis's CPU (the extractor's `sonovec-N` threads, in whichever processes) and, per
    kind of process, its busiest threads by name."""
    analysis = sum(t.get("sonovec-N", 0.0) for t in sampler.threads.values())
    top = {kind: top_processes(threads, n) for kind, threads in sampler.threads.items()
           if sum(threads.values()) >= 0.5}
    return dict(analysis_cpu_s=round(analysis, 2), top_threads=top)


# 0: the writer as README.md has it (no core, one at a time, beside the actors); 1: a writer
# that waits for a core, i.e. for the actors to finish (what the bench did before).
RAY_WRITE_CPUS = float(os.environ.get("SONOVEC_RAY_WRITE_CPUS", "0"))
# Rows per Parquet file (a write task per file); None: one per block, i.e. per batch.
RAY_MIN_ROWS = int(os.environ.get("SONOVEC_RAY_MIN_ROWS", "10000")) or None


def run_ray(files_dir: Path, out: Path, embed_seconds: float | None,
            source: str = "bytes", clock: bool = False) -> dict:
    """Ray Data as README.md has it. `source` "bytes": read_binary_files ships each file
    through the object store; "paths": a dataset of paths, each actor reading its files.
    `clock`: SonovecUDF with BatchClock around each batch (`ray-paths-clock`)."""
    import ray

    import sonovec.ray

    udf: type = sonovec.ray.SonovecUDF
    udf_kwargs: dict[str, object] = {"embed_seconds": embed_seconds}
    if clock:
        log_dir = Path(tempfile.mkdtemp(prefix="sonovec-clock-"))

        class ClockedUDF(sonovec.ray.SonovecUDF):  # pickled by value into the actors
            def __init__(self, log_dir: str, **kwargs) -> None:
                super().__init__(**kwargs)
                self.clock = BatchClock(log_dir)

            def __call__(self, batch):
                paths = batch.column("path").to_pylist()
                return self.clock(functools.partial(super().__call__, batch), paths)

        udf, udf_kwargs = ClockedUDF, {**udf_kwargs, "log_dir": str(log_dir)}

    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # One read task at a time: with num_cpus=0 Ray Data would otherwise start a read task per
    # file at once, each in a worker process of its own that pays Ray's and pyarrow's imports.
    # (A read that asks for a core, as the actors do, was not fused into them on 16 files: it
    # stayed a task of its own and waited for ever, Ray 2.60.)
    if source == "paths":
        # No read tasks: the actors open the files themselves (SonovecUDF reads a `path` column).
        ds = ray.data.from_items([{"path": str(p)} for p in sorted(files_dir.iterdir())])
    else:
        ds = ray.data.read_binary_files(str(files_dir), include_paths=True, num_cpus=0,
                                        concurrency=READ_CONCURRENCY)
    tracks = ds.map_batches(udf, fn_constructor_kwargs=udf_kwargs,
                            compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1,
                            batch_size=2, batch_format="pyarrow")
    if RAY_WRITE_CPUS:
        tracks.write_parquet(str(out))
    else:
        # One writer that needs no core: it runs beside the actors instead of after them.
        tracks.write_parquet(str(out), ray_remote_args={"num_cpus": 0}, concurrency=1,
                             min_rows_per_file=RAY_MIN_ROWS)
    wall = time.perf_counter() - started
    cpu, peaks, split = sampler.finish()
    workers = [mb for name, mb in peaks.items() if "SonovecUDF" in name or "ray::" in name]
    ray.shutdown()
    table = pq.read_table(out)
    # The whole interpreter counts (imports and start-up are the engine's cost), not the sampler.
    split["driver"] = self_cpu() - sampler.own_cpu
    extra = {}
    if clock:
        extra["clock"] = clock_summary(log_dir)
        shutil.rmtree(log_dir, ignore_errors=True)
    return dict(engine=f"ray (2 actors, {source}{', clocked' if clock else ''})",
                cpu_s=cpu + split["driver"], wall_s=wall, **extra,
                audio_s=audio_seconds(table), rows=table.num_rows,
                worker_peak_mb=max(workers, default=0.0), cpu_split=split,
                read_concurrency=READ_CONCURRENCY, write_cpus=RAY_WRITE_CPUS,
                sampler_cpu_s=round(sampler.own_cpu, 2),
                min_rows_per_file=RAY_MIN_ROWS,
                top_processes=top_processes(sampler.cpu_by_process), **thread_split(sampler))


# Files per Arrow batch and bytes of files per Spark task (each task also writes one Parquet file).
# 64m/4 cost 66.3 CPU-s on 16 tracks where 4m/2 (a task per file) cost 72.3, the JVM's share
# 25.8 against 30.9.
SPARK_BATCH = os.environ.get("SONOVEC_SPARK_BATCH", "4")
SPARK_PARTITION_BYTES = os.environ.get("SONOVEC_SPARK_PARTITION_BYTES", "64m")


def run_spark(files_dir: Path, out: Path, embed_seconds: float | None,
              source: str = "bytes") -> dict:
    """Spark as README.md has it. `source` "bytes": binaryFile's content column; "paths": the
    path column alone, each Python worker reading its files."""
    from pyspark.sql import SparkSession

    import sonovec.spark

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", SPARK_BATCH)
             .config("spark.sql.files.maxPartitionBytes", SPARK_PARTITION_BYTES)
             .config("spark.sql.files.openCostInBytes", "1m"))
    for kv in filter(None, os.environ.get("SONOVEC_SPARK_CONF", "").split(";")):
        # Extra settings to compare, e.g. "spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1".
        key, value = kv.split("=", 1)
        spark = spark.config(key.strip(), value.strip())
    spark = spark.getOrCreate()
    files = spark.read.format("binaryFile").load(str(files_dir))
    if source == "paths":
        # The JVM lists the files without reading them; each Python worker reads its own.
        files = files.select("path")
    files.mapInArrow(sonovec.spark.analyze(embed_seconds=embed_seconds),
                     sonovec.spark.schema()).write.parquet(str(out))
    wall = time.perf_counter() - started
    cpu, peaks, split = sampler.finish()
    workers = [mb for name, mb in peaks.items() if name.startswith("python")]
    jvm = [mb for name, mb in peaks.items() if name.startswith("java")]
    spark.stop()
    table = pq.read_table(out)
    split["driver"] = self_cpu() - sampler.own_cpu
    return dict(engine=f"spark local[2], {source}", cpu_s=cpu + split["driver"], wall_s=wall,
                audio_s=audio_seconds(table), rows=table.num_rows,
                worker_peak_mb=max(workers, default=0.0), jvm_peak_mb=max(jvm, default=0.0),
                cpu_split=split, top_processes=top_processes(sampler.cpu_by_process),
                **thread_split(sampler),
                batch=SPARK_BATCH, partition_bytes=SPARK_PARTITION_BYTES,
                conf=os.environ.get("SONOVEC_SPARK_CONF", ""),
                tasks=len(list(Path(out).glob("part-*"))))


# Ray's own machinery without the analysis: README.md's pipeline (2 actors, paths) whose UDF
# sleeps instead of analysing, run under each set of settings a user can give a job. What Ray
# spends per second of wall time while the actors are busy is then all its own.
RAY_SETTINGS: dict[str, dict] = {
    # ray.init(num_cpus=2) and nothing else.
    "default": dict(init={}, env={}, context={}),
    # What README.md, examples/ray_backfill.py and this bench use.
    "recommended": dict(init=dict(include_dashboard=False, log_to_driver=False), env={},
                        context={}),
    # Everything else a job can turn off: progress bars, usage stats, metrics export.
    "quiet": dict(init=dict(include_dashboard=False, log_to_driver=False),
                  env=dict(RAY_USAGE_STATS_ENABLED="0", RAY_enable_metrics_collection="0"),
                  context=dict(enable_progress_bars=False, enable_operator_progress_bars=False,
                               enable_auto_log_stats=False)),
}


class SleepUDF:
    """Stands in for SonovecUDF: holds a core per batch for `seconds` without using it."""

    def __init__(self, seconds: float, log: str) -> None:
        self.seconds, self.log = seconds, log

    def __call__(self, batch):
        started = time.time()
        time.sleep(self.seconds)
        with open(self.log, "a") as f:
            f.write(f"{started} {time.time()}\n")
        return batch


def tree_cpu() -> dict[str, float]:
    """CPU seconds so far of this process (`driver`) and of each descendant, by label."""
    out: dict[str, float] = {}
    me = os.getpid()
    for p in [me, *descendants(me)]:
        try:
            fields = stat_fields(Path(f"/proc/{p}/stat").read_text())
            title = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
            name = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        if p == me:
            label = "driver"
        elif name.startswith("ray::"):
            label = title[0].decode(errors="replace").split(".")[0][:48]
        elif name.startswith("python"):
            label = "python " + " ".join(Path(a.decode()).name for a in title[1:3])[:40]
        else:
            label = name
        label = f"{label}:{p}"
        out[label] = cpu_seconds(fields)
    return out


def run_ray_idle(settings: str, batches: int = 24, seconds: float = 2.0) -> dict:
    """Ray Data's CPU per second of wall time under `settings` (RAY_SETTINGS), by process."""
    preset = RAY_SETTINGS[settings]
    os.environ.update(preset["env"])
    import ray
    import ray.data

    points: list[tuple[float, float, dict[str, float]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            # The sampler's own CPU is left out of the driver's.
            points.append((time.time(), time.thread_time(), tree_cpu()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    ray.init(num_cpus=2, **preset["init"])
    ctx = ray.data.DataContext.get_current()
    for key, value in preset["context"].items():
        setattr(ctx, key, value)
    fd, log = tempfile.mkstemp(prefix="sonovec-idle-")
    os.close(fd)
    ds = ray.data.from_items([{"path": f"track{i:04d}.ogg"} for i in range(batches)])
    out = tempfile.mkdtemp(prefix="sonovec-idle-out-")
    ds.map_batches(SleepUDF, fn_constructor_kwargs={"seconds": seconds, "log": log},
                   compute=ray.data.ActorPoolStrategy(size=2), num_cpus=1, batch_size=1,
                   batch_format="pyarrow").write_parquet(
        out, ray_remote_args={"num_cpus": 0}, concurrency=1, min_rows_per_file=RAY_MIN_ROWS)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    ray.shutdown()
    spans = [tuple(map(float, line.split())) for line in Path(log).read_text().splitlines()]
    os.unlink(log)
    shutil.rmtree(out, ignore_errors=True)
    # The steady window: both actors busy, from 2 s after the first batch began to 1 s before
    # the last ended (start-up and shutdown left out).
    lo, hi = min(s for s, _ in spans) + 2.0, max(e for _, e in spans) - 1.0
    window = [p for p in points if lo <= p[0] <= hi]
    (t0, own0, cpu0), (t1, own1, cpu1) = window[0], window[-1]
    rate = {k: (v - cpu0.get(k, 0.0)) / (t1 - t0) for k, v in cpu1.items()}
    rate["driver:" + str(os.getpid())] -= (own1 - own0) / (t1 - t0)
    by_kind: dict[str, float] = {}
    for label, r in rate.items():
        kind = label.rsplit(":", 1)[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + r
    total = sum(rate.values())
    return dict(engine=f"ray idle ({settings})", settings=settings, wall_s=wall,
                batches=batches, seconds_per_batch=seconds,
                window_s=t1 - t0, cpu_s_per_wall_s=total,
                cpu_s=sum(points[-1][2].values()) - points[-1][1],
                by_kind=dict(sorted(((k, round(v, 4)) for k, v in by_kind.items() if v >= 0.0005),
                                    key=lambda kv: -kv[1])))


def pick_files(root: str, limit: int) -> list[Path]:
    """`limit` distinct files spread over `root` (the shared set has links to the same track:
    the CLI would skip a duplicate by its content id while the engines analyse every row)."""
    found = {p.resolve() for p in Path(root).rglob("*") if p.suffix.lower() in EXTS}
    by_content: dict[int, Path] = {}
    for p in sorted(found):
        by_content.setdefault(p.stat().st_size, p)
    files = sorted(by_content.values())
    return files[:: max(1, len(files) // limit)][:limit]


def link_inputs(folder: Path, files: list[Path]) -> Path:
    folder.mkdir(parents=True)
    for i, f in enumerate(files):
        (folder / f"{i:03d}_{f.name}").symlink_to(f.resolve())
    return folder


# `cli2`, the CLI on both cores, and `py2`, the binding in two processes: the engines run two
# analyses at once, which share caches and memory bandwidth. `py2` is the cleaner reference for
# them (one thread per analysis, as in the actors); `cli2` pipelines each track's stream.
RUNNERS = {"cli": run_cli, "cli2": functools.partial(run_cli, jobs=2), "ray": run_ray,
           "py": run_py, "py2": functools.partial(run_py, procs=2),
           "spark": run_spark,
           "ray-paths": functools.partial(run_ray, source="paths"),
           # The same two runs with exact clocks of the analysis threads (BatchClock).
           "py2-clock": run_py_clock,
           "ray-paths-clock": functools.partial(run_ray, source="paths", clock=True),
           "spark-paths": functools.partial(run_spark, source="paths")}


def steal_s() -> float:
    """The node's steal time so far (seconds, all CPUs): time the hypervisor ran something else
    while a vCPU had work."""
    return int(Path("/proc/stat").read_text().split()[8]) / TICK


def run_one(engine: str, inputs: Path, out: Path, embed_seconds: float | None) -> dict:
    """One engine over one folder in a fresh interpreter, so no JVM, Ray cluster or loaded
    model carries over from an earlier run. `engine@KEY=VALUE@...` runs it with those variables
    in its environment (and so in every process it starts: py2's children, Ray's raylet and
    actors), e.g. `ray-paths-clock@MALLOC_ARENA_MAX=2`."""
    engine, *assignments = engine.split("@")
    env = dict(os.environ, **dict(a.split("=", 1) for a in assignments))
    cmd = [sys.executable, __file__, "--one", engine, "--inputs", str(inputs), "--out", str(out)]
    if embed_seconds:
        cmd += ["--embed-seconds", str(embed_seconds)]
    steal = steal_s()
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    r["host_steal_s"] = round(steal_s() - steal, 2)
    if assignments:
        r["engine"] += " [" + " ".join(assignments) + "]"
    return r


def cpu_by_kind_beyond_analysis(run: dict) -> dict[str, float]:
    """An engine run's CPU seconds by kind of process, the workers' without their analysis
    threads."""
    split = dict(run["cpu_split"])
    workers = "ray workers" if "ray workers" in split else "python workers"
    split[workers] = split.get(workers, 0.0) - run["analysis_cpu_s"]
    return split


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ray_idle(settings: list[str], batches: int, seconds: float, rounds: int) -> None:
    """Each of `settings` `rounds` times, interleaved, in a fresh interpreter each."""
    print(f"load average before: {loadavg()}", flush=True)
    results = []
    for _ in range(rounds):
        for name in settings:
            cmd = [sys.executable, __file__, "--one", f"ray-idle:{name}",
                   "--ray-idle-batches", str(batches), "--ray-idle-seconds", str(seconds)]
            done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            r["load_after"] = loadavg()
            results.append(r)
            print(json.dumps(r), flush=True)
    print("\n| settings | CPU-s per wall-s (steady) | window s | whole run CPU s | wall s "
          "| load after | busiest |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(r["by_kind"].items())[:4])
        print(f"| {r['settings']} | {r['cpu_s_per_wall_s']:.3f} | {r['window_s']:.0f} | "
              f"{r['cpu_s']:.1f} | {r['wall_s']:.1f} | {r['load_after']} | {top} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?")
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--embed-seconds", type=float, default=None)
    ap.add_argument("--engines", default="cli,ray,spark")
    ap.add_argument("--probe", nargs="*", default=[str(REPO / "samples/house_128.ogg"),
                                                 str(REPO / "samples/hiphop_92.mp3")],
                    help="files whose run measures each engine's fixed cost")
    ap.add_argument("--no-probe", action="store_true")
    ap.add_argument("--larger", type=int, default=None,
                    help="also run each engine on this many files, in place of the probe: the "
                         "steady state is then the difference of the two runs (the same "
                         "processes, more files) and the fixed cost what that leaves of the "
                         "smaller run")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--ray-idle", metavar="SETTINGS",
                    help="measure Ray Data's own CPU per second of wall time instead: README's "
                         "pipeline whose UDF sleeps, under each of these comma-separated "
                         f"settings ({', '.join(RAY_SETTINGS)}), in a fresh interpreter each")
    ap.add_argument("--ray-idle-batches", type=int, default=24,
                    help="batches of one row for --ray-idle")
    ap.add_argument("--ray-idle-seconds", type=float, default=2.0,
                    help="seconds each --ray-idle batch sleeps")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each --ray-idle setting")
    args = ap.parse_args()
    if args.one:
        # Everything this interpreter spends counts, imports included.
        if args.one.startswith("ray-idle:"):
            r = run_ray_idle(args.one.split(":", 1)[1], batches=args.ray_idle_batches,
                             seconds=args.ray_idle_seconds)
        else:
            r = RUNNERS[args.one](Path(args.inputs), Path(args.out), args.embed_seconds)
        print(json.dumps(r), flush=True)
        return
    if args.ray_idle:
        ray_idle(args.ray_idle.split(","), args.ray_idle_batches, args.ray_idle_seconds,
                 args.rounds)
        return
    if not args.root:
        ap.error("the root folder of the audio is required")

    files = pick_files(args.root, args.limit)
    work = Path(tempfile.mkdtemp(prefix="sonovec-engines-"))
    inputs = link_inputs(work / "in", files)
    probe = None if args.no_probe or args.larger else link_inputs(
        work / "probe", [Path(p) for p in args.probe])
    larger = link_inputs(work / "larger", pick_files(args.root, args.larger)) if args.larger \
        else None
    print(f"load average before: {loadavg()}", flush=True)
    results = []
    for i, name in enumerate(args.engines.split(",")):
        # An output folder per position: an engine named twice (to interleave repeats) must not
        # append its rows to the first run's.
        run = f"{i}-{name.split('@')[0]}"
        r = run_one(name, inputs, work / run, args.embed_seconds)
        r["x_realtime_per_cpu_s"] = r["audio_s"] / r["cpu_s"]
        r["cpu_s_per_track"] = r["cpu_s"] / max(r["rows"], 1)
        if probe is not None:
            p = run_one(name, probe, work / f"{run}-probe", args.embed_seconds)
            r["probe"] = p
            r["fixed_cpu_s"] = p["cpu_s"]
            r["steady_x_realtime_per_cpu_s"] = (r["audio_s"] - p["audio_s"]) / max(
                r["cpu_s"] - p["cpu_s"], 1e-9)
        if larger is not None:
            b = run_one(name, larger, work / f"{run}-larger", args.embed_seconds)
            r["larger"] = b
            rate = (b["audio_s"] - r["audio_s"]) / max(b["cpu_s"] - r["cpu_s"], 1e-9)
            r["steady_x_realtime_per_cpu_s"] = rate
            r["fixed_cpu_s"] = r["cpu_s"] - r["audio_s"] / rate
            if "analysis_cpu_s" in r:
                # What the engine adds per file beyond the analysis, over the extra files.
                r["steady_beyond_analysis_cpu_s"] = (b["cpu_s"] - b["analysis_cpu_s"]) - (
                    r["cpu_s"] - r["analysis_cpu_s"])
                r["steady_analysis_cpu_s"] = b["analysis_cpu_s"] - r["analysis_cpu_s"]
                # ... and by kind of process, the workers' own threads apart from the analysis.
                small, big = cpu_by_kind_beyond_analysis(r), cpu_by_kind_beyond_analysis(b)
                r["steady_beyond_analysis_by_kind"] = {
                    k: round(big.get(k, 0.0) - small.get(k, 0.0), 2) for k in sorted(big)}
        r["load_after"] = loadavg()
        results.append(r)
        print(json.dumps(r), flush=True)
    base = results[0]
    print(f"\n{len(files)} files, embed_seconds={args.embed_seconds}, "
          f"load average after: {loadavg()}")
    print("| engine | rows | audio s | CPU s | x-realtime per CPU-s | vs first | fixed CPU s "
          "| steady x-realtime per CPU-s | steady vs first | worker peak RSS MB | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        steady = r.get("steady_x_realtime_per_cpu_s")
        steady_cols = (f"{r['fixed_cpu_s']:.1f} | {steady:.1f} | "
                       f"{steady / base['steady_x_realtime_per_cpu_s']:.2f}"
                       if steady else "- | - | -")
        print(f"| {r['engine']} | {r['rows']} | {r['audio_s']:.0f} | {r['cpu_s']:.1f} | "
              f"{r['x_realtime_per_cpu_s']:.1f} | "
              f"{r['x_realtime_per_cpu_s'] / base['x_realtime_per_cpu_s']:.2f} | {steady_cols} | "
              f"{r['worker_peak_mb']:.0f} | {r['wall_s']:.1f} |")
    two = [r for r in results if r["engine"] == "cli --jobs 2"
           and r.get("steady_x_realtime_per_cpu_s")]
    if two:
        # Two analyses at once, as the engines run them, though `--jobs 2` also pipelines each
        # track's stream (`py2` does not): see RUNNERS.
        base2 = two[0]["steady_x_realtime_per_cpu_s"]
        print("steady x-realtime per CPU-s against `cli --jobs 2`: " + ", ".join(
            f"{r['engine']} {r['steady_x_realtime_per_cpu_s'] / base2:.2f}"
            for r in results if r.get("steady_x_realtime_per_cpu_s")))
    for r in results:
        if "cpu_split" in r:
            split = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["cpu_split"].items()))
            print(f"{r['engine']}: CPU s by process kind: {split}")
        if "analysis_cpu_s" in r:
            print(f"{r['engine']}: analysis threads (sonovec-N) {r['analysis_cpu_s']:.1f} CPU-s, "
                  f"everything else {r['cpu_s'] - r['analysis_cpu_s']:.1f}")
        if "steady_beyond_analysis_cpu_s" in r:
            print(f"{r['engine']}: over the {args.larger - len(files)} extra files, analysis "
                  f"{r['steady_analysis_cpu_s']:.1f} CPU-s, everything else "
                  f"{r['steady_beyond_analysis_cpu_s']:.1f} ("
                  + ", ".join(f"{k} {v:+.2f}"
                              for k, v in r["steady_beyond_analysis_by_kind"].items())
                  + "; the workers' kind without their analysis threads)")
        if "clock" in r:
            print_clock(r["engine"], r["clock"], r)
        if "clock" in r.get("larger", {}):
            b = r["larger"]
            print_clock(b["engine"] + f", {b['rows']} files", b["clock"], b)
    shutil.rmtree(work, ignore_errors=True)


def print_clock(engine: str, c: dict, run: dict) -> None:
    sampled = (f"; the sampler's figure for the same threads {run['analysis_cpu_s']:.2f}"
               if "analysis_cpu_s" in run else "")
    print(f"{engine}: exact clock over {c['batches']} batches, {c['tracks']} tracks: analysis "
          f"threads {c['analysis_s']:.2f} CPU-s{sampled}; calling threads {c['caller_s']:.2f}, "
          f"whole processes during the batches {c['proc_cpu_s']:.2f} (system "
          f"{c['proc_sys_s']:.2f}); analysis threads waited {c['wait_s']:.2f} s on a run queue, "
          f"{c['ivcsw']} involuntary switches; {c['overlap_share']:.0%} of the analysis with "
          f"the other one running beside it; host steal {run.get('host_steal_s', 0):.2f} s")


if __name__ == "__main__":
    sys.exit(main())
