"""Live run tracking, replayed event by event on held-out runs of simulated histories.

Per scenario and seed: simulate a history, then for each of its last runs train on the
history as it stood before that run (`fitting.live.evaluate`) and feed the run's events
(`history.replay`: plugin and phase starts, reports, download progress, ticks inside each
phase and at the run's midpoint) to a `RunTracker`. Every answer is scored against what
really remained until the run ended, beside the per-plugin `estimate --done --running
--elapsed` answer at the same moment (in-process, same cache).

Usage: .venv/bin/python bench/live_tracking.py [--scenarios steady ...] [--seeds 1 2]
           [--runs 100] [--last 8] [--jobs 4] [--plugins apt snap ...] [--keep DIR]
       .venv/bin/python bench/live_tracking.py --latency
`--jobs` simulates update-all's parallel runs, that many plugins at once (their events
interleaved, the run_start saying so), with `--latency` too. `--keep` keeps each cut history
and its trained cache, so a second run replays without training. `--latency` times each
event in-process on a 10-plugin run (300 runs of history), replayed with a tick every second
besides its other events, as a display refreshing each second sends.
Prints Markdown (see bench/RESULTS.md for the recorded tables).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from update_estimate.fitting import live
from update_estimate.history import simulate

SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo")
TEN = (*simulate.DEFAULT_PLUGINS, "texlive-packages", "gem")
BAND = (0.87, 0.93)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def row(name: str, checkpoints: list[live.Checkpoint]) -> str:
    ours, per = live.scores(checkpoints, "tracked"), live.scores(checkpoints, "per_plugin")
    hits = round(ours.coverage * ours.cases)
    low, high = wilson(hits, ours.cases)
    rises = sum(c.rose for c in checkpoints)
    return (
        f"| {name} | {ours.cases} | {ours.coverage:.3f} ({low:.2f}-{high:.2f}) | "
        f"{per.coverage:.3f} | {ours.width:.2f} | {per.width:.2f} | {ours.mdape:.3f} | "
        f"{per.mdape:.3f} | {ours.midpoint_mdape:.3f} | {per.midpoint_mdape:.3f} | {rises} |"
    )


def accuracy(args: argparse.Namespace) -> None:
    print(
        "| scenario | checkpoints | coverage (95% Wilson) | per-plugin coverage | width | "
        "per-plugin width | MdAPE | per-plugin MdAPE | midpoint MdAPE | per-plugin midpoint "
        "MdAPE | rises |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    pooled: list[live.Checkpoint] = []
    for scenario in args.scenarios:
        ours: list[live.Checkpoint] = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                db = Path(folder) / "h.duckdb"
                tables = simulate.generate(
                    tuple(args.plugins), args.runs, seed, scenario_name=scenario, jobs=args.jobs
                )
                simulate.write(tables, db)
                keep = args.keep / f"{scenario}-{seed}" if args.keep else None
                result = live.evaluate(db, args.last, n_jobs=2, keep=keep)
            ours.extend(result.checkpoints)
        pooled.extend(ours)
        print(row(scenario, ours), flush=True)
    print(row("**pooled**", pooled))


def latency(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(TEN, 300, 11, jobs=args.jobs), db)
        keep = args.keep / f"latency-{args.jobs}" if args.keep else None
        started = time.monotonic()
        result = live.evaluate(db, 1, n_jobs=2, keep=keep)
        print(f"trained and replayed in {time.monotonic() - started:.0f} s", file=sys.stderr)
        from update_estimate.history.replay import last_runs
        from update_estimate.serving import source

        run = last_runs(db, 1, refresh=1.0)[0]
        cut = (keep or Path(folder)) / f"{run.host}-{run.start:%Y%m%dT%H%M%S}"
        del result
        costs: list[float] = []
        by_kind: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            loaded = source.load(
                cut / "history.duckdb", cut / "cache", run.host, None, math.inf, source.Fallbacks()
            )
            tracker = source.track(loaded, list(run.plugins), run.host, run.start, 0.9)
            for event in run.events:
                began = time.perf_counter()
                tracker.feed(event)
                costs.append((time.perf_counter() - began) * 1000)
                by_kind.setdefault(event.kind, []).append(costs[-1])
    costs.sort()
    p99 = costs[math.ceil(0.99 * len(costs)) - 1]
    print(
        f"{len(run.plugins)} plugins, {len(run.events)} events x {args.repeats} fresh trackers: "
        f"median {statistics.median(costs):.2f} ms, p99 {p99:.2f} ms, max {costs[-1]:.2f} ms"
    )
    for kind, spent in sorted(by_kind.items()):
        spent.sort()
        print(
            f"  {kind}: {len(spent)} events, median {statistics.median(spent):.2f} ms, "
            f"max {spent[-1]:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--plugins", nargs="+", default=list(PLUGINS))
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    latency(args) if args.latency else accuracy(args)


if __name__ == "__main__":
    main()
