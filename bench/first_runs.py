"""A plugin's first runs: how its estimate before the run covers, by how many runs of history
it had, against the truth's own interval and the recent median of its runs so far.

`bench/accuracy.py` scores a plugin from its third run on (a backtest's cut needs two runs
before it), and it retrains one series at a time. Here the whole pipeline runs as a new user
meets it: for each of the last runs of a `late-plugins` history (two plugins join halfway),
the history as it stood before that run is trained with `train` (borrowed calibration and the
host's shape included), and `Estimator.estimate` answers before the run, without reports.
Every plugin that ran successfully is a case, grouped by the successful runs it had before.

Usage: PYTHONPATH=. .venv/bin/python bench/first_runs.py --seeds 1 2 3 4 5 6 [--keep DIR]
`--keep` keeps each cut history and its cache: a second run answers without training.
Prints Markdown (see bench/RESULTS.md for the recorded tables).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import accuracy
import numpy as np

from update_estimate import Estimator
from update_estimate.fitting import backtest
from update_estimate.fitting.features import TARGET_STATUSES
from update_estimate.fitting.train import train
from update_estimate.history import reader, simulate
from update_estimate.history.replay import copy_before, last_runs
from update_estimate.record import METRICS
from update_estimate.requests import TrainRequest

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo")
LEVEL = 0.9
BUCKETS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 7), (8, 99))  # 99: and more


def cases(seed: int, runs: int, last: int, keep: Path | None) -> accuracy.History:
    """One history's cases: every plugin of its last `last` runs, answered before the run
    by a cache trained on the runs before it; the recent median from the same runs."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(PLUGINS, runs, seed, scenario_name="late-plugins"), db)
        ex = reader.read(db).executions
        out: list[backtest.Case] = []
        for run in last_runs(db, last):
            where = (keep or Path(folder)) / f"late-plugins-{seed}" / f"{run.start:%Y%m%dT%H%M%S}"
            where.mkdir(parents=True, exist_ok=True)
            cut, cache = where / "history.duckdb", where / "cache"
            if not (cache / "current").exists():
                cut.unlink(missing_ok=True)
                copy_before(db, run.start, cut)
                train(TrainRequest(db=cut, cache_dir=cache, n_jobs=2))
            answer = Estimator(cut, cache).estimate(list(run.plugins), at=run.start, level=LEVEL)
            rows = ex[ex["run_id"] == run.run_id]
            for p in answer.plugins:
                row = rows[rows["plugin"] == p.plugin]
                if row.empty or row["status"].iloc[0] not in TARGET_STATUSES:
                    continue
                before = ex[
                    (ex["plugin"] == p.plugin)
                    & (ex["start_time"] < run.start)
                    & ex["status"].isin(TARGET_STATUSES)
                ]
                for metric in METRICS:
                    actual = float(row[metric].iloc[0])
                    if math.isnan(actual):
                        continue
                    m = p.metrics[metric]
                    intervals = {"ours": (m.point, m.lower, m.upper)}
                    past = before[metric].dropna().to_numpy(dtype=float)
                    if len(past):
                        intervals["recent_median"] = median_of(past)
                    out.append(
                        backtest.Case(
                            run.host,
                            f"{p.plugin}#{len(past)}",
                            metric,
                            run.run_id,
                            run.start.isoformat(),
                            actual,
                            intervals,
                        )
                    )
    return accuracy.History("late-plugins", seed, runs, PLUGINS, {False: out})


def median_of(past: np.ndarray) -> tuple[float, float, float]:
    return backtest.baselines(past, LEVEL)["recent_median"]


def _plain(c: backtest.Case) -> backtest.Case:
    return dataclasses.replace(c, plugin=c.plugin.split("#")[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--last", type=int, default=8)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    by: dict[tuple[str, tuple[int, int]], list[backtest.Case]] = defaultdict(list)
    for seed in args.seeds:
        h = cases(seed, args.runs, args.last, args.keep)
        runs_before = {
            (c.run_id, _plain(c).plugin): int(c.plugin.split("#")[1]) for c in h.cases[False]
        }
        plain = dataclasses.replace(h, cases={False: [_plain(c) for c in h.cases[False]]})
        for c in accuracy.with_truth(plain)[False]:
            n = runs_before[(c.run_id, c.plugin)]
            bucket = next(b for b in BUCKETS if b[0] <= n <= b[1])
            by[(c.metric, bucket)].append(c)
    print(
        "| metric | runs before | n | truth IS / coverage | ours IS / coverage (95% Wilson) "
        "| recent median IS / coverage |"
    )
    print("|---|---|---|---|---|---|")
    for (metric, bucket), cs in sorted(
        by.items(), key=lambda kv: (METRICS.index(kv[0][0]), kv[0][1])
    ):
        seen = [c for c in cs if c.actual > 0]
        low, high = bucket
        label = str(low) if low == high else f"{low}-{high}" if high < 99 else f"{low}+"
        cells = []
        for method in ("truth", "ours", "recent_median"):
            have = [c for c in seen if method in c.intervals]
            if not have:
                cells.append("-")
                continue
            a = np.array([c.actual for c in have])
            b = np.array([c.intervals[method] for c in have])
            score = float(np.median(backtest.interval_scores(a, b[:, 1], b[:, 2], LEVEL) / a))
            cov = accuracy.coverage([c for c in cs if method in c.intervals], method)
            extra = f" ({cov.interval})" if method == "ours" else ""
            cells.append(f"{score:.2f} / {cov.value:.2f}{extra}")
        print(f"| {accuracy.SHORT[metric]} | {label} | {len(cs)} | {' | '.join(cells)} |")
    print(f"\nseeds {' '.join(map(str, args.seeds))}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
