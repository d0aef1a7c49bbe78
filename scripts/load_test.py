#!/usr/bin/env python3
"""Load and crash test of `sonovec serve` (standard library only, loopback only).

    python3 scripts/make_serve_clips.py /work/main/data/music/tracks.txt /work/main/data/serve
    cargo build --release
    python3 scripts/load_test.py --clips /work/main/data/serve --work /tmp/serve-load

Run 1 (load): starts the server on a fresh catalog, posts every clip of CLIPS/good and CLIPS/bad
(500 by default, a fifth bad) from 32 concurrent clients, each with an external id, and checks:
every good clip answered 201 and stored, no content or id stored twice, no 5xx; then SIGTERM and
exit status 0. Prints tracks/s, x-realtime (seconds of audio stored per wall second), p50/p99
latency, the server's peak RSS (VmHWM) and CPU seconds.

Run 2 (crash): the same uploads on another fresh catalog; after --kill-after answers the server
is SIGKILLed. It is restarted on the same catalog, which must pass `PRAGMA integrity_check`,
hold only whole tracks (record, vector of `dim` floats) and every track that was answered 201;
then every upload that got no answer is sent again, and the set must be complete.
"""
import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import http.client
from concurrent.futures import ThreadPoolExecutor

CONTENT_TYPES = {"flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}


class Server:
    def __init__(self, binary, catalog, extra):
        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--catalog", catalog, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on http://"), line
        host, port = line.removeprefix("listening on http://").split(":")
        self.host, self.port = host, int(port)

    def proc_status(self):
        """Peak RSS in MiB and CPU seconds so far (Linux /proc)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return hwm / 1024, (int(fields[11]) + int(fields[12])) / ticks


def upload(server, item, timeout=600):
    """POST one clip; returns (status or None on a broken connection, seconds, body)."""
    path, ext_id = item["path"], item["ext_id"]
    ext = path.rsplit(".", 1)[1]
    body = open(path, "rb").read()
    started = time.monotonic()
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
            conn.request("POST", f"/v1/tracks?id={ext_id}", body=body,
                         headers={"Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream")})
            response = conn.getresponse()
            data = response.read()
            conn.close()
        except (OSError, http.client.HTTPException):
            return None, time.monotonic() - started, None
        if response.status == 503:
            item["retries"] = item.get("retries", 0) + 1
            time.sleep(float(response.getheader("Retry-After", "1")))
            continue
        return response.status, time.monotonic() - started, data
    return 503, time.monotonic() - started, None


def run_uploads(server, items, clients, on_answer=None):
    results = {}
    lock = threading.Lock()

    def one(item):
        status, seconds, body = upload(server, item)
        with lock:
            results[item["ext_id"]] = (status, seconds, body)
            if on_answer:
                on_answer(len(results))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, items))
    return results


def items_of(clips):
    items = []
    for kind in ("good", "bad"):
        folder = os.path.join(clips, kind)
        for name in sorted(os.listdir(folder)):
            items.append({"path": os.path.join(folder, name), "good": kind == "good",
                          "ext_id": f"load-{kind}-{name}"})
    random.Random(1).shuffle(items)
    return items


def audio_seconds(body):
    return json.loads(body).get("duration_s", 0.0)


def check_catalog(catalog):
    """Integrity, whole tracks only, no duplicates. Returns the stored content ids."""
    db = sqlite3.connect(catalog)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    rows = db.execute("SELECT id, path, record, vector, dim FROM tracks").fetchall()
    half = [r[1] for r in rows
            if r[3] is None or r[4] is None or len(r[3]) != 4 * r[4]
            or json.loads(r[2]).get("error") is not None]
    paths = [r[1] for r in rows]
    failures = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    db.close()
    return {"integrity_check": integrity, "tracks": len(rows), "half_written": len(half),
            "duplicate_paths": len(paths) - len(set(paths)), "failures": failures}, {r[0] for r in rows}


def summarise(results, items, wall):
    good = [i for i in items if i["good"]]
    latencies = sorted(r[1] for r in results.values() if r[0] is not None)
    statuses = {}
    for status, _, _ in results.values():
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    stored = [results[i["ext_id"]] for i in good if results[i["ext_id"]][0] in (200, 201)]
    audio = sum(audio_seconds(r[2]) for r in stored)
    bad_5xx = sum(1 for r in results.values() if r[0] is not None and r[0] >= 500)
    return {
        "uploads": len(results), "statuses": statuses, "good_uploads": len(good),
        "good_answered_stored": len(stored),
        "lost_good": len(good) - len(stored), "5xx": bad_5xx,
        "retries_after_503": sum(i.get("retries", 0) for i in items),
        "wall_s": round(wall, 2), "tracks_per_s": round(len(stored) / wall, 2),
        "x_realtime": round(audio / wall, 1), "audio_s": round(audio, 1),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p99_s": round(latencies[int(0.99 * (len(latencies) - 1))], 3),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="target/release/sonovec")
    ap.add_argument("--clips", default="/work/main/data/serve")
    ap.add_argument("--work", default="/tmp/sonovec-serve-load")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--kill-after", type=int, default=200)
    ap.add_argument("--server-args", default="--queue 64",
                    help="extra arguments for `sonovec serve` (e.g. '--model none')")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    extra = args.server_args.split() + ["--spool-dir", os.path.join(args.work, "spool")]
    items = items_of(args.clips)
    report = {"uptime_before": open("/proc/loadavg").read().strip()}

    # Run 1: load.
    catalog = os.path.join(args.work, "load.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(catalog + suffix):
            os.remove(catalog + suffix)
    server = Server(args.binary, catalog, extra)
    started = time.monotonic()
    results = run_uploads(server, items, args.clients)
    wall = time.monotonic() - started
    load = summarise(results, items, wall)
    load["peak_rss_mib"], load["server_cpu_s"] = server.proc_status()
    load["loadavg_after"] = open("/proc/loadavg").read().strip()
    server.proc.send_signal(signal.SIGTERM)
    load["exit_status_after_sigterm"] = server.proc.wait(120)
    load["catalog"], stored = check_catalog(catalog)
    # Content ids of the good clips, from the answers (two clips may share content: one track).
    good_ids = {json.loads(results[i["ext_id"]][2])["id"] for i in items
                if i["good"] and results[i["ext_id"]][0] in (200, 201)}
    load["distinct_good_contents"] = len(good_ids)
    load["good_missing_from_catalog"] = len(good_ids - stored)
    report["load"] = load

    # Run 2: SIGKILL mid-run, restart, re-send what got no answer.
    catalog = os.path.join(args.work, "crash.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(catalog + suffix):
            os.remove(catalog + suffix)
    server = Server(args.binary, catalog, extra)
    killed = threading.Event()

    def maybe_kill(answered):
        if answered >= args.kill_after and not killed.is_set():
            killed.set()
            server.proc.send_signal(signal.SIGKILL)

    results = run_uploads(server, items, args.clients, maybe_kill)
    server.proc.wait()
    crash = {"answered_before_kill": sum(1 for r in results.values() if r[0] is not None),
             "no_answer": sum(1 for r in results.values() if r[0] is None)}
    crash["catalog_after_restart"], stored = check_catalog(catalog)
    acknowledged = {json.loads(r[2])["id"] for r in results.values() if r[0] == 201}
    crash["acknowledged_201_missing"] = len(acknowledged - stored)
    server = Server(args.binary, catalog, extra)
    lost = [i for i in items if results[i["ext_id"]][0] is None]
    resent = run_uploads(server, lost, args.clients)
    crash["resent"] = len(lost)
    crash["resent_statuses"] = {}
    for status, _, _ in resent.values():
        crash["resent_statuses"][str(status)] = crash["resent_statuses"].get(str(status), 0) + 1
    server.proc.send_signal(signal.SIGTERM)
    crash["exit_status_after_sigterm"] = server.proc.wait(120)
    crash["catalog_final"], stored = check_catalog(catalog)
    crash["good_missing_from_catalog"] = len(good_ids - stored)
    report["crash"] = crash
    print(json.dumps(report, indent=2))
    ok = (load["lost_good"] == 0 and load["5xx"] == 0 and load["good_missing_from_catalog"] == 0
          and load["catalog"]["duplicate_paths"] == 0 and load["exit_status_after_sigterm"] == 0
          and crash["catalog_after_restart"]["integrity_check"] == "ok"
          and crash["catalog_after_restart"]["half_written"] == 0
          and crash["acknowledged_201_missing"] == 0 and crash["good_missing_from_catalog"] == 0
          and crash["catalog_final"]["duplicate_paths"] == 0)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
