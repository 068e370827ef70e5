"""Which form of the parallel runs' stretch predicts a host's runs (issue 22): seconds beyond
update-all's schedule or a ratio, each run's duration predicted from its replayed makespan and
the other runs' median stretch (`fitting.stretch.left_out_errors`, what `train` chooses by).
No model is fitted: this scores the stretch alone, on `simulate --jobs 4` histories.

Usage: PYTHONPATH=. .venv/bin/python bench/stretch_forms.py --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from update_estimate.fitting import stretch
from update_estimate.history import reader, simulate

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    print("| seed | parallel runs | median makespan s | median extra s | MdALE seconds | ratio |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "h.duckdb"
            simulate.write(simulate.generate(PLUGINS, args.runs, seed, jobs=4), db)
            hist = reader.read(db)
            (runs,) = stretch.spans(hist.executions, hist.phases).values()
        errors = stretch.left_out_errors(runs)
        spans = statistics.median(m for m, _ in runs.values())
        extra = statistics.median(d - m for m, d in runs.values())
        print(
            f"| {seed} | {len(runs)} | {spans:.0f} | {extra:.0f} | {errors[True]:.3f} | "
            f"{errors[False]:.3f} |"
        )


if __name__ == "__main__":
    main()
