"""train time: 8 plugins x 4 metrics x 300 runs on this machine, then again on an unchanged history.

Usage: .venv/bin/python bench/train_time.py [--n-jobs 2] [--no-phases]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BIN, mib, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-jobs", default="2")
    parser.add_argument("--no-phases", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db, cache = Path(folder) / "h.duckdb", Path(folder) / "cache"
        timed([str(BIN), "simulate", "--db", str(db), "--runs", "300", "--seed", "0"])
        cmd = [
            str(BIN),
            "train",
            "--db",
            str(db),
            "--cache-dir",
            str(cache),
            "-q",
            "--n-jobs",
            args.n_jobs,
        ]
        if args.no_phases:
            cmd.append("--no-phases")
        first, mem = timed(cmd)
        again, mem2 = timed(cmd)
    label = "without" if args.no_phases else "with"
    print(
        f"train, 8 plugins x 4 metrics x 300 runs ({label} per-phase series), "
        f"--n-jobs {args.n_jobs}: {first:.1f} s, peak RSS {mib(mem)}"
    )
    print(f"train, unchanged history: {again:.2f} s, peak RSS {mib(mem2)}")


if __name__ == "__main__":
    main()
