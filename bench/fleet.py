"""Training a fleet: train time and peak memory for 1-200 simulated hosts x 8 plugins, on the
local pool and on a local Dask cluster (issue 22).

Each train runs as a child process from a fresh cache (--no-phases, --n-jobs 2). Memory is
sampled every 0.2 s with psutil: the train process itself, and the largest worker (loky's, or
the Dask cluster's, which this script starts with 2 single-threaded worker processes).

Usage: PYTHONPATH=. .venv/bin/python bench/fleet.py --hosts 1 10 50 200 --engines local dask
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
from common import BIN


def peak_memory(main: psutil.Process, workers: list[psutil.Process], stop: threading.Event):
    """Peak RSS (bytes) of the train process and of its largest worker, until `stop`."""
    peaks = {"main": 0, "worker": 0}

    def sample() -> None:
        while not stop.is_set():
            try:
                peaks["main"] = max(peaks["main"], main.memory_info().rss)
                others = workers or main.children(recursive=True)
                for w in others:
                    peaks["worker"] = max(peaks["worker"], w.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    return peaks, thread


def train(db: Path, cache: Path, engine: list[str], workers: list[psutil.Process]) -> dict:
    cmd = [str(BIN), "train", "--db", str(db), "--cache-dir", str(cache), "--no-phases"]
    cmd += ["--n-jobs", "2", "--json", *engine]
    start = time.perf_counter()
    child = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stop = threading.Event()
    peaks, thread = peak_memory(child, workers, stop)
    out, err = child.communicate()
    stop.set()
    thread.join()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"train failed: {err.decode()[-2000:]}")
    doc = json.loads(out)
    series = len(doc["series"])
    return {
        "seconds": round(seconds, 1),
        "series": series,
        "per_series": round(seconds / series, 3),
        "main_mib": round(peaks["main"] / 2**20),
        "worker_mib": round(peaks["worker"] / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for hosts in args.hosts:
            db = Path(folder) / f"fleet-{hosts}.duckdb"
            size = ["--runs", str(args.runs), "--hosts", str(hosts), "--seed", "1"]
            subprocess.run(
                [str(BIN), "simulate", "--db", str(db), *size],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            for engine in args.engines:
                cache = Path(folder) / f"cache-{hosts}-{engine}"
                if engine == "dask":
                    from distributed import Client, LocalCluster

                    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster:
                        with Client(cluster) as client:
                            pids = list(client.run(os.getpid).values())
                        workers = [psutil.Process(p) for p in pids]
                        flags = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
                        row = train(db, cache, flags, workers)
                else:
                    row = train(db, cache, [], [])
                row |= {"hosts": hosts, "engine": engine}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    print()
    print("| hosts | engine | series | train s | s per series | train RSS MiB | worker MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['hosts']} | {r['engine']} | {r['series']} | {r['seconds']} | "
            f"{r['per_series']} | {r['main_mib']} | {r['worker_mib']} |"
        )


if __name__ == "__main__":
    main()
