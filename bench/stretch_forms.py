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

import numpy as np

from update_estimate.fitting import stretch
from update_estimate.history import reader, simulate
from update_estimate.record import Stretch

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm")


def band(runs: dict[int, tuple[float, float]], additive: bool) -> tuple[float, float]:
    """Each run's 5-95% band from the other runs' stretch: its coverage and median width over
    the duration."""
    form = Stretch(additive, {})
    values = stretch.per_run(runs, additive)
    hits, widths = [], []
    for run, (makespan, duration) in runs.items():
        low, high = np.quantile([v for r, v in values.items() if r != run], [0.05, 0.95])
        lower, upper = form.apply(makespan, low), form.apply(makespan, high)
        hits.append(lower <= duration <= upper)
        widths.append((upper - lower) / duration)
    return float(np.mean(hits)), float(np.median(widths))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    print(
        "| seed | parallel runs | median makespan s | median extra s | error: seconds | ratio "
        "| 5-95% band covers: seconds | ratio | band width: seconds | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "h.duckdb"
            simulate.write(simulate.generate(PLUGINS, args.runs, seed, jobs=4), db)
            hist = reader.read(db)
            (runs,) = stretch.spans(hist.executions, hist.phases).values()
        errors = stretch.left_out_errors(runs)
        spans = statistics.median(m for m, _ in runs.values())
        extra = statistics.median(d - m for m, d in runs.values())
        (cover_s, wide_s), (cover_r, wide_r) = band(runs, True), band(runs, False)
        print(
            f"| {seed} | {len(runs)} | {spans:.0f} | {extra:.0f} | {errors[True]:.3f} | "
            f"{errors[False]:.3f} | {cover_s:.2f} | {cover_r:.2f} | {wide_s:.2f} | {wide_r:.2f} |"
        )


if __name__ == "__main__":
    main()
