"""Shared helpers for the benchmarks: time whole processes from a small parent.

The parent imports nothing heavy (a large parent makes every fork slower), histories are made
through the CLI, and peak memory is read by GNU time (`/usr/bin/time -f %M`) when present.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "update-estimate"
GNU_TIME = shutil.which("time") if Path("/usr/bin/time").exists() else None


def timed(cmd: list[str]) -> tuple[float, int | None]:
    """Seconds and peak RSS (KiB, None without GNU time) of one whole child process."""
    with tempfile.NamedTemporaryFile("r") as report:
        full = ["/usr/bin/time", "-o", report.name, "-f", "%M", *cmd] if GNU_TIME else cmd
        start = time.perf_counter()
        result = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr.decode()[-2000:]}")
        text = report.read().strip()
    return elapsed, int(text.splitlines()[-1]) if text else None


def median_of(cmd: list[str], runs: int) -> tuple[float, int | None]:
    timed(cmd)  # warm the page cache and .pyc files
    results = [timed(cmd) for _ in range(runs)]
    peaks = [r[1] for r in results if r[1] is not None]
    return statistics.median(r[0] for r in results), max(peaks) if peaks else None


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"
