"""Runs side by side (`simulate --jobs N`): how much shorter a run is than the sum of its
plugins' times, and how much slower a download gets on a shared line.

Usage: .venv/bin/python bench/parallel_runs.py [--runs 100] [--seeds 1 2 3] [--jobs 1 2 4]
Per jobs level, over every run of a `realistic` history of six plugins: the median of the
run's duration (its `runs` row) over the sum of its executions' wall times, and the median
download speed of the DOWNLOAD phases that moved bytes.
"""

from __future__ import annotations

import argparse
import statistics

from update_estimate.history import simulate

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print("| jobs | runs | run / sum of its plugins (median) | p90 | download MB/s (median) |")
    print("|---|---|---|---|---|")
    for jobs in args.jobs:
        ratios, speeds = [], []
        for seed in args.seeds:
            t = simulate.generate(PLUGINS, args.runs, seed, jobs=jobs)
            walls: dict[str, float] = {}
            of_run = dict(t.rows("executions", "execution_id", "run_id"))
            stepped = ("execution_id", "wall_clock_seconds", "download_speed_bps")
            for ex, wall, speed in t.rows("steps", *stepped):
                walls[of_run[ex]] = walls.get(of_run[ex], 0.0) + wall
                if speed is not None:
                    speeds.append(speed / 1e6)
            for run, start, end in t.rows("runs", "run_id", "start_time", "end_time"):
                if end is not None and walls.get(run):
                    ratios.append((end - start).total_seconds() / walls[run])
        deciles = statistics.quantiles(ratios, n=10)
        print(
            f"| {jobs} | {len(ratios)} | {statistics.median(ratios):.2f} | {deciles[-1]:.2f} | "
            f"{statistics.median(speeds):.1f} |"
        )


if __name__ == "__main__":
    main()
