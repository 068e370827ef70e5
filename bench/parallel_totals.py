"""The run total when plugins run side by side (issue 22): `estimate --jobs 4` against the run's
true duration, beside the naive sum (`--jobs 1`) and the recent median of run durations.

Each history is written by `simulate --jobs 4` (update-all's parallel orchestrator: 4 plugins
at once, phase mutexes, two downloads sharing the line, and its own setting up and summing up,
which no plugin's time shows). `--jobs 4, no stretch` is the schedule alone, without the
stretch train measured on the history's parallel runs. Each of its last runs is answered by a
cache trained on the history as it stood before that run (`history.replay.copy_before`), at the
run's start, for the plugins that ran (not those skipped: update-all skips a plugin disabled or
not installed, which it knows before the run; the lead table's totals are of those too).
Actual: the run's duration (its `runs` row) and its peak memory, the largest sum of the
executions' peaks running at one time. The baseline: the median of the last 10 runs'
durations (peaks), its interval the 5-95% quantiles of the last 20. The limit: the
simulator's own predictive of the run's duration before it starts (`history.live_truth`,
its draws placed by the same schedule; for memory the largest sum of the plugins' peaks
running at one time in each draw), beside which every row's interval score is a ratio.

Usage: .venv/bin/python bench/parallel_totals.py [--seeds 1 2 3] [--runs 100] [--last 12]
Scores: 90% coverage with its 95% Wilson interval, median interval score relative to the
actual, median APE.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
from accuracy import wilson

from update_estimate.fitting import backtest
from update_estimate.fitting.train import train
from update_estimate.history import simulate
from update_estimate.history.live_truth import LiveTruth
from update_estimate.history.replay import copy_before, last_runs
from update_estimate.requests import EstimateRequest, TrainRequest
from update_estimate.serving import source
from update_estimate.serving.memo import Memo

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm")
LEVEL = 0.9
JOBS = 4
METHODS = ("truth", "makespan", "unstretched", "sum", "recent_median")
TRUTH_DRAWS = 4000
WALL, MEMORY = "wall_clock_seconds", "memory_peak_bytes"


def actuals(db: Path) -> dict[str, tuple[float, float]]:
    """Per run: its duration, and its peak memory (largest sum of executions running at once)."""
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute(
            "SELECT run_id, start_time, epoch(end_time - start_time) FROM runs "
            "WHERE end_time IS NOT NULL ORDER BY start_time"
        ).fetchall()
        ex = con.execute(
            "SELECT e.run_id, e.start_time, e.end_time, max(m.memory_peak_bytes) "
            "FROM plugin_executions e JOIN step_metrics m USING (execution_id) "
            "WHERE e.end_time IS NOT NULL GROUP BY 1, 2, 3, e.execution_id"
        ).fetchall()
    spans: dict[str, list] = {}
    for run, start, end, peak in ex:
        spans.setdefault(run, []).append((start, end, peak or 0.0))
    out = {}
    for run, _, duration in runs:
        members = spans.get(run, [])
        peak = max(
            (sum(p for s, e, p in members if s <= start < e) for start, _, _ in members),
            default=0.0,
        )
        out[run] = (float(duration), float(peak))
    return out


Cases = list[tuple[float, tuple[float, float, float]]]


def interval_score(cases: Cases) -> float:
    actual = np.array([a for a, _ in cases])
    b = np.array([i for _, i in cases])
    return float(np.median(backtest.interval_scores(actual, b[:, 1], b[:, 2], LEVEL) / actual))


def score(cases: Cases, limit: Cases) -> str:
    actual = np.array([a for a, _ in cases])
    b = np.array([i for _, i in cases])
    hits = int(((b[:, 1] <= actual) & (actual <= b[:, 2])).sum())
    lo, hi = wilson(hits, len(cases))
    ape = np.abs(b[:, 0] - actual) / actual
    mine = interval_score(cases)
    return (
        f"{hits / len(cases):.2f} ({lo:.2f}-{hi:.2f}) | {mine:.2f} | "
        f"{mine / interval_score(limit):.2f}x | {np.median(ape):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=12)
    args = parser.parse_args()
    started = time.monotonic()
    cases: dict[tuple[str, str], list] = {(m, k): [] for m in (WALL, MEMORY) for k in METHODS}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "h.duckdb"
            tables = simulate.generate(PLUGINS, args.runs, seed, jobs=JOBS)
            simulate.write(tables, db)
            limit = LiveTruth(tables, "realistic", args.runs, TRUTH_DRAWS, JOBS)
            truth = actuals(db)
            order = list(truth)
            for run in last_runs(db, args.last):
                cut, cache = Path(folder) / f"{run.run_id}.duckdb", Path(folder) / run.run_id
                copy_before(db, run.start, cut)
                train(TrainRequest(db=cut, cache_dir=cache, hosts=(run.host,), n_jobs=2))
                loaded = source.load(cut, cache, run.host, None, math.inf, source.Fallbacks())
                memo = Memo()
                # unstretched: the schedule alone, as if the history had no parallel runs
                unstretched = replace(loaded, stretch={})
                answers = {
                    k: source.answer(
                        src,
                        EstimateRequest(list(run.ran), LEVEL, run.start, jobs=jobs),
                        run.host,
                        math.inf,
                        source.Fallbacks(),
                        memo,
                    ).total
                    for k, src, jobs in (
                        ("makespan", loaded, JOBS),
                        ("unstretched", unstretched, JOBS),
                        ("sum", loaded, 1),
                    )
                }
                before = order[: order.index(run.run_id)]
                for index, metric in enumerate((WALL, MEMORY)):
                    actual = truth[run.run_id][index]
                    past = np.array([truth[r][index] for r in before])
                    median = backtest.baselines(past, LEVEL)["recent_median"]
                    for k in ("makespan", "unstretched", "sum"):
                        t = answers[k][metric]
                        cases[(metric, k)].append((actual, (t.point, t.lower, t.upper)))
                    cases[(metric, "recent_median")].append((actual, median))
                drawn = limit.remaining(run.run_id, run.start, LEVEL, seed)
                cases[(WALL, "truth")].append((truth[run.run_id][0], drawn))
                peak = limit.peak_memory(run.run_id, LEVEL, seed)
                cases[(MEMORY, "truth")].append((truth[run.run_id][1], peak))
            print(f"seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(
        "| metric | method | n | coverage (95% Wilson) | interval score / actual | IS x truth "
        "| MdAPE |"
    )
    print("|---|---|---|---|---|---|---|")
    for (metric, method), rows in cases.items():
        name = {
            "makespan": f"--jobs {JOBS}",
            "unstretched": f"--jobs {JOBS}, no stretch",
            "sum": "--jobs 1 (sum, max)",
        }.get(method, method)
        limit_rows = cases[(metric, "truth")]
        print(f"| {metric.split('_')[0]} | {name} | {len(rows)} | {score(rows, limit_rows)} |")
    print(f"\nseeds {' '.join(map(str, args.seeds))}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
