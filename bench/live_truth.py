"""The live truth checked on its own runs: how often its 90% interval of what remains of a run
held what really remained, and how often its point lay above it, per kind of event.

The live tracking bench scores the tracker as ratios to `history.live_truth`; this says
whether that limit is itself calibrated (it is the generating process, so it should cover
about 0.90 with its point above half the time, but for its one approximation side by side:
the plugins under way are placed first). Every event of the last runs of one simulated
history is answered; moments of one run err together, so use many runs.

Usage: .venv/bin/python bench/live_truth.py [--scenario steady] [--seed 3] [--runs 200]
           [--last 150] [--jobs 4] [--draws 500] [--ticks]
Prints Markdown.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from accuracy import wilson

from update_estimate.history import replay, simulate
from update_estimate.history.live_truth import LiveTruth

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm")
ALL = "**every event**"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="steady")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--last", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--ticks", action="store_true", help="also the ticks inside phases")
    args = parser.parse_args()
    started = time.monotonic()
    tables = simulate.generate(
        PLUGINS, args.runs, args.seed, scenario_name=args.scenario, jobs=args.jobs
    )
    limit = LiveTruth(tables, args.scenario, args.runs, args.draws, args.jobs)
    held: dict[str, list[bool]] = defaultdict(list)
    above: dict[str, list[bool]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(tables, db)
        runs = replay.last_runs(db, args.last)
    for run in runs:
        for i, event in enumerate(run.events[:-1]):
            assert event.time is not None
            left = (run.end - event.time).total_seconds()
            if left <= 0 or (event.kind == "tick" and not args.ticks):
                continue
            point, lower, upper = limit.remaining(run.run_id, event.time, seed=i)
            for kind in (event.kind, ALL):
                held[kind].append(lower <= left <= upper)
                above[kind].append(point > left)
    shape = f"last {len(runs)} of {args.runs} runs, jobs {args.jobs}"
    print(f"`{args.scenario}`, seed {args.seed}, {shape}")
    print("\n| event | moments | coverage (95% Wilson) | point above |")
    print("|---|---|---|---|")
    for kind in sorted(held, key=lambda k: k == ALL):
        hits = held[kind]
        low, high = wilson(sum(hits), len(hits))
        print(
            f"| {kind} | {len(hits)} | {np.mean(hits):.3f} ({low:.2f}-{high:.2f}) | "
            f"{np.mean(above[kind]):.3f} |"
        )
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
