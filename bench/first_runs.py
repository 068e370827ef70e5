"""A plugin's first runs: how its estimate before the run covers, by how many runs of history
it had, against the truth's own interval and the recent median of its runs so far.

`bench/accuracy.py` scores a plugin from its third run on (a backtest's cut needs two runs
before it), and it retrains one series at a time. Here the whole pipeline runs as a new user
meets it: for each of the last runs of a `late-plugins` history (the last two of `--plugins`
join halfway), the history as it stood before that run is trained with `train` (borrowed
calibration and the host's shape included), and `Estimator.estimate` answers before the
run, without reports and with the reports its plugins made (`simulate`: apt and snap report
in DOWNLOAD, flatpak in EXECUTE; pip and cargo never do). Every plugin that ran successfully
is a case, grouped by the successful runs it had before; so is the run's total of those
plugins (asked about them alone), grouped by the host's runs before it. `--runs 8 --last 6`
scores a new host's first week, every plugin new.

Usage: PYTHONPATH=. .venv/bin/python bench/first_runs.py --seeds 1 2 3 4 5 6 [--keep DIR]
           [--plugins apt flatpak snap pip cargo]
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
from typing import Any

import accuracy
import numpy as np

from update_estimate import Estimator
from update_estimate.fitting import backtest
from update_estimate.fitting.features import REPORT_COLUMNS, TARGET_STATUSES
from update_estimate.fitting.train import train
from update_estimate.history import reader, simulate
from update_estimate.history.replay import copy_before, last_runs
from update_estimate.record import METRICS
from update_estimate.requests import TrainRequest

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo")
LEVEL = 0.9
BUCKETS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 7), (8, 99))  # 99: and more


def cases(
    seed: int, runs: int, last: int, keep: Path | None, plugins: tuple[str, ...] = PLUGINS
) -> accuracy.History:
    """One history's cases, without reports (False) and with (True): every plugin of its
    last `last` runs, answered before the run by a cache trained on the runs before it; the
    recent median from the same runs."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(plugins, runs, seed, scenario_name="late-plugins"), db)
        ex = reader.read(db).executions
        out: dict[bool, list[backtest.Case]] = {False: [], True: []}
        name = "-".join(plugins)
        for run in last_runs(db, last):
            where = (keep or Path(folder)) / f"{name}-{seed}" / f"{run.start:%Y%m%dT%H%M%S}"
            where.mkdir(parents=True, exist_ok=True)
            cut, cache = where / "history.duckdb", where / "cache"
            if not (cache / "current").exists():
                cut.unlink(missing_ok=True)
                copy_before(db, run.start, cut)
                train(TrainRequest(db=cut, cache_dir=cache, n_jobs=2))
            rows = ex[ex["run_id"] == run.run_id]
            estimator = Estimator(cut, cache)
            ran = rows[rows["status"].isin(TARGET_STATUSES)]
            for mode in (False, True):
                covariates = _reports(rows) if mode else {}
                answer = estimator.estimate(
                    list(run.plugins), at=run.start, level=LEVEL, covariates=covariates
                )
                out[mode].extend(_scored(answer, run, rows, ex))
                if len(ran) > 1:
                    members = estimator.estimate(
                        list(ran["plugin"]), at=run.start, level=LEVEL, covariates=covariates
                    )
                    out[mode].extend(_total(members, run, ran, ex))
    return accuracy.History("late-plugins", seed, runs, plugins, out)


def _reports(rows: Any) -> dict[str, dict[str, float]]:
    """What each plugin of the run reported before it (`estimates`), as `--covariates`."""
    out = {}
    for _, row in rows.iterrows():
        given = {
            name: float(row[column])
            for name, column in REPORT_COLUMNS.items()
            if not math.isnan(row[column])
        }
        if given:
            out[str(row["plugin"])] = given
    return out


def _scored(answer: Any, run: Any, rows: Any, ex: Any) -> list[backtest.Case]:
    """The answer's plugins that ran successfully, each metric a case named plugin#runs."""
    out = []
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
            past = before[metric].dropna().to_numpy(dtype=float)
            name = f"{p.plugin}#{len(past)}"
            out.append(_case(run, name, metric, actual, p.metrics[metric], past))
    return out


def _total(answer: Any, run: Any, ran: Any, ex: Any) -> list[backtest.Case]:
    """The run's total of the plugins that ran successfully (their sum; peak memory their
    largest), each metric a case named total#runs (the host's runs before it); the recent
    median of the host's past totals of them."""
    host_runs = ex[ex["start_time"] < run.start]
    before = host_runs["run_id"].nunique()
    out = []
    for metric in METRICS:
        values = ran[metric].to_numpy(dtype=float)
        if np.isnan(values).any():
            continue
        combine = "max" if metric == "memory_peak_bytes" else "sum"
        past = (
            host_runs[host_runs["plugin"].isin(set(ran["plugin"]))]
            .groupby("run_id")[metric]
            .agg(combine)
            .to_numpy(dtype=float)
        )
        actual = float(values.max() if combine == "max" else values.sum())
        out.append(_case(run, f"total#{before}", metric, actual, answer.total[metric], past))
    return out


def _case(
    run: Any, name: str, metric: str, actual: float, ours: Any, past: np.ndarray
) -> backtest.Case:
    """One answer as a case, with the recent median of the `past` values where there are any."""
    intervals = {"ours": (ours.point, ours.lower, ours.upper)}
    if len(past):
        intervals["recent_median"] = median_of(past)
    return backtest.Case(
        run.host, name, metric, run.run_id, run.start.isoformat(), actual, intervals
    )


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
    parser.add_argument("--plugins", nargs="+", default=list(PLUGINS))
    args = parser.parse_args()
    started = time.monotonic()
    by: dict[tuple[bool, str, str, tuple[int, int]], list[backtest.Case]] = defaultdict(list)
    for seed in args.seeds:
        h = cases(seed, args.runs, args.last, args.keep, tuple(args.plugins))
        runs_before = {
            (mode, c.run_id, _plain(c).plugin): int(c.plugin.split("#")[1])
            for mode, cs in h.cases.items()
            for c in cs
        }
        plain = {mode: [_plain(c) for c in cs] for mode, cs in h.cases.items()}
        for mode, cs in accuracy.with_truth(dataclasses.replace(h, cases=plain)).items():
            for c in cs:
                n = runs_before[(mode, c.run_id, c.plugin)]
                bucket = next(b for b in BUCKETS if b[0] <= n <= b[1])
                side = "totals" if c.plugin == "total" else "plugins"
                by[(mode, c.metric, side, bucket)].append(c)
    late = " and ".join(args.plugins[-2:])
    print(f"{', '.join(args.plugins)}; {late} join at run {args.runs // 2 + 1}\n")
    print(
        "| reports | metric | side | runs before | n | truth IS / coverage "
        "| ours IS / coverage (95% Wilson) | recent median IS / coverage |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (mode, metric, side, bucket), cs in sorted(
        by.items(), key=lambda kv: (not kv[0][0], METRICS.index(kv[0][1]), kv[0][2:])
    ):
        print(
            f"| {'yes' if mode else 'no'} | {accuracy.SHORT[metric]} | {side} | "
            f"{_label(bucket)} | {len(cs)} | {' | '.join(_scores(cs))} |"
        )
    print(f"\nseeds {' '.join(map(str, args.seeds))}; {time.monotonic() - started:.0f} s")


def _label(bucket: tuple[int, int]) -> str:
    low, high = bucket
    return str(low) if low == high else f"{low}-{high}" if high < 99 else f"{low}+"


def _scores(cases: list[backtest.Case]) -> list[str]:
    """Each method's median interval score (relative, actuals above zero) and coverage."""
    seen = [c for c in cases if c.actual > 0]
    cells = []
    for method in ("truth", "ours", "recent_median"):
        have = [c for c in seen if method in c.intervals]
        if not have:
            cells.append("-")
            continue
        a = np.array([c.actual for c in have])
        b = np.array([c.intervals[method] for c in have])
        score = float(np.median(backtest.interval_scores(a, b[:, 1], b[:, 2], LEVEL) / a))
        cov = accuracy.coverage([c for c in cases if method in c.intervals], method)
        extra = f" ({cov.interval})" if method == "ours" else ""
        cells.append(f"{score:.2f} / {cov.value:.2f}{extra}")
    return cells


if __name__ == "__main__":
    main()
